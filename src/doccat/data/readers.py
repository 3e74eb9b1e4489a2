"""Readers for labeled text files: each returns (texts, labels) as two lists of str."""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import sys
from pathlib import Path


class DataError(ValueError):
    """Input data that can't be read; the message names the file and what to do."""


def _open_text(path: Path, encoding: str):
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")
    raw = gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")
    # utf-8-sig drops a BOM; newline="" lets the csv module see quoted line breaks
    is_utf8 = codecs.lookup(encoding).name == "utf-8"
    return io.TextIOWrapper(raw, encoding="utf-8-sig" if is_utf8 else encoding, newline="")


def _column(spec: str, header: list[str] | None, path: Path) -> int:
    if spec.isdigit():
        return int(spec)
    if header is None or spec not in header:
        raise DataError(f"{path}: no column named {spec!r} (columns: {header}); "
                        "give a column name from the header or a 0-based index")
    return header.index(spec)


def read_delimited(path, label_column="label", text_columns=("text",), delimiter=",",
                   header=None, encoding="utf-8"):
    """CSV/TSV rows; several text columns are joined with a space (AG News: title + description)."""
    path = Path(path)
    csv.field_size_limit(sys.maxsize)
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    with _open_text(path, encoding) as f:
        rows = csv.reader(f, delimiter=delimiter, quoting=quoting)
        names = [label_column, *text_columns]
        if header is None:  # a header is there when the columns are named, not numbered
            header = not all(c.isdigit() for c in names)
        first = next(rows, None) if header else None
        lab = _column(label_column, first, path)
        txt = [_column(c, first, path) for c in text_columns]
        need = max(lab, *txt) + 1
        texts, labels = [], []
        for row in rows:
            if not row:
                continue
            if len(row) < need:
                raise DataError(f"{path}:{rows.line_num}: expected at least {need} columns, found {len(row)}")
            labels.append(row[lab].strip())
            texts.append(" ".join(row[i] for i in txt))
    return texts, labels


def read_jsonl(path, label_column="label", text_columns=("text",), encoding="utf-8"):
    path = Path(path)
    texts, labels = [], []
    with _open_text(path, encoding) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                labels.append(str(obj[label_column]).strip())
                texts.append(" ".join(str(obj[c]) for c in text_columns))
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{n}: not valid JSON ({e.msg})") from None
            except KeyError as e:
                raise DataError(f"{path}:{n}: no key {e.args[0]!r}; set label_column / text_columns") from None
    return texts, labels


def read_fasttext(path, encoding="utf-8", prefix="__label__"):
    """fastText's format: `__label__sports some text`; the first label is kept."""
    path = Path(path)
    texts, labels = [], []
    with _open_text(path, encoding) as f:
        for n, line in enumerate(f, 1):
            words = line.split()
            if not words:
                continue
            tags = [w for w in words if w.startswith(prefix)]
            if not tags:
                raise DataError(f"{path}:{n}: no label (expected a word starting with {prefix!r})")
            labels.append(tags[0][len(prefix):])
            texts.append(" ".join(w for w in words if not w.startswith(prefix)))
    return texts, labels


def read_folder(path, encoding="utf-8"):
    """One subfolder per class: root/<class>/<file>; files sorted by name."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (the folder format wants root/<class>/<file>)")
    texts, labels = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(p for p in class_dir.iterdir() if p.is_file()):
            with _open_text(file, encoding) as f:
                texts.append(f.read())
            labels.append(class_dir.name)
    if not texts:
        raise DataError(f"{root}: no files found under root/<class>/")
    return texts, labels


def read_lines(path, label: str, encoding="utf-8"):
    """One text per line, all of the same label (movie_review_polarity's rt-polarity.pos/.neg)."""
    path = Path(path)
    with _open_text(path, encoding) as f:
        texts = [line.strip() for line in f if line.strip()]
    return texts, [label] * len(texts)


def read_label_first(path, encoding="utf-8", label_sep=None):
    """`LABEL text...` per line (TREC: `NUM:dist How far ...`); label cut at `label_sep` if given."""
    path = Path(path)
    texts, labels = [], []
    with _open_text(path, encoding) as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            label, _, text = line.strip().partition(" ")
            labels.append(label.split(label_sep)[0] if label_sep else label)
            texts.append(text)
    return texts, labels


def guess_format(path) -> str:
    path = Path(path)
    if path.is_dir():
        return "folder"
    name = path.name.lower().removesuffix(".gz")
    for ext, fmt in ((".tsv", "tsv"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl"),
                     (".ft", "fasttext"), (".txt", "fasttext")):
        if name.endswith(ext):
            return fmt
    raise DataError(f"{path}: can't tell the format from the name; set --format")


def read(path, fmt="auto", label_column="label", text_columns=("text",), header=None, encoding="utf-8"):
    """Read a labeled file (or folder) in any supported format."""
    fmt = guess_format(path) if fmt == "auto" else fmt
    if fmt in ("csv", "tsv"):
        return read_delimited(path, label_column, text_columns, "," if fmt == "csv" else "\t", header, encoding)
    if fmt == "jsonl":
        return read_jsonl(path, label_column, text_columns, encoding)
    if fmt == "fasttext":
        return read_fasttext(path, encoding)
    if fmt == "folder":
        return read_folder(path, encoding)
    raise DataError(f"unknown format {fmt!r}")
