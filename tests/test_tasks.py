"""Multi-label, regression and the loss options, end to end on corpora the tests make themselves."""
import json
import random
import subprocess
import sys

import numpy as np
import pytest

import doccat
from doccat.artifacts import ArtifactError
from conftest import CLASS_WORDS, NOISE

QUIET = dict(log=lambda *a: None)


def multilabel_corpus(n: int, seed: int = 0):
    """Each text mentions one to three of the topics; its labels are exactly those topics."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        topics = rng.sample(sorted(CLASS_WORDS), rng.randint(1, 3))
        words = [w for t in topics for w in rng.sample(CLASS_WORDS[t], 3)] + rng.sample(NOISE, 4)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(topics)
    return texts, labels


def regression_corpus(n: int, seed: int = 0):
    """The target is the number of "good" words minus the number of "bad" words, plus a little noise."""
    rng = random.Random(seed)
    texts, values = [], []
    for _ in range(n):
        good, bad = rng.randint(0, 4), rng.randint(0, 4)
        words = ["great"] * good + ["awful"] * bad + rng.sample(NOISE, 5)
        rng.shuffle(words)
        texts.append(" ".join(words))
        values.append(float(good - bad) + rng.gauss(0, 0.1))
    return texts, values


def test_multilabel_learns_label_sets_and_reloads(tmp_path):
    texts, labels = multilabel_corpus(400)
    clf = doccat.train(texts, labels, out=tmp_path / "ml", **QUIET)  # lists of labels: multilabel
    assert clf.task == "multilabel" and clf.config.train.loss == "bce" and clf.classes_ == sorted(CLASS_WORDS)
    test_texts, test_labels = multilabel_corpus(100, seed=1)
    report = clf.evaluate(test_texts, test_labels)
    assert report["micro_f1"] > 0.9 and report["subset_accuracy"] > 0.7
    preds = clf.predict(test_texts[:20])
    assert all(p.labels == sorted(p.labels, key=lambda c: -p.probs[p.labels.index(c)]) for p in preds)
    assert np.mean([set(p.labels) == set(t) for p, t in zip(preds, test_labels[:20])]) > 0.7
    probs = clf.predict_proba(test_texts[:5])
    assert probs.shape == (5, 3) and not np.allclose(probs.sum(1), 1)  # a sigmoid per label, not a softmax
    again = doccat.load(tmp_path / "ml")
    np.testing.assert_array_equal(again.predict_proba(test_texts), clf.predict_proba(test_texts))
    assert again.evaluate(test_texts, test_labels) == report
    assert json.loads((tmp_path / "ml" / "config.json").read_text())["data"]["task"] == "multilabel"


def test_multilabel_threshold_decides_the_labels():
    texts, labels = multilabel_corpus(300)
    clf = doccat.train(texts, labels, **QUIET)
    p = clf.predict_proba(texts[:50])
    for row, pred in zip(p, clf.predict(texts[:50], threshold=0.3)):
        assert set(pred.labels) == {c for c, q in zip(clf.classes_, row) if q >= 0.3}


def test_regression_predicts_values_and_reloads(tmp_path):
    texts, values = regression_corpus(600)
    clf = doccat.train(texts, values, ngrams=1, out=tmp_path / "reg", **QUIET)  # floats: regression
    assert clf.task == "regression" and clf.config.train.loss == "mse" and clf.classes_ == []
    test_texts, test_values = regression_corpus(200, seed=1)
    report = clf.evaluate(test_texts, test_values)
    assert report["mae"] < 0.5 and report["r2"] > 0.9
    preds = [p.value for p in clf.predict(test_texts)]
    assert np.mean(np.abs(np.array(preds) - test_values)) == pytest.approx(report["mae"])
    with pytest.raises(doccat.DataError, match="not probabilities"):
        clf.predict_proba(test_texts)
    again = doccat.load(tmp_path / "reg")
    assert [p.value for p in again.predict(test_texts)] == preds
    l1 = doccat.train(texts, values, ngrams=1, loss="l1", **QUIET)
    assert l1.config.train.loss == "l1" and l1.evaluate(test_texts, test_values)["mae"] < 0.6


def sparse_multilabel_corpus(n: int, seed: int = 0):
    """Each topic on a tenth of the texts (two of its words), its label exactly then: with strong weight decay the
    positives' probabilities stay well below 0.5 while still far above the negatives'."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        words, topics = rng.sample(NOISE, 4), []
        for topic in sorted(CLASS_WORDS):
            if rng.random() < 0.1:
                words += rng.sample(CLASS_WORDS[topic], 2)
                topics.append(topic)
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(topics)
    return texts, labels


def test_multilabel_threshold_is_chosen_on_validation_where_half_is_wrong(tmp_path):
    texts, labels = sparse_multilabel_corpus(400)
    test_texts, test_labels = sparse_multilabel_corpus(300, seed=1)
    lines = []
    clf = doccat.train(texts, labels, weight_decay=0.01, out=tmp_path / "auto", log=lines.append)
    fixed = doccat.train(texts, labels, weight_decay=0.01, threshold=0.5, **QUIET)
    assert 0.0 < clf.outputs_.threshold < 0.4 and fixed.outputs_.threshold == 0.5
    said = f"threshold {clf.outputs_.threshold:.4g} chosen on the validation split"
    assert any(line.startswith(said) for line in lines)
    tuned, half = clf.evaluate(test_texts, test_labels), fixed.evaluate(test_texts, test_labels)
    assert tuned["micro_f1"] > 0.95 and half["micro_f1"] < 0.6 and tuned["hamming_loss"] < half["hamming_loss"]
    p = clf.predict_proba(test_texts)
    for row, pred in zip(p, clf.predict(test_texts)):  # predict uses the chosen threshold
        assert set(pred.labels) == {c for c, q in zip(clf.classes_, row) if q >= clf.outputs_.threshold}
    saved = json.loads((tmp_path / "auto" / "metrics.json").read_text())
    assert saved["threshold"] == clf.outputs_.threshold
    assert json.loads((tmp_path / "auto" / "config.json").read_text())["model"]["threshold"] is None
    again = doccat.load(tmp_path / "auto")
    assert again.outputs_.threshold == clf.outputs_.threshold and again.evaluate(test_texts, test_labels) == tuned


def test_an_explicit_multilabel_threshold_is_kept(tmp_path):
    texts, labels = sparse_multilabel_corpus(400)
    clf = doccat.train(texts, labels, weight_decay=0.01, threshold=0.3, out=tmp_path / "r", **QUIET)
    assert clf.outputs_.threshold == 0.3 and clf.metrics_["threshold"] == 0.3
    p = clf.predict_proba(texts[:50])
    for row, pred in zip(p, doccat.load(tmp_path / "r").predict(texts[:50])):
        assert set(pred.labels) == {c for c, q in zip(clf.classes_, row) if q >= 0.3}
    with pytest.raises(doccat.ConfigError, match=r"model.threshold must be in \(0, 1\)"):
        doccat.train(texts, labels, threshold=1.0, **QUIET)


def test_regression_predictions_are_clipped_to_the_training_range_unless_switched_off(tmp_path):
    texts, values = regression_corpus(300)
    far = ["great " * 12 + "the match", "awful " * 12 + "the match"]  # twelve: the training texts have 0 to 4
    clf = doccat.train(texts, values, ngrams=1, out=tmp_path / "on", **QUIET)
    raw = doccat.train(texts, values, ngrams=1, clip_predictions=False, out=tmp_path / "off", **QUIET)
    low, high = clf.target_range_
    assert max(values) - 0.5 < high <= max(values) and min(values) <= low < min(values) + 0.5
    unclipped = [p.value for p in raw.predict(far)]
    assert unclipped[0] > high + 0.5 and unclipped[1] < low - 0.5  # the linear model leaves the range
    assert [p.value for p in clf.predict(far)] == [high, low]
    inside = texts[:20]  # within the range, clipping changes nothing
    np.testing.assert_allclose([p.value for p in clf.predict(inside)], [p.value for p in raw.predict(inside)])
    truth = [high + 8, low - 8]
    assert clf.evaluate(far, truth)["mae"] == pytest.approx(8.0)
    assert raw.evaluate(far, truth)["mae"] == pytest.approx(np.mean(np.abs(np.array(unclipped) - truth)))
    for run, expected in (("on", [high, low]), ("off", unclipped)):  # kept across save / load
        again = doccat.load(tmp_path / run)
        assert again.target_range_ == (low, high) and [p.value for p in again.predict(far)] == expected


def test_a_run_without_what_clipping_or_the_threshold_needs_is_refused(tmp_path):
    import hashlib
    from safetensors.torch import load_file, save_file
    texts, values = regression_corpus(100)
    doccat.train(texts, values, ngrams=1, epochs=2, out=tmp_path / "reg", **QUIET)
    ml_texts, ml_labels = multilabel_corpus(100)
    doccat.train(ml_texts, ml_labels, epochs=2, out=tmp_path / "ml", **QUIET)
    for run, key, message in (("reg", "target.range", "lacks the training targets' range"),
                              ("ml", "loss.threshold", "lacks the threshold chosen on the validation split")):
        weights = tmp_path / run / "model.safetensors"
        state = load_file(weights)
        del state[key]
        save_file(state, weights)
        manifest = json.loads((tmp_path / run / "manifest.json").read_text())
        manifest["files"]["model.safetensors"] = hashlib.sha256(weights.read_bytes()).hexdigest()
        (tmp_path / run / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(ArtifactError, match=message):
            doccat.load(tmp_path / run)


def test_binary_bce_and_nll_match_cross_entropy_training():
    from conftest import make_corpus
    texts, labels = make_corpus(80, seed=5)
    two = [(t, y) for t, y in zip(texts, labels) if y != "science"]
    texts2, labels2 = [t for t, _ in two], [y for _, y in two]
    ce = doccat.train(texts2, labels2, loss="cross_entropy", **QUIET)
    bce = doccat.train(texts2, labels2, loss="bce", **QUIET)
    assert bce.model.head.out_features == 1 and bce.predict_proba(texts2[:4]).sum(1) == pytest.approx(1)
    assert bce.metrics_["valid"]["accuracy"] >= 0.95 and ce.metrics_["valid"]["accuracy"] >= 0.95
    nll = doccat.train(texts, labels, loss="nll", **QUIET)
    ce3 = doccat.train(texts, labels, loss="cross_entropy", **QUIET)
    np.testing.assert_allclose(nll.predict_proba(texts), ce3.predict_proba(texts), atol=1e-4)
    np.testing.assert_allclose(np.exp(nll.predict_log_proba(texts)), nll.predict_proba(texts), rtol=1e-5)


def test_loss_options_reach_the_config_and_unknown_values_fail(tmp_path):
    from conftest import make_corpus, write_csv
    train = write_csv(tmp_path / "t.csv", *make_corpus(40))
    out = subprocess.run([sys.executable, "-m", "doccat", "train", "--train", str(train), "--label-smoothing", "0.1",
                          "--class-weights", "balanced", "--loss", "nll", "--clip-value", "0.5", "--quiet",
                          "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    cfg = json.loads((tmp_path / "r" / "config.json").read_text())["train"]
    assert (cfg["label_smoothing"], cfg["class_weights"], cfg["loss"], cfg["clip_value"]) == (0.1, "balanced", "nll", 0.5)
    for flag, value, message in [("--loss", "hinge", "train.loss: 'hinge' is not one of"),
                                 ("--class-weights", "1,x", "train.class_weights must be"),
                                 ("--loss", "mse", "train.loss 'mse' does not fit a classify task")]:
        bad = subprocess.run([sys.executable, "-m", "doccat", "train", "--train", str(train), flag, value, "--quiet"],
                             capture_output=True, text=True)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr


def test_multilabel_from_a_csv_with_a_label_separator(tmp_path):
    texts, labels = multilabel_corpus(300)
    path = tmp_path / "ml.csv"
    path.write_text("label,text\n" + "".join(f'"{"|".join(y)}",{t}\n' for t, y in zip(texts, labels)))
    out = subprocess.run([sys.executable, "-m", "doccat", "train", "--train", str(path), "--task", "multilabel",
                          "--label-sep", "|", "--quiet", "--out", str(tmp_path / "r")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert summary["valid_micro_f1"] > 0.9 and "valid_subset_accuracy" in summary
    assert 0 < summary["threshold"] < 1
    pred = subprocess.run([sys.executable, "-m", "doccat", "predict", str(tmp_path / "r"), "goal market nasa"],
                          capture_output=True, text=True, check=True).stdout
    assert set(json.loads(pred)["labels"]) == {"sports", "business", "science"}
    test_texts, test_labels = multilabel_corpus(40, seed=1)
    (tmp_path / "test.csv").write_text("label,text\n" + "".join(f'"{"|".join(y)}",{t}\n'
                                                                for t, y in zip(test_texts, test_labels)))
    scores = json.loads(subprocess.run([sys.executable, "-m", "doccat", "evaluate", str(tmp_path / "r"), "--file",
                                        str(tmp_path / "test.csv")], capture_output=True, text=True, check=True).stdout)
    clf = doccat.load(tmp_path / "r")
    predicted = clf.predict_proba(test_texts) >= clf.outputs_.threshold
    wrong = (predicted != (clf.targets(test_labels) > 0.5)).mean()  # the share of wrong (text, label) cells
    assert scores["hamming_loss"] == pytest.approx(wrong) and "valid_hamming_loss" in summary
