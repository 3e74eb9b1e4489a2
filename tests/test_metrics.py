"""Confusion matrix orientation, the classification, multi-label and regression reports, against
hand-computed numbers and scikit-learn."""
from __future__ import annotations

import numpy as np
import pytest

from doccat.metrics import (HEADLINE, best_threshold, classification_report, confusion_matrix, multilabel_report,
                            per_class, regression_report)

# asymmetric on purpose, so a transposed confusion matrix gives different numbers
Y_TRUE = np.array([0, 0, 0, 0, 1, 1, 2])
Y_PRED = np.array([0, 0, 1, 2, 1, 0, 2])
CLASSES = ["a", "b", "c"]


def test_confusion_matrix_rows_are_true_columns_predicted():
    cm = confusion_matrix(np.array([0, 0, 0]), np.array([1, 1, 2]), 3)
    assert cm.tolist() == [[0, 2, 1], [0, 0, 0], [0, 0, 0]]
    cm = confusion_matrix(Y_TRUE, Y_PRED, 3)
    assert cm.tolist() == [[2, 1, 1], [1, 1, 0], [0, 0, 1]]
    assert cm.sum() == len(Y_TRUE)
    assert cm.sum(axis=1).tolist() == [4, 2, 1]  # supports


def test_confusion_matrix_includes_absent_classes():
    cm = confusion_matrix(np.array([0, 1]), np.array([0, 1]), 4)
    assert cm.shape == (4, 4) and cm.tolist()[3] == [0, 0, 0, 0]


def test_classification_report_hand_computed():
    r = classification_report(Y_TRUE, Y_PRED, CLASSES, loss=0.25)
    precision = [2 / 3, 1 / 2, 1 / 2]
    recall = [2 / 4, 1 / 2, 1 / 1]
    f1 = [4 / 7, 1 / 2, 2 / 3]
    assert r["n"] == 7
    assert r["accuracy"] == pytest.approx(4 / 7)
    assert r["macro_f1"] == pytest.approx(sum(f1) / 3)
    assert r["loss"] == 0.25
    assert r["confusion_matrix"] == [[2, 1, 1], [1, 1, 0], [0, 0, 1]]
    for i, c in enumerate(CLASSES):
        pc = r["per_class"][c]
        assert pc["precision"] == pytest.approx(precision[i])
        assert pc["recall"] == pytest.approx(recall[i])
        assert pc["f1"] == pytest.approx(f1[i])
    assert [r["per_class"][c]["support"] for c in CLASSES] == [4, 2, 1]
    assert all(isinstance(r["per_class"][c]["support"], int) for c in CLASSES)
    assert "loss" not in classification_report(Y_TRUE, Y_PRED, CLASSES)


def test_perfect_and_all_wrong():
    r = classification_report([0, 1, 2], [0, 1, 2], CLASSES)
    assert r["accuracy"] == 1.0 and r["macro_f1"] == 1.0
    r = classification_report([0, 1, 2], [1, 2, 0], CLASSES)
    assert r["accuracy"] == 0.0 and r["macro_f1"] == 0.0


def test_class_without_support_excluded_from_macro_f1():
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 3, 1, 1])  # class 3 predicted once but never true; class 2 absent entirely
    r = classification_report(y_true, y_pred, ["w", "x", "y", "z"])
    # F1: w = 2*(1 * 1/2)/(1 + 1/2) = 2/3, x = 1; y and z have no support and don't count
    assert r["macro_f1"] == pytest.approx((2 / 3 + 1) / 2)
    assert r["per_class"]["z"]["support"] == 0 and r["per_class"]["z"]["precision"] == 0.0
    assert r["per_class"]["y"]["f1"] == 0.0
    assert r["accuracy"] == pytest.approx(3 / 4)


def test_empty_input():
    r = classification_report(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), CLASSES)
    assert r["n"] == 0 and r["accuracy"] == 0.0 and r["macro_f1"] == 0.0


def test_per_class_no_division_warnings():
    with np.errstate(all="raise"):
        pc = per_class(np.array([[0, 0], [0, 3]]))
    assert pc["precision"].tolist() == [0.0, 1.0] and pc["f1"].tolist() == [0.0, 1.0]


def test_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 300)
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, 300))
    r = classification_report(y_true, y_pred, list("abcde"))
    assert r["accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert r["macro_f1"] == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
    np.testing.assert_array_equal(r["confusion_matrix"], metrics.confusion_matrix(y_true, y_pred))
    p, rec, f, s = metrics.precision_recall_fscore_support(y_true, y_pred)
    for i, c in enumerate("abcde"):
        assert r["per_class"][c]["precision"] == pytest.approx(p[i])
        assert r["per_class"][c]["recall"] == pytest.approx(rec[i])
        assert r["per_class"][c]["f1"] == pytest.approx(f[i])
        assert r["per_class"][c]["support"] == s[i]


# ------------------------------------------------------------------------------------ multi-label

# labels a, b, c, d: d is predicted once but never true (no support); c is true once, never predicted
ML_TRUE = np.array([[1, 0, 1, 0], [0, 1, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]])
ML_PRED = np.array([[1, 0, 0, 0], [0, 1, 0, 1], [1, 0, 0, 0], [0, 0, 0, 0]])
ML_CLASSES = ["a", "b", "c", "d"]


def test_multilabel_report_hand_computed():
    r = multilabel_report(ML_TRUE, ML_PRED, ML_CLASSES, loss=0.5)
    # pooled cells: tp = 3, predicted = 4, true = 5
    assert r["micro_precision"] == pytest.approx(3 / 4)
    assert r["micro_recall"] == pytest.approx(3 / 5)
    assert r["micro_f1"] == pytest.approx(2 * 3 / (4 + 5))
    # per label F1: a = 1, b = 2/3 (P 1, R 1/2), c = 0; d has no support and is left out of the mean
    assert r["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert r["subset_accuracy"] == pytest.approx(1 / 4)  # only the empty last row is exactly right
    assert r["hamming_loss"] == pytest.approx(3 / 16)  # 3 wrong cells of 4 x 4
    assert r["n"] == 4 and r["loss"] == 0.5
    assert r["per_class"]["b"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert r["per_class"]["d"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert [r["per_class"][c]["support"] for c in ML_CLASSES] == [2, 2, 1, 0]
    assert "loss" not in multilabel_report(ML_TRUE, ML_PRED, ML_CLASSES)


def test_multilabel_report_edges():
    r = multilabel_report(ML_TRUE, ML_TRUE, ML_CLASSES)
    assert r["micro_f1"] == r["macro_f1"] == r["subset_accuracy"] == 1.0 and r["hamming_loss"] == 0.0
    r = multilabel_report(ML_TRUE, 1 - ML_TRUE, ML_CLASSES)
    assert r["micro_f1"] == r["subset_accuracy"] == 0.0 and r["hamming_loss"] == 1.0
    r = multilabel_report(np.zeros((0, 4)), [], ML_CLASSES)
    assert r["n"] == 0 and r["micro_f1"] == r["subset_accuracy"] == r["hamming_loss"] == 0.0
    with pytest.raises(ValueError, match="shape"):
        multilabel_report(ML_TRUE[:, :3], ML_PRED[:, :3], ML_CLASSES)
    with pytest.raises(ValueError, match="rows"):
        multilabel_report(ML_TRUE, ML_PRED[:2], ML_CLASSES)


def test_multilabel_report_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    # the hand-computed case: scikit-learn's macro averages over every label it is given, so pass it
    # the labels with support to get ours
    r = multilabel_report(ML_TRUE, ML_PRED, ML_CLASSES)
    assert r["macro_f1"] == pytest.approx(metrics.f1_score(ML_TRUE, ML_PRED, average="macro", labels=[0, 1, 2],
                                                           zero_division=0))
    rng = np.random.default_rng(0)
    y_true = (rng.random((200, 6)) < 0.3).astype(int)
    y_true[:6] = np.eye(6, dtype=int)  # every label has support
    y_pred = np.where(rng.random((200, 6)) < 0.8, y_true, 1 - y_true)
    r = multilabel_report(y_true, y_pred, list("abcdef"))
    assert r["micro_f1"] == pytest.approx(metrics.f1_score(y_true, y_pred, average="micro"))
    assert r["micro_precision"] == pytest.approx(metrics.precision_score(y_true, y_pred, average="micro"))
    assert r["micro_recall"] == pytest.approx(metrics.recall_score(y_true, y_pred, average="micro"))
    assert r["macro_f1"] == pytest.approx(metrics.f1_score(y_true, y_pred, average="macro"))
    assert r["subset_accuracy"] == pytest.approx(metrics.accuracy_score(y_true, y_pred))
    assert r["hamming_loss"] == pytest.approx(metrics.hamming_loss(y_true, y_pred))
    p, rec, f, s = metrics.precision_recall_fscore_support(y_true, y_pred)
    for i, c in enumerate("abcdef"):
        assert (r["per_class"][c]["precision"], r["per_class"][c]["recall"], r["per_class"][c]["f1"]) == \
            pytest.approx((p[i], rec[i], f[i]))
        assert r["per_class"][c]["support"] == s[i]


def test_best_threshold_is_the_best_of_every_cut_by_brute_force():
    rng = np.random.default_rng(1)
    for trial in range(20):
        y = rng.random((30, 4)) < 0.3
        p = np.round(np.clip(0.3 * y + 0.7 * rng.random((30, 4)) ** 2, 0, 1), 2)  # rounded: many ties
        names = list("abcd")

        def f1(t):
            return multilabel_report(y, p >= t, names)["micro_f1"]
        best = max(f1(t) for t in np.unique(p))  # every distinct set of predicted cells is one of these cuts
        t = best_threshold(y, p)
        assert f1(t) == pytest.approx(best), trial
        assert not np.isin(t, p) or t == 0.5  # between two probabilities, not on one (unless the default)


def test_best_threshold_keeps_the_default_on_a_tie_or_without_labels():
    y = np.array([[1, 0], [0, 0], [1, 0]])
    assert best_threshold(y, np.array([[0.9, 0.1], [0.2, 0.1], [0.8, 0.3]])) == 0.5  # 0.5 is already perfect
    assert best_threshold(np.zeros((3, 2)), np.full((3, 2), 0.7)) == 0.5
    # positives at 0.3 and 0.35, negatives at 0.1 and 0.2: 0.5 predicts nothing; the cut goes between 0.2 and 0.3
    assert best_threshold(y, np.array([[0.3, 0.1], [0.2, 0.1], [0.35, 0.2]])) == pytest.approx(0.25)


def test_the_multilabel_headline_reports_hamming_loss():
    assert "hamming_loss" in HEADLINE["multilabel"]


# ------------------------------------------------------------------------------------- regression

def test_regression_report_hand_computed():
    r = regression_report([3, -0.5, 2, 7], [2.5, 0.0, 2, 8], loss=1.5)
    # errors -0.5, 0.5, 0, 1; mean of y_true 2.875, SS_tot 29.1875, SS_res 1.5
    assert r["mae"] == pytest.approx(0.5)
    assert r["mse"] == pytest.approx(0.375)
    assert r["rmse"] == pytest.approx(0.375**0.5)
    assert r["r2"] == pytest.approx(1 - 1.5 / 29.1875)
    assert r["n"] == 4 and r["loss"] == 1.5
    assert regression_report([1, 2, 3], [2, 2, 2])["r2"] == pytest.approx(0.0)  # predicting the mean
    assert regression_report([1, 2, 3], [3, 2, 1])["r2"] == pytest.approx(1 - 8 / 2)  # worse than the mean


def test_regression_report_edges():
    assert regression_report([2, 2], [2, 2])["r2"] == 1.0  # constant target, perfect fit
    assert regression_report([2, 2], [2, 3])["r2"] == 0.0  # constant target, not perfect
    r = regression_report([], [])
    assert r == {"n": 0, "mae": 0.0, "mse": 0.0, "rmse": 0.0, "r2": 0.0}
    with pytest.raises(ValueError, match="shape"):
        regression_report([1, 2], [1])


def test_regression_report_against_sklearn():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(1)
    y_true = rng.integers(1, 11, 300).astype(float)
    y_pred = y_true + rng.normal(0, 2, 300)
    r = regression_report(y_true, y_pred)
    assert r["mae"] == pytest.approx(metrics.mean_absolute_error(y_true, y_pred))
    assert r["mse"] == pytest.approx(metrics.mean_squared_error(y_true, y_pred))
    assert r["rmse"] == pytest.approx(metrics.mean_squared_error(y_true, y_pred) ** 0.5)
    assert r["r2"] == pytest.approx(metrics.r2_score(y_true, y_pred))
    for t, p in [([2, 2], [2, 2]), ([2, 2], [2, 3])]:
        assert regression_report(t, p)["r2"] == metrics.r2_score(t, p)
