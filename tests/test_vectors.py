"""Word-vector files: GloVe and .vec (header) formats, gzipped or not, coverage counts, clear errors."""
from __future__ import annotations

import gzip
import hashlib
import re

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


# --- through doccat.train: the bag's word rows, coverage in metrics.json, frozen or fine-tuned ----------

import json  # noqa: E402

import doccat  # noqa: E402
from doccat import classifier  # noqa: E402
from doccat.config import ConfigError  # noqa: E402
from doccat.text import tokenize  # noqa: E402

from conftest import FAST, make_corpus, write_csv  # noqa: E402

# goal, market, nasa exactly; Space by lowercase; zebra is no word of the corpus
VEC = {"goal": [0.5, -1.0, 2.0], "market": [1.5, 0.25, -0.75], "Space": [-2.0, 1.0, 0.5], "nasa": [3.0, 0.0, -3.0],
       "zebra": [9.0, 9.0, 9.0]}
SMALL = {**FAST, "embed_dim": 3, "min_df": 1, "buckets": 100}


@pytest.fixture
def vec_corpus(tmp_path):
    """train/valid files and a .vec file (header, one cased word) for the tiny corpus's words."""
    train = write_csv(tmp_path / "train.csv", *make_corpus(30, seed=1))
    valid = write_csv(tmp_path / "valid.csv", *make_corpus(5, seed=3))
    rows = [f"{w} {' '.join(map(str, v))}" for w, v in VEC.items()]
    vec = write(tmp_path / "v.vec.gz", f"{len(rows)} 3\n" + "\n".join(rows) + "\n")
    return {"train": str(train), "valid": str(valid)}, vec


def bag_rows(clf, words):
    f = clf.featurizer
    return f.column(np.array([f.vocab.stoi[w] for w in words]))


def record_initial_bag(monkeypatch) -> list:
    """[the model, its bag as `fit` receives it]: the init, vectors included, before any step."""
    seen = []
    real_init = classifier.Trainer.__init__

    def recording_init(self, model, *args, **kw):
        seen[:] = [model, model.bag.weight.detach().clone()]
        return real_init(self, model, *args, **kw)
    monkeypatch.setattr(classifier.Trainer, "__init__", recording_init)
    return seen


def test_train_with_vectors_exact_coverage_and_scaled_init(vec_corpus, monkeypatch):
    data, vec = vec_corpus
    seen = record_initial_bag(monkeypatch)
    clf = doccat.train(vectors=str(vec), **data, **SMALL)
    words = {t for text in make_corpus(30, seed=1)[0] for t in tokenize(text)}  # the training split's words
    report = clf.metrics_["vectors"]
    assert report["vocab_words"] == len(words) and report["found"] == 4
    assert report["exact"] == 3 and report["lowercase"] == 1  # Space -> space
    assert report["coverage"] == round(4 / len(words), 4) and report["file_rows"] == 5
    assert report["name"] == "v.vec.gz" and report["sha256"] == hashlib.sha256(vec.read_bytes()).hexdigest()
    initial = seen[1]
    rows = bag_rows(clf, ["goal", "market", "space", "nasa"])
    np.testing.assert_array_equal(initial[rows].numpy(), np.array([VEC[w] for w in ("goal", "market", "Space", "nasa")],
                                                                 dtype=np.float32))
    # the other rows (words without a vector, n-gram buckets) drawn at the vectors' scale
    values = np.array([VEC[w] for w in ("goal", "market", "Space", "nasa")], dtype=np.float32)
    assert report["init_range"] == pytest.approx(np.sqrt(3) * values.std(), rel=1e-5)
    others = np.setdiff1d(np.arange(len(initial)), rows)
    assert initial[others].abs().max() <= report["init_range"] and initial[others].std() > report["init_range"] / 3


def test_explicit_init_is_kept_for_rows_without_a_vector(vec_corpus, monkeypatch):
    data, vec = vec_corpus
    seen = record_initial_bag(monkeypatch)
    clf = doccat.train(vectors=str(vec), init="uniform", init_range=0.01, **data, **SMALL)
    assert "init_range" not in clf.metrics_["vectors"]
    others = np.setdiff1d(np.arange(len(seen[1])), bag_rows(clf, ["goal", "market", "space", "nasa"]))
    assert seen[1][others].abs().max() <= 0.01


@pytest.mark.parametrize("optimizer", ["lbfgs", "adagrad", "adamw"])
def test_frozen_embeddings_are_bit_identical_after_training(vec_corpus, monkeypatch, optimizer):
    data, vec = vec_corpus
    seen = record_initial_bag(monkeypatch)
    # lbfgs: full batch (the default recipe); adagrad: mini-batches with sparse bag gradients; adamw: weight decay
    kw = {"lbfgs": dict(batch_size=0), "adagrad": dict(weight_decay=0.0), "adamw": dict(weight_decay=0.1)}[optimizer]
    clf = doccat.train(vectors=str(vec), freeze_embeddings=True, **data, **{**SMALL, "optimizer": optimizer, **kw})
    model, initial = seen
    assert model is clf.model and not model.bag.weight.requires_grad
    assert torch.equal(model.bag.weight, initial)
    assert not torch.equal(model.head.weight, torch.zeros_like(model.head.weight))  # the head did learn


def test_fine_tuned_embeddings_change(vec_corpus, monkeypatch):
    data, vec = vec_corpus
    seen = record_initial_bag(monkeypatch)
    clf = doccat.train(vectors=str(vec), **data, **SMALL)
    model, initial = seen
    rows = bag_rows(clf, ["goal", "market", "space", "nasa"])
    assert model.bag.weight.requires_grad
    assert all(not torch.equal(model.bag.weight[r], initial[r]) for r in rows)  # every vector moved


def test_unfreeze_after_n_epochs(vec_corpus, monkeypatch):
    data, vec = vec_corpus
    seen = record_initial_bag(monkeypatch)
    changed = []
    doccat.train(vectors=str(vec), freeze_embeddings=True, unfreeze_after=2, patience=0, **data,
                 **{**SMALL, "epochs": 4, "optimizer": "adam", "lr": 0.05},
                 on_epoch=lambda row: changed.append(not torch.equal(seen[0].bag.weight, seen[1])))
    assert changed == [False, False, True, True]


def test_saved_run_needs_no_vectors_file_and_records_it(vec_corpus, tmp_path):
    data, vec = vec_corpus
    clf = doccat.train(vectors=str(vec), freeze_embeddings=True, out=tmp_path / "run", **data, **SMALL)
    texts = make_corpus(5, seed=9)[0]
    vec.unlink()
    again = doccat.load(tmp_path / "run")
    np.testing.assert_array_equal(again.predict_proba(texts), clf.predict_proba(texts))
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["model"]["vectors"] == str(vec) and config["model"]["freeze_embeddings"] is True
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["vectors"]["found"] == 4 and len(metrics["vectors"]["sha256"]) == 64


@pytest.mark.parametrize("kw,message", [
    (dict(embed_dim=0), "model.vectors needs an embedding as wide as the vectors: give --embed-dim D"),
    (dict(embed_dim=5), "v.vec.gz has 3-dimensional vectors but embed_dim is 5: set --embed-dim 3"),
    (dict(unfreeze_after=2), "model.unfreeze_after unfreezes a frozen bag: it needs --freeze-embeddings"),
    (dict(freeze_embeddings=True, unfreeze_after=2, batch_size=0, optimizer="lbfgs"), "which a full-batch solver can't"),
])
def test_vector_config_errors(vec_corpus, kw, message):
    data, vec = vec_corpus
    with pytest.raises(ConfigError, match=re.escape(message)):
        doccat.train(vectors=str(vec), **data, **{**SMALL, **kw})
    with pytest.raises(DataError, match="file not found"):
        doccat.train(vectors=str(vec.with_name("nope.txt")), **data, **SMALL)
