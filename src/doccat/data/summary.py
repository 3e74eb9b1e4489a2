"""What the data is, measured: the statistics the recipe is resolved from, and the summary metrics.json keeps.

The same numbers come from files, in-memory texts or a stream (doccat.data.stream), so that one
function (doccat.recipe.resolve) turns the config and these statistics into the recipe.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ..text import count_tokens


@dataclass(frozen=True)
class Stats:
    """The training split, measured."""

    task: str  # classify | multilabel | regression
    classes: list[str]  # class names in label-id order (multilabel: labels, sorted; regression: none)
    documents: int
    tokens: int
    class_counts: list[int]  # training documents per class (multilabel: per label), in `classes` order
    target_mean: float = 0.0  # regression: the training targets' mean and standard deviation (1 if they
    target_std: float = 1.0  # do not vary), by which the model's output is standardized
    labels: list | None = None  # the classes as labels were given in memory (integers), when not as names
    target_range: tuple[float, float] | None = None  # regression: the training targets' (min, max)

    @classmethod
    def of(cls, splits, tokens: int) -> "Stats":
        """The statistics of in-memory `splits` (doccat.data.Splits) whose training texts have `tokens` tokens."""
        labels = splits.train.labels
        if splits.task == "regression":
            y = np.asarray(labels, dtype=np.float64)
            return cls(splits.task, [], len(labels), tokens, [], float(y.mean()), float(y.std()) or 1.0,
                       target_range=(float(y.min()), float(y.max())))
        counts = Counter(x for row in labels for x in row) if splits.task == "multilabel" else Counter(labels)
        given = [splits.values[c] for c in splits.classes] if splits.values else None
        return cls(splits.task, splits.classes, len(labels), tokens, [counts[c] for c in splits.classes], labels=given)


def data_summary(splits) -> dict:
    """Per split: documents per class (per label; the target's spread for regression) and the
    document length in tokens (quantiles, histogram).

    Computed at training time and kept in metrics.json, so a report needs no access to the data.
    """
    return {name: split_summary(len(split), count_tokens(split.texts), split.labels, splits.task)
            for name in ("train", "valid", "test") if (split := getattr(splits, name)) is not None}


def split_summary(documents: int, lengths: np.ndarray, labels: list, task: str) -> dict:
    """One split's entry of the data summary, from its documents' lengths in tokens and labels."""
    lengths = lengths if len(lengths) else np.zeros(1, dtype=int)
    top = max(int(np.percentile(lengths, 99)), 1)  # the long tail would squash every other bin
    width = -(-(top + 1) // 20)  # whole tokens per bin, the same for every bin: at most 20 bins
    edges = np.arange(0, top + width + 1, width)  # bin i: lengths edges[i] .. edges[i+1] - 1; the last, and more
    hist, _ = np.histogram(np.minimum(lengths, top), bins=edges)
    return {
        "documents": documents,
        **_label_summary(labels, task),
        "length_tokens": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                          "mean": round(float(lengths.mean()), 1), "p90": float(np.percentile(lengths, 90)),
                          "max": int(lengths.max())},
        "length_histogram": {"edges": edges.tolist(), "counts": hist.tolist()},
    }


def _label_summary(labels: list, task: str) -> dict:
    if task == "regression":
        y = np.asarray(labels, dtype=float) if labels else np.zeros(1)
        return {"target": {"min": float(y.min()), "mean": round(float(y.mean()), 4), "median": float(np.median(y)),
                           "max": float(y.max()), "std": round(float(y.std()), 4)}}
    flat = [x for row in labels for x in row] if task == "multilabel" else labels
    names, counts = np.unique(np.array(flat, dtype=object), return_counts=True) if flat else ([], [])
    summary = {"per_class": {str(c): int(n) for c, n in zip(names, counts)}}
    if task == "multilabel":
        summary["labels_per_document"] = round(len(flat) / max(len(labels), 1), 3)
    return summary
