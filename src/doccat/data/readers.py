"""Readers for labeled text files: each returns (texts, labels), two lists of the same length.

The labels depend on the task: classify gives one str per text; multilabel a sorted list of
distinct str per text (from a JSON list, a field cut at `label_sep`, or every `__label__` of a
fastText line; a JSON [] is a text without a label); regression a finite float per text.

Bad rows (malformed CSV/TSV or JSON, empty text, missing or empty label, undecodable bytes) go
through one `BadRows` per file: the `on_bad_row` policy "error" (default) stops at the first with
a message naming the file, the line and what to do; "skip" and "warn" drop them and say on stderr
how many and on which lines ("warn" also says why, row by row). Blank lines are not rows.
"""
from __future__ import annotations

import codecs
import csv
import gzip
import io
import html
import json
import math
import re
import sys
import zlib
from pathlib import Path

ON_BAD_ROW = ("error", "skip", "warn")
SHOWN = 10  # line numbers / warnings shown before "... and N more"


class DataError(ValueError):
    """Input data that can't be read; the message names the file and what to do."""


class BadRows:
    """The one place readers report a bad row: raise it, or drop it and count it (policy skip/warn)."""

    def __init__(self, path, policy: str = "error"):
        if policy not in ON_BAD_ROW:
            raise DataError(f"on_bad_row: {policy!r} is not one of {', '.join(ON_BAD_ROW)}")
        self.path, self.policy = path, policy
        self.where, self.count = [], 0  # the first SHOWN bad rows' places, and how many there were

    def __call__(self, where, why: str) -> None:
        """A bad row at `where` (a line number, or a file of a folder); `why` says what is wrong."""
        if self.policy == "error":
            raise DataError(f"{self.path}:{where}: {why} (or drop bad rows with --on-bad-row skip)")
        self.count += 1
        if len(self.where) < SHOWN:  # bounded: a streamed file may have any number of bad rows
            self.where.append(where)
            if self.policy == "warn":
                print(f"doccat: warning: {self.path}:{where}: {why}", file=sys.stderr)

    def done(self, texts: list[str], labels: list) -> tuple[list[str], list]:
        """Report what was dropped; a file without a single usable row is an error."""
        self.end(len(texts))
        return texts, labels

    def end(self, kept: int) -> None:
        """The file is read, `kept` rows kept: report what was dropped; no usable row at all is an error."""
        n = self.count
        if n:
            more = f" and {n - SHOWN} more" if n > SHOWN else ""
            unit = "line" if isinstance(self.where[0], int) else "file"
            print(f"doccat: warning: {self.path}: dropped {n} bad row(s) of {n + kept} "
                  f"(--on-bad-row {self.policy}), {unit}(s) {', '.join(map(str, self.where))}{more}",
                  file=sys.stderr)
        if not kept:
            raise DataError(f"{self.path}: no rows" + (f" left after dropping {n} bad row(s)" if n else
                            "; the file is empty (or has only a header): give one labeled text per row"))


def _check_file(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a file")


def _codec(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise DataError(f"unknown encoding {encoding!r}; try utf-8 or latin-1") from None


def _decode_error(e: UnicodeDecodeError, offset: int, encoding: str) -> str:
    return (f"byte 0x{e.object[e.start]:02x} at byte offset {offset + e.start} is not valid {encoding}; "
            "give the file's encoding, e.g. --encoding latin-1")


class Lines:
    """A file's lines (line ends kept), decoded one at a time: an undecodable line is a bad row named
    by its line number and absolute byte offset. A UTF-8 BOM is dropped; `.gz` files are unpacked.
    `n` is the number of the last line read."""

    def __init__(self, path: Path, encoding: str, bad: BadRows):
        _check_file(path)
        self.path, self.encoding, self.bad, self.n = path, encoding, bad, 0
        self.codec = _codec(encoding)

    def __iter__(self):
        try:
            with (gzip.open if self.path.suffix == ".gz" else open)(self.path, "rb") as f:
                if "\n".encode(self.codec) != b"\n":  # UTF-16/32: lines can't be cut as bytes
                    yield from self._whole(f.read())
                    return
                utf8 = self.codec in ("utf-8", "utf-8-sig")
                offset = 0
                for self.n, raw in enumerate(f, 1):
                    try:
                        yield raw.decode("utf-8-sig" if utf8 and self.n == 1 else self.codec)
                    except UnicodeDecodeError as e:
                        self.bad(self.n, _decode_error(e, offset, self.encoding))
                    offset += len(raw)
        except (OSError, EOFError, zlib.error) as e:
            if self.path.suffix == ".gz" and not isinstance(e, FileNotFoundError | PermissionError):
                raise DataError(f"{self.path}: not a valid gzip file ({e}); it is damaged or "
                                "truncated: download or compress it again") from None
            raise DataError(f"{self.path}: can't read: {e.strerror or e}") from None

    def _whole(self, data: bytes):
        try:
            text = data.decode(self.codec)
        except UnicodeDecodeError as e:
            raise DataError(f"{self.path}: {_decode_error(e, 0, self.encoding)}") from None
        for self.n, line in enumerate(io.StringIO(text, newline=""), 1):
            yield line


def _column(spec: str, header: list[str] | None, width: int, path: Path) -> int:
    if spec.isdigit():
        if int(spec) >= width:
            raise DataError(f"{path}: column {spec} is out of range: rows have {width} column(s), "
                            f"0-based indices 0..{width - 1}")
        return int(spec)
    if header is None or spec not in header:
        raise DataError(f"{path}: no column named {spec!r} (columns: {header}); "
                        "give a column name from the header or a 0-based index")
    return header.index(spec)


TASKS = ("classify", "multilabel", "regression")


def _one_label(raw) -> str:
    if isinstance(raw, list | dict):
        raise ValueError(f"the label is a JSON {type(raw).__name__}, expected one class name; "
                         "for several labels per document use --task multilabel")
    label = str(raw).strip()
    if not label:
        raise ValueError("empty label; every row needs a class label")
    return label


def _label_set(raw, label_sep: str | None) -> list[str]:
    """A JSON list (empty allowed), or a string cut at `label_sep`: sorted, without duplicates."""
    if isinstance(raw, list):
        if not all(isinstance(x, str | int) and not isinstance(x, bool) for x in raw):
            raise ValueError(f"labels {json.dumps(raw)[:80]}: a label list must hold strings")
        labels = [str(x).strip() for x in raw]
        if not all(labels):
            raise ValueError("empty label in the list of labels; remove it")
        return sorted(set(labels))
    if isinstance(raw, dict):
        raise ValueError("the label is a JSON object, expected a list of labels or a string")
    # empty pieces are dropped: "a,b," is two labels; an empty field is a bad row, as in classify
    pieces = str(raw).split(label_sep) if label_sep else [str(raw)]
    labels = sorted({x.strip() for x in pieces} - {""})
    if not labels:
        raise ValueError("empty label; every row needs at least one label (in JSONL, [] is a document "
                         "without labels)")
    return labels


def _number(raw) -> float:
    if isinstance(raw, str) and not raw.strip():
        raise ValueError("empty target; every row needs a number to predict")
    value = math.nan
    if isinstance(raw, str | int | float) and not isinstance(raw, bool):  # JSON true is no number
        try:
            value = float(raw)
        except (ValueError, OverflowError):  # OverflowError: a JSON integer with 400 digits
            pass
    if not math.isfinite(value):
        raise ValueError(f"target {repr(raw)[:60]} is not a finite number; a regression target is one number "
                         "per row, like 7 or 3.5")
    return value


def target_parser(task: str = "classify", label_sep: str | None = None):
    """raw label (a str, or a list from JSON / fastText) -> the task's label; ValueError says why not."""
    if task not in TASKS:
        raise DataError(f"task: {task!r} is not one of {', '.join(TASKS)}")
    if task == "multilabel":
        return lambda raw: _label_set(raw, label_sep)
    return _number if task == "regression" else _one_label


def _checked(bad: BadRows, where, text: str, raw, parse=_one_label) -> tuple | None:
    """(text, label) of a row whose label (parsed by `parse`) and text are both there; else None, reported."""
    try:
        label = parse(raw)
    except ValueError as e:
        bad(where, str(e))
        return None
    if not text.strip():
        bad(where, "empty text; every row needs a text to classify")
        return None
    return text, label


def _add(bad: BadRows, where, text: str, raw, texts: list, labels: list, parse=_one_label) -> None:
    """Keep a row whose label (parsed by `parse`) and text are both there, else report it."""
    if row := _checked(bad, where, text, raw, parse):
        texts.append(row[0])
        labels.append(row[1])


def _collect(rows) -> tuple[list[str], list]:
    texts, labels = [], []
    for text, label in rows:
        texts.append(text)
        labels.append(label)
    return texts, labels


def read_delimited(*args, **kw) -> tuple[list[str], list]:
    return _collect(delimited_rows(*args, **kw))


def delimited_rows(path, label_column="label", text_columns=("text",), delimiter=",",
                   header=None, encoding="utf-8", on_bad_row="error", task="classify", label_sep=None):
    """CSV/TSV rows, one (text, label) at a time; several text columns are joined with a space (AG News:
    title + description).

    Every row must have as many columns as the header (or, without one, the first row)."""
    path = Path(path)
    parse = target_parser(task, label_sep)
    bad = BadRows(path, on_bad_row)
    csv.field_size_limit(sys.maxsize)
    # TSV quotes nothing (SST-2 has bare quotes); in CSV a stray quote is an error, not a silent merge
    quoting = dict(quoting=csv.QUOTE_NONE) if delimiter == "\t" else dict(strict=True)
    lines = Lines(path, encoding, bad)
    rows = csv.reader(lines, delimiter=delimiter, **quoting)
    names = [label_column, *text_columns]
    if header is None:  # a header is there when the columns are named, not numbered
        header = not all(c.isdigit() for c in names)
    kept, width, lab, txt = 0, None, 0, []
    while True:
        start = lines.n + 1
        try:
            row = next(rows, None)
        except csv.Error as e:
            bad(start, f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} row ({e}); a field with "
                       "the delimiter, a quote or a line break must be quoted, inner quotes doubled")
            continue
        if row is None:
            break
        if not row:
            continue
        if width is None:  # the first row fixes the columns
            width = len(row)
            first = row if header else None
            lab = _column(label_column, first, width, path)
            txt = [_column(c, first, width, path) for c in text_columns]
            if header:
                continue
        if len(row) != width:
            bad(start, f"expected {width} columns (as in the {'header' if header else 'first row'}), "
                       f"found {len(row)}; quote fields that contain {delimiter!r}")
            continue
        if row := _checked(bad, start, " ".join(row[i] for i in txt), row[lab], parse):
            kept += 1
            yield row
    bad.end(kept)


def read_jsonl(*args, **kw) -> tuple[list[str], list]:
    return _collect(jsonl_rows(*args, **kw))


def jsonl_rows(path, label_column="label", text_columns=("text",), encoding="utf-8", on_bad_row="error",
               task="classify", label_sep=None):
    """One JSON object per line, one (text, label) at a time; several text keys are joined with a space."""
    path = Path(path)
    parse = target_parser(task, label_sep)
    bad = BadRows(path, on_bad_row)
    kept = 0
    lines = Lines(path, encoding, bad)
    for line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            bad(lines.n, f"not valid JSON ({e.msg} at column {e.colno})")
            continue
        if not isinstance(obj, dict):
            bad(lines.n, f"a JSON {type(obj).__name__}, expected an object like "
                         f'{{"{label_column}": ..., "{text_columns[0]}": ...}}')
            continue
        missing = [k for k in (label_column, *text_columns) if obj.get(k) is None]
        if missing:
            bad(lines.n, f"key {missing[0]!r} is missing or null; set --label-column / --text-columns "
                         "to the file's keys")
            continue
        if row := _checked(bad, lines.n, " ".join(str(obj[c]) for c in text_columns), obj[label_column], parse):
            kept += 1
            yield row
    bad.end(kept)


def read_fasttext(*args, **kw) -> tuple[list[str], list]:
    return _collect(fasttext_rows(*args, **kw))


def fasttext_rows(path, encoding="utf-8", prefix="__label__", on_bad_row="error", task="classify"):
    """fastText's format, one (text, label) at a time: `__label__sports some text`, spaces normalized;
    multilabel keeps every label of a line, the other tasks the first."""
    path = Path(path)
    parse = target_parser(task)
    bad = BadRows(path, on_bad_row)
    kept = 0
    lines = Lines(path, encoding, bad)
    for line in lines:
        words = line.split()
        if not words:
            continue
        tags = [w for w in words if w.startswith(prefix)]
        if not tags:
            bad(lines.n, f"no label (expected a word starting with {prefix!r})")
            continue
        tags = [t[len(prefix):] for t in tags]
        if row := _checked(bad, lines.n, " ".join(w for w in words if not w.startswith(prefix)),
                           tags if task == "multilabel" else tags[0], parse):
            kept += 1
            yield row
    bad.end(kept)


def read_folder(path, encoding="utf-8", on_bad_row="error", task="classify"):
    """One subfolder per class: root/<class>/<file>; files sorted by name; each file is one text.
    (multilabel: one label per file; regression: the folder names are the numbers.)"""
    root = Path(path)
    parse = target_parser(task)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (the folder format wants root/<class>/<file>)")
    bad = BadRows(root, on_bad_row)
    codec = _codec(encoding)
    texts, labels = [], []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        for file in sorted(p for p in class_dir.iterdir() if p.is_file()):
            where = file.relative_to(root).as_posix()
            try:
                text = file.read_bytes().decode("utf-8-sig" if codec == "utf-8" else codec)
            except UnicodeDecodeError as e:
                bad(where, _decode_error(e, 0, encoding))
                continue
            except OSError as e:
                raise DataError(f"{file}: can't read: {e.strerror or e}") from None
            _add(bad, where, text, class_dir.name, texts, labels, parse)
    if not texts and not bad.count:
        raise DataError(f"{root}: no files found under root/<class>/")
    return bad.done(texts, labels)


def read_lines(path, label: str, encoding="utf-8", on_bad_row="error"):
    """One text per line, all of the same label (movie_review_polarity's rt-polarity.pos/.neg)."""
    bad = BadRows(Path(path), on_bad_row)
    texts = [line.strip() for line in Lines(Path(path), encoding, bad) if line.strip()]
    return bad.done(texts, [label] * len(texts))


def iter_texts(path, encoding="utf-8"):
    """Unlabeled texts, one per line, line ends removed, one at a time (`doccat predict --file`)."""
    return (line.rstrip("\r\n") for line in Lines(Path(path), encoding, BadRows(Path(path))))


def read_label_first(path, encoding="utf-8", label_sep=None, on_bad_row="error"):
    """`LABEL text...` per line (TREC: `NUM:dist How far ...`); label cut at `label_sep` if given."""
    path = Path(path)
    bad = BadRows(path, on_bad_row)
    texts, labels = [], []
    lines = Lines(path, encoding, bad)
    for line in lines:
        if not line.strip():
            continue
        label, _, text = line.strip().partition(" ")
        _add(bad, lines.n, text, label.split(label_sep)[0] if label_sep else label, texts, labels)
    return bad.done(texts, labels)


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


def read(path, fmt="auto", label_column="label", text_columns=("text",), header=None, encoding="utf-8",
         on_bad_row="error", task="classify", label_sep=None):
    """Read a labeled file (or folder) in any supported format; labels as `task` wants them (see above).

    `label_sep` cuts a multilabel CSV/TSV field (or JSON string) into labels; fastText lines and JSON
    lists need none. Raises DataError on a bad row (policy `on_bad_row`), naming file and line."""
    if not Path(path).exists():
        raise DataError(f"{path}: file not found; check the path")
    if (guess_format(path) if fmt == "auto" else fmt) == "folder":
        return read_folder(path, encoding, on_bad_row, task)
    return _collect(rows(path, fmt, label_column, text_columns, header, encoding, on_bad_row, task, label_sep))


def rows(path, fmt="auto", label_column="label", text_columns=("text",), header=None, encoding="utf-8",
         on_bad_row="error", task="classify", label_sep=None):
    """The (text, label) rows of a CSV, TSV, JSONL or fastText file one at a time, in file order: what
    `read` returns, never held all at once (streaming mode reads files this way)."""
    if not Path(path).exists():
        raise DataError(f"{path}: file not found; check the path")
    fmt = guess_format(path) if fmt == "auto" else fmt
    if fmt in ("csv", "tsv"):
        return delimited_rows(path, label_column, text_columns, "," if fmt == "csv" else "\t", header,
                              encoding, on_bad_row, task, label_sep)
    if fmt == "jsonl":
        return jsonl_rows(path, label_column, text_columns, encoding, on_bad_row, task, label_sep)
    if fmt == "fasttext":
        return fasttext_rows(path, encoding, on_bad_row=on_bad_row, task=task)
    if fmt == "folder":
        raise DataError(f"{path}: a folder of files can't be streamed; give a CSV, TSV, JSONL or fastText file")
    raise DataError(f"unknown format {fmt!r}")


# Reuters-21578's SGML: one <REUTERS ...> element per story; the regexes don't cross a </REUTERS>
_STORY = re.compile(r"<REUTERS\b([^>]*)>(.*?)</REUTERS>", re.S)
_ATTR = re.compile(r'(\w+)="([^"]*)"')
_TOPICS = re.compile(r"<TOPICS>(.*?)</TOPICS>", re.S)
_D = re.compile(r"<D>(.*?)</D>", re.S)
_TITLE = re.compile(r"<TITLE>(.*?)</TITLE>", re.S)
_BODY = re.compile(r"<BODY>(.*?)</BODY>", re.S)
_TEXT = re.compile(r"<TEXT\b[^>]*>(.*?)</TEXT>", re.S)
_TAG = re.compile(r"<[^>]+>")


def read_reuters_sgm(path) -> list[dict]:
    """The stories of one Reuters-21578 `.sgm` file (8-bit: read as latin-1), in file order, as
    {"newid", "lewissplit", "topics_attr" (YES | NO | BYPASS), "topics" (list), "text"}.

    text = TITLE + BODY; a story without either (TYPE="UNPROC") gives its whole TEXT, tags removed.
    Entities (`&lt;`, `&amp;`, `&#3;`) are unescaped; control characters among them drop out."""
    path = Path(path)
    _check_file(path)
    stories = []
    for attrs, inner in _STORY.findall(path.read_text(encoding="latin-1")):
        attr = dict(_ATTR.findall(attrs))
        topics = _TOPICS.search(inner)
        parts = [m.group(1) for m in (_TITLE.search(inner), _BODY.search(inner)) if m]
        if not parts:
            parts = [_TAG.sub(" ", m.group(1)) for m in [_TEXT.search(inner)] if m]
        stories.append({"newid": attr.get("NEWID"), "lewissplit": attr.get("LEWISSPLIT"),
                        "topics_attr": attr.get("TOPICS"),
                        "topics": [html.unescape(t) for t in _D.findall(topics.group(1))] if topics else [],
                        "text": html.unescape("\n".join(parts)).strip()})
    if not stories:
        raise DataError(f"{path}: no <REUTERS> story found; is it a Reuters-21578 reut2-NNN.sgm file?")
    return stories
