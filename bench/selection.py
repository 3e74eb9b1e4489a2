"""How the default recipe is chosen without the test splits: holdout on the training data of 18 corpora.

    DOCCAT_DATA_DIR=../shared/datasets .venv/bin/python bench/selection.py [--corpora trec,masakhanews_som] [--seed 7]

For each corpus (bench/wide.py's 18), a seeded stratified 20% of its training data (the registry's train and
validation splits together) is held out as a pseudo-test split; the real test split is never read. Every
candidate in GRID (character n-gram lengths x NB scale x C) is fit on the rest as the default recipe fits it
(doccat's Featurizer, model.nb_scale, solver.solve: featurized once per character setting) and scored on the
pseudo-test split, beside scikit-learn's TF-IDF word(1,2) and word + char_wb(1,4) + LinearSVC (bench/wide.py's
peers) on the same documents. Writes bench/SELECTION.md and bench/selection.json.
"""
from __future__ import annotations

import argparse
import datetime
import itertools
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import wide  # noqa: E402  the corpora, and (through run.py) how each is loaded

ROOT = Path(__file__).resolve().parents[1]
CHARS = {"none": None, "1-4": (1, 4), "2-5": (2, 5), "3-5": (3, 5)}
NB = [0.0, 0.5]
C = [0.5, 1.0, 2.0]
GRID = [f"chars {c}, nb {nb:g}, C {cc:g}" for c, nb, cc in itertools.product(CHARS, NB, C)]
PEERS = {"sklearn-word": wide.SYSTEMS["sklearn-word"], "sklearn-word-char": wide.SYSTEMS["sklearn-word-char"]}


def pseudo_splits(corpus: str, seed: int):
    """(train texts, train labels, pseudo-test texts, pseudo-test labels) from the corpus's training data."""
    from doccat.data.split import stratified_split
    s = wide.load(corpus)
    texts, labels = s.train.texts + s.valid.texts, s.train.labels + s.valid.labels
    kept, held = stratified_split(labels, 0.2, seed)
    return ([texts[i] for i in kept], [labels[i] for i in kept], [texts[i] for i in held], [labels[i] for i in held])


def scores(y: np.ndarray, pred: np.ndarray) -> dict:
    from sklearn.metrics import f1_score
    return {"accuracy": float((y == pred).mean()), "macro_f1": float(f1_score(y, pred, average="macro"))}


def doccat_grid(train, y, test, y_test, classes: int) -> dict:
    """Every candidate's pseudo-test scores and seconds (featurizing is shared by a character setting's candidates)."""
    from doccat.config import ModelConfig
    from doccat.model import nb_scale
    from doccat.solver import csr, signs, solve
    from doccat.text import Featurizer, Tokens
    m, out = ModelConfig(), {}
    outputs = 1 if classes == 2 else classes
    for name, chars in CHARS.items():
        t0 = time.perf_counter()
        f, enc = Featurizer.fit_encode(Tokens.of(train), ngrams=m.ngrams, buckets=m.buckets, min_freq=m.min_freq,
                                       max_vocab=m.max_vocab, max_tokens=m.max_tokens, weighting=m.weighting,
                                       min_df=m.min_df, chars=chars)
        X, X_test = csr(enc, f.num_features), csr(f.encode(test), f.num_features)
        featurize = time.perf_counter() - t0
        for nb, c in itertools.product(NB, C):
            t0 = time.perf_counter()
            scale = nb_scale(enc, y, f.num_features, outputs, nb).numpy() if nb else None
            W, b = solve(X, signs(y, outputs), c, scale)
            seconds = featurize + time.perf_counter() - t0
            s = np.asarray(X_test @ (W if scale is None else W * scale)) + b
            pred = (s[:, 0] > 0).astype(int) if outputs == 1 else s.argmax(1)
            out[f"chars {name}, nb {nb:g}, C {c:g}"] = {**scores(y_test, pred), "seconds": seconds}
    return out


def peer(system: str, train, labels, test, test_labels) -> dict:
    from sklearn.svm import LinearSVC
    import peers
    vec = (peers.sklearn_word_vectorizer if system == "sklearn-word" else peers.sklearn_word_char_vectorizer)()
    t0 = time.perf_counter()
    clf = LinearSVC().fit(vec.fit_transform(train), labels)
    seconds = time.perf_counter() - t0
    pred = clf.predict(vec.transform(test))
    return {**scores(np.array(test_labels), pred), "seconds": seconds}


def run_corpus(corpus: str, seed: int) -> dict:
    train, labels, test, test_labels = pseudo_splits(corpus, seed)
    classes = sorted(set(labels))
    ids = {c: i for i, c in enumerate(classes)}
    y, y_test = np.array([ids[c] for c in labels]), np.array([ids.get(c, -1) for c in test_labels])
    result = doccat_grid(train, y, test, y_test, len(classes))
    for system in PEERS:
        result[system] = peer(system, train, labels, test, test_labels)
    return {"train_docs": len(train), "pseudo_test_docs": len(test), "classes": len(classes), "results": result}


def summary(report: dict) -> list[dict]:
    """Each candidate over the corpora: mean macro-F1 and accuracy, its margin over the better peer, wins."""
    corpora = report["corpora"]
    rows = []
    for name in GRID:
        margins = [c["results"][name]["macro_f1"] - max(c["results"][p]["macro_f1"] for p in PEERS)
                   for c in corpora.values()]
        rows.append({"candidate": name,
                     "macro_f1": statistics.mean(c["results"][name]["macro_f1"] for c in corpora.values()),
                     "accuracy": statistics.mean(c["results"][name]["accuracy"] for c in corpora.values()),
                     "margin": statistics.mean(margins), "wins": sum(m >= 0 for m in margins),
                     "seconds": sum(c["results"][name]["seconds"] for c in corpora.values())})
    return sorted(rows, key=lambda r: -r["macro_f1"])


def markdown(report: dict) -> str:
    rows = summary(report)
    lines = ["# Choosing the default recipe on pseudo-test splits carved from the training data", "",
             f"Generated by `bench/selection.py` on {report['date']} (seed {report['seed']}, {report['minutes']:.1f} "
             f"minutes, git {report['git']}). Pseudo-test scores in % (20% of each corpus's training data, held out; "
             "the test splits are never read). A candidate: character n-gram lengths (of each word; none: words and "
             "word bigrams only), NB scale (model.nb), C (train.weight_decay = 1 / (C * documents)), fit by liblinear "
             "as the default recipe is. Margin: macro-F1 minus the better scikit-learn peer's on that corpus; wins: "
             f"corpora where it is >= 0, of {len(report['corpora'])}.", "",
             "## Candidates, best mean macro-F1 first", "",
             "| candidate | mean macro-F1 | mean accuracy | mean margin | wins | seconds in all |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['candidate']} | {100 * r['macro_f1']:.2f} | {100 * r['accuracy']:.2f} | {100 * r['margin']:+.2f} "
              f"| {r['wins']} | {r['seconds']:.1f} |" for r in rows]
    best = rows[0]["candidate"]
    lines += ["", f"## Per corpus: the best candidate ({best}) beside the peers", "",
              "| corpus | train docs | classes | best candidate macro-F1 / acc | sklearn word | sklearn word+char |",
              "|---|---|---|---|---|---|"]
    for corpus, c in report["corpora"].items():
        cell = [f"{100 * c['results'][k]['macro_f1']:.2f} / {100 * c['results'][k]['accuracy']:.2f}"
                for k in (best, *PEERS)]
        lines.append(f"| {corpus} | {c['train_docs']:,} | {c['classes']} | " + " | ".join(cell) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", help="comma-separated (default: bench/wide.py's 18)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, default=ROOT / "bench" / "selection.json", help="where the results go")
    parser.add_argument("--render", nargs="*", type=Path, help="run nothing: merge these runs' JSON files (in "
                        "corpus order) into --json and rewrite SELECTION.md from it")
    args = parser.parse_args(argv)
    path = args.json
    if args.render is not None:
        parts = [json.loads(p.read_text()) for p in args.render] or [json.loads(path.read_text())]
        report = {**parts[0], "minutes": sum(p["minutes"] for p in parts),
                  "corpora": {c: r for p in parts for c, r in p["corpora"].items()}}
        report["corpora"] = {c: report["corpora"][c] for c in wide.CORPORA if c in report["corpora"]}
        path.write_text(json.dumps(report, indent=1))
        (ROOT / "bench" / "SELECTION.md").write_text(markdown(report))
        return 0
    t0 = time.time()
    report = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "seed": args.seed,
              "git": os.popen(f"git -C {ROOT} rev-parse --short HEAD").read().strip(), "corpora": {}}
    for corpus in args.corpora.split(",") if args.corpora else wide.CORPORA:
        report["corpora"][corpus] = run_corpus(corpus, args.seed)
        r = report["corpora"][corpus]["results"]
        top = max(GRID, key=lambda k: r[k]["macro_f1"])
        print(f"{corpus}: best {top} {r[top]['macro_f1']:.4f}; sklearn word {r['sklearn-word']['macro_f1']:.4f}, "
              f"word+char {r['sklearn-word-char']['macro_f1']:.4f} ({(time.time() - t0) / 60:.1f} min)", flush=True)
        report["minutes"] = (time.time() - t0) / 60
        path.write_text(json.dumps(report, indent=1))
    (ROOT / "bench" / "SELECTION.md").write_text(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
