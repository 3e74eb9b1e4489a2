"""doccat.DocumentClassifier through scikit-learn's API on TREC: clone, Pipeline, cross_val_score, GridSearchCV.

    .venv/bin/python bench/sklearn_api.py [--data-dir ../shared/datasets] [--threads N]

The estimator trains on TREC's whole training split (load_splits' train + the validation split it carves:
5,452 questions) and carves its own validation split from what it is given; test: TREC's 500 questions.
Given the registry's training split in its own order, it carves what doccat.train carves: the same model.
Prints each figure as it comes, then all of them as JSON. Needs scikit-learn (the `bench` extra).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline

import doccat
from doccat.config import DataConfig
from doccat.data import load_splits, registry


def timed(results: dict, name: str, fn):
    t0 = time.perf_counter()
    value = fn()
    results[name] = {"value": value, "seconds": round(time.perf_counter() - t0, 2)}
    print(f"{name}: {value} ({results[name]['seconds']} s)", flush=True)
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default="/work/shared/datasets")
    ap.add_argument("--threads", type=int, default=None, help="torch's CPU threads (train.threads)")
    args = ap.parse_args()
    splits = load_splits(DataConfig(dataset="trec", data_dir=args.data_dir))
    X, y = splits.train.texts + splits.valid.texts, splits.train.labels + splits.valid.labels
    Xt, yt = splits.test.texts, splits.test.labels
    print(f"trec: {len(X)} train, {len(Xt)} test, {len(splits.classes)} classes", flush=True)
    base = doccat.DocumentClassifier(threads=args.threads)  # the default recipe
    results: dict = {}
    reference = doccat.train(dataset="trec", data_dir=args.data_dir, threads=args.threads, log=lambda *a: None,
                             progress=False)
    results["doccat.train(dataset='trec'): test accuracy (reference)"] = round(reference.metrics_["test"]["accuracy"], 4)
    raw = registry.get("trec").read(Path(args.data_dir) / registry.get("trec").folder, "train")
    same = clone(base).fit(*raw)  # the registry's training split in its order: the same carve as doccat.train's
    results["fit on the registry's train split in its order: same probabilities as doccat.train"] = bool(
        np.allclose(same.predict_proba(Xt), reference.predict_proba(Xt)[:, [reference.classes_.index(c)
                                                                             for c in same.classes_]]))
    for name, value in results.items():
        print(f"{name}: {value}", flush=True)
    copy = clone(base)
    assert copy.get_params() == base.get_params() and copy is not base
    pipe = Pipeline([("clf", clone(base))])
    timed(results, "Pipeline fit: test accuracy", lambda: round(pipe.fit(X, y).score(Xt, yt), 4))
    cv = timed(results, "cross_val_score(cv=3) on train: accuracy per fold",
               lambda: [round(float(s), 4) for s in cross_val_score(clone(base), X, y, cv=3)])
    results["cross_val_score mean"] = round(sum(cv) / len(cv), 4)
    search = GridSearchCV(clone(base), {"ngrams": [1, 2]}, cv=3)
    timed(results, "GridSearchCV(ngrams [1, 2], cv=3) on train: mean cv accuracy per ngrams", lambda: dict(zip(
        [p["ngrams"] for p in search.fit(X, y).cv_results_["params"]],
        [round(float(s), 4) for s in search.cv_results_["mean_test_score"]])))
    results["GridSearchCV best_params_"] = search.best_params_
    timed(results, "GridSearchCV best, refit on train: test accuracy", lambda: round(search.score(Xt, yt), 4))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
