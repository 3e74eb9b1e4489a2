"""The torch-free path of a linear bag model: the torch path's numbers, and no torch imported."""
import json
import subprocess
import sys

import numpy as np
import pytest

import doccat
from doccat import artifacts, linear
from conftest import make_corpus, write_csv

QUIET = {"log": lambda *a: None}
ODD = ["", "   ", "a never seen word", "今天 天气 很好", "x" * 5000]


def saved(tmp_path, kind: str):
    texts, labels = make_corpus(30, seed=3)
    if kind == "binary":  # one output: the logits (0, z)
        two = [(t, y) for t, y in zip(texts, labels) if y != labels[0]]
        texts, labels = [t for t, _ in two], [y for _, y in two]
    kw = {"multilabel": {"task": "multilabel"}, "cross_entropy": {"loss": "cross_entropy"},
          "nb": {"nb": 1.0}}.get(kind, {})
    if kind == "multilabel":
        labels = [[y] + (["extra"] if i % 3 == 0 else []) for i, y in enumerate(labels)]
    doccat.train(texts, labels, out=tmp_path / "run", **kw, **QUIET)
    return tmp_path / "run", texts


@pytest.mark.parametrize("kind", ["default", "binary", "multilabel", "cross_entropy", "nb"])
def test_linear_path_gives_the_torch_paths_probabilities(tmp_path, kind):
    run, texts = saved(tmp_path, kind)
    light, full = linear.load(run), doccat.load(run, device="cpu")
    sample = texts[:40] + ODD
    np.testing.assert_allclose(light.predict_proba(sample), full.predict_proba(sample), atol=1e-6, rtol=0)
    ours, theirs = light.predict(sample, k=2), full.predict(sample, k=2)
    assert [p.labels for p in ours] == [p.labels for p in theirs]
    for mine, torch_ in zip(ours, theirs):  # multilabel: each text's own number of labels
        np.testing.assert_allclose(mine.probs, torch_.probs, atol=1e-6, rtol=0)


def assert_reports_close(mine, theirs, where="report"):
    """The same keys and values, numbers to 1e-6."""
    if isinstance(theirs, dict):
        assert sorted(mine) == sorted(theirs), where
        for key in theirs:
            assert_reports_close(mine[key], theirs[key], f"{where}.{key}")
    elif isinstance(theirs, list) and theirs and not isinstance(theirs[0], (str, bool)) or \
            isinstance(theirs, (int, float)) and not isinstance(theirs, bool):
        np.testing.assert_allclose(np.asarray(mine, dtype=float), np.asarray(theirs, dtype=float), atol=1e-6, rtol=0,
                                   err_msg=where)
    else:
        assert mine == theirs, where


@pytest.mark.parametrize("kind", ["default", "binary", "multilabel", "cross_entropy", "nb"])
def test_linear_evaluate_gives_the_torch_paths_report(tmp_path, kind):
    run, texts = saved(tmp_path, kind)
    light, full = linear.load(run), doccat.load(run, device="cpu")
    texts = texts[:50] + ODD
    truth = full.predict(texts, k=1)  # labels to score against: the torch path's own, and every fourth another
    labels = [p.labels if kind == "multilabel" else (p.labels[0] if i % 4 else full.class_names[-1])
              for i, p in enumerate(truth)]
    assert_reports_close(light.evaluate(texts, labels), full.evaluate(texts, labels))
    assert light.evaluate([], [])["n"] == full.evaluate([], [])["n"] == 0


def test_evaluate_of_a_linear_model_never_imports_torch(tmp_path):
    run, texts = saved(tmp_path, "default")
    full = doccat.load(run, device="cpu")
    labels = [full.class_names[(i * 7) % len(full.class_names)] for i in range(len(texts))]
    write_csv(tmp_path / "eval.csv", texts, labels)
    code = ("import sys, json\nsys.argv = ['doccat', 'evaluate', sys.argv[1], '--file', sys.argv[2], '--full']\n"
            "from doccat.cli import main\nassert main() == 0\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\n")
    out = subprocess.run([sys.executable, "-c", code, str(run), str(tmp_path / "eval.csv")], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert_reports_close(json.loads(out.stdout), full.evaluate(texts, labels))


def test_documents_scored_in_several_blocks_match_one_at_a_time(tmp_path, monkeypatch):
    run, texts = saved(tmp_path, "default")
    light = linear.load(run)
    whole = light.predict_proba(texts + ODD)
    monkeypatch.setattr(linear, "SCORED_AT_ONCE", 7)
    np.testing.assert_allclose(light.predict_proba(texts + ODD), whole, atol=1e-6)


def test_a_network_is_not_taken_for_a_linear_model(tmp_path):
    texts, labels = make_corpus(20, seed=4)
    doccat.train(texts, labels, out=tmp_path / "net", embed_dim=8, epochs=1, optimizer="adam", lr=0.01, **QUIET)
    assert linear.saved_config(tmp_path / "net") is None
    with pytest.raises(artifacts.ArtifactError, match="not a linear bag model"):
        linear.load(tmp_path / "net")


def test_predict_of_a_linear_model_never_imports_torch_pandas_or_scipy(tmp_path):
    run, _ = saved(tmp_path, "default")
    assert linear.load(run).featurizer.chars  # the character n-grams' count is on the path too
    # pyarrow imports pandas, where it is installed, when it meets a Python list, value or numpy array
    code = ("import sys\nsys.argv = ['doccat', 'predict', *sys.argv[1:]]\nfrom doccat.cli import main\n"
            "assert main() == 0\nheavy = {'torch', 'pandas', 'scipy'} & set(sys.modules)\n"
            "assert not heavy, f'{heavy} imported'\n")
    texts = ["a text", *ODD, "😀 emoji 👍🏽", "Straße ﬁne ＡＢＣ", "서울은 ภาษาไทย", "you´ve 8½ café"]
    out = subprocess.run([sys.executable, "-c", code, str(run), *texts], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count('"labels"') == len(texts)


def test_a_compressed_run_gives_the_torch_paths_probabilities(tmp_path):
    run, texts = saved(tmp_path, "default")
    doccat.compress(run, tmp_path / "small", bits=8, max_features=50)
    light, full = linear.load(tmp_path / "small"), doccat.load(tmp_path / "small", device="cpu")
    np.testing.assert_allclose(light.predict_proba(texts + ODD), full.predict_proba(texts + ODD), atol=1e-6, rtol=0)
