"""Metrics: pure functions of arrays. Single-label classification (label ids), multi-label
classification ((n, L) 0/1 indicator arrays) and regression (float targets)."""
from __future__ import annotations

import numpy as np

# the figures a run is summed up by, per task
HEADLINE = {"classify": ["accuracy", "macro_f1"],
            "multilabel": ["micro_f1", "macro_f1", "subset_accuracy", "hamming_loss"],
            "regression": ["mae", "rmse", "r2"]}


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    return _prf(np.diag(cm), cm.sum(axis=0), cm.sum(axis=1))


def _prf(tp, predicted, support) -> dict[str, np.ndarray]:
    """Precision, recall, F1 from counts (arrays or scalars); 0 where a denominator is 0, as scikit-learn."""
    tp = np.asarray(tp, dtype=float)
    predicted, support = np.asarray(predicted), np.asarray(support)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    denom = precision + recall
    f1 = np.divide(2 * precision * recall, denom, out=np.zeros_like(tp), where=denom > 0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": support}


def classification_report(y_true, y_pred, classes: list[str], loss: float | None = None) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    cm = confusion_matrix(y_true, y_pred, len(classes))
    pc = per_class(cm)
    present = pc["support"] > 0  # macro-F1 over the classes that occur, as scikit-learn warns about
    report = {
        "n": int(len(y_true)),
        "accuracy": float((y_true == y_pred).mean()) if len(y_true) else 0.0,
        "macro_f1": float(pc["f1"][present].mean()) if present.any() else 0.0,
        "per_class": _per_class_dict(pc, classes),
        "confusion_matrix": cm.tolist(),  # rows: true class, columns: predicted, both in confusion_labels' order
        "confusion_labels": [str(c) for c in classes],
    }
    if loss is not None:
        report["loss"] = float(loss)
    return report


def _per_class_dict(pc: dict[str, np.ndarray], classes: list[str]) -> dict:
    return {c: {k: float(v[i]) if k != "support" else int(v[i]) for k, v in pc.items()}
            for i, c in enumerate(classes)}


def _indicator(y, n_labels: int) -> np.ndarray:
    y = np.asarray(y)
    if y.size == 0:
        y = y.reshape(0, n_labels)
    if y.ndim != 2 or y.shape[1] != n_labels:
        raise ValueError(f"expected an (n, {n_labels}) 0/1 indicator array, got shape {y.shape}")
    return y.astype(bool)


def multilabel_report(y_true, y_pred, classes: list[str], loss: float | None = None) -> dict:
    """Scores of (n, L) 0/1 indicator arrays, columns in `classes` order.

    micro_*: precision/recall/F1 of all (document, label) decisions pooled; macro_f1: the mean F1 of the
    labels that occur in y_true; subset_accuracy: the share of documents whose label set is exactly
    right; hamming_loss: the share of wrong (document, label) cells; per_class: per label, as in
    classification_report; n: documents.
    """
    y_true, y_pred = _indicator(y_true, len(classes)), _indicator(y_pred, len(classes))  # (n, L)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} rows, y_pred {len(y_pred)}")
    tp = (y_true & y_pred).sum(axis=0)  # (L,)
    pc = _prf(tp, y_pred.sum(axis=0), y_true.sum(axis=0))
    micro = _prf(tp.sum(), y_pred.sum(), y_true.sum())
    present = pc["support"] > 0  # as in classification_report
    report = {
        "n": int(len(y_true)),
        "micro_precision": float(micro["precision"]),
        "micro_recall": float(micro["recall"]),
        "micro_f1": float(micro["f1"]),
        "macro_f1": float(pc["f1"][present].mean()) if present.any() else 0.0,
        "subset_accuracy": float((y_true == y_pred).all(axis=1).mean()) if len(y_true) else 0.0,
        "hamming_loss": float((y_true != y_pred).mean()) if y_true.size else 0.0,
        "per_class": _per_class_dict(pc, classes),
    }
    if loss is not None:
        report["loss"] = float(loss)
    return report


def best_threshold(y_true, probs, default: float = 0.5) -> float:
    """The probability threshold t that maximizes the micro-F1 of predicting every (document, label) cell whose
    probability is >= t, for (n, L) 0/1 indicators `y_true` and probabilities `probs`: every cut between two
    distinct probabilities is tried (a sort and a cumulative sum), and the middle of the best gap returned.
    `default` when it scores as well (ties), and when `y_true` has no label at all (nothing to choose on)."""
    y = _indicator(y_true, np.shape(probs)[1]).ravel()
    p = np.asarray(probs, dtype=np.float64).ravel()
    if not y.any():
        return default
    order = np.argsort(-p, kind="stable")
    p, y = p[order], y[order]
    f1 = 2 * np.cumsum(y) / (np.arange(1, len(p) + 1) + y.sum())  # predicting cells 0..i, (n * L,)
    cut = np.append(p[1:] < p[:-1], True)  # a threshold can fall after cell i only where the next is lower
    f1 = np.where(cut, f1, -1.0)
    at_default = int((p >= default).sum())  # cells a threshold of `default` predicts
    if at_default and f1[at_default - 1] >= f1.max():
        return default
    i = int(f1.argmax())
    return float((p[i] + (p[i + 1] if i + 1 < len(p) else 0.0)) / 2)


def regression_report(y_true, y_pred, loss: float | None = None) -> dict:
    """MAE, MSE, RMSE and R^2 of float targets (n,); n = 0 gives zeros.

    R^2 = 1 - SS_res / SS_tot; with constant y_true (SS_tot = 0) it is 1.0 for a perfect fit, else
    0.0, as scikit-learn's r2_score (force_finite=True).
    """
    y_true = np.asarray(y_true, dtype=float).ravel()
    y_pred = np.asarray(y_pred, dtype=float).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true has shape {y_true.shape}, y_pred {y_pred.shape}")
    report = {"n": len(y_true), "mae": 0.0, "mse": 0.0, "rmse": 0.0, "r2": 0.0}
    if len(y_true):
        err = y_pred - y_true  # (n,)
        ss_res, ss_tot = float(np.sum(err**2)), float(np.sum((y_true - y_true.mean()) ** 2))
        report["mae"] = float(np.mean(np.abs(err)))
        report["mse"] = ss_res / len(err)
        report["rmse"] = report["mse"] ** 0.5
        report["r2"] = 1.0 - ss_res / ss_tot if ss_tot > 0 else float(ss_res == 0)
    if loss is not None:
        report["loss"] = float(loss)
    return report
