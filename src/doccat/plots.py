"""Training curves and the confusion matrix as PNG images (matplotlib, no display needed).

matplotlib is imported only when figures are drawn, so `import doccat` stays quick.
"""
from __future__ import annotations

import io
import math

import numpy as np

# name in the run directory -> what it shows; the report lists them in this order
FIGURES = {
    "loss.png": "training and validation loss",
    "score.png": "validation score (accuracy, micro-F1 or R^2)",
    "lr.png": "learning rate",
    "grad_norm.png": "gradient norm",
    "confusion_matrix.png": "confusion matrix",
}


def _pyplot():
    import matplotlib
    matplotlib.use("Agg")  # files only, never a window: works on servers and in CI
    import matplotlib.pyplot as plt
    return plt


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def smooth(values: np.ndarray, alpha: float = 0.05) -> np.ndarray:
    """Exponential moving average, bias-corrected so the first points are not pulled toward 0."""
    out, avg = np.empty(len(values)), 0.0
    for i, v in enumerate(values):
        avg = (1 - alpha) * avg + alpha * v
        out[i] = avg / (1 - (1 - alpha) ** (i + 1))
    return out


def _column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([float(r[key]) for r in rows])


def loss_curves(history: list[dict], batches: list[dict], full_batch: bool = False) -> list[tuple]:
    """(label, x, y, style) of the loss figure. Per batch only for mini-batches: at full batch a "batch" is one of
    L-BFGS's line-search evaluations, whose trial steps lie far above the loss it ends each epoch at."""
    curves = []
    if batches and not full_batch:  # per batch, on the epoch axis: step k of epoch e sits between e-1 and e
        x = _column(batches, "step") / (len(batches) / max(len(history), 1))
        loss = _column(batches, "loss")
        curves += [("train loss per batch", x, loss, dict(color="tab:blue", alpha=0.3, linewidth=0.8)),
                   ("train loss per batch (smoothed)", x, smooth(loss), dict(color="tab:blue", linewidth=1.5))]
    epochs = _column(history, "epoch")
    return curves + [("train loss per epoch", epochs, _column(history, "train_loss"), dict(fmt="o-", color="tab:orange")),
                     ("validation loss", epochs, _column(history, "val_loss"), dict(fmt="s-", color="tab:green"))]


def loss_plot(history: list[dict], batches: list[dict], loss_name: str = "cross-entropy loss",
              full_batch: bool = False) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for label, x, y, style in loss_curves(history, batches, full_batch):
        style = dict(style)
        ax.plot(x, y, style.pop("fmt", "-"), label=label, **style)
    ax.set(xlabel="epoch", ylabel=loss_name, title="Loss")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def score_plot(history: list[dict], name: str = "accuracy") -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    epochs, acc = _column(history, "epoch"), _column(history, "val_score")
    ax.plot(epochs, acc, "o-", color="tab:green")
    best = int(np.argmax(acc))
    ax.annotate(f"best {acc[best]:.4f}", (epochs[best], acc[best]), textcoords="offset points", xytext=(0, -15),
                ha="center")
    ax.set(xlabel="epoch", ylabel=name, title=f"Validation {name}")
    ax.grid(alpha=0.3)
    return _png(fig)


def lr_plot(history: list[dict], batches: list[dict]) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    if batches:  # per batch shows warmup and per-step schedules
        ax.plot(_column(batches, "step"), _column(batches, "lr"), color="tab:purple")
        ax.set_xlabel("step (batch)")
    else:
        ax.step(_column(history, "epoch"), _column(history, "lr"), where="post", color="tab:purple")
        ax.set_xlabel("epoch")
    ax.set(ylabel="learning rate", title="Learning rate")
    ax.grid(alpha=0.3)
    return _png(fig)


def grad_norm_plot(batches: list[dict], clip_norm: float = 0.0) -> bytes:
    """The norm before clipping, and the clip threshold (train.clip_norm) where there is one."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    steps, norm = _column(batches, "step"), _column(batches, "grad_norm")
    ax.plot(steps, norm, color="tab:red", alpha=0.2, linewidth=0.8, label="per batch")
    ax.plot(steps, smooth(norm), color="tab:red", linewidth=1.5, label="smoothed")
    if clip_norm:
        ax.axhline(clip_norm, color="black", linestyle="--", linewidth=1,
                   label=f"clip_norm {clip_norm:g}: clipped above ({(norm > clip_norm).mean():.0%} of batches)")
    ax.set(xlabel="step (batch)", ylabel="L2 norm (before clipping)", title="Gradient norm")
    if norm.min() > 0 and norm.max() / norm.min() > 100:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return _png(fig)


def confusion_plot(cm: np.ndarray, classes: list[str], title: str) -> bytes:
    """Rows normalized to 1 (the recall of each true class), counts in the cells when they fit."""
    plt = _pyplot()
    cm = np.asarray(cm, dtype=float)
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    n = len(classes)
    size = min(max(4.0, 0.45 * n + 2.5), 14.0)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    tilt = n > 4 or max(map(len, classes)) > 8  # long or many names would overlap
    ax.set_xticks(range(n), classes, rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set_yticks(range(n), classes)
    ax.set(xlabel="predicted", ylabel="true", title=title)
    if n <= 12:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{norm[i, j]:.2f}\n({int(cm[i, j])})", ha="center", va="center", fontsize=8,
                        color="white" if norm[i, j] > 0.5 else "black")
    return _png(fig)


LOSS_NAMES = {"cross_entropy": "cross-entropy loss", "nll": "negative log-likelihood", "bce": "binary cross-entropy",
              "squared_hinge": "squared hinge loss (one-vs-rest)",
              "mse": "mean squared error (standardized target)", "l1": "mean absolute error (standardized target)"}


MAX_CONFUSION_CLASSES = 50  # past this a confusion matrix is unreadable, and drawing it takes minutes


def render_run(history: list[dict], batches: list[dict], metrics: dict, classes: list[str],
               loss: str = "cross_entropy", score: str = "accuracy", train=None) -> dict[str, bytes]:
    """Every figure the run's data allows, {file name: PNG bytes}: curves from two epochs on (one solve, as
    liblinear's, is a point, not a curve), gradient norms where there were any, the confusion matrix up to
    50 classes (metrics.json holds it whatever the number). `train`: the run's TrainConfig (full batch or
    not, the clip threshold), None for mini-batches without clipping."""
    full_batch, clip = (train.batch_size == 0, train.clip_norm) if train is not None else (False, 0.0)
    if not history:
        return {}
    images = {}
    if len(history) > 1:
        images = {"loss.png": loss_plot(history, batches, LOSS_NAMES.get(loss, loss), full_batch),
                  "score.png": score_plot(history, score), "lr.png": lr_plot(history, batches)}
    if any(math.isfinite(b["grad_norm"]) for b in batches):
        images["grad_norm.png"] = grad_norm_plot(batches, clip)
    split = "test" if "test" in metrics else "valid" if "valid" in metrics else None
    if split and "confusion_matrix" in metrics[split] and len(classes) <= MAX_CONFUSION_CLASSES:
        images["confusion_matrix.png"] = confusion_plot(metrics[split]["confusion_matrix"], classes,
                                                        f"Confusion matrix ({split} split, row-normalized)")
    return images
