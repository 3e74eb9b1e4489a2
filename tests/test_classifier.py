import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import doccat
from doccat import plots
from doccat.config import ConfigError
from doccat.data import DataError

from conftest import FAST, make_corpus, write_csv


def test_train_predict_evaluate_on_files(corpus_files):
    train, test = corpus_files
    clf = doccat.train(train=str(train), test=str(test), **FAST)
    assert clf.classes_ == ["business", "science", "sports"]
    assert clf.metrics_["test"]["accuracy"] > 0.9
    assert set(clf.metrics_["test"]) >= {"loss", "accuracy", "macro_f1", "per_class", "confusion_matrix"}
    pred = clf.predict(["the striker scored a goal for the team", "bank profit and stock market shares"], k=2)
    assert [p.labels[0] for p in pred] == ["sports", "business"]
    assert all(len(p.labels) == 2 and p.probs[0] >= p.probs[1] for p in pred)
    proba = clf.predict_proba(["goal team", "nasa planet"])
    assert proba.shape == (2, 3) and np.allclose(proba.sum(1), 1.0, atol=1e-6)


def test_predict_threshold_and_single_string(corpus_files):
    clf = doccat.train(train=str(corpus_files[0]), **FAST)
    (pred,) = clf.predict("goal team coach", k=3, threshold=0.999999)
    assert len(pred.labels) <= 1
    (pred,) = clf.predict("goal team coach", k=3)
    assert len(pred.labels) == 3 and abs(sum(pred.probs) - 1) < 1e-5


def test_in_memory_training():
    texts, labels = make_corpus(40)
    clf = doccat.train(texts, labels, **FAST)
    assert clf.evaluate(texts, labels)["accuracy"] > 0.9


def test_vocabulary_never_sees_valid_or_test_words(tmp_path):
    texts, labels = make_corpus(40, seed=1)
    valid = make_corpus(10, seed=3)
    test = make_corpus(10, seed=2)
    paths = [write_csv(tmp_path / f"{n}.csv", *d) for n, d in
             [("train", (texts, labels)), ("valid", valid), ("test", test)]]
    clf = doccat.train(train=str(paths[0]), valid=str(paths[1]), test=str(paths[2]), **FAST)
    vocab = set(clf.featurizer.vocab.itos)
    # every document carries a unique id word like doc2xsportsx3: those of valid/test must be absent
    assert any(w.startswith("doc1x") for w in vocab)
    assert not any(w.startswith(("doc2x", "doc3x")) for w in vocab)


def test_carved_validation_split_is_disjoint_from_train(tmp_path):
    from doccat.config import DataConfig
    from doccat.data import load_splits
    texts, labels = make_corpus(50)
    path = write_csv(tmp_path / "train.csv", texts, labels)
    splits = load_splits(DataConfig(train=str(path), valid_fraction=0.2))
    assert not set(splits.train.texts) & set(splits.valid.texts)
    assert len(splits.train) + len(splits.valid) == len(texts)
    assert abs(len(splits.valid) - 30) <= 3


@pytest.mark.parametrize("keep", ["best", "last"])
def test_best_or_last_epoch_weights_are_kept(tmp_path, keep):
    # validation labels are the opposite of the truth: the more the model learns, the worse it
    # scores there, so the best validation epoch is the first and the last is the worst
    texts, labels = make_corpus(60, seed=1)
    vt, vl = make_corpus(20, seed=3)
    swap = {"sports": "business", "business": "sports", "science": "sports"}
    train = write_csv(tmp_path / "train.csv", texts, labels)
    valid = write_csv(tmp_path / "valid.csv", vt, [swap[x] for x in vl])
    clf = doccat.train(train=str(train), valid=str(valid), epochs=6, embed_dim=16, buckets=1000,
                       optimizer="sgd", lr=0.5, scheduler="none", patience=0, keep=keep, log=lambda *a: None)
    accs = [row["val_score"] for row in clf.history_]
    assert len(accs) == 6 and accs[-1] < max(accs)
    kept = int(np.argmax(accs)) + 1 if keep == "best" else 6
    assert clf.metrics_["kept_epoch"] == kept
    assert clf.metrics_["valid"]["accuracy"] == pytest.approx(accs[kept - 1])
    assert clf.metrics_["valid"]["accuracy"] != pytest.approx(accs[-1] if keep == "best" else max(accs))


@pytest.mark.parametrize("counts, start", [([1, 1, 2], [-0.5, -0.5, 0.0]), ([1, 3], [0.5])])
def test_squared_hinge_biases_start_where_the_loss_of_zero_weights_is_least(counts, start):
    from doccat.classifier import biases_at_the_prior
    from doccat.loss import Outputs
    y = np.repeat(np.arange(len(counts)), counts)
    bias = torch.zeros(len(start))
    biases_at_the_prior(bias, np.array(counts))
    torch.testing.assert_close(bias, torch.tensor(start))
    loss = Outputs(kind="squared_hinge")  # zero weights: every document's scores are the biases
    at = lambda b: loss(b.expand(len(y), -1), torch.from_numpy(y)).item()  # noqa: E731
    assert all(at(bias) < at(bias + d) for d in (0.1, -0.1))


def test_the_default_recipe_is_a_linear_svm_with_calibrated_probabilities(corpus_files, tmp_path):
    train, test = corpus_files
    clf = doccat.train(train=str(train), test=str(test), out=tmp_path / "run", log=lambda *a: None)
    n_train = clf.metrics_["sizes"]["train"]
    t = clf.config.train
    assert (t.loss, t.optimizer, t.keep, t.patience) == ("squared_hinge", "liblinear", "last", 0)
    assert t.weight_decay == pytest.approx(1 / (2 * n_train))  # C = 2
    assert clf.model.head.bias.shape == (3,) and clf.metrics_["test"]["accuracy"] >= 0.9
    assert clf.config.model.nb == 0.5 and clf.model.scale is None  # NB-scaled, the scale folded into the weights
    assert clf.config.model.char_ngrams == [3, 5] == list(clf.featurizer.chars)  # a small corpus: resolved, saved
    assert clf.outputs_.scale != 1.0  # fitted on the validation split after training
    texts = ["goal for the team", "stock market profit", "nasa telescope"]
    p = clf.predict_proba(texts)
    np.testing.assert_allclose(p.sum(1), 1, rtol=1e-6)
    again = doccat.load(tmp_path / "run")
    assert again.outputs_.scale == clf.outputs_.scale and np.array_equal(again.predict_proba(texts), p)
    # a network on the same bag keeps cross-entropy and its own weight decay
    net = doccat.train(train=str(train), embed_dim=8, epochs=2, log=lambda *a: None)
    assert (net.config.train.loss, net.config.train.weight_decay, net.config.model.nb) == ("cross_entropy", 3e-6, 0)
    assert net.config.model.char_ngrams == [] and net.featurizer.chars is None


def test_character_ngrams_auto_by_corpus_size_explicit_or_off(corpus_files, tmp_path, monkeypatch):
    train, _ = corpus_files
    quiet = dict(log=lambda *a: None, epochs=2)
    monkeypatch.setattr(doccat.recipe, "AUTO_CHAR_TOKENS", 10)  # the corpus is "large" now: none
    large = doccat.train(train=str(train), out=tmp_path / "run", **quiet)
    assert large.config.model.char_ngrams == [] and large.featurizer.chars is None
    assert doccat.load(tmp_path / "run").featurizer.chars is None  # the resolved choice is what is saved
    explicit = doccat.train(train=str(train), char_ngrams=[2, 4], embed_dim=8, **quiet)  # any size, any model
    assert explicit.config.model.char_ngrams == [2, 4] and explicit.featurizer.chars == (2, 4)
    words = doccat.train(train=str(train), char_ngrams=[], **quiet)
    assert words.featurizer.num_features < explicit.featurizer.num_features
    for bad in ([5, 3], [3], [0, 2], [3, 21]):
        with pytest.raises(ConfigError, match="model.char_ngrams must be"):
            doccat.train(train=str(train), char_ngrams=bad, **quiet)


def test_nb_scaling_trains_the_scaled_model_and_refuses_what_it_cannot_scale(corpus_files):
    train, _ = corpus_files
    quiet = dict(log=lambda *a: None, epochs=3)
    off, on = (doccat.train(train=str(train), nb=nb, **quiet) for nb in (0, 1.0))
    assert off.config.model.nb == 0 and on.config.model.nb == 1.0
    assert not torch.equal(off.model.bag.weight, on.model.bag.weight)
    with pytest.raises(ConfigError, match="model.nb scales a linear model's weights"):
        doccat.train(train=str(train), nb=0.5, embed_dim=8, **quiet)
    with pytest.raises(ConfigError, match="model.nb .*regression has no classes"):
        doccat.train(["a b", "c d", "a c", "b d"] * 5, [0.5, 1.5, 2.0, 3.0] * 5, nb=0.5, **quiet)
    with pytest.raises(ConfigError, match="model.nb .*streaming"):
        doccat.train(train=str(train), nb=0.5, streaming=True, optimizer="adam", batch_size=8, **quiet)
    # auto (None) is off where it cannot apply, and for mini-batches (they keep sparse gradients)
    assert doccat.train(["a b", "c d", "a c", "b d"] * 5, [0.5, 1.5, 2.0, 3.0] * 5, **quiet).config.model.nb == 0
    mini = doccat.train(train=str(train), optimizer="adagrad", batch_size=8, weight_decay=0, **quiet)
    assert mini.config.model.nb == 0 and mini.model.bag.sparse


def test_early_stopping_stops_after_patience(tmp_path):
    texts, labels = make_corpus(60, seed=1)
    vt, vl = make_corpus(20, seed=3)
    train = write_csv(tmp_path / "train.csv", texts, labels)
    valid = write_csv(tmp_path / "valid.csv", vt, ["sports"] * len(vl))  # a constant target: no progress
    clf = doccat.train(train=str(train), valid=str(valid), epochs=20, patience=2, embed_dim=8,
                       buckets=100, log=lambda *a: None)
    assert len(clf.history_) < 20


def test_same_seed_same_result_other_seed_differs(corpus_files):
    train, test = corpus_files
    a = doccat.train(train=str(train), test=str(test), seed=7, **FAST)
    b = doccat.train(train=str(train), test=str(test), seed=7, **FAST)
    c = doccat.train(train=str(train), test=str(test), seed=8, **FAST)
    for key, value in a.model.state_dict().items():
        assert torch.equal(value, b.model.state_dict()[key])
    assert a.metrics_["test"] == b.metrics_["test"]
    assert [r["train_loss"] for r in a.history_] == [r["train_loss"] for r in b.history_]
    assert not torch.equal(a.model.bag.weight, c.model.bag.weight)


def test_saved_run_reloads_identically_in_a_new_process(corpus_files, tmp_path):
    train, test = corpus_files
    clf = doccat.train(train=str(train), test=str(test), out=tmp_path / "run", **FAST)
    texts = ["goal for the team", "stock market profit", "nasa telescope", "unknownword"]
    expected = clf.predict_proba(texts)
    code = ("import doccat, json, sys; c = doccat.load(sys.argv[1]); "
            "print(json.dumps({'p': c.predict_proba(json.loads(sys.argv[2])).tolist(), "
            "'m': c.evaluate(*doccat.data.readers.read(sys.argv[3]))}))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "run"), json.dumps(texts), str(test)],
                         capture_output=True, text=True, check=True)
    got = json.loads(out.stdout)
    assert np.array_equal(np.array(got["p"], dtype=np.float32), expected)
    assert got["m"] == clf.metrics_["test"]


def test_run_directory_contents(corpus_files, tmp_path):
    clf = doccat.train(train=str(corpus_files[0]), out=tmp_path / "run", **FAST)
    run = tmp_path / "run"
    names = {p.name for p in run.iterdir()}
    figures = set(plots.FIGURES)  # the confusion matrix of the valid split, as there is no test split
    assert names == {"config.json", "model.safetensors", "vocab.json", "labels.json", "metrics.json",
                     "history.csv", "batches.csv", "manifest.json", "README.md"} | figures
    header = (run / "history.csv").read_text().splitlines()[0]
    assert header == "epoch,train_loss,val_loss,val_score,lr,seconds"
    assert json.loads((run / "labels.json").read_text()) == clf.classes_
    assert json.loads((run / "config.json").read_text())["model"]["embed_dim"] == 16
    assert not list(tmp_path.glob(".run.tmp-*"))


def test_unseen_label_at_evaluation_is_a_clear_error(corpus_files):
    clf = doccat.train(train=str(corpus_files[0]), **FAST)
    with pytest.raises(DataError, match="never seen in training"):
        clf.evaluate(["some text"], ["weather"])


def test_tampered_weights_are_refused(corpus_files, tmp_path):
    doccat.train(train=str(corpus_files[0]), out=tmp_path / "run", **FAST)
    weights = tmp_path / "run" / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(doccat.artifacts.ArtifactError, match="checksum"):
        doccat.load(tmp_path / "run")


def test_dataframes_series_arrays_and_datasets_train_and_integer_labels_stay_integers(tmp_path):
    pd = pytest.importorskip("pandas")
    texts, labels = make_corpus(20)
    ids = [{"sports": 0, "business": 1, "science": 2}[x] for x in labels]
    quiet = dict(epochs=2, buckets=300, log=lambda *a: None)
    frame = doccat.train(pd.DataFrame({"body": texts, "y": ids}), text_columns=["body"], label_column="y", **quiet)
    assert frame.classes_ == [0, 1, 2] and frame.predict(texts[:1])[0].labels == [ids[0]]
    frame.save(tmp_path / "run")
    assert doccat.load(tmp_path / "run").classes_ == [0, 1, 2]  # labels.json keeps the integers
    assert doccat.train(pd.Series(texts), pd.Series(labels), **quiet).classes_ == ["business", "science", "sports"]
    assert doccat.train(np.array(texts), np.array(ids), **quiet).classes_ == [0, 1, 2]
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict({"text": texts, "label": ids}).cast_column(
        "label", datasets.ClassLabel(names=["sports", "business", "science"]))
    assert sorted(doccat.train(ds, **quiet).classes_) == ["business", "science", "sports"]  # the names


def test_what_is_not_texts_and_labels_is_refused_clearly():
    pd = pytest.importorskip("pandas")
    with pytest.raises(DataError, match="no labels"):
        doccat.train(["a b", "c d"])
    with pytest.raises(DataError, match="expected a list .* got a int"):
        doccat.train(42, [1])
    with pytest.raises(DataError, match="text 1 is a float .*missing value"):
        doccat.train(pd.Series(["a b", None, "c"]).astype(object).where(lambda s: s.notna(), float("nan")), [1, 2, 1])
    with pytest.raises(DataError, match="no column 'text'"):
        doccat.train(pd.DataFrame({"body": ["x"], "label": ["a"]}))


def test_no_feature_left_is_refused_not_a_prior_only_model():
    with pytest.raises(DataError, match="no feature left.*min_df=2"):
        doccat.train([""] * 12, [0, 1] * 6, log=lambda *a: None)
    with pytest.raises(DataError, match="min_df=100000"):
        doccat.train(*make_corpus(10), min_df=100000, log=lambda *a: None)


def test_a_model_larger_than_the_memory_available_is_refused_before_it_is_allocated():
    from pathlib import Path
    from doccat.data import DataError
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    except OSError:
        pytest.skip("no /proc/meminfo")
    available = int(info["MemAvailable"].split()[0]) * 1024
    words = int(1.5 * available / (12 * 65536)) + 1  # features enough for 65,536 dimensions to overflow
    texts = [f"w{i} w{i + 1}" for i in range(0, words, 2)] * 2
    with pytest.raises(DataError, match="the model would need about .* GiB are available"):
        doccat.train(texts, ["a", "b"] * (len(texts) // 2), embed_dim=65536, optimizer="adam", batch_size=32,
                     ngrams=1, min_df=1, char_ngrams=[], log=lambda *a: None)
