"""Continuing a saved model on new documents: train.init_from (doccat/warmstart.py)."""
import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

import doccat
from doccat.config import ConfigError, ConfigWarning
from doccat.data import DataError

from conftest import make_corpus, write_csv

QUIET = dict(log=lambda *a: None)


@pytest.fixture(scope="module")
def halves(tmp_path_factory):
    """An old run trained on one half of a corpus, the other half's file, and a test file."""
    root = tmp_path_factory.mktemp("halves")
    old = write_csv(root / "old.csv", *make_corpus(40, seed=1))
    new = write_csv(root / "new.csv", *make_corpus(40, seed=2))
    test = write_csv(root / "test.csv", *make_corpus(20, seed=3))
    doccat.train(train=str(old), test=str(test), out=root / "old", **QUIET)
    return root


def bag(clf):
    return clf.model.bag.weight.detach().numpy(), clf.model.head.bias.detach().numpy()


def test_continuing_on_the_documents_it_learned_from_leaves_the_model_as_it_was(halves):
    """liblinear's solve on the same documents, with the saved featurizer, is the saved solve: averaging the two
    changes nothing (a wrong share, featurizer or class order would)."""
    old = doccat.load(halves / "old")
    again = doccat.train(train=str(halves / "old.csv"), init_from=str(halves / "old"), **QUIET)
    for mine, saved in zip(bag(again), bag(old)):
        np.testing.assert_allclose(mine, saved, atol=1e-6)
    assert again.metrics_["documents_learned"] == 2 * old.metrics_["documents_learned"]


def test_the_new_solve_is_averaged_by_the_documents_each_side_learned_from(halves, tmp_path):
    """The continued weights are share x saved + (1 - share) x liblinear's solve on the new documents alone (with
    the saved featurizer, NB scale and balanced class weights of the new ones), share = old / (old + new)."""
    from doccat.loss import class_weights
    from doccat.model import nb_scale
    from doccat.solver import csr, problem_weights, signs, solve
    old = doccat.load(halves / "old")
    texts, labels = make_corpus(12, seed=4)
    new = doccat.train(train=str(write_csv(tmp_path / "new.csv", texts, labels)), valid=str(halves / "test.csv"),
                       init_from=str(halves / "old"), **QUIET)
    n_old, n_new = old.metrics_["documents_learned"], len(texts)
    assert new.metrics_["documents_learned"] == n_old + n_new
    enc, y = old.featurizer.encode(texts), old.targets(labels)
    features, outputs = old.model.bag.weight.shape
    scale = nb_scale(enc, y, features, outputs, 0.5).numpy()
    weights = class_weights("balanced", list(np.bincount(y, minlength=outputs)), n_new, "classify").numpy()
    W, b = solve(csr(enc, features), signs(y, outputs), 2.0, scale, 0, problem_weights(weights, outputs))
    share = n_old / (n_old + n_new)
    saved_W, saved_b = bag(old)
    mixed_W, mixed_b = bag(new)
    np.testing.assert_allclose(mixed_W, share * saved_W + (1 - share) * W * scale, atol=1e-6)
    np.testing.assert_allclose(mixed_b, share * saved_b + (1 - share) * b, atol=1e-6)
    assert not np.allclose(mixed_W, saved_W, atol=1e-4)  # the new documents moved it
    assert new.featurizer.num_features == old.featurizer.num_features and new.class_names == old.class_names


def test_a_mini_batch_optimizer_starts_from_the_saved_weights(halves):
    old = doccat.load(halves / "old")
    start = doccat.train(train=str(halves / "new.csv"), init_from=str(halves / "old"), optimizer="sgd", lr=1e-9,
                         batch_size=16, epochs=1, weight_decay=0.0, **QUIET)
    for mine, saved in zip(bag(start), bag(old)):
        np.testing.assert_allclose(mine, saved, atol=1e-5)


def test_the_continued_run_saves_and_loads_with_its_classes(halves, tmp_path):
    doccat.train(train=str(halves / "new.csv"), test=str(halves / "test.csv"), init_from=str(halves / "old"),
                 out=tmp_path / "run", **QUIET)
    clf = doccat.load(tmp_path / "run")
    assert json.loads((tmp_path / "run" / "config.json").read_text())["train"]["init_from"] == str(halves / "old")
    assert clf.metrics_["test"]["accuracy"] >= 0.9
    assert clf.predict("goal match team coach")[0].labels[0] == "sports"


def test_a_label_the_saved_model_does_not_know_is_an_error_that_names_it(halves, tmp_path):
    texts, labels = make_corpus(10, seed=5)
    labels = ["weather" if i % 3 == 0 else lab for i, lab in enumerate(labels)]
    with pytest.raises(DataError, match="'weather'.*keeps its classes"):
        doccat.train(texts, labels, init_from=str(halves / "old"), **QUIET)


def test_fewer_classes_than_the_saved_model_keep_its_class_order(halves):
    texts, labels = make_corpus(20, seed=6)
    kept = [(t, lab) for t, lab in zip(texts, labels) if lab != "science"]
    clf = doccat.train([t for t, _ in kept], [lab for _, lab in kept], init_from=str(halves / "old"), **QUIET)
    assert clf.class_names == doccat.load(halves / "old").class_names


def test_a_model_setting_that_differs_from_the_saved_one_is_refused(halves):
    with pytest.raises(ConfigError, match="model.ngrams.*keeps the saved model's features"):
        doccat.train(train=str(halves / "new.csv"), init_from=str(halves / "old"), ngrams=3, **QUIET)


def test_lbfgs_is_warned_about_it_forgets_the_saved_model(halves):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doccat.train(train=str(halves / "new.csv"), init_from=str(halves / "old"), optimizer="lbfgs", epochs=2,
                     **QUIET)
    assert any(issubclass(w.category, ConfigWarning) and "forgotten" in str(w.message) for w in caught)


def test_streaming_cannot_continue(halves):
    with pytest.raises(ConfigError, match="init_from"):
        doccat.train(train=str(halves / "new.csv"), init_from=str(halves / "old"), streaming=True, batch_size=8,
                     optimizer="adagrad", nb=0, **QUIET)


def test_cli_continues_a_run_and_an_unknown_label_exits_2(halves, tmp_path):
    def cli(*args):
        return subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True)
    out = cli("train", "--init-from", halves / "old", "--train", halves / "new.csv", "--test", halves / "test.csv",
              "--out", tmp_path / "run", "--quiet")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["test_accuracy"] >= 0.9
    texts, labels = make_corpus(5, seed=7)
    bad = write_csv(tmp_path / "bad.csv", texts, ["weather"] + labels[1:])
    out = cli("train", "--init-from", halves / "old", "--train", bad, "--out", tmp_path / "bad", "--quiet")
    assert out.returncode == 2 and "'weather'" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "bad").exists()
