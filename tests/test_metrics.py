"""Confusion matrix orientation and the classification report, against hand-computed numbers."""
from __future__ import annotations

import numpy as np
import pytest

from doccat.metrics import classification_report, confusion_matrix, per_class

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
