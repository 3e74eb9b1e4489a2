"""The classic course's training ideas, switched on one at a time and measured on real corpora (issue 4).

    .venv/bin/pip install -e '.[tune]' && .venv/bin/python bench/course.py [--quick] [--out-dir bench]

Outside CI. Everything goes through doccat's public API (`train_seeds`, `train`, `tune`) on corpora of
the data directory (../shared/datasets), and is written to COURSE.md and course.json in --out-dir:

- comparisons of one base network (an embedding bag of mean word vectors, one hidden layer, Adam,
  mini-batches of 64), one option changed per row, test accuracy mean +- std over 3 seeds and training
  seconds: the optimizer, the activation and dropout on AG News (an 80/20 split of its test.csv, the only
  file available offline), and the gradient-descent variants (full batch, stochastic, mini-batch) on TREC,
  whose short questions keep 5,000 single-document steps per epoch affordable;
- multi-label Reuters-21578 (ModApte R90) and regression on IMDb star ratings, with the default recipe;
- two `doccat tune` searches on movie_review_polarity (the "linear" and the "network" space) against the
  default recipe, on validation, and the best config's test score. (Not TREC: no config of the linear
  space beats the default recipe on TREC's validation split, the default's own knobs being best there.)

--quick (2 seeds, fewer epochs and trials, one regression loss) checks that it all runs.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AG = dict(dataset="ag_news", from_split="test", test_fraction=0.2)
TREC = dict(dataset="trec")
TUNED = dict(dataset="movie_review_polarity")  # the corpus of the tune searches
# the base network: EmbeddingBag(64, mean of word vectors) -> Linear(64) -> relu -> Linear(classes);
# a fixed number of epochs (no early stop), the best validation epoch kept
NETWORK = dict(embed_dim=64, hidden=[64], activation="relu", dropout=0.0, weighting="mean", ngrams=1, min_df=1,
               optimizer="adam", lr=1e-3, batch_size=64, epochs=10, weight_decay=0.0, patience=0, keep="best")
# full batch: tol 0, so a full-batch run stops early only if its training loss rises
GD = dict(NETWORK, epochs=3, tol=0.0)

# table -> (corpus options, base options, {row: what the row changes})
COMPARISONS = {
    "Optimizer": (AG, NETWORK, {"Adam, lr 0.001": {}, "SGD, lr 2": {"optimizer": "sgd", "lr": 2.0},
                                "SGD + momentum 0.9, lr 0.2": {"optimizer": "sgd", "lr": 0.2, "momentum": 0.9}}),
    "Activation": (AG, NETWORK, {"relu": {}, "tanh": {"activation": "tanh"}, "sigmoid": {"activation": "sigmoid"}}),
    "Dropout": (AG, NETWORK, {"0": {}, "0.5": {"dropout": 0.5}}),
    # updates per epoch on TREC's 4,906 training questions: full batch 1, mini-batch 77, stochastic 4,906
    "Gradient descent": (TREC, GD, {"full batch, 3 epochs (3 updates)": {"batch_size": 0},
                                    "full batch, 300 epochs (up to 300 updates)": {"batch_size": 0, "epochs": 300},
                                    "stochastic (batch 1), 1 epoch (4,906 updates)": {"batch_size": 1, "epochs": 1},
                                    "mini-batch (64), 3 epochs (231 updates)": {}}),
}
CORPUS_NAMES = {"ag_news": "AG News (80/20 of test.csv)", "trec": "TREC"}


def quiet(*_):
    pass


def comparisons(seeds: list[int], quick: bool, threads: int) -> dict:
    """Every table's rows, 3 seeds each; a row that repeats one already run (same options) is reused."""
    import doccat
    done, tables = {}, {}
    for name, (corpus, base, rows) in COMPARISONS.items():
        tables[name] = []
        for row, change in rows.items():
            options = {**corpus, **base, **change, "threads": threads}
            if quick:  # a check that it runs, not a measurement
                options["epochs"] = min(options["epochs"], {0: 30, 1: 1}.get(options["batch_size"], 2))
            key = json.dumps(options, sort_keys=True)
            if key not in done:
                print(f"{name}: {row}", file=sys.stderr, flush=True)
                done[key] = doccat.train_seeds(seeds, log=quiet, progress=False, **options)
            s = done[key]
            tables[name].append({"row": row, "corpus": corpus["dataset"], "options": options, **_figures(s)})
    return tables


def _figures(summary: dict) -> dict:
    keys = ("test_accuracy", "test_macro_f1", "valid_accuracy", "train_seconds")
    return {"seeds": summary["seeds"], "mean": {k: summary["mean"][k] for k in keys},
            "std": {k: summary["std"][k] for k in keys}}


def multilabel(threads: int) -> dict:
    """Reuters-21578 ModApte R90 with the default recipe: per-label sigmoid, BCE, threshold 0.5."""
    import doccat
    print("Reuters-21578", file=sys.stderr, flush=True)
    clf = doccat.train(dataset="reuters21578", threads=threads, log=quiet, progress=False)
    m = clf.metrics_
    return {"sizes": m["sizes"], "labels": len(clf.classes_), "train_seconds": m["train_seconds"],
            "test": {k: m["test"][k] for k in ("micro_f1", "macro_f1", "subset_accuracy", "hamming_loss")}}


def regression(quick: bool, threads: int) -> list[dict]:
    """IMDb star ratings (1-4, 7-10) with the default recipe's features, L2 (MSE) and L1 loss."""
    import doccat
    rows = []
    for loss in ["mse"] if quick else ["mse", "l1"]:
        print(f"IMDb ratings, {loss}", file=sys.stderr, flush=True)
        clf = doccat.train(dataset="imdb_rating", loss=loss, threads=threads, log=quiet, progress=False)
        m = clf.metrics_
        rows.append({"loss": loss, "sizes": m["sizes"], "train_seconds": m["train_seconds"],
                     "test": {k: m["test"][k] for k in ("mae", "rmse", "r2")}})
    return rows


def tuning(quick: bool, threads: int, work: Path) -> dict:
    """The default recipe on movie_review_polarity, then a search of each named space; all compared on
    validation."""
    import doccat
    print("movie_review_polarity, default recipe", file=sys.stderr, flush=True)
    default = doccat.train(**TUNED, threads=threads, log=quiet, progress=False).metrics_
    out = {"corpus": TUNED["dataset"], "default": {"valid_accuracy": default["valid"]["accuracy"],
                                                   "test_accuracy": default["test"]["accuracy"],
                                                   "train_seconds": default["train_seconds"]}, "searches": []}
    for space, trials in [("linear", 6 if quick else 25), ("network", 4 if quick else 20)]:
        print(f"{TUNED['dataset']}, tune --space {space} --trials {trials}", file=sys.stderr, flush=True)
        r = doccat.tune(**TUNED, space=space, trials=trials, threads=threads, out=work / f"tune-{space}", log=quiet,
                        progress=False)
        s = r.summary
        out["searches"].append({
            "space": space, "trials": s["trials"], "complete": s["complete"], "pruned": s["pruned"],
            "fail": s["fail"], "search_seconds": s["search_seconds"], "best_trial": s["best_trial"],
            "best_params": s["best_params"], "valid_accuracy": s["valid_accuracy"],
            "test_accuracy": s["final"]["test_accuracy"], "final_train_seconds": s["final"]["train_seconds"],
            "best_config": (work / f"tune-{space}" / "best.toml").read_text()})
    return out


def machine() -> dict:
    import torch
    import doccat

    def git(*args):
        return subprocess.run(["git", *args], capture_output=True, text=True, cwd=ROOT).stdout.strip()

    dirty = " (uncommitted changes)" if git("status", "--porcelain") else ""
    return {"cpus_usable": len(os.sched_getaffinity(0)), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__, "doccat": doccat.__version__,
            "git": git("rev-parse", "--short", "HEAD") + dirty}


def pct(mean: float, std: float | None = None) -> str:
    return f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")


def secs(mean: float, std: float | None = None) -> str:
    return f"{mean:.1f}" + (f" ± {std:.1f}" if std is not None else "")


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def markdown(report: dict) -> str:
    m = report["machine"]
    lines = ["# The classic course, measured", "",
             f"Generated by `{report['command']}` on {report['date']} in {report['seconds'] / 60:.1f} minutes "
             "(do not edit by hand: rerun it).", "",
             f"Machine: {m['cpus_usable']} usable CPUs, {m['platform']}; Python {m['python']}, torch {m['torch']} "
             f"({report['threads']} thread{'s' if report['threads'] > 1 else ''} per run); doccat {m['doccat']} "
             f"at git {m['git']}. 1-minute load average "
             f"{report['load'][0]:.1f} at the start, {report['load'][1]:.1f} at the end"
             + (" (busy: timings are inflated and noisy)" if max(report["load"]) > m["cpus_usable"] + 0.5 else "")
             + ".", ""]
    if report["quick"]:
        lines += ["**--quick: a check that the script runs (2 seeds, 2 epochs, few trials), not a measurement.**", ""]
    lines += ["## One option at a time", "",
              "The base network: an embedding bag (the mean of 64-dimensional word vectors, words only) -> "
              "one hidden layer of 64 -> relu -> the classes; Adam, lr 0.001, mini-batches of 64, 10 epochs "
              "(the gradient-descent table: as its rows say), no weight decay, the best validation epoch kept. "
              "Each row changes what it says. Accuracy and macro-F1 on the test split in %, mean ± standard "
              "deviation (n - 1) "
              f"over seeds {', '.join(map(str, report['seeds']))} (`doccat train --seeds`); training seconds "
              "(featurizing included), the same.", ""]
    for name, rows in report["comparisons"].items():
        corpus = CORPUS_NAMES[rows[0]["corpus"]]
        lines += [f"### {name}, on {corpus}", ""]
        lines += table(["setting", "test accuracy", "test macro-F1", "valid accuracy", "train s"], [
            [r["row"], pct(r["mean"]["test_accuracy"], r["std"]["test_accuracy"]),
             pct(r["mean"]["test_macro_f1"], r["std"]["test_macro_f1"]),
             pct(r["mean"]["valid_accuracy"], r["std"]["valid_accuracy"]),
             secs(r["mean"]["train_seconds"], r["std"]["train_seconds"])] for r in rows])
        lines.append("")
    ml = report["multilabel"]
    lines += ["## Multi-label: Reuters-21578 (ModApte, R90)", "",
              f"The default recipe (TF-IDF 1-2-grams, linear, L-BFGS) with one sigmoid per topic, binary "
              f"cross-entropy and a 0.5 threshold; {ml['labels']} topics, {ml['sizes']['train']} train / "
              f"{ml['sizes']['valid']} valid / {ml['sizes']['test']} test stories; test split, in % "
              "(one run: a full-batch L-BFGS fit from zeros does not depend on the seed).", ""]
    ml_t = ml["test"]
    lines += table(["micro-F1", "macro-F1", "subset accuracy", "Hamming loss", "train s"],
                   [[pct(ml_t["micro_f1"]), pct(ml_t["macro_f1"]), pct(ml_t["subset_accuracy"]),
                     pct(ml_t["hamming_loss"]), secs(ml["train_seconds"])]]) + [""]
    reg = report["regression"]
    lines += ["## Regression: IMDb star ratings", "",
              f"The default recipe's features (TF-IDF 1-2-grams, linear) predicting the rating (1-4 and 7-10 stars; "
              f"{reg[0]['sizes']['train']} train / {reg[0]['sizes']['test']} test reviews), the target "
              "standardized for training; test split. R² = 0 is predicting the mean rating.", ""]
    lines += table(["loss", "MAE (stars)", "RMSE (stars)", "R²", "train s"],
                   [[r["loss"], f"{r['test']['mae']:.3f}", f"{r['test']['rmse']:.3f}", f"{r['test']['r2']:.3f}",
                     secs(r["train_seconds"])] for r in reg]) + [""]
    t = report["tuning"]
    d = t["default"]
    lines += [f"## `doccat tune` on {t['corpus']}", "",
              "Each search (TPE, seed 0, pruning per epoch) trains on the train split and scores the "
              "validation split only; the best config is then trained once more and scored on the test split once. "
              "`linear`: the default recipe's weight decay, n-grams, min_df and weighting; `network`: the "
              "mini-batch network's optimizer, lr, batch size, epochs, embedding, hidden layer, activation, dropout, "
              "n-grams, weighting and weight decay (see `doccat.tune.SPACES`).", ""]
    rows = [["default recipe (no search)", "", pct(d["valid_accuracy"]), pct(d["test_accuracy"]), "", ""]]
    for s in t["searches"]:
        beats = "beats" if s["valid_accuracy"] > d["valid_accuracy"] else "does not beat"
        rows.append([f"tune --space {s['space']} ({beats} the default on valid)",
                     f"{s['trials']} ({s['complete']} complete, {s['pruned']} pruned, {s['fail']} failed)",
                     pct(s["valid_accuracy"]), pct(s["test_accuracy"]), secs(s["search_seconds"]),
                     ", ".join(f"{k} {_short(v)}" for k, v in s["best_params"].items())])
    lines += table(["", "trials", "valid accuracy", "test accuracy", "search s", "best trial's values"], rows) + [""]
    return "\n".join(lines)


def _short(v) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a check that it runs: 2 seeds, 2 epochs, few trials")
    p.add_argument("--out-dir", default=str(Path(__file__).parent), help="where COURSE.md and course.json go")
    # One thread by default: a batch of one document is a few tiny tensor operations, which a second
    # thread only slows down (on a busy machine, by ten times), and the rows' seconds stay comparable.
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for every run (default 1)")
    args = p.parse_args(argv)
    import doccat  # noqa: F401  (imported before the clock starts)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    seeds = [0, 1] if args.quick else [0, 1, 2]
    t0, load0 = time.perf_counter(), os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as work:
        report = {"command": "python bench/course.py" + (" --quick" if args.quick else ""), "quick": args.quick,
                  "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                  "machine": machine(), "threads": args.threads, "seeds": seeds,
                  "comparisons": comparisons(seeds, args.quick, args.threads), "multilabel": multilabel(args.threads),
                  "regression": regression(args.quick, args.threads),
                  "tuning": tuning(args.quick, args.threads, Path(work))}
    report["seconds"], report["load"] = time.perf_counter() - t0, [load0, os.getloadavg()[0]]
    (out_dir / "course.json").write_text(json.dumps(report, indent=2) + "\n")
    (out_dir / "COURSE.md").write_text(markdown(report))
    print(f"wrote {out_dir / 'COURSE.md'} and {out_dir / 'course.json'} in {report['seconds'] / 60:.1f} min",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
