"""Word-vector files: GloVe and .vec (header) formats, gzipped or not, coverage counts, clear errors."""
from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from doccat import vectors
from doccat.data.readers import DataError
from doccat.vectors import copy_vectors_, read_vectors, vectors_for_vocab

ITOS = ["<unk>", "the", "cat", "dog", "paris", "zzz", "."]
ROWS = [
    "the 1 2 3",
    "cat 4 5 6",
    "Dog 7 8 9",  # dog only through the lowercase fallback
    "Paris -1 -2 -3",  # a cased variant before the exact word: the exact one wins
    "paris 10 11 12",
    "unused 0.5 0.5 0.5",
    "<unk> 9 9 9",  # id 0 is never found
    ". . . 1 2 3",  # GloVe 840B has words with spaces: skipped
    ". 1e-1 2.5e0 -3",
    "the 99 99 99",  # a repeated word: the first row is used
]
EXPECTED = {"the": [1, 2, 3], "cat": [4, 5, 6], "dog": [7, 8, 9], "paris": [10, 11, 12], ".": [0.1, 2.5, -3]}


def write(path, text: str | bytes):
    data = text.encode() if isinstance(text, str) else text
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("name,header", [("v.txt", False), ("v.vec", True), ("v.txt.gz", False), ("v.vec.gz", True)])
def test_vectors_for_vocab_exact_coverage(tmp_path, name, header):
    lines = ([f"{len(ROWS)} 3"] if header else []) + ROWS
    path = write(tmp_path / name, "\n".join(lines) + "\n")
    matrix, found, report = vectors_for_vocab(ITOS, path)
    assert matrix.dtype == np.float32 and matrix.shape == (7, 3)
    assert found.tolist() == [False, True, True, True, True, False, True]
    for i, word in enumerate(ITOS):
        expected = EXPECTED.get(word, [0, 0, 0]) if i else [0, 0, 0]
        np.testing.assert_allclose(matrix[i], expected, rtol=1e-6)
    assert report["vocab_words"] == 6 and report["found"] == 5
    assert report["exact"] == 4 and report["lowercase"] == 1  # the, cat, paris, . exact; Dog -> dog
    assert report["coverage"] == round(5 / 6, 4)
    assert report["dim"] == 3 and report["file_rows"] == len(ROWS)
    assert report["missing_examples"] == ["zzz"] and report["multiword_rows_skipped"] == 1


def test_read_vectors_keeps_only_the_words_asked_for(tmp_path):
    path = write(tmp_path / "v.txt", "\n".join(ROWS + ["junk not numbers at all"]) + "\n")
    v = read_vectors(path, ["cat", "dog"])
    assert v.words == ["cat"] and v.matrix.tolist() == [[4, 5, 6]]  # the junk row is never parsed
    v = read_vectors(path, ["cat", "dog"], lowercase=True)
    assert v.words == ["cat", "Dog"]


def test_read_vectors_all_rows_across_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(vectors, "CHUNK", 2)  # several numpy calls, one with the multi-word row
    v = read_vectors(write(tmp_path / "v.vec", f"{len(ROWS)} 3\n" + "\n".join(ROWS) + "\n"))
    assert v.words == ["the", "cat", "Dog", "Paris", "paris", "unused", "<unk>", ".", "the"]
    assert v.matrix.shape == (9, 3) and v.matrix[7].tolist() == pytest.approx([0.1, 2.5, -3])


def test_trailing_spaces_crlf_and_bom(tmp_path):
    path = write(tmp_path / "v.vec", b"\xef\xbb\xbf2 2\r\ncat 1 2 \r\n\r\ndog 3 4\r\n")
    v = read_vectors(path)
    assert v.words == ["cat", "dog"] and v.matrix.tolist() == [[1, 2], [3, 4]]


@pytest.mark.parametrize("name,content,message", [
    ("v.txt", "a 1 2 3\nb 1 2\n", "v.txt:2: 'b' has 2 values, expected 3"),
    ("v.txt", "a 1 2 3\nb 1 x 3\n", "v.txt:2: 'b' has the value 'x', which is not a number"),
    ("v.vec", "2 3\na 1 2 3\nb 1 2 3 4\n", "v.vec:3: 'b' has 4 values, expected 3"),
    ("v.vec", "2 3\na 1 2\nb 1 2 3\n", "v.vec:2: 'a' has 2 values, expected 3"),
    ("v.txt", "", "v.txt: the file is empty"),
    ("v.txt", "\n\n", "v.txt: the file is empty"),
    ("v.txt", "a\n", "v.txt:1: a word without values"),
    ("v.txt", b"a 1 2\n\xff\xfe 1 2\n", "v.txt:2: byte 0xff is not valid UTF-8"),
    ("v.txt", b"a 1 2\nb 1 \xe9\n", "v.txt:2: byte 0xe9 is not valid UTF-8"),
    ("v.vec", "3 2\na 1 2\n", "v.vec: the header line says 3 vectors but the file has 1"),
    ("v.txt.gz", "a 1 2\nb 1\n", "v.txt.gz:2: 'b' has 1 values, expected 2"),
])
def test_bad_files_name_the_line_and_the_problem(tmp_path, name, content, message):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError) as e:
        read_vectors(path)
    assert message in str(e.value)


def test_damaged_gzip_missing_file_and_unsupported_formats(tmp_path):
    good = gzip.compress(("\n".join(ROWS) + "\n").encode())
    (tmp_path / "v.txt.gz").write_bytes(good[: len(good) // 2])
    with pytest.raises(DataError, match="not a valid gzip file"):
        read_vectors(tmp_path / "v.txt.gz")
    with pytest.raises(DataError, match="file not found"):
        read_vectors(tmp_path / "nope.txt")
    (tmp_path / "glove.zip").write_bytes(b"PK")
    with pytest.raises(DataError, match="unzip it"):
        read_vectors(tmp_path / "glove.zip")


def test_copy_vectors_fills_found_rows_and_keeps_the_init_elsewhere(tmp_path):
    matrix, found, _ = vectors_for_vocab(ITOS, write(tmp_path / "v.txt", "\n".join(ROWS) + "\n"))
    bag = torch.nn.EmbeddingBag(len(ITOS) + 4, 3)  # vocabulary rows, then n-gram buckets
    before = bag.weight.detach().clone()
    assert copy_vectors_(bag.weight, matrix, found) == 5
    after = bag.weight.detach()
    ids = torch.from_numpy(np.flatnonzero(found))
    assert torch.equal(after[ids], torch.from_numpy(matrix[found]))
    kept = torch.ones(len(after), dtype=torch.bool)
    kept[ids] = False
    assert torch.equal(after[kept], before[kept])  # <unk>, zzz and the buckets keep their init
    assert bag.weight.requires_grad
    with pytest.raises(ValueError, match="set embed_dim to 3"):
        copy_vectors_(torch.nn.EmbeddingBag(10, 4).weight, matrix, found)
