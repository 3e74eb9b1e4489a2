"""Seeded, stratified carving of one split out of another."""
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
