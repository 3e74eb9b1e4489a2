"""What the network's outputs mean, by task: the loss they are trained with, and their probabilities.

classify    K logits -> softmax. "cross_entropy" on the logits, or "nll": log-softmax, then the
            negative log-likelihood of the true class (the same number in two steps). Two classes
            may instead use one logit -> sigmoid, with binary cross-entropy ("bce"). "squared_hinge":
            one-vs-rest, as scikit-learn's LinearSVC: each class's score is pushed past +1 for its own
            documents and below -1 for the others, the squared shortfalls summed (two classes: one
            score); its probabilities are softmax (two classes: sigmoid) of the scores times `scale`,
            which `calibrate` fits on held-out documents after training (Platt scaling, no offset).
multilabel  L logits -> a sigmoid per label; binary cross-entropy ("bce") summed over the labels (the
            negative log-likelihood of the document's label set) and averaged over documents, so
            that weight decay weighs as much against it as against one cross-entropy; a label is
            predicted when its probability reaches `threshold`: given, or (`threshold_on_valid`)
            chosen by `tune_threshold` on held-out documents after training, DEFAULT_THRESHOLD until then.
regression  one output; the target is standardized with the training split's mean and std, so the
            loss ("mse", or "l1") and the learning rate don't depend on its units.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from . import metrics
from .config import ConfigError

LOSSES = {"classify": ("cross_entropy", "nll", "bce", "squared_hinge"), "multilabel": ("bce",), "regression": ("mse", "l1")}
SCORES = {"classify": "accuracy", "multilabel": "micro_f1", "regression": "r2"}  # what early stopping maximizes
DEFAULT_THRESHOLD = 0.5  # multilabel: the threshold training scores with, and the one kept without validation labels


class LossError(ConfigError):
    """A loss that doesn't fit the task."""


def check(task: str, kind: str, num_classes: int) -> str:
    """`kind` (train.loss, resolved: see doccat.recipe), checked against the task; returns it."""
    if kind not in LOSSES[task]:
        raise LossError(f"train.loss {kind!r} does not fit a {task} task (use one of: {', '.join(LOSSES[task])})")
    if task == "classify" and kind == "bce" and num_classes != 2:
        raise LossError(f"train.loss 'bce' needs two classes (one sigmoid output); this task has {num_classes}: "
                        "use cross_entropy, or task multilabel")
    return kind


def num_outputs(task: str, kind: str, num_classes: int) -> int:
    one = task == "regression" or (task == "classify" and kind in ("bce", "squared_hinge") and num_classes == 2)
    return 1 if one else num_classes


def class_weights(spec: str, counts: list[int], documents: int, task: str) -> torch.Tensor | None:
    """Per-class weights from "none", "balanced" (n / (K * count), as scikit-learn's) or "w1,w2,...";
    `counts`: the training documents per class (multilabel: per label) of `documents`.

    For multilabel's bce they weigh each output's positive examples (pos_weight), and "balanced"
    gives negatives / positives per output.
    """
    if spec == "none" or task == "regression":
        return None
    if spec != "balanced":
        w = np.array([float(x) for x in spec.split(",")], dtype=np.float32)
        if len(w) != len(counts):
            raise LossError(f"train.class_weights has {len(w)} values for {len(counts)} classes "
                            "(give one per class, in class order)")
        return torch.from_numpy(w)
    return balanced_weights(np.asarray(counts, dtype=np.int64), documents, task == "multilabel")


def balanced_weights(counts: np.ndarray, n: int, bce: bool) -> torch.Tensor:
    """"balanced" class weights from the training documents per class (bce: per output's positives) of n."""
    if bce:
        return torch.from_numpy((n - counts) / np.maximum(counts, 1)).float()
    return torch.from_numpy(n / (len(counts) * np.maximum(counts, 1))).float()


@dataclass
class Outputs:
    """What a network's outputs mean for one task: the loss they are trained with (call it), their probabilities
    (`proba`), the validation score (`score`) and, for squared_hinge, the scale that makes scores probabilities
    (`calibrate`). `out` is the network's (B, outputs)."""

    task: str = "classify"
    kind: str = "cross_entropy"
    label_smoothing: float = 0.0
    weight: torch.Tensor | None = None  # per class (cross_entropy, nll) or per output's positives (bce)
    threshold: float = DEFAULT_THRESHOLD  # multilabel: a label is predicted from this probability on
    threshold_on_valid: bool = False  # multilabel: `threshold` is to be chosen by `tune_threshold` after training
    scale: float = 1.0  # squared_hinge: scores times this are the logits of the probabilities (see calibrate)

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.kind == "cross_entropy":
            return F.cross_entropy(out, y, weight=self.weight, label_smoothing=self.label_smoothing)
        if self.kind == "nll":
            log_p = F.log_softmax(out, dim=1)
            if not self.label_smoothing:
                return F.nll_loss(log_p, y, weight=self.weight)
            return self._smoothed_nll(log_p, y)
        if self.kind == "squared_hinge":
            return self._squared_hinge(out, y)
        if self.kind == "bce":
            target = y.float().view_as(out) if self.task == "classify" else y
            if self.label_smoothing:  # toward 1/2 for each sigmoid
                target = target * (1 - self.label_smoothing) + 0.5 * self.label_smoothing
            per_output = F.binary_cross_entropy_with_logits(out, target, pos_weight=self.weight, reduction="none")
            return per_output.sum(1).mean()  # (B, outputs) -> summed over labels, averaged over documents
        pred = out.squeeze(1)
        return F.mse_loss(pred, y) if self.kind == "mse" else F.l1_loss(pred, y)

    def mass(self, y: torch.Tensor) -> float:
        """What the loss of a batch averages over: its documents, or for a class-weighted cross_entropy or
        nll (or squared_hinge) the sum of their classes' weights. A batch split over ranks adds up its parts' masses."""
        if self.weight is not None and self.kind in ("cross_entropy", "nll", "squared_hinge"):
            return float(self.weight[y].sum())
        return float(len(y))

    def to(self, device: torch.device) -> "Outputs":
        """The same loss with its class weights on `device`."""
        return self if self.weight is None else dataclasses.replace(self, weight=self.weight.to(device))

    def _squared_hinge(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Summed over the scores, averaged over documents (class-weighted: by their classes' weights)."""
        sign = (2 * y.float() - 1).view_as(out) if out.shape[1] == 1 else 2 * F.one_hot(y, out.shape[1]).float() - 1
        per_doc = torch.clamp(1 - sign * out, min=0).pow(2).sum(1)
        if self.weight is None:
            return per_doc.mean()
        return (per_doc * self.weight[y]).sum() / self.weight[y].sum()

    def calibrate(self, out: torch.Tensor, y: torch.Tensor) -> None:
        """squared_hinge: `scale`, the factor of the scores whose probabilities best fit the labels `y` of
        held-out documents (least log loss; a margin model's scores are no probabilities by themselves).

        The log loss of softmax(s * scores) is convex in s (its second derivative is the scores' variance
        under p), so Newton's method with step halving finds it in a few steps, without torch.optim (whose
        first use imports torch._dynamo: seconds of a fresh process)."""
        if not len(y):
            return
        u = self.logits(out.detach().double(), 1.0)  # the logits at scale 1
        target = u.gather(1, y.view(-1, 1)).squeeze(1)

        def nll(s: float) -> float:
            return float((torch.logsumexp(s * u, 1) - s * target).mean())
        s, best = 1.0, nll(1.0)
        for _ in range(50):
            p = torch.softmax(s * u, 1)
            mean = (p * u).sum(1)
            grad, curvature = float((mean - target).mean()), float(((p * u * u).sum(1) - mean * mean).mean())
            step = grad / curvature if curvature > 1e-12 else grad
            while step and s - step <= 0:  # the scale stays positive: a score's sign is its class's
                step /= 2
            while step and nll(s - step) > best:
                step /= 2
                if abs(step) < 1e-12 * s:
                    step = 0.0
            if not step:
                break
            s -= step
            best = nll(s)
            if abs(step) < 1e-6 * s:
                break
        self.scale = s

    def tune_threshold(self, out: torch.Tensor, y: torch.Tensor) -> None:
        """multilabel: `threshold`, the one (for every label) that maximizes micro-F1 on held-out documents'
        outputs `out` and label indicators `y` (metrics.best_threshold); DEFAULT_THRESHOLD if they have no label."""
        self.threshold = metrics.best_threshold(y.numpy() > 0.5, self.proba(out.detach()).numpy(), DEFAULT_THRESHOLD)
        self.threshold_on_valid = False

    def _smoothed_nll(self, log_p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """-sum(t * log p) with one-hot targets t smoothed toward uniform; what cross_entropy computes."""
        k = log_p.shape[1]
        t = F.one_hot(y, k).float() * (1 - self.label_smoothing) + self.label_smoothing / k
        per_doc = -(t * log_p * (1 if self.weight is None else self.weight)).sum(1)
        if self.weight is None:
            return per_doc.mean()
        return per_doc.sum() / self.weight[y].sum()

    def proba(self, out: torch.Tensor) -> torch.Tensor:
        """classify: (B, K) class probabilities; multilabel: (B, L) label probabilities; regression: (B,) values."""
        if self.task == "regression":
            return out.squeeze(1)
        if self.task == "multilabel":
            return torch.sigmoid(out)
        logits = self.logits(out)
        if out.shape[1] == 1:  # one score: the second class's logit against the first's
            p = torch.sigmoid(logits[:, 1])
            return torch.stack([1 - p, p], dim=1)
        return torch.softmax(logits, dim=1)

    def log_proba(self, out: torch.Tensor) -> torch.Tensor:
        """classify: (B, K) log-probabilities, by log-softmax (numerically safe where softmax underflows)."""
        if self.task != "classify":
            raise LossError(f"log-probabilities are for classification; this is a {self.task} task")
        return F.log_softmax(self.logits(out), dim=1)

    def logits(self, out: torch.Tensor, scale: float | torch.Tensor | None = None) -> torch.Tensor:
        """classify: (B, K) the logits whose softmax are the class probabilities: the outputs (squared_hinge:
        times `scale`, by default the calibrated one); one output z (two classes) stands for the logits (0, z)."""
        out = out * (self.scale if scale is None else scale) if self.kind == "squared_hinge" else out
        return torch.cat([torch.zeros_like(out), out], dim=1) if out.shape[1] == 1 else out

    def score(self, out: torch.Tensor, y: torch.Tensor) -> float:
        """The validation score early stopping maximizes: accuracy, micro-F1 or R^2 (see SCORES)."""
        p = self.proba(out)
        if self.task == "classify":
            return (p.argmax(1) == y).float().mean().item() if len(y) else 0.0
        if self.task == "multilabel":
            names = [str(i) for i in range(y.shape[1])]
            return metrics.multilabel_report(y.numpy() > 0.5, p.numpy() >= self.threshold, names)["micro_f1"]
        return metrics.regression_report(y.numpy(), p.numpy())["r2"]
