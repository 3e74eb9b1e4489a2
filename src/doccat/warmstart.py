"""Continue training a saved model on new documents (train.init_from).

    saved run --load--> Start (its classifier: featurizer, classes, weights; the documents it learned from)
    config + Start --fixed--> the new run's config: the saved model section, the training section as given
    new documents --> the same featurizer and classes --> trained from the saved model

The saved run fixes what the features and the classes are. Its vocabulary, n-gram buckets, columns and idf
are kept as saved: a word the saved vocabulary lacks counts through its hashed character n-grams and word
n-gram buckets where training saw them, as at prediction, and a feature no saved training document had is
not a column (a new vocabulary would give the saved weights nothing to mean). A label the saved model does
not know is an error: a class needs weights learned from its documents beside all the others'.

liblinear (the default recipe) solves exactly on the documents it is given, so starting it from the saved
weights would only forget them: its solution on the new documents is averaged with the saved weights
instead, each side weighted by the documents it learned from (one-shot parameter mixing, Mann et al. 2009),
the share each would have in a model of both. Every other optimizer starts from the saved weights and
trains on the new documents, as fastText continues: a few mini-batch epochs keep much of what it knew;
lbfgs, to convergence, forgets it (recipe.unused warns).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch

from .config import Config, ConfigError, ModelConfig
from .data import DataError, Splits


@dataclass
class Start:
    """A saved run to continue from: its classifier and the documents its weights learned from."""

    path: str
    classifier: object  # doccat.classifier.Classifier, loaded
    documents: int  # training documents behind its weights (over every run it continued, too)


def checked(clf, path: str) -> Start:
    """The Start of a loaded saved run `clf` (doccat.classifier.load(path)): a bag classifier."""
    if clf.config.model.encoder:
        raise ConfigError(f"train.init_from {path}: a run with a pretrained encoder cannot be continued (its head "
                          "learned on the encoder's embeddings); train it again on the old and new documents")
    if clf.task == "regression":
        raise ConfigError(f"train.init_from {path}: a regression's target scale was fixed by its own data; "
                          "train it again on the old and new documents")
    metrics = clf.metrics_ or {}
    return Start(str(path), clf, int(metrics.get("documents_learned", metrics.get("sizes", {}).get("train", 0))))


def fixed_config(cfg: Config, start: Start) -> Config:
    """`cfg` with the saved run's model section (its resolved featurizer and network) and task: a model
    setting given that differs from the saved one is an error, not silently dropped."""
    saved, default = start.classifier.config, ModelConfig()
    differs = [f.name for f in dataclasses.fields(ModelConfig)
               if getattr(cfg.model, f.name) != getattr(default, f.name)
               and getattr(cfg.model, f.name) != getattr(saved.model, f.name)]
    if differs:
        raise ConfigError(f"model.{differs[0]}: train.init_from {start.path} keeps the saved model's features and "
                          f"layers ({', '.join(f'model.{k}' for k in differs)} given otherwise); leave them unset, "
                          "or train from scratch without --init-from")
    if cfg.data.task not in ("auto", saved.data.task):
        raise ConfigError(f"data.task {cfg.data.task}: the saved run at {start.path} is a {saved.data.task} model")
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, task=saved.data.task), model=saved.model)


def saved_classes(splits: Splits, start: Start) -> Splits:
    """`splits` with the saved model's classes, in its order; a label it does not know is an error."""
    clf = start.classifier
    if splits.task != clf.task:
        raise DataError(f"the new data reads as a {splits.task} task; the saved run at {start.path} is {clf.task}")
    unknown = sorted(set(splits.classes) - set(clf.class_names))
    if unknown:
        raise DataError(f"train: label(s) {', '.join(map(repr, unknown[:5]))} are not among the saved model's classes "
                        f"({', '.join(clf.class_names[:20])}): a continued model keeps its classes; to add some, "
                        f"train from scratch on the old and new documents together (without --init-from)")
    return dataclasses.replace(splits, classes=list(clf.class_names))


@torch.no_grad()
def mix(model, start: Start, documents: int) -> None:
    """Average `model`'s bag weights and biases (trained on `documents` new ones, its scale folded) with the
    saved model's, each weighted by the documents it learned from."""
    share = start.documents / max(start.documents + documents, 1)
    model.fold_scale()
    saved = start.classifier.model
    model.bag.weight.mul_(1 - share).add_(saved.bag.weight, alpha=share)
    model.head.bias.mul_(1 - share).add_(saved.head.bias, alpha=share)


def documents_learned(start: Start | None, documents: int) -> int:
    """What metrics.json records as the documents behind the weights: the saved run's and the new ones."""
    return documents + (start.documents if start is not None else 0)


def saved_weights(model, start: Start) -> None:
    """`model` (built from the saved config) starts from the saved weights: the non-liblinear optimizers' start."""
    model.load_state_dict(start.classifier.model.state_dict())
    model.scale = None  # the saved weights carry their scale folded in

