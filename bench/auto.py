"""`--recipe auto` on the six English corpora at full size, beside each of its candidates (`--recipe bag`, the
default, and `--recipe fewlabel`): test accuracy, what auto chose and why, training seconds. Writes bench/AUTO.md
and bench/auto.json.

    .venv/bin/python bench/auto.py [--corpora ag_news,20newsgroups,...]
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
CORPORA = "ag_news,20newsgroups,imdb,sst2,trec,movie_review_polarity"
EXTRA = {"ag_news": ["--from-split", "test", "--test-fraction", "0.2"]}  # only test.csv offline (bench/corpora.py)
RECIPES = ("auto", "bag", "fewlabel")


def train(name: str, recipe: str, data_dir: str, work: Path) -> dict:
    out = work / f"{name}-{recipe}"
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "doccat", "train", "--dataset", name, "--data-dir", data_dir,
                           *EXTRA.get(name, []), "--recipe", recipe, "--out", out, "--overwrite", "--quiet"],
                          capture_output=True, text=True, env={**os.environ, "DOCCAT_QUIET": "1"})
    if done.returncode:
        raise SystemExit(f"{name} --recipe {recipe} failed:\n{done.stderr}")
    summary, metrics = json.loads(done.stdout), json.loads((out / "metrics.json").read_text())
    return {"accuracy": summary["test_accuracy"], "valid_accuracy": summary["valid_accuracy"],
            "train_seconds": summary["train_seconds"], "wall_seconds": time.perf_counter() - t0,
            "train_docs": metrics["sizes"]["train"], "choice": metrics.get("recipe")}


def markdown(report: dict) -> str:
    lines = ["# `--recipe auto` on the six English corpora at full size", "",
             f"{report['when']}, git {report['commit']}, load average at start {report['load']}, {os.cpu_count()} CPUs. "
             "`bench/auto.py`: each corpus trained three times, `--recipe auto`, `bag` (the default) and `fewlabel`; "
             "test accuracy in %, training seconds (metrics.json). AG News: 80/20 of its test.csv.", "",
             "| corpus | train docs | auto chose | why | auto | bag | fewlabel | auto - better candidate (pts) | "
             "within 1 pt | auto s | bag s | fewlabel s |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in report["corpora"].items():
        auto, better = r["auto"], max(r["bag"]["accuracy"], r["fewlabel"]["accuracy"])
        gap = 100 * (auto["accuracy"] - better)
        lines.append(f"| {name} | {auto['train_docs']:,} | {auto['choice']['chosen']} | {auto['choice']['reason']} | "
                     f"{100 * auto['accuracy']:.2f} | {100 * r['bag']['accuracy']:.2f} | "
                     f"{100 * r['fewlabel']['accuracy']:.2f} | {gap:+.2f} | {'MET' if gap >= -1 else 'MISSED'} | "
                     f"{auto['train_seconds']:.1f} | {r['bag']['train_seconds']:.1f} | "
                     f"{r['fewlabel']['train_seconds']:.1f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpora", default=CORPORA)
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "datasets"))
    p.add_argument("--work", default="/tmp/doccat-auto")
    args = p.parse_args(argv)
    report = {"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
              "commit": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                       cwd=HERE).stdout.strip(),
              "load": " ".join(f"{x:.2f}" for x in os.getloadavg()), "corpora": {}}
    for name in args.corpora.split(","):
        report["corpora"][name] = {r: train(name, r, args.data_dir, Path(args.work)) for r in RECIPES}
        print(json.dumps({name: report["corpora"][name]}), file=sys.stderr, flush=True)
        (HERE / "auto.json").write_text(json.dumps(report, indent=1))
    (HERE / "AUTO.md").write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
