"""Seeded carving of one split out of another: stratified by class (classify), else uniformly random."""
from __future__ import annotations

import numpy as np


def stratified_split(labels: list[str], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, carved): about `fraction` of each class goes to `carved`, chosen by `seed`.

    Every class with at least two examples keeps one and gives one, so both sides see it.
    """
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    carved = []
    for cls in np.unique(labels):
        idx = np.flatnonzero(labels == cls)
        rng.shuffle(idx)
        n = int(round(fraction * len(idx)))
        if len(idx) >= 2:
            n = min(max(n, 1), len(idx) - 1)
        carved.append(idx[:n])
    carved = np.sort(np.concatenate(carved)) if carved else np.zeros(0, dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), carved)
    return kept, carved


def random_split(n: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, carved): round(fraction * n) rows chosen by `seed` go to `carved`; with n >= 2
    both sides get at least one.

    For multilabel and regression targets, which have no single class to stratify on: this is what
    scikit-learn's train_test_split does without `stratify`. (Stratifying on a document's first label
    would balance an arbitrary one of its labels and still not keep the rare ones on both sides.)
    """
    n_carved = int(round(fraction * n))
    if n >= 2:
        n_carved = min(max(n_carved, 1), n - 1)
    carved = np.sort(np.random.default_rng(seed).permutation(n)[:n_carved])
    return np.setdiff1d(np.arange(n), carved), carved
