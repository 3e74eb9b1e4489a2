"""doccat.compress: smaller copies of a linear bag run that load, predict and evaluate as the original does."""
import json
import subprocess
import sys

import numpy as np
import pytest
from safetensors.torch import load_file

import doccat
from doccat.artifacts import ArtifactError
from conftest import make_corpus, write_csv


@pytest.fixture(scope="module")
def linear_run(tmp_path_factory):
    """The default recipe (a linear bag on TF-IDF n-grams) on the tiny corpus, with its test split on disk."""
    root = tmp_path_factory.mktemp("linear_run")
    train = write_csv(root / "train.csv", *make_corpus(60, seed=1))
    test = write_csv(root / "test.csv", *make_corpus(20, seed=2))
    doccat.train(train=str(train), test=str(test), out=root / "run", log=lambda *a: None)
    return root / "run"


@pytest.fixture(scope="module")
def texts():
    return make_corpus(20, seed=3, signal=1, noise=6)[0]  # harder texts than the training's: the scores are close


def size(path) -> int:
    return sum(f.stat().st_size for f in path.iterdir())


def doccat_cli(*args):
    return subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True)


def test_float16_predicts_as_the_original(linear_run, texts, tmp_path):
    summary = doccat.compress(linear_run, tmp_path / "fp16", bits=16)
    original, small = doccat.load(linear_run, "cpu"), doccat.load(tmp_path / "fp16", "cpu")
    np.testing.assert_allclose(small.predict_proba(texts), original.predict_proba(texts), atol=1e-3)
    assert small.model.bag.weight.dtype == original.model.bag.weight.dtype  # float32 again once loaded
    state = load_file(tmp_path / "fp16" / "model.safetensors")
    assert state["bag.weight"].dtype.itemsize == 2 and state["featurizer.columns"].dtype.itemsize == 4
    assert summary["bytes_after"] < summary["bytes_before"] and size(tmp_path / "fp16") < size(linear_run)


def test_int8_keeps_the_top_class_and_is_smaller_than_float16(linear_run, texts, tmp_path):
    doccat.compress(linear_run, tmp_path / "fp16", bits=16)
    doccat.compress(linear_run, tmp_path / "int8", bits=8)
    original, small = doccat.load(linear_run, "cpu"), doccat.load(tmp_path / "int8", "cpu")
    agree = (small.predict_proba(texts).argmax(1) == original.predict_proba(texts).argmax(1)).mean()
    assert agree >= 0.95
    state = load_file(tmp_path / "int8" / "model.safetensors")
    assert state["bag.weight.int8"].dtype.itemsize == 1 and tuple(state["bag.weight.scale"].shape) == (3,)
    assert (tmp_path / "int8" / "model.safetensors").stat().st_size < (tmp_path / "fp16" / "model.safetensors").stat().st_size


def test_pruned_int8_loads_evaluates_and_keeps_only_its_words(linear_run, tmp_path):
    original = doccat.load(linear_run, "cpu")
    keep = original.featurizer.num_features // 4
    out = tmp_path / "small"
    summary = doccat.compress(linear_run, out, bits=8, max_features=keep)
    assert summary["features_after"] == keep
    small = doccat.load(out, "cpu")
    assert small.featurizer.num_features == keep and small.model.bag.weight.shape == (keep, 3)
    assert len(json.loads((out / "vocab.json").read_text())) < len(original.featurizer.vocab)
    assert len(small.featurizer.vocab) == len(original.featurizer.vocab)  # every kept word at its own id
    kept = small.featurizer.columns_
    assert set(kept) <= set(original.featurizer.columns_)
    column = original.featurizer.column(kept)  # the kept features' rows, weights and idf are the original's
    np.testing.assert_allclose(small.featurizer.idf_, original.featurizer.idf_[column], rtol=1e-3)
    w = original.model.bag.weight.detach()[column]
    assert (small.model.bag.weight.detach() - w).abs().max() <= w.abs().max() / 127
    ev = doccat_cli("evaluate", out)
    assert ev.returncode == 0, ev.stderr
    report = json.loads(ev.stdout)
    assert report["accuracy"] >= original.metrics_["test"]["accuracy"] - 0.1
    assert json.loads((out / "metrics.json").read_text())["compressed"]["max_features"] == keep


def test_cli_compress_refuses_a_taken_out_and_overwrites_only_a_run(linear_run, tmp_path):
    out = tmp_path / "small"
    first = doccat_cli("compress", linear_run, "--out", out, "--bits", 16)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["bits"] == 16
    again = doccat_cli("compress", linear_run, "--out", out)
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    assert doccat_cli("compress", linear_run, "--out", out, "--overwrite").returncode == 0
    assert load_file(out / "model.safetensors")["bag.weight.int8"].dtype.itemsize == 1
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = doccat_cli("compress", linear_run, "--out", mine, "--overwrite")
    assert refused.returncode == 2 and (mine / "notes.txt").read_text() == "keep me"


def test_unsupported_models_are_refused_in_a_line(small_run, linear_run, tmp_path):
    out = doccat_cli("compress", small_run, "--out", tmp_path / "x")  # an embedding bag of 16 dimensions
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "linear bag" in out.stderr and "embed_dim" in out.stderr
    assert not (tmp_path / "x").exists()
    doccat.compress(linear_run, tmp_path / "c", bits=16)
    with pytest.raises(ArtifactError, match="compressed already"):
        doccat.compress(tmp_path / "c", tmp_path / "cc")
    with pytest.raises(ArtifactError, match="bits"):
        doccat.compress(linear_run, tmp_path / "b", bits=4)


def test_an_edited_compact_vocabulary_is_refused(linear_run, tmp_path):
    out = tmp_path / "small"
    doccat.compress(linear_run, out, max_features=20)
    vocab = json.loads((out / "vocab.json").read_text())
    from doccat.artifacts import read_run
    from doccat.artifacts import expand
    state = read_run(out)["state"]
    with pytest.raises(ArtifactError, match="compact vocabulary"):
        expand(out, state, vocab[:-1])


def test_a_compressed_run_has_a_model_card_that_says_so(linear_run, tmp_path):
    doccat.compress(linear_run, tmp_path / "small", bits=8, max_features=50)
    card = (tmp_path / "small" / "README.md").read_text()
    assert "Compressed (`doccat compress`): int8 weights, 50 of" in card
    assert "Compressed" not in (linear_run / "README.md").read_text()


def test_training_can_save_the_run_compressed(tmp_path):
    from doccat.config import ConfigError
    train = write_csv(tmp_path / "train.csv", *make_corpus(60, seed=1))
    test = write_csv(tmp_path / "test.csv", *make_corpus(20, seed=2))
    clf = doccat.train(train=str(train), test=str(test), out=tmp_path / "run", compress_bits=8,
                       compress_max_features=60, log=lambda *a: None)
    state = load_file(str(tmp_path / "run" / "model.safetensors"))
    assert state["bag.weight.int8"].shape[0] == 60
    small = doccat.load(tmp_path / "run", "cpu")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["compressed"]["features_after"] == 60
    assert small.evaluate(*make_corpus(20, seed=2))["accuracy"] >= clf.metrics_["test"]["accuracy"] - 0.05
    with pytest.raises(ConfigError, match="compress a linear model"):
        doccat.train(train=str(train), compress_bits=16, embed_dim=8, hidden=[4], log=lambda *a: None)
    with pytest.raises(ConfigError, match="compress_bits 16 or 8"):
        doccat.train(train=str(train), compress_max_features=10, log=lambda *a: None)
