"""`doccat export --format onnx`: the ONNX graph of a linear bag model gives doccat's own probabilities."""
import subprocess
import sys

import numpy as np
import pytest

import doccat
from doccat.classifier import load

from conftest import make_corpus, write_csv

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def run_export(*args):
    return subprocess.run([sys.executable, "-m", "doccat", "export", *map(str, args)], capture_output=True, text=True)


def onnx_proba(path, clf, texts):
    enc = clf.featurizer.encode(texts)
    session = ort.InferenceSession(str(path))
    logits, proba = session.run(None, {"ids": enc.ids.astype(np.int64), "weights": enc.weights.astype(np.float32),
                                       "offsets": enc.offsets.astype(np.int64)})
    return logits, proba


@pytest.fixture(scope="module")
def linear_runs(tmp_path_factory):
    """The default recipe (squared_hinge, char n-grams, NB scaling), a two-class run with one output (bce), and a
    multilabel run (a sigmoid per label)."""
    root = tmp_path_factory.mktemp("linear")
    texts, labels = make_corpus(40, seed=1)
    doccat.train(texts, labels, out=root / "svm", buckets=1000, min_df=1, log=lambda *a: None)
    two = [(t, y) for t, y in zip(texts, labels) if y != labels[0]]
    doccat.train([t for t, _ in two], [y for _, y in two], out=root / "bce", buckets=1000, min_df=1, loss="bce",
                 log=lambda *a: None)
    multi = [[y] if i % 3 else [y, "extra"] for i, y in enumerate(labels)]
    doccat.train(texts, multi, out=root / "multilabel", buckets=1000, min_df=1, task="multilabel",
                 log=lambda *a: None)
    return root


@pytest.mark.parametrize("name", ["svm", "bce", "multilabel"])
def test_onnx_matches_predict_proba(linear_runs, tmp_path, name):
    out = tmp_path / "model.onnx"
    done = run_export(linear_runs / name, "--format", "onnx", "--out", out)
    assert done.returncode == 0, done.stderr
    clf = load(linear_runs / name, device="cpu")
    texts = make_corpus(10, seed=5)[0] + ["", "zzz unknown words only", "Ｃafé 我爱北京 https://x.y/z 3.14!"]
    _, proba = onnx_proba(out, clf, texts)
    np.testing.assert_allclose(proba, clf.predict_proba(texts), atol=1e-5)
    assert proba.shape == (len(texts), len(clf.class_names))
    assert (proba.argmax(1) == clf.predict_proba(texts).argmax(1)).all()


def test_existing_file_is_kept_unless_overwrite(linear_runs, tmp_path):
    out = tmp_path / "model.onnx"
    out.write_bytes(b"keep me")
    done = run_export(linear_runs / "svm", "--out", out)
    assert done.returncode == 2 and "--overwrite" in done.stderr and "Traceback" not in done.stderr
    assert out.read_bytes() == b"keep me"
    assert run_export(linear_runs / "svm", "--out", out, "--overwrite").returncode == 0
    assert out.read_bytes() != b"keep me"


def test_a_network_is_refused(small_run, tmp_path):
    done = run_export(small_run, "--out", tmp_path / "model.onnx")
    assert done.returncode == 2 and "only linear bag models" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "model.onnx").exists()


def test_without_onnx_an_install_hint(monkeypatch, tmp_path):
    from doccat.artifacts import ArtifactError
    from doccat.export import export_onnx
    monkeypatch.setitem(sys.modules, "onnx", None)  # as if the extra were not installed: import raises
    with pytest.raises(ArtifactError, match=r"pip install 'doccat\[export\]'"):
        export_onnx(tmp_path / "run", tmp_path / "model.onnx")
