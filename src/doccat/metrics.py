"""Classification metrics: pure functions of label-id arrays."""
from __future__ import annotations

import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    tp = np.diag(cm).astype(float)
    predicted, support = cm.sum(axis=0), cm.sum(axis=1)
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
        "per_class": {c: {k: float(v[i]) if k != "support" else int(v[i]) for k, v in pc.items()}
                      for i, c in enumerate(classes)},
        "confusion_matrix": cm.tolist(),
    }
    if loss is not None:
        report["loss"] = float(loss)
    return report
