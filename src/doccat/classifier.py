"""The public API: train a classifier, then predict / evaluate / save / load it."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import artifacts, config as config_mod
from .checkpoint import Checkpoints
from .config import Config
from .data import DataError, Split, Splits, load_splits
from .data.split import stratified_split
from .metrics import classification_report
from .model import BagClassifier
from .text import Featurizer, Vocab
from .report import data_summary
from .train import best_key, fit, peak_memory_mib, predict_logits, uses_sparse_grads


@dataclass
class Prediction:
    labels: list[str]  # the top-k classes, most probable first
    probs: list[float]  # their softmax probabilities


class Classifier:
    """A trained document classifier: featurizer + network + class names."""

    def __init__(self, config: Config, featurizer: Featurizer, classes: list[str], model: BagClassifier):
        self.config, self.featurizer, self.classes_, self.model = config, featurizer, classes, model
        self.history_: list[dict] = []
        self.batches_: list[dict] = []  # per training batch: step, epoch, loss, grad_norm, lr
        self.metrics_: dict = {}

    def predict_proba(self, texts: str | list[str]) -> np.ndarray:
        """Softmax probabilities, (n_texts, n_classes), columns in `classes_` order."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        return torch.softmax(predict_logits(self.model, self.featurizer.encode(texts)), dim=1).numpy()

    def predict(self, texts: str | list[str], k: int = 1, threshold: float = 0.0) -> list[Prediction]:
        """Top-`k` classes of each text with their probabilities (those below `threshold` dropped).

        A single string counts as a list of one text; one Prediction per text is returned.
        """
        probs = self.predict_proba(texts)
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        out = []
        for row, idx in zip(probs, top):
            keep = [i for i in idx if row[i] >= threshold]
            out.append(Prediction([self.classes_[i] for i in keep], [float(row[i]) for i in keep]))
        return out

    def label_ids(self, labels: list[str], where: str = "labels") -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes_)}
        unknown = sorted(set(labels) - index.keys())
        if unknown:
            raise DataError(f"{where}: label(s) {', '.join(map(repr, unknown[:5]))} never seen in training "
                            f"(known: {', '.join(self.classes_)})")
        return np.array([index[x] for x in labels], dtype=np.int64)

    def evaluate(self, texts: list[str], labels: list[str]) -> dict:
        """Loss, accuracy, macro-F1, per-class precision/recall/F1/support, confusion matrix."""
        y = self.label_ids(labels)
        logits = predict_logits(self.model, self.featurizer.encode(list(texts)))
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y)).item() if len(y) else 0.0
        return classification_report(y, logits.argmax(1).numpy(), self.classes_, loss)

    def explain(self, text: str) -> dict:
        """How `text` goes through the model and which words pushed it to its class (see doccat.explain)."""
        from .explain import explain
        return explain(self, text)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every learned tensor: the network's, and the featurizer's idf (learned from the training split)."""
        state = {**self.model.state_dict(), "featurizer.columns": torch.from_numpy(self.featurizer.columns_)}
        if self.featurizer.idf_ is not None:
            state["featurizer.idf"] = torch.from_numpy(self.featurizer.idf_)
        return state

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the run directory, with batches.csv and the plots."""
        from . import plots
        extra = {"batches.csv": artifacts.rows_csv(self.batches_)} if self.batches_ else {}
        extra |= plots.render_run(self.history_, self.batches_, self.metrics_, self.classes_)
        return artifacts.write_run(Path(path), config_mod.to_dict(self.config), self.state_dict(),
                                   self.featurizer.vocab.itos, self.classes_, self.metrics_, self.history_,
                                   overwrite, extra)


def load(path: str | Path) -> Classifier:
    """Load a run directory written by `train(..., out=...)` or `Classifier.save`; checksums verified."""
    run = artifacts.read_run(Path(path))
    cfg = config_mod.from_dict(run["config"])
    state = dict(run["state"])
    idf_, columns = state.pop("featurizer.idf", None), state.pop("featurizer.columns", None)
    if columns is None or (idf_ is None) != (cfg.model.weighting != "tfidf"):
        raise artifacts.ArtifactError(f"{path}: model.safetensors lacks the featurizer's columns or idf; "
                                      "it was written by another version of doccat: train it again")
    featurizer = Featurizer(Vocab(run["vocab"]), cfg.model.ngrams, cfg.model.buckets, cfg.model.max_tokens,
                            cfg.model.weighting, columns.numpy(), None if idf_ is None else idf_.numpy())
    model = BagClassifier(cfg.model, featurizer.num_features, len(run["labels"]))
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise artifacts.ArtifactError(f"{path}: weights do not fit the config: {e}") from None
    model.eval()
    clf = Classifier(cfg, featurizer, run["labels"], model)
    clf.metrics_ = run["metrics"]
    return clf


def resolve_config(config: Config | dict | str | Path | None, overrides: dict) -> Config:
    """Defaults <- config (object, nested dict or TOML path) <- flat keyword overrides."""
    nested = config_mod.nest({k: v for k, v in overrides.items() if v is not None})
    if config is None:
        return config_mod.merge(Config(), nested)
    if isinstance(config, Config):
        return config_mod.merge(config, nested)
    if isinstance(config, dict):
        return config_mod.merge(config_mod.from_dict(config), nested)
    return config_mod.load(config, nested)


def _in_memory_splits(cfg: Config, texts, labels) -> Splits:
    train = Split(list(texts), [str(x) for x in labels])
    kept, carved = stratified_split(train.labels, cfg.data.valid_fraction, cfg.data.split_seed + 1)
    classes = sorted(set(train.labels))
    return Splits(train.take(kept), train.take(carved), None, classes)


def train(texts: list[str] | None = None, labels: list | None = None, *, config=None, out=None,
          overwrite: bool = False, log=print, progress: bool | None = None, _checkpoints: Checkpoints | None = None,
          **overrides) -> Classifier:
    """Train a classifier and evaluate it on the validation and test splits.

    Data comes from `texts`/`labels` (a validation split is carved from them) or from the config's
    data section (a registry `dataset=` or `train=`/`valid=`/`test=` files). Any config key may be
    given as a keyword (`epochs=5`, `lr=0.1`, `dataset="trec"`). With `out`, the run is saved there,
    checkpointed meanwhile into `<out>.partial/` (see `resume`). `progress`: a live bar on stderr
    (None: only at a terminal, unless DOCCAT_QUIET is set).
    """
    cfg = resolve_config(config, overrides)
    if out is not None and _checkpoints is None:
        Checkpoints.check(out, overwrite)  # refuse a taken `out` now, not after hours of training
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    splits = _in_memory_splits(cfg, texts, labels) if texts is not None else load_splits(cfg.data)
    log(f"data: {splits.summary()} docs, {len(splits.classes)} classes")
    t0 = time.perf_counter()
    m = cfg.model
    featurizer, train_enc = Featurizer.fit_encode(
        splits.train.texts, ngrams=m.ngrams, buckets=m.buckets, min_freq=m.min_freq, max_vocab=m.max_vocab,
        max_tokens=m.max_tokens, weighting=m.weighting, min_df=m.min_df)
    torch.manual_seed(cfg.train.seed)  # the initial weights are part of what the seed fixes
    model = BagClassifier(m, featurizer.num_features, len(splits.classes), sparse=uses_sparse_grads(cfg.train))
    clf = Classifier(cfg, featurizer, splits.classes, model)
    y_train = clf.label_ids(splits.train.labels, "train")
    y_valid = clf.label_ids(splits.valid.labels, "valid")
    valid_enc = featurizer.encode(splits.valid.texts)
    log(f"features: vocabulary {len(featurizer.vocab)}, n-grams up to {m.ngrams} in {m.buckets} buckets")
    if out is not None and _checkpoints is None:
        _checkpoints = Checkpoints.start(out, config_mod.to_dict(cfg), overwrite)
    try:
        clf.history_ = fit(model, train_enc, y_train, valid_enc, y_valid, cfg.train, log=log,
                           checkpoints=_checkpoints, batch_log=clf.batches_, progress=progress)
    except BaseException:
        if _checkpoints is not None:
            _checkpoints.abandon()
        raise
    train_seconds = time.perf_counter() - t0
    best = max(clf.history_, key=best_key)
    clf.metrics_ = {"train_seconds": train_seconds, "best_epoch": best["epoch"], "sizes": splits.summary(),
                    "peak_memory_mib": round(peak_memory_mib(), 1), "data": data_summary(splits),
                    "valid": clf.evaluate(splits.valid.texts, splits.valid.labels)}
    if splits.test is not None:
        clf.metrics_["test"] = clf.evaluate(splits.test.texts, splits.test.labels)
    if out is not None:
        clf.save(out, overwrite)
        _checkpoints.finish()
    return clf


def resume(out: str | Path, texts: list[str] | None = None, labels: list | None = None, *, log=print,
           progress: bool | None = None) -> Classifier:
    """Continue a killed `train(..., out=out)` from its last checkpoint, with the config it saved.

    The result equals that of an uninterrupted run. A run trained on `texts`/`labels` needs them again.
    """
    checkpoints, run = Checkpoints.reopen(out)
    return train(texts, labels, config=run["config"], out=checkpoints.out, overwrite=run["overwrite"], log=log,
                 progress=progress, _checkpoints=checkpoints)
