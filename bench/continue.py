"""Continue training (`doccat train --init-from`): each corpus's training split cut in two halves at random;
old-only (trained on the first), continued (the old run, then --init-from it on the second), new-only, and
old + new from scratch: test accuracy, training seconds (metrics.json's train_seconds: reading the new files,
featurizing, solving, scoring; the continued run's includes loading the old one) and the whole process's wall
seconds, median of --repeats runs side by side. Writes bench/CONTINUE.md and bench/continue.json.

    .venv/bin/python bench/continue.py [--corpora 20newsgroups,imdb,...] [--repeats 3]
"""
import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DEFAULT = "20newsgroups,imdb,ag_news,trec,masakhanews_som,chnsenticorp"
SYSTEMS = ("old", "continued", "new", "scratch")


def splits(name: str, data_dir: str):
    """The corpus's train / valid / test as doccat reads them (AG News: its test.csv, 80/20, as bench/corpora.py)."""
    from doccat import config
    from doccat.data import load_splits
    extra = {"from_split": "test", "test_fraction": 0.2} if name == "ag_news" else {}
    return load_splits(config.from_dict({"data": {"dataset": name, "data_dir": data_dir, **extra}}).data)


def write(path: Path, texts, labels) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(zip(labels, texts))
    return path


def files(name: str, data_dir: str, work: Path) -> dict:
    """old.csv / new.csv / all.csv (the two halves, seed 0), valid.csv, test.csv; and their documents."""
    s = splits(name, data_dir)
    order = np.random.default_rng(0).permutation(len(s.train))
    half = len(order) // 2
    parts = {"old": order[:half], "new": order[half:], "all": order}
    out = {k: write(work / f"{k}.csv", *zip(*[(s.train.texts[i], s.train.labels[i]) for i in idx]))
           for k, idx in parts.items()}
    out |= {k: write(work / f"{k}.csv", split.texts, split.labels) for k, split in (("valid", s.valid), ("test", s.test))}
    return out, {"old": half, "new": len(order) - half, "valid": len(s.valid), "test": len(s.test)}


def train(work: Path, run: str, train_file: Path, f: dict, *extra) -> dict:
    """One `doccat train` process: its summary, metrics' train_seconds and the process's wall seconds."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "doccat", "train", "--train", train_file, "--valid", f["valid"],
                          "--test", f["test"], "--out", work / run, "--overwrite", "--quiet", *extra],
                         capture_output=True, text=True, env={**os.environ, "DOCCAT_QUIET": "1"})
    wall = time.perf_counter() - t0
    if out.returncode:
        raise SystemExit(f"doccat train {run} failed:\n{out.stderr}")
    summary = json.loads(out.stdout)
    return {"accuracy": summary["test_accuracy"], "macro_f1": summary["test_macro_f1"],
            "train_seconds": summary["train_seconds"], "wall_seconds": wall}


def measure(name: str, data_dir: str, work: Path, repeats: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    f, sizes = files(name, data_dir, work)
    rows = {s: [] for s in SYSTEMS}
    for _ in range(repeats):  # side by side, in turn: a busy spell slows all four alike
        rows["old"].append(train(work, "old", f["old"], f))
        rows["continued"].append(train(work, "continued", f["new"], f, "--init-from", work / "old"))
        rows["new"].append(train(work, "new", f["new"], f))
        rows["scratch"].append(train(work, "scratch", f["all"], f))
    return {"sizes": sizes, **{s: {k: statistics.median(r[k] for r in rs) for k in rs[0]} for s, rs in rows.items()}}


def markdown(report: dict) -> str:
    lines = ["# Continue training: old half, then --init-from it on the new half, against both halves from scratch",
             "", f"{report['when']}, git {report['commit']}, load average at start {report['load']}, "
             f"{os.cpu_count()} CPUs; median of {report['repeats']} runs side by side. `bench/continue.py`.", "",
             "Each corpus's training split (doccat's own, validation carved as usual; AG News: 80/20 of its test.csv) "
             "is cut at random (seed 0) in two halves; every run is scored on the corpus's full test split. Seconds: "
             "metrics.json's `train_seconds` (reading, featurizing, solving, scoring; the continued run's includes "
             "loading the old run) and the `doccat train` process's wall time.", "",
             "| corpus | old / new docs | old only | continued | new only | old + new from scratch | continued - scratch "
             "| continued / scratch seconds (train, wall) | within 0.5 pts, less time |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, r in report["corpora"].items():
        gap = 100 * (r["continued"]["accuracy"] - r["scratch"]["accuracy"])
        ratio = r["continued"]["train_seconds"] / r["scratch"]["train_seconds"]
        wall = r["continued"]["wall_seconds"] / r["scratch"]["wall_seconds"]
        met = "MET" if gap >= -0.5 and ratio < 1 else "MISSED"
        cell = lambda s: f"{100 * r[s]['accuracy']:.2f} ({r[s]['train_seconds']:.1f} s)"
        lines.append(f"| {name} | {r['sizes']['old']:,} / {r['sizes']['new']:,} | {cell('old')} | {cell('continued')} | "
                     f"{cell('new')} | {cell('scratch')} | {gap:+.2f} | {ratio:.2f}x, {wall:.2f}x | {met} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpora", default=DEFAULT)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "datasets"))
    p.add_argument("--work", default="/tmp/doccat-continue")
    args = p.parse_args(argv)
    report = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "repeats": args.repeats,
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                       cwd=HERE).stdout.strip(),
              "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "corpora": {}}
    for name in args.corpora.split(","):
        report["corpora"][name] = measure(name, args.data_dir, Path(args.work) / name, args.repeats)
        print(json.dumps({name: report["corpora"][name]}), file=sys.stderr, flush=True)
    (HERE / "continue.json").write_text(json.dumps(report, indent=1))
    (HERE / "CONTINUE.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
