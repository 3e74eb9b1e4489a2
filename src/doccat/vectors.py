"""Pretrained word vectors (GloVe .txt, fastText/word2vec .vec, optionally .gz) for the vocabulary.

    read_vectors(path, words)        stream the file, keep only the rows of `words`
    vectors_for_vocab(itos, path)    a (V, dim) matrix in vocabulary-id order + which rows were found
    copy_vectors_(weight, ...)       put the found rows into an embedding weight, in place

A file is read line by line and only the rows wanted are parsed, so a 2M-word file costs the memory
of the 50k words the vocabulary needs. The floats of the kept rows are parsed by numpy, a chunk of
rows at a time; the slow line-by-line checks run only on a chunk that numpy refuses, to name the line.
"""
from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .data.readers import DataError

CHUNK = 10_000  # kept rows parsed per numpy call: (CHUNK, dim) floats at a time
SHOWN = 10  # missing words listed in the coverage report


@dataclass
class Vectors:
    """Rows kept from a vector file, in file order: words (n,) and matrix (n, dim) float32."""

    path: str
    words: list[str]
    matrix: np.ndarray
    file_rows: int  # vectors in the whole file, kept or not
    multiword: int  # rows skipped because their word holds spaces (GloVe 840B has a few)

    @property
    def dim(self) -> int:
        return self.matrix.shape[1]


def read_vectors(path, words: list[str] | None = None, lowercase: bool = False) -> Vectors:
    """Read a word-vector file: GloVe (no header) or fastText/word2vec text (a "count dim" first line).

    `words`: keep only these words' rows (all rows when None); `lowercase`: also keep rows whose
    lowercased word is in `words` (for a cased file and a lowercased vocabulary). A word repeated in
    the file is kept each time; `vectors_for_vocab` uses the first.
    Raises DataError "file:line: problem" for a wrong number of values, a value that is not a number,
    bytes that are not UTF-8 (in a row's word, or anywhere in a kept row), an empty or damaged file.
    """
    path = Path(path)
    _check_path(path)
    wanted = set(words) if words is not None else None
    header, dim = None, None
    pending: list[tuple[int, str, str]] = []  # (line number, word, the values as text) not yet parsed
    kept_words, blocks = [], []
    file_rows = multiword = 0
    for n, raw in _lines(path):
        word, rest = _split_word(path, n, raw)
        if file_rows == 0 and header is None and _is_header(word, rest):  # the first line
            header = int(word), int(rest)
            dim = header[1]
            continue
        file_rows += 1
        if dim is None:
            dim = len(rest.split())
            if dim == 0:
                raise DataError(f"{path}:{n}: a word without values; expected `word v1 v2 ...`")
        if wanted is not None and word not in wanted and not (lowercase and word.lower() in wanted):
            continue  # the common case for a big file: no float parsed, nothing kept
        pending.append((n, word, _decode(path, n, rest)))
        if len(pending) >= CHUNK:
            multiword += _parse(path, pending, dim, kept_words, blocks)
            pending = []
    multiword += _parse(path, pending, dim, kept_words, blocks)
    if dim is None:
        raise DataError(f"{path}: the file is empty; expected one `word v1 v2 ...` line per word")
    if header is not None and header[0] != file_rows:
        raise DataError(f"{path}: the header line says {header[0]} vectors but the file has {file_rows}; "
                        "it is truncated or altered: download it again")
    matrix = np.concatenate(blocks) if blocks else np.zeros((0, dim), dtype=np.float32)
    return Vectors(str(path), kept_words, matrix, file_rows, multiword)


def _check_path(path: Path) -> None:
    if not path.exists():
        raise DataError(f"{path}: file not found; check the path")
    if path.is_dir():
        raise DataError(f"{path}: is a directory, expected a word-vector file")
    if path.suffix in (".zip", ".bin"):  # glove.*.zip; word2vec's binary format
        raise DataError(f"{path}: {path.suffix} files are not read; give the text file "
                        "(`word v1 v2 ...` per line, optionally .gz): unzip it, or convert a binary model to text")


def _lines(path: Path):
    """(line number, bytes without the line end) of each non-blank line; .gz files are unpacked."""
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            for n, raw in enumerate(f, 1):
                if n == 1 and raw.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte order mark
                    raw = raw[3:]
                raw = raw.rstrip()  # the line end, and the trailing space some .vec files have
                if raw:
                    yield n, raw
    except (OSError, EOFError, zlib.error) as e:
        if path.suffix == ".gz" and not isinstance(e, FileNotFoundError | PermissionError):
            raise DataError(f"{path}: not a valid gzip file ({e}); it is damaged or truncated: "
                            "download or compress it again") from None
        raise DataError(f"{path}: can't read: {e.strerror or e}") from None


def _split_word(path: Path, n: int, raw: bytes) -> tuple[str, bytes]:
    # only the word is decoded for every line: the values of a row that is not kept are never looked at
    word, _, rest = raw.partition(b" ")
    return _decode(path, n, word), rest


def _decode(path: Path, n: int, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise DataError(f"{path}:{n}: byte 0x{data[e.start]:02x} is not valid UTF-8; "
                        "vector files must be UTF-8 text") from None


def _is_header(word: str, rest: bytes) -> bool:
    # fastText/word2vec: "count dim"; a GloVe row has a word and at least one float
    return word.isdigit() and rest.isdigit()


def _parse(path: Path, rows: list[tuple[int, str, str]], dim: int, kept_words: list, blocks: list) -> int:
    """Parse the values of `rows` with numpy into `blocks`; returns how many multi-word rows were dropped."""
    if not rows:
        return 0
    try:
        matrix = np.loadtxt([r[2] for r in rows], dtype=np.float32, ndmin=2, comments=None)
        if matrix.shape == (len(rows), dim):  # loadtxt skips an empty row: count them too
            kept_words += [r[1] for r in rows]
            blocks.append(matrix)
            return 0
    except ValueError:
        pass
    good = [row for row in rows if _check_row(path, *row, dim)]  # slow: only to name the bad line
    if good:
        kept_words += [r[1] for r in good]
        blocks.append(np.loadtxt([r[2] for r in good], dtype=np.float32, ndmin=2, comments=None))
    return len(rows) - len(good)


def _check_row(path: Path, n: int, word: str, rest: str, dim: int) -> bool:
    """True for a good row, False for a word with spaces in it (". . ." in GloVe 840B); raises otherwise."""
    values = rest.split()
    if len(values) > dim and not _is_number(values[0]):
        return False  # its real word is `word values[0] ...`: never a token of a whitespace tokenizer
    if len(values) != dim:
        raise DataError(f"{path}:{n}: {word!r} has {len(values)} values, expected {dim} "
                        "(the dimension of the file's first row or header)")
    bad = next((v for v in values if not _is_number(v)), None)
    if bad is not None:
        raise DataError(f"{path}:{n}: {word!r} has the value {bad!r}, which is not a number")
    return True


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def vectors_for_vocab(itos: list[str], path, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, dict]:
    """The file's vector of each vocabulary word, in id order (or of the words `ids`, in that order).

    Returns matrix (V, dim) float32 (zero rows where not found), found (V,) bool, and a coverage
    report over those words. A word is found by its exact form first, else by the first row in the
    file whose lowercased word equals it (fastText/word2vec files are cased, doccat's tokens lowercase).
    Id 0, `<unk>`, is never found: it keeps the configured init.
    """
    ids = np.arange(len(itos)) if ids is None else np.asarray(ids, dtype=np.int64)
    words = [itos[i] if i else None for i in ids]  # id 0 is <unk>: never looked up
    vectors = read_vectors(path, [w for w in words if w is not None], lowercase=True)
    exact: dict[str, int] = {}
    lowered: dict[str, int] = {}
    for row, word in enumerate(vectors.words):
        exact.setdefault(word, row)
        lowered.setdefault(word.lower(), row)
    rows = np.full(len(ids), -1, dtype=np.int64)
    by_exact = np.zeros(len(ids), dtype=bool)
    for i, word in enumerate(words):
        if word in exact:
            rows[i], by_exact[i] = exact[word], True
        elif word in lowered:
            rows[i] = lowered[word]
    found = rows >= 0
    matrix = np.zeros((len(ids), vectors.dim), dtype=np.float32)
    matrix[found] = vectors.matrix[rows[found]]
    return matrix, found, _report(words, vectors, found, by_exact)


def _report(words: list[str | None], vectors: Vectors, found: np.ndarray, by_exact: np.ndarray) -> dict:
    num_words = sum(w is not None for w in words)  # <unk> is not a word
    missing = [w for w, f in zip(words, found) if w is not None and not f][:SHOWN]
    return {
        "file": vectors.path,
        "dim": vectors.dim,
        "file_rows": vectors.file_rows,
        "vocab_words": num_words,
        "found": int(found.sum()),
        "exact": int(by_exact.sum()),
        "lowercase": int(found.sum() - by_exact.sum()),  # found only through the lowercase fallback
        "coverage": round(float(found.sum()) / num_words, 4) if num_words else 0.0,
        "missing_examples": missing,  # the most frequent vocabulary words without a vector
        "multiword_rows_skipped": vectors.multiword,
    }


def copy_vectors_(weight: torch.Tensor, matrix: np.ndarray, found: np.ndarray) -> int:
    """Copy the found rows of `matrix` (V, dim) into rows 0..V-1 of `weight` (an embedding's, at least V
    rows, e.g. vocabulary then n-gram buckets); the other rows keep their init. Returns rows copied."""
    if weight.dim() != 2 or weight.shape[1] != matrix.shape[1]:
        raise ValueError(f"the embedding has {tuple(weight.shape)[1:]} columns but the vectors have "
                         f"{matrix.shape[1]} dimensions: set embed_dim to {matrix.shape[1]}")
    if weight.shape[0] < len(matrix):
        raise ValueError(f"the embedding has {weight.shape[0]} rows, fewer than the {len(matrix)} vocabulary words")
    ids = torch.from_numpy(np.flatnonzero(found))
    with torch.no_grad():  # an in-place edit of a parameter, not a step to differentiate
        weight[ids] = torch.from_numpy(matrix[found]).to(weight.dtype)
    return len(ids)


def load_into_bag(weight: torch.Tensor, itos: list[str], word_ids: np.ndarray, path, scale_init: bool) -> dict:
    """Word vectors into a bag: row r of `weight` (an EmbeddingBag's, (rows, dim)) is the vocabulary word
    `word_ids[r]` (the Featurizer's word columns come first). Rows without a vector (words not in the
    file, <unk>, n-gram buckets) keep their init; `scale_init` first redraws all rows from U(-a, a) with
    a = sqrt(3) * the std of the found vectors' values, so that they match the vectors' scale (as Kim
    2014 did for words missing from word2vec): GloVe's values spread wider than the default U(-0.5, 0.5)
    (std 0.29), fastText's far narrower. Returns the coverage report (see vectors_for_vocab) with the
    file's name and sha256, and the init range used. Raises ConfigError when the dimensions differ."""
    from .config import ConfigError
    from .data import digest
    matrix, found, report = vectors_for_vocab(itos, path, word_ids)
    if matrix.shape[1] != weight.shape[1]:
        raise ConfigError(f"model.vectors: {path} has {matrix.shape[1]}-dimensional vectors but embed_dim is "
                          f"{weight.shape[1]}: set --embed-dim {matrix.shape[1]}")
    if scale_init and found.any():
        report["init_range"] = round(float(np.sqrt(3) * matrix[found].std()), 6)
        with torch.no_grad():
            weight.uniform_(-report["init_range"], report["init_range"])
    copy_vectors_(weight, matrix, found)
    return {"name": Path(path).name, "sha256": digest(Path(path)), **report}
