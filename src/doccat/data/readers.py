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
import functools
import gzip
import html
import io
import itertools
import json
import logging
import math
import re
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc

LOG = logging.getLogger(__name__)

ON_BAD_ROW = ("error", "skip", "warn")
SHOWN = 10  # line numbers / warnings shown before "... and N more"


class DataError(ValueError):
    """Input data that can't be read; the message names the file and what to do."""


@dataclass(frozen=True)
class Format:
    """How a labeled file is read: the data config's reading keys (documented in doccat.config.DataConfig)."""

    label_column: str = "label"
    text_columns: tuple[str, ...] = ("text",)
    header: bool | None = None
    encoding: str = "utf-8"
    on_bad_row: str = "error"
    task: str = "classify"
    label_sep: str | None = None
    delimiter: str | None = None  # CSV/TSV: None, by the name (, or tab) unless the header shows another
    quotechar: str | None = None  # CSV/TSV: None, " for CSV and for a TSV that quotes its fields; "" none

    def __post_init__(self):
        object.__setattr__(self, "text_columns", tuple(self.text_columns))


STDIN = "-"  # a path that means standard input
BLOCK = 8192  # documents read, featurized and scored at a time


def chunked(items, size: int):
    """Lists of `size` consecutive items (the last may be shorter)."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


@functools.cache
def _stdin() -> bytes:
    """Standard input, read once: a reader may look at its start before reading it through."""
    return sys.stdin.buffer.read()


def _open(path: Path):
    if str(path) == STDIN:
        return io.BytesIO(_stdin())
    return (gzip.open if path.suffix == ".gz" else open)(path, "rb")


# byte-order marks, longest first (UTF-32 LE's begins with UTF-16 LE's), and the codec each implies
BOMS = [(codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]
# files people give by mistake, by their first bytes
BINARY = [(b"PK\x03\x04", "a ZIP archive (an .xlsx or .docx file?): export it as CSV (UTF-8) first"),
          (b"\x89PNG", "a PNG image"), (b"%PDF", "a PDF document: extract its text first"),
          (b"\x1f\x8b", "gzip-compressed: name it .gz"), (b"PAR1", "a Parquet file: name it .parquet"),
          (b"ARROW1", "an Arrow file: name it .arrow")]


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
                LOG.warning(f"{self.path}:{where}: {why}")

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
            LOG.warning(f"{self.path}: dropped {n} bad row(s) of {n + kept} (--on-bad-row {self.policy}), "
                        f"{unit}(s) {', '.join(map(str, self.where))}{more}")
        if not kept:
            raise DataError(f"{self.path}: no rows" + (f" left after dropping {n} bad row(s)" if n else
                            "; the file is empty (or has only a header): give one labeled text per row"))


def _check_file(path: Path) -> None:
    if str(path) == STDIN:
        return
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
            with _open(self.path) as f:
                codec = self._codec(f.read(8))
                f.seek(0)
                if "\n".encode(codec) != b"\n":  # UTF-16/32: lines can't be cut as bytes
                    yield from self._whole(f.read(), codec)
                    return
                utf8 = codec in ("utf-8", "utf-8-sig")
                offset = 0
                for self.n, raw in enumerate(f, 1):
                    try:
                        yield raw.decode("utf-8-sig" if utf8 and self.n == 1 else codec)
                    except UnicodeDecodeError as e:
                        self.bad(self.n, _decode_error(e, offset, self.encoding))
                    offset += len(raw)
        except (OSError, EOFError, zlib.error) as e:
            if self.path.suffix == ".gz" and not isinstance(e, FileNotFoundError | PermissionError):
                raise DataError(f"{self.path}: not a valid gzip file ({e}); it is damaged or "
                                "truncated: download or compress it again") from None
            raise DataError(f"{self.path}: can't read: {e.strerror or e}") from None

    def _codec(self, head: bytes) -> str:
        """The codec to decode with: a byte-order mark overrides the default utf-8; binary files are refused."""
        for magic, what in BINARY:
            if head.startswith(magic) and not (magic == b"\x1f\x8b" and self.path.suffix == ".gz"):
                raise DataError(f"{self.path}: is {what}, not a text file")
        bom = next((codec for mark, codec in BOMS if head.startswith(mark)), None)
        if bom and self.codec in ("utf-8", "utf-8-sig") and bom != "utf-8":
            return bom
        if bom and bom != "utf-8" and self.codec != bom and not self.codec.startswith(bom):
            raise DataError(f"{self.path}: starts with a {bom.upper()} byte-order mark but --encoding is "
                            f"{self.encoding}: leave --encoding utf-8 (the mark is followed) or give {bom}")
        return self.codec

    def _whole(self, data: bytes, codec: str):
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as e:
            raise DataError(f"{self.path}: {_decode_error(e, 0, self.encoding)}") from None
        for self.n, line in enumerate(io.StringIO(text, newline=""), 1):
            yield line


def _column(spec: str, header: list[str] | None, width: int, path: Path) -> int:
    if spec.isascii() and spec.isdigit():  # not "²": a Unicode digit is no column index
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


def checked_row(bad: BadRows, where, text: str, raw, parse=_one_label) -> tuple | None:
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
    if row := checked_row(bad, where, text, raw, parse):
        texts.append(row[0])
        labels.append(row[1])


def _collect(rows) -> tuple[list[str], list]:
    texts, labels = [], []
    for text, label in rows:
        texts.append(text)
        labels.append(label)
    return texts, labels


def read_delimited(path, delimiter: str = ",", **options) -> tuple[list[str], list]:
    return _collect(delimited_rows(path, Format(**options), delimiter))


SNIFFED = (",", ";", "\t", "|")  # delimiters a header may show
SNIFF_BYTES = 4 << 20  # how much of a TSV is read to tell whether it quotes its fields


def delimited_rows(path, f: Format, delimiter: str = ","):
    """CSV/TSV rows, one (text, label) at a time; several text columns are joined with a space (AG News:
    title + description). `delimiter`: the format's (f.delimiter, when given, wins; else a header that
    names the columns only when split at another of SNIFFED chooses that one).

    Quoting: CSV quotes as Excel and Python do. A TSV is read either way: quoted as CSV quotes (pandas'
    to_csv(sep="\t"): MasakhaNEWS), or plain, every tab a column (GLUE's SST-2, whose bare quotes are
    text): f.quotechar "" is plain, a character quotes, None decides from the file's start.
    Every row must have as many columns as the header (or, without one, the first row)."""
    path = Path(path)
    parse = target_parser(f.task, f.label_sep)
    bad = BadRows(path, f.on_bad_row)
    csv.field_size_limit(sys.maxsize)
    names = [f.label_column, *f.text_columns]
    header = f.header if f.header is not None else not all(c.isascii() and c.isdigit() for c in names)  # named, not numbered
    delimiter = f.delimiter or (_sniff_delimiter(path, f, names, delimiter) if header else delimiter)
    quotechar = f.quotechar if f.quotechar is not None else _sniff_quotechar(path, f, delimiter)
    # quoted: a stray quote is an error, not a silent merge; plain: quotes are text
    quoting = dict(quotechar=quotechar, strict=True) if quotechar else dict(quoting=csv.QUOTE_NONE)
    lines = Lines(path, f.encoding, bad)
    rows = csv.reader(lines, delimiter=delimiter, **quoting)
    kept, width, lab, txt = 0, None, 0, []
    while True:
        start = lines.n + 1
        try:
            row = next(rows, None)
        except csv.Error as e:
            bad(start, _malformed(path, start, e, delimiter))
            continue
        if row is None:
            break
        if not row:
            continue
        if width is None:  # the first row fixes the columns
            width, first = len(row), row if header else None
            _check_header(path, start, first)
            lab, txt = _column(f.label_column, first, width, path), [_column(c, first, width, path) for c in f.text_columns]
            if header:
                continue
        if len(row) != width:
            fix = (f"quote fields that contain {delimiter!r}" if quotechar else
                   "if the file quotes fields as CSV does, give --quotechar '\"'")
            bad(start, f"expected {width} columns (as in the {'header' if header else 'first row'}), "
                       f"found {len(row)}; {fix}")
            continue
        if row := checked_row(bad, start, " ".join(row[i] for i in txt), row[lab], parse):
            kept += 1
            yield row
    bad.end(kept)


def _head(path: Path, f: Format, size: int) -> list[str]:
    """The file's first lines (about `size` bytes' worth), decoded; undecodable ones left out."""
    out, total = [], 0
    for line in Lines(path, f.encoding, BadRows(path, "skip")):
        out.append(line)
        total += len(line)
        if total >= size:
            break
    return out


def _sniff_delimiter(path: Path, f: Format, names: list[str], delimiter: str) -> str:
    """`delimiter`, unless the header names the columns only when split at exactly one other of SNIFFED."""
    head = _head(path, f, 1)
    try:
        split = {d: next(csv.reader([head[0]], delimiter=d), []) for d in {*SNIFFED, delimiter}} if head else {}
    except csv.Error:  # a header that is no CSV line: the reader says what is wrong with it
        return delimiter
    if not split or set(names) <= {c.strip() for c in split[delimiter]}:
        return delimiter
    fits = [d for d in SNIFFED if d != delimiter and set(names) <= {c.strip() for c in split[d]}]
    if len(fits) == 1:
        LOG.info(f"{path}: the header's fields are separated by {fits[0]!r}, not {delimiter!r}: reading it so "
                 "(give --delimiter to choose)")
        return fits[0]
    return delimiter


def _sniff_quotechar(path: Path, f: Format, delimiter: str) -> str:
    """CSV: quoted. TSV: quoted when the file's start reads as quoted fields (every row as wide as the
    first) and either it does not read plain or quoting changes a field; else plain."""
    if delimiter != "\t":
        return '"'
    head = _head(path, f, SNIFF_BYTES)
    whole = sum(map(len, head)) < SNIFF_BYTES  # else the sample ends inside a record, maybe inside a field

    def read(**quoting):
        rows = []
        try:
            rows.extend(r for r in csv.reader(head, delimiter=delimiter, **quoting) if r)
        except csv.Error:
            if whole:
                return None
        return rows if whole else rows[:-1]
    quoted, plain = read(quotechar='"', strict=True), read(quoting=csv.QUOTE_NONE)

    def even(rows):
        return rows is not None and len({len(r) for r in rows}) <= 1
    # quoted fields that hold line breaks make a plain reading uneven; those that hold only quotes or tabs,
    # as many records as lines either way
    if even(quoted) and (not even(plain) or (len(quoted) == len(plain) and quoted != plain)):
        return '"'
    return ""


def read_jsonl(path, **options) -> tuple[list[str], list]:
    return _collect(jsonl_rows(path, Format(**options)))


def _check_json_lines(path: Path, n: int, line: str) -> None:
    """A whole JSON document (an array, or an object over several lines) is no JSON Lines file: say so once,
    with the conversion, rather than refusing (or skipping) every line."""
    head = line.strip()
    if head.startswith("["):
        raise DataError(f"{path}:{n}: a JSON array, not JSON Lines (one object per line); convert it with "
                        f"jq -c '.[]' {path} > {path.stem}.jsonl")
    if head == "{" or (head.startswith("{") and not head.endswith("}")):
        raise DataError(f"{path}:{n}: an object spread over several lines (pretty-printed JSON), not JSON Lines "
                        f"(one object per line); convert it with jq -c . {path} > {path.stem}.jsonl")


def jsonl_rows(path, f: Format):
    """One JSON object per line, one (text, label) at a time; several text keys are joined with a space."""
    path = Path(path)
    parse = target_parser(f.task, f.label_sep)
    bad = BadRows(path, f.on_bad_row)
    kept = 0
    label_column, text_columns = f.label_column, f.text_columns
    lines = Lines(path, f.encoding, bad)
    first = True
    for line in lines:
        if not line.strip():
            continue
        if first:
            _check_json_lines(path, lines.n, line)
            first = False
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
        kinds = [(k, type(obj[k]).__name__) for k in text_columns if not isinstance(obj[k], str)]
        if f.task == "classify" and isinstance(obj[label_column], (bool, dict)):  # lists: checked_row says why
            kinds.append((label_column, type(obj[label_column]).__name__))
        if kinds:
            bad(lines.n, f"key {kinds[0][0]!r} holds a JSON {kinds[0][1]}: texts are strings, labels strings "
                         "or numbers (multilabel: or lists of them)")
            continue
        if row := checked_row(bad, lines.n, " ".join(str(obj[c]) for c in text_columns), obj[label_column], parse):
            kept += 1
            yield row
    bad.end(kept)


def read_fasttext(path, **options) -> tuple[list[str], list]:
    return _collect(fasttext_rows(path, Format(**options)))


def fasttext_rows(path, f: Format, prefix: str = "__label__"):
    """fastText's format, one (text, label) at a time: `__label__sports some text`, spaces normalized;
    multilabel keeps every label of a line, the other tasks the first."""
    path, task = Path(path), f.task
    parse = target_parser(task)
    bad = BadRows(path, f.on_bad_row)
    kept = 0
    lines = Lines(path, f.encoding, bad)
    for line in lines:
        words = line.split()
        if not words:
            continue
        tags = [w for w in words if w.startswith(prefix)]
        if not tags:
            bad(lines.n, f"no label (expected a word starting with {prefix!r})")
            continue
        tags = [t[len(prefix):] for t in tags]
        if row := checked_row(bad, lines.n, " ".join(w for w in words if not w.startswith(prefix)),
                           tags if task == "multilabel" else tags[0], parse):
            kept += 1
            yield row
    bad.end(kept)


def _malformed(path: Path, start: int, e: csv.Error, delimiter: str) -> str:
    """What is wrong with a row the csv module refused; a first row that breaks on a line end means the file's
    lines end with CR alone, which it can't read: that is the file's problem, not a row's."""
    if "new-line character seen in unquoted field" in str(e) and start == 1:
        raise DataError(f"{path}: its lines end with a carriage return alone (CR, as classic Mac OS wrote them): "
                        f"convert them to line feeds, e.g. tr '\\r' '\\n' < {path.name} > fixed{path.suffix}") from None
    return (f"malformed {'TSV' if delimiter == chr(9) else 'CSV'} row ({e}); a field with the delimiter, a quote or a "
            "line break must be quoted, inner quotes doubled; if the file's quotes are text, give --quotechar ''")


def _check_header(path: Path, line: int, names: list[str] | None) -> None:
    twice = [name for name in (names or []) if names.count(name) > 1]
    if twice:
        raise DataError(f"{path}:{line}: the header names column {twice[0]!r} twice: rename one, so that "
                        "--label-column and --text-columns say which is which")


def read_folder(path, f: Format = Format()):
    """One subfolder per class: root/<class>/<file>; files sorted by name; each file is one text.
    (multilabel: one label per file; regression: the folder names are the numbers.)"""
    root, encoding = Path(path), f.encoding
    parse = target_parser(f.task)
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (the folder format wants root/<class>/<file>)")
    bad = BadRows(root, f.on_bad_row)
    codec = _codec(encoding)
    texts, labels = [], []
    for class_dir in _visible(root, "class folder"):
        files = _visible(class_dir, "file")
        if not files:
            LOG.warning(f"{class_dir}: an empty class folder (no files): left out")
        for file in files:
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


def _visible(folder: Path, kind: str) -> list[Path]:
    """`folder`'s entries of the kind (class folders in the root, files in a class), sorted; hidden ones (".git",
    ".DS_Store") left out, and anything else there (a folder in a class, a file in the root) refused."""
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    wrong = [p for p in entries if p.is_dir() != (kind == "class folder")]
    if wrong:
        what = "a folder inside a class folder" if kind == "file" else "a file beside the class folders"
        raise DataError(f"{wrong[0]}: {what}; the folder format is root/<class>/<file>, one level: move it, "
                        "or remove it")
    return entries


def read_lines(path, label: str, encoding="utf-8", on_bad_row="error"):
    """One text per line, all of the same label (movie_review_polarity's rt-polarity.pos/.neg)."""
    bad = BadRows(Path(path), on_bad_row)
    texts = [line.strip() for line in Lines(Path(path), encoding, bad) if line.strip()]
    return bad.done(texts, [label] * len(texts))


def iter_texts(path, encoding: str = "utf-8", fmt: str = "lines"):
    """Unlabeled texts one at a time (`doccat predict --file`; "-": stdin): one per line, line ends removed;
    fmt "jsonl": a JSON string, or an object with a "text" key, per line. A blank line is "" (the caller keeps
    the lines in step and predicts none for it)."""
    path = Path(path)
    for n, line in enumerate(Lines(path, encoding, BadRows(path)), 1):
        if not line.strip():
            yield ""
            continue
        if fmt != "jsonl":
            yield line.rstrip("\r\n")
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: not valid JSON ({e.msg} at column {e.colno})") from None
        text = obj.get("text") if isinstance(obj, dict) else obj
        if not isinstance(text, str):
            raise DataError(f"{path}:{n}: expected a JSON string or an object with a \"text\" string")
        yield text


def read_stdin(encoding: str = "utf-8") -> str:
    """All of standard input, decoded (a byte-order mark followed)."""
    return "".join(Lines(Path(STDIN), encoding, BadRows(Path("<stdin>"))))


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


FORMATS = ("csv", "tsv", "jsonl", "fasttext", "folder", "parquet", "arrow", "hf")
EXTENSIONS = ((".tsv", "tsv"), (".csv", "csv"), (".jsonl", "jsonl"), (".json", "jsonl"), (".ft", "fasttext"),
              (".txt", "fasttext"), (".parquet", "parquet"), (".arrow", "arrow"), (".feather", "arrow"),
              (".ipc", "arrow"))


def guess_format(path) -> str:
    """The format a path's name (or, for a folder, its contents) shows."""
    path = Path(path)
    if path.is_dir():  # Hugging Face's save_to_disk writes these beside its Arrow shards
        return "hf" if (path / "dataset_info.json").is_file() or (path / "state.json").is_file() else "folder"
    name = path.name.lower().removesuffix(".gz")
    for ext, fmt in EXTENSIONS:
        if name.endswith(ext):
            return fmt
    raise DataError(f"{path}: can't tell the format from the name; set --format (one of {', '.join(FORMATS)})")


def read(path, fmt: str = "auto", **options) -> tuple[list[str], list]:
    """Read a labeled file (or folder) in any supported format; labels as `task` wants them (see above).

    `options`: the fields of `Format` (label_column, text_columns, header, encoding, on_bad_row, task,
    label_sep, delimiter, quotechar). Raises DataError on a bad row (policy on_bad_row), naming file and line."""
    f = Format(**options)
    if (guess_format(path) if fmt == "auto" and str(path) != STDIN else fmt) == "folder":
        _exists(path)
        return read_folder(path, f)
    return _collect(rows(path, fmt, **options))


def rows(path, fmt: str = "auto", **options):
    """The (text, label) rows of a CSV, TSV, JSONL, fastText, Parquet or Arrow file (or a Hugging Face
    save_to_disk folder) one at a time, in file order: what `read` returns, never held all at once
    (streaming mode reads files this way; Parquet a row group at a time). `path` "-": standard input."""
    f = Format(**options)
    _exists(path)
    if fmt == "auto":
        fmt = "fasttext" if str(path) == STDIN else guess_format(path)
    if fmt in ("csv", "tsv"):
        return delimited_rows(path, f, "," if fmt == "csv" else "\t")
    if fmt == "jsonl":
        return jsonl_rows(path, f)
    if fmt == "fasttext":
        return fasttext_rows(path, f)
    if fmt in ("parquet", "arrow", "hf"):
        return columnar_rows(path, f, fmt)
    if fmt == "folder":
        raise DataError(f"{path}: a folder of files can't be streamed; give a CSV, TSV, JSONL or fastText file")
    raise DataError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def _exists(path) -> None:
    if str(path) != STDIN and not Path(path).exists():
        raise DataError(f"{path}: file not found; check the path")


# Columnar files through pyarrow: Parquet, Arrow IPC / Feather, and Hugging Face `save_to_disk` folders,
# a record batch at a time (Parquet: by row group), only the label and text columns. An integer label column
# whose names the file records (Hugging Face's ClassLabel, in the schema's "huggingface" metadata or the
# folder's dataset_info.json) gives those names, as the dataset shows them.

BATCH = 8192  # rows per record batch read


def columnar_rows(path, f: Format, fmt: str):
    """The (text, label) rows of a Parquet or Arrow file, or a save_to_disk folder, one at a time."""
    path = Path(path)
    parse, bad = target_parser(f.task, f.label_sep), BadRows(path, f.on_bad_row)
    kept, n = 0, 0
    for schema, batches, all_names in _sources(path, fmt):
        label, texts = _columns(path, schema, f)
        names = all_names.get(label)
        for batch in batches(columns=[label, *texts]):
            labels = batch.column(label).to_pylist()
            columns = [batch.column(t).to_pylist() for t in texts]
            for i, raw in enumerate(labels):
                n += 1
                text = " ".join("" if c[i] is None else str(c[i]) for c in columns)
                if raw is not None and names and isinstance(raw, int) and 0 <= raw < len(names):
                    raw = names[raw]
                if raw is None:
                    bad(f"row {n}", f"the label ({label}) is null")
                elif row := checked_row(bad, f"row {n}", text, raw if isinstance(raw, list) else str(raw), parse):
                    kept += 1
                    yield row
    bad.end(kept)


def _sources(path: Path, fmt: str):
    """(schema, batches(columns=...), label names or None) per file: one file, or a folder's shards."""
    import pyarrow.parquet as pq  # only for this format
    try:
        if fmt == "parquet":
            file = pq.ParquetFile(path)
            schema = file.schema_arrow
            yield schema, lambda columns: file.iter_batches(BATCH, columns=columns), _label_names(schema.metadata)
        elif fmt == "arrow":
            yield _ipc(path, None)
        else:
            info = _json(path / "dataset_info.json") if (path / "dataset_info.json").is_file() else {}
            shards = [path / d["filename"] for d in _json(path / "state.json").get("_data_files", [])] \
                if (path / "state.json").is_file() else sorted(path.glob("*.arrow"))
            if not shards:
                raise DataError(f"{path}: no Arrow shards (data-*.arrow) in this save_to_disk folder")
            for shard in shards:
                yield _ipc(shard, _label_names(None, info.get("features")))
    except (OSError, pa.ArrowException) as e:
        raise DataError(f"{path}: not a readable {fmt} file ({e})") from None


def _ipc(path: Path, names: list | None):
    """An Arrow IPC file (Feather v2) or stream (what save_to_disk writes), whichever it is."""
    try:
        reader = ipc.open_file(pa.memory_map(str(path)))
        schema = reader.schema

        def batches(columns):
            for i in range(reader.num_record_batches):
                yield reader.get_batch(i).select(columns)
    except pa.ArrowInvalid:
        reader = ipc.open_stream(pa.memory_map(str(path)))
        schema = reader.schema

        def batches(columns):
            for batch in reader:
                yield batch.select(columns)
    return schema, batches, names or _label_names(schema.metadata)


def _label_names(metadata: dict | None, features: dict | None = None) -> dict:
    """{column: ClassLabel names} from a schema's "huggingface" metadata or dataset_info.json's features."""
    if features is None and metadata and b"huggingface" in metadata:
        features = json.loads(metadata[b"huggingface"]).get("info", {}).get("features")
    return {k: v["names"] for k, v in (features or {}).items()
            if isinstance(v, dict) and v.get("_type") == "ClassLabel" and "names" in v}


def _columns(path: Path, schema: pa.Schema, f: Format) -> tuple[str, list[str]]:
    names = schema.names

    def find(spec: str) -> str:
        if spec in names:
            return spec
        if spec.isascii() and spec.isdigit() and int(spec) < len(names):
            return names[int(spec)]
        raise DataError(f"{path}: no column named {spec!r} (columns: {names}); set --label-column / --text-columns")
    return find(f.label_column), [find(c) for c in f.text_columns]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not valid JSON ({e})") from None


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
