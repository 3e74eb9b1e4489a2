"""One multi-label threshold for every label, or one per label? Measured on the validation split only (issue 23).

    .venv/bin/doccat train --dataset reuters21578 --out runs/reuters
    .venv/bin/python bench/thresholds.py runs/reuters

Outside CI. For the run's validation split (as the run carved it), both kinds of threshold are fitted on one
half and scored on the other, both ways, for 5 seeded halvings, so that neither is scored on the documents it
was fitted on: one threshold for all labels (doccat.metrics.best_threshold, what doccat does), and per label
the threshold of that label's best F1 (labels without a positive in the half keep the global one). Then both,
fitted on the whole validation split, on the test split, for the record: the choice is made on validation.
"""
from __future__ import annotations

import sys

import numpy as np

import doccat
from doccat.data import load_splits
from doccat.metrics import best_threshold, multilabel_report


def per_label(y: np.ndarray, p: np.ndarray, fallback: float) -> np.ndarray:
    """(L,) each label's F1-best threshold on indicators y and probabilities p, (n, L); `fallback` without positives."""
    return np.array([best_threshold(y[:, [j]], p[:, [j]], fallback) if y[:, j].any() else fallback
                     for j in range(y.shape[1])])


def scores(y: np.ndarray, p: np.ndarray, threshold) -> list[float]:
    r = multilabel_report(y, p >= threshold, [str(j) for j in range(y.shape[1])])
    return [r["micro_f1"], r["macro_f1"], r["hamming_loss"]]


def cross_fitted(y: np.ndarray, p: np.ndarray, halvings: int = 5) -> dict[str, np.ndarray]:
    """Mean (micro-F1, macro-F1, Hamming loss) on one half of (y, p) of thresholds fitted on the other."""
    rows: dict[str, list] = {"0.5": [], "one for all": [], "one per label": []}
    for seed in range(halvings):
        order = np.random.default_rng(seed).permutation(len(y))
        halves = order[: len(y) // 2], order[len(y) // 2:]
        for fit, held in (halves, halves[::-1]):
            common = best_threshold(y[fit], p[fit])
            rows["0.5"].append(scores(y[held], p[held], 0.5))
            rows["one for all"].append(scores(y[held], p[held], common))
            rows["one per label"].append(scores(y[held], p[held], per_label(y[fit], p[fit], common)))
    return {name: np.mean(values, axis=0) for name, values in rows.items()}


def main(run: str) -> None:
    clf = doccat.load(run)
    splits = load_splits(clf.config.data)
    (vy, vp), (ty, tp) = [(clf.targets(split.labels) > 0.5, clf.predict_proba(split.texts))
                          for split in (splits.valid, splits.test)]
    print(f"{run}: validation {len(vy):,} documents, test {len(ty):,}, {vy.shape[1]} labels\n")
    print("| thresholds | validation, cross-fitted halves: micro-F1 | macro-F1 | Hamming loss |\n|---|---|---|---|")
    for name, (micro, macro, hamming) in cross_fitted(vy, vp).items():
        print(f"| {name} | {micro:.4f} | {macro:.4f} | {hamming:.4f} |")
    common = best_threshold(vy, vp)
    print(f"\none for all, fitted on the whole validation split: {common:.4f}\n")
    print("| thresholds | test: micro-F1 | macro-F1 | Hamming loss |\n|---|---|---|---|")
    for name, t in (("0.5", 0.5), ("one for all", common), ("one per label", per_label(vy, vp, common))):
        micro, macro, hamming = scores(ty, tp, t)
        print(f"| {name} | {micro:.4f} | {macro:.4f} | {hamming:.4f} |")


if __name__ == "__main__":
    main(sys.argv[1])
