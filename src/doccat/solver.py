"""The linear default's solver: liblinear's dual coordinate descent, in place of the training loop.

    Encoded training documents --csr--> X (docs, features) --one binary problem per output--> bag weights, biases

A linear SVM's dual coordinate descent (Hsieh et al. 2008, as liblinear and scikit-learn's LinearSVC run it)
costs a pass over the data's non-zeros per iteration, whatever the number of features or classes, and needs
no optimizer state: no L-BFGS history the size of the model, no torch.optim (whose first use imports
torch._dynamo, seconds of a fresh process), one thread (nothing that spins waiting for a busy core). It
solves what train.loss squared_hinge with optimizer lbfgs solves, one-vs-rest: for each output k,

    min_w  0.5 |w|^2 + C * sum_i max(0, 1 - s_ik (w . x_i + b))^2,   C = 1 / (weight_decay * documents)

except that liblinear regularizes the bias too (as scikit-learn's LinearSVC does), and it stops on the
dual's projected gradient (liblinear's own tolerance) rather than on the objective's relative decrease.
"""
from __future__ import annotations

import ctypes
import math
import time

import numpy as np
import torch
from torch import nn

from .config import TrainConfig
from .text import Encoded
from .loss import Outputs
from .train import Hooks, InMemory, Progress, kept_epoch, peak_memory_mib
from .warmstart import Start, mix

SOLVER = 1  # liblinear's -s 1: L2-regularized L2-loss SVM, solved in the dual
EPSILON = 0.1  # liblinear's default stopping tolerance for its dual solvers


def csr(enc: Encoded, num_features: int):
    """The documents as a scipy CSR matrix (docs, features) of their weights: a view of the arrays where it can be."""
    from scipy import sparse
    return sparse.csr_matrix((enc.weights.astype(np.float64), enc.ids, enc.offsets), shape=(len(enc), num_features))


def solve(X, targets: np.ndarray, C: float, scale: np.ndarray | None = None, seed: int = 0,
          weights: np.ndarray | None = None) -> tuple:
    """Weights (features, outputs) and biases (outputs,) of one binary L2-loss SVM per column of `targets`
    (docs, outputs) in {-1, +1}; `scale` (features, outputs), when given, multiplies output k's features
    (NBSVM's scale, see model.nb_scale) and is not folded into the weights returned.

    liblinear visits the dual's coordinates in an order drawn from the C library's rand(), which it never
    seeds: `seed` seeds it before each problem (so one thread: two would interleave their draws), which
    makes a fit repeatable. `weights` (outputs, 2), when given, multiply C for output k's negative (column 0)
    and positive (column 1) documents (liblinear's -w-1 and -w1)."""
    from liblinear import liblinearutil as ll
    prob = ll.problem(targets[:, 0].astype(np.float64), X, bias=1)
    node = prob.x_space  # every document's (feature index from 1, value) nodes, its bias node, an end (-1)
    if scale is not None:  # (outputs, features + 1) in float64, a row per problem; the bias and ends take column F, 1
        scale = np.hstack([scale.T, np.ones((scale.shape[1], 1))]).astype(np.float64)
        values, column = node["value"].copy(), np.where((node["index"] > 0) & (node["index"] <= X.shape[1]),
                                                        node["index"] - 1, X.shape[1])
    W, b = np.zeros((X.shape[1], targets.shape[1]), np.float32), np.zeros(targets.shape[1], np.float32)
    for k in range(targets.shape[1]):
        if scale is not None:
            np.multiply(values, scale[k][column], out=node["value"])
        np.ctypeslib.as_array(prob.y, (prob.l,))[:] = targets[:, k]
        ctypes.CDLL(None).srand(seed)
        cw = "" if weights is None else f" -w-1 {weights[k, 0]:.17g} -w1 {weights[k, 1]:.17g}"
        model = ll.train(prob, f"-s {SOLVER} -c {C:.17g} -e {EPSILON} -B 1 -q{cw}")
        w = np.ctypeslib.as_array(model.w, (X.shape[1] + 1,))
        sign = 1.0 if model.get_labels()[0] == 1 else -1.0  # liblinear's first label is the positive side
        W[:, k], b[k] = sign * w[:-1], sign * w[-1]
    return W, b


def problem_weights(class_weight: np.ndarray | None, outputs: int) -> np.ndarray | None:
    """(outputs, 2): C's factor for each binary problem's negative and positive documents, from per-class weights,
    as scikit-learn's LinearSVC applies class_weight: one-vs-rest, class k's problem weighs its positives by w_k
    and the rest by 1; with one output (two classes) each class by its own weight."""
    if class_weight is None:
        return None
    if outputs == 1:
        return np.asarray(class_weight, np.float64)[None, :2]
    return np.stack([np.ones(outputs), np.asarray(class_weight, np.float64)], axis=1)


def signs(y: np.ndarray, outputs: int) -> np.ndarray:
    """Each document's targets (docs, outputs) in {-1, +1}: one-vs-rest, or one output (the second class) for two."""
    if outputs == 1:
        return (2.0 * (y == 1) - 1.0)[:, None]
    return 2.0 * (y[:, None] == np.arange(outputs)) - 1.0


class Liblinear:
    """Fits a linear bag (BagClassifier, embed_dim 0) with `solve`, as `Trainer` fits networks: `fit(train, valid)`
    on InMemory data returns the history (one epoch: one solve) and leaves the weights in the model; `run`
    holds the history and batches as a Trainer's does. squared_hinge only (recipe.resolve picks it); class weights
    as scikit-learn's LinearSVC takes them (see problem_weights); with a `start`, the solve on the
    new documents averaged with the saved weights (see doccat.warmstart)."""

    def __init__(self, model: nn.Module, outputs: Outputs, cfg: TrainConfig, hooks: Hooks | None = None,
                 start: Start | None = None):
        self.model, self.outputs, self.cfg, self.hooks = model, outputs, cfg, hooks or Hooks()
        self.start = start  # train.init_from: the solve is averaged with its weights (see doccat.warmstart)
        self.run = Progress(order_rng={})

    def fit(self, train: InMemory, valid: InMemory) -> list[dict]:
        t0 = time.perf_counter()
        weight = self.model.bag.weight
        documents, outputs = train.size, weight.shape[1]
        C = 1.0 / (self.cfg.weight_decay * max(documents, 1))
        scale = None if self.model.scale is None else self.model.scale.cpu().numpy()
        class_weight = None if self.outputs.weight is None else self.outputs.weight.numpy()
        W, b = solve(csr(train.enc, weight.shape[0]), signs(train.y.numpy(), outputs), C, scale, self.cfg.seed,
                     problem_weights(class_weight, outputs))
        with torch.no_grad():
            weight.copy_(torch.from_numpy(W))
            self.model.head.bias.copy_(torch.from_numpy(b))
        if self.start is not None:
            mix(self.model, self.start, documents)
            self.hooks.log(f"init_from: averaged with {self.start.path}'s weights, {self.start.documents:,} documents "
                           f"to these {documents:,}")
        seconds = time.perf_counter() - t0
        train_loss = self.outputs(*train.outputs(self.model)).item()
        out, y = valid.outputs(self.model)
        row = {"epoch": 1, "train_loss": train_loss, "val_loss": self.outputs(out, y).item(),
               "val_score": self.outputs.score(out, y), "lr": 0.0, "seconds": seconds}
        self.run.history.append(row)
        self.run.batches.append({"step": 1, "epoch": 1, "loss": train_loss, "grad_norm": math.nan, "lr": 0.0})
        self.hooks.log(f"liblinear: {outputs} one-vs-rest L2-loss SVM problem{'s' * (outputs > 1)} (C {C:.3g}) on "
                       f"one thread in {seconds:.1f}s | train loss {train_loss:.4f} | "
                       f"val loss {row['val_loss']:.4f} | val {row['val_score']:.4f}")
        if len(y):
            self.outputs.calibrate(out, y)
        self.hooks.log(f"kept epoch {kept_epoch(self.run.history, 'last')['epoch']}; peak memory "
                       f"{peak_memory_mib():.0f} MiB")
        return self.run.history
