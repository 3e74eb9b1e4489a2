"""A saved linear bag model's predictions and metrics with numpy alone: no torch, so a fresh `doccat predict`,
`evaluate` or `serve` of the default model starts without torch's import (over a second).

The numbers are the torch path's (model.BagClassifier with embed_dim 0 and loss.Outputs): each document's
score is the sum of the bag's rows of its features, times the featurizer's weights, plus the bias; the outputs
become probabilities as loss.Outputs.proba makes them. Networks and encoders load through classifier.load.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import artifacts, config as config_mod
from .config import Config, ModelConfig
from .data.readers import DataError
from .metrics import classification_report, multilabel_report
from .text import Featurizer, Vocab

SCORED_AT_ONCE = 1024  # documents whose (features x outputs) rows are gathered together: bounded memory


@dataclass
class Prediction:
    labels: list  # classify: the top-k classes; multilabel: the labels predicted; most probable first (str; int
                  # for a model trained on integer labels)
    probs: list[float]  # their probabilities
    value: float | None = None  # regression: the predicted target


def top_predictions(probs: np.ndarray, classes: list, task: str, k: int | None, threshold: float) -> list[Prediction]:
    """Each row's k most probable classes (classify default 1; multilabel default all) from `threshold` on."""
    k = k or (1 if task == "classify" else len(classes))
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return [Prediction([classes[i] for i in idx if row[i] >= threshold],
                       [float(row[i]) for i in idx if row[i] >= threshold]) for row, idx in zip(probs, top)]


def is_linear(m: ModelConfig) -> bool:
    """A bag whose rows are the class scores: no embedding width, hidden layers or encoder."""
    return m.embed_dim == 0 and not m.hidden and not m.encoder


def predicts(cfg: Config) -> bool:
    """What this module predicts: a linear bag for classify or multilabel (a regression's values go through
    classifier.Classifier, which clips them)."""
    return is_linear(cfg.model) and cfg.data.task in ("classify", "multilabel")


def saved_featurizer(path, m: ModelConfig, vocab: list[str], state: dict) -> Featurizer:
    """The fitted featurizer a run saved (its columns and idf, numpy arrays, taken out of `state`), checked
    against its config."""
    idf, columns = state.pop("featurizer.idf", None), state.pop("featurizer.columns", None)
    if columns is None or (idf is None) != (m.weighting != "tfidf"):
        raise artifacts.ArtifactError(f"{path}: model.safetensors lacks the featurizer's columns or idf; "
                                      "it was written by another version of doccat: train it again")
    unfitted = Featurizer.from_config(m, Vocab(vocab))
    columns, idf = np.asarray(columns), None if idf is None else np.asarray(idf)
    ok = columns.ndim == 1 and columns.dtype.kind in "iu" and (idf is None or idf.shape == columns.shape)
    if ok and len(columns):
        ok = bool((columns[1:] > columns[:-1]).all()) and 0 <= columns[0] and columns[-1] < unfitted.raw_features
    if not ok:
        raise artifacts.ArtifactError(f"{path}: the featurizer's columns do not fit config.json's vocabulary and "
                                      "buckets (the files were edited, or come from different runs): train it again")
    return Featurizer.from_config(m, unfitted.vocab, columns, idf)


class LinearModel:
    """A linear bag model for prediction: `predict`, `predict_proba` and `evaluate` as classifier.Classifier's."""

    def __init__(self, config: Config, featurizer: Featurizer, classes: list, state: dict, metrics: dict | None = None):
        self.config, self.featurizer, self.classes_ = config, featurizer, classes
        self.metrics_ = metrics or {}  # the run's metrics.json, as classifier.load's
        self.weight = np.asarray(state["bag.weight"], dtype=np.float32)  # (features, outputs)
        self.bias = np.asarray(state["head.bias"], dtype=np.float32)
        self.task = config.data.task
        self.scale = float(state.get("loss.scale", 1.0)) if config.train.loss == "squared_hinge" else 1.0
        self.threshold = float(state["loss.threshold"]) if "loss.threshold" in state else None
        if self.weight.shape != (featurizer.num_features, len(self.bias)):
            raise artifacts.ArtifactError(f"model.safetensors' bag.weight is {self.weight.shape}, config.json and "
                                          f"the featurizer describe ({featurizer.num_features}, {len(self.bias)})")

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.classes_]

    def decision_function(self, texts: str | list[str]) -> np.ndarray:
        """The raw outputs (n_texts, n_outputs): the bag's weighted sum of rows plus the bias."""
        enc = self.featurizer.encode([texts] if isinstance(texts, str) else list(texts))
        out = np.tile(self.bias, (len(enc), 1))
        for start in range(0, len(enc), SCORED_AT_ONCE):
            part = enc.slice(start, min(start + SCORED_AT_ONCE, len(enc)))
            starts = part.offsets[:-1][np.diff(part.offsets) > 0]  # an empty document keeps the bias alone
            if len(starts):
                rows = self.weight[part.ids] * part.weights[:, None].astype(np.float32)
                out[start + np.flatnonzero(np.diff(part.offsets) > 0)] += np.add.reduceat(rows, starts, axis=0)
        return out

    def predict_proba(self, texts: str | list[str]) -> np.ndarray:
        """Softmax for classify (one output: the sigmoid of class 1 against class 0), a sigmoid per label for
        multilabel; squared_hinge's scores times their calibrated scale first."""
        return self.proba(self.decision_function(texts))

    def proba(self, out: np.ndarray) -> np.ndarray:
        """predict_proba's probabilities of the raw outputs `out` (decision_function's)."""
        out = out.astype(np.float64) * self.scale
        if self.task == "multilabel":
            return (1 / (1 + np.exp(-out))).astype(np.float32)
        if out.shape[1] == 1:
            p = 1 / (1 + np.exp(-out[:, 0]))
            return np.stack([1 - p, p], axis=1).astype(np.float32)
        out = np.exp(out - out.max(axis=1, keepdims=True))
        return (out / out.sum(axis=1, keepdims=True)).astype(np.float32)

    def predict(self, texts: str | list[str], k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        """As classifier.Classifier.predict."""
        if threshold is None:
            threshold = self.threshold if self.task == "multilabel" else 0.0
        return top_predictions(self.predict_proba(texts), self.classes_, self.task, k, threshold)

    def evaluate(self, texts: list[str], labels: list) -> dict:
        """As classifier.Classifier.evaluate: the loss (without class weights or label smoothing) and the metrics."""
        y = label_targets(labels, self.class_names, self.task)
        out = self.decision_function(list(texts))
        loss = plain_loss(self.config.train.loss, out, y) if len(y) else 0.0
        p = self.proba(out)
        if self.task == "classify":
            return classification_report(y, p.argmax(1), self.class_names, loss)
        return multilabel_report(y > 0.5, p >= self.threshold, self.class_names, loss)


def label_targets(labels: list, class_names: list[str], task: str, where: str = "labels") -> np.ndarray:
    """Labels as the loss wants them: class ids (n,) for classify, label indicators (n, classes) for multilabel;
    labels given as integers match their names."""
    index = {c: i for i, c in enumerate(class_names)}
    labels = [[str(x) for x in row] for row in labels] if task == "multilabel" else [str(x) for x in labels]
    given = [x for row in labels for x in row] if task == "multilabel" else labels
    unknown = sorted(set(given) - index.keys())
    if unknown:
        raise DataError(f"{where}: label(s) {', '.join(map(repr, unknown[:5]))} never seen in training "
                        f"(known: {', '.join(class_names[:20])}{' ...' if len(class_names) > 20 else ''})")
    if task == "classify":
        return np.array([index[x] for x in labels], dtype=np.int64)
    y = np.zeros((len(labels), len(class_names)), dtype=np.float32)
    rows = np.repeat(np.arange(len(labels)), [len(row) for row in labels])
    y[rows, [index[x] for x in given]] = 1.0
    return y


def plain_loss(kind: str, out: np.ndarray, y: np.ndarray) -> float:
    """loss.Outputs' loss of the outputs `out` (n, outputs) and targets `y` (label_targets'), without class
    weights or label smoothing, as evaluate reports it: cross_entropy and nll the softmax's mean log loss,
    squared_hinge the squared hinges summed over the scores, bce the sigmoids' log losses summed over the
    outputs; each averaged over the documents."""
    out = out.astype(np.float64)
    if kind in ("cross_entropy", "nll"):
        top = out.max(1)
        return float((np.log(np.exp(out - top[:, None]).sum(1)) + top - out[np.arange(len(y)), y]).mean())
    if kind == "squared_hinge":
        sign = 2.0 * y.reshape(out.shape) - 1 if out.shape[1] == 1 else 2.0 * np.eye(out.shape[1])[y] - 1
        return float((np.maximum(1 - sign * out, 0) ** 2).sum(1).mean())
    if kind == "bce":
        target = y.astype(np.float64).reshape(out.shape)
        return float((np.maximum(out, 0) - out * target + np.log1p(np.exp(-np.abs(out)))).sum(1).mean())
    raise artifacts.ArtifactError(f"config.json's train.loss {kind!r} is no loss of a linear classify or multilabel "
                                  "model (the file was edited): train it again")


def saved_config(path: str | Path) -> Config | None:
    """The run's config.json where it describes a linear bag for classify or multilabel, else None (a
    network, an encoder, a regression, or a file that classifier.load will explain the trouble with)."""
    try:
        cfg = config_mod.from_dict(json.loads((Path(path) / "config.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError, KeyError):
        return None
    return cfg if predicts(cfg) else None


def load(path: str | Path) -> LinearModel:
    """Load a linear run directory (checksums verified, as classifier.load does) for prediction without torch."""
    run = artifacts.read_run(Path(path))
    cfg = config_mod.from_dict(run["config"])
    if not predicts(cfg):
        raise artifacts.ArtifactError(f"{path}: not a linear bag model for classify or multilabel: only linear bag "
                                      "models (embed_dim 0, no hidden layers, no encoder) predict without torch or "
                                      "export to ONNX; doccat.load loads any run")
    state, vocab = artifacts.expand(path, run["state"], run["vocab"])  # a compressed run's: float32, the full vocabulary
    featurizer = saved_featurizer(path, cfg.model, vocab, state)
    return LinearModel(cfg, featurizer, run["labels"], state, run["metrics"])
