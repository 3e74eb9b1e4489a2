"""How the default recipe is chosen without the test splits: nested holdout on the training data.

    DOCCAT_DATA_DIR=../shared/datasets .venv/bin/python bench/selection.py [--corpora trec,imdb] [--seeds 7,8]

For each corpus, a seeded stratified 20% of its training data (the registry's train and validation
splits together) is held out as a pseudo-test split; every recipe in RECIPES trains on the rest (and
carves its own validation split from it, as `doccat.train` does) and is scored on the pseudo-test
split. The real test split is never read. A recipe's validation accuracy flatters it when validation
also picks its epoch (the max of a noisy curve); the pseudo-test split picks nothing, so recipes that
stop early and recipes trained to convergence compare fairly. The peer, scikit-learn's TF-IDF(1,2) +
LinearSVC as bench/run.py runs it, is scored beside them, trained on the documents doccat trains on. Writes bench/SELECTION.md and
bench/selection.json.
"""
from __future__ import annotations

import argparse
import datetime
import json
import platform
import statistics
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORPORA = ["trec", "movie_review_polarity", "ag_news", "sst2", "imdb", "20newsgroups"]
DATA_OPTIONS = {"ag_news": {"from_split": "test", "test_fraction": 0.2}}  # as bench/run.py
RECIPES = {  # name -> config overrides on top of the defaults
    "linear SVM, words (the default two stops ago)": dict(nb=0, tol=1e-3, char_ngrams=[]),
    "NBSVM, words (the default before)": dict(char_ngrams=[]),
    "NBSVM + character 2-5-grams": dict(char_ngrams=[2, 5]),
    "NBSVM + character 3-5-grams, always": dict(char_ngrams=[3, 5]),
    "NBSVM + character 3-5-grams up to 500k training tokens (the default)": dict(),
}
PEER = "scikit-learn TF-IDF(1,2) + LinearSVC (the peer)"


def pseudo_splits(corpus: str, seed: int):
    """(train texts, train labels, pseudo-test texts, pseudo-test labels) from the corpus's training data."""
    from doccat.config import DataConfig
    from doccat.data import load_splits
    from doccat.data.split import stratified_split
    s = load_splits(DataConfig(dataset=corpus, **DATA_OPTIONS.get(corpus, {})))
    texts, labels = s.train.texts + s.valid.texts, s.train.labels + s.valid.labels
    kept, held = stratified_split(labels, 0.2, seed)
    return ([texts[i] for i in kept], [labels[i] for i in kept], [texts[i] for i in held], [labels[i] for i in held])


def peer(texts: list[str], labels: list[str], test_texts: list[str], test_labels: list[str]) -> dict:
    """The peer trained on what `doccat.train(texts, labels)` trains on: its validation split carved out."""
    from doccat.config import DataConfig
    from doccat.data.split import stratified_split
    from peers import sklearn_fit
    # carved as doccat.train carves in-memory data (classifier._in_memory_splits)
    kept, _ = stratified_split(labels, DataConfig.valid_fraction, DataConfig.split_seed + 1)
    t0 = time.perf_counter()
    predict = sklearn_fit([texts[i] for i in kept], [labels[i] for i in kept])
    seconds = time.perf_counter() - t0
    accuracy = sum(p == y for p, y in zip(predict(test_texts), test_labels)) / len(test_labels)
    return {"recipe": PEER, "epochs": None, "accuracy": accuracy, "train_seconds": seconds}


def main() -> None:
    import doccat
    warnings.filterwarnings("ignore")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", default=",".join(CORPORA))
    ap.add_argument("--seeds", default="7,8")
    args = ap.parse_args()
    seeds = [int(x) for x in args.seeds.split(",")]
    rows, t0 = [], time.perf_counter()
    for corpus in args.corpora.split(","):
        for seed in seeds:
            tr_t, tr_y, te_t, te_y = pseudo_splits(corpus, seed)
            for name, overrides in RECIPES.items():
                clf = doccat.train(tr_t, tr_y, log=lambda *a: None, progress=False, **overrides)
                rows.append({"corpus": corpus, "seed": seed, "recipe": name, "epochs": len(clf.history_),
                             "accuracy": clf.evaluate(te_t, te_y)["accuracy"],
                             "train_seconds": clf.metrics_["train_seconds"]})
                print(json.dumps(rows[-1]), flush=True)
            rows.append({"corpus": corpus, "seed": seed, **peer(tr_t, tr_y, te_t, te_y)})
            print(json.dumps(rows[-1]), flush=True)
    write(rows, seeds, time.perf_counter() - t0)


def cell_text(row: dict) -> str:
    epochs = f"{row['epochs']} ep, " if row["epochs"] else ""  # the peer has no epochs
    return f"{100 * row['accuracy']:.2f} ({epochs}{row['train_seconds']:.1f} s)"


def write(rows: list[dict], seeds: list[int], seconds: float) -> None:
    corpora = list(dict.fromkeys(r["corpus"] for r in rows))
    cell = {(r["corpus"], r["seed"], r["recipe"]): r for r in rows}
    columns = [*RECIPES, PEER]
    lines = ["# Choosing the default recipe on pseudo-test splits carved from the training data", "",
             f"Generated by `bench/selection.py` on {datetime.date.today()} ({platform.machine()}, "
             f"{len(seeds)} seeds: {', '.join(map(str, seeds))}; {seconds / 60:.1f} minutes). Pseudo-test accuracy in % "
             "(20% of each corpus's training data, held out; the test splits are never read), "
             "epochs run, and training seconds.", "",
             "| corpus | seed | " + " | ".join(columns) + " |", "|---|---|" + "---|" * len(columns)]
    for c in corpora:
        for s in seeds:
            lines.append(f"| {c} | {s} | " + " | ".join(
                cell_text(cell[c, s, n]) for n in columns) + " |")
    mean = {n: statistics.mean(r["accuracy"] for r in rows if r["recipe"] == n) for n in columns}
    total = {n: sum(r["train_seconds"] for r in rows if r["recipe"] == n) for n in columns}
    lines += [f"| mean | | " + " | ".join(f"{100 * mean[n]:.2f} ({total[n]:.1f} s in all)" for n in columns) + " |", ""]
    (ROOT / "bench" / "SELECTION.md").write_text("\n".join(lines))
    (ROOT / "bench" / "selection.json").write_text(json.dumps({"seeds": seeds, "recipes": RECIPES, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
