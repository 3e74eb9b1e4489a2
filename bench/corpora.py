"""`doccat train` + `evaluate` + `predict` on every registry corpus present; prints a Markdown table.

    .venv/bin/python bench/corpora.py [--out runs/corpora] [extra train flags...]
"""
import json
import subprocess
import sys
import time
from pathlib import Path

# ag_news: only test.csv is available offline, so it is split 80/20 (as in the tutorial recipe)
EXTRA = {"ag_news": ["--from-split", "test", "--test-fraction", "0.2"]}
EXAMPLE = {
    "ag_news": "Stocks fall as oil prices climb to a record high",
    "20newsgroups": "My graphics card driver crashes when I open a window in X11",
    "imdb": "A wonderful film: great acting and a moving story",
    "sst2": "a wonderful film with great acting",
    "trec": "Who wrote Hamlet ?",
    "movie_review_polarity": "a dull , lifeless and predictable mess",
}


def doccat(*args):
    out = subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True)
    if out.returncode:
        raise SystemExit(f"doccat {' '.join(map(str, args))} failed:\n{out.stderr}")
    return out.stdout


def main(argv):
    root = Path(argv[argv.index("--out") + 1]) if "--out" in argv else Path("runs/corpora")
    flags = [a for i, a in enumerate(argv) if a != "--out" and (i == 0 or argv[i - 1] != "--out")]
    from doccat.data import dataset_dir
    from doccat.config import DataConfig
    from doccat.data.registry import REGISTRY
    data = dataset_dir(DataConfig())
    rows = ["| corpus | train / valid / test docs | test accuracy | test macro-F1 | evaluate accuracy "
            "| training seconds | wall seconds (train cmd) | predict example |", "|---|---|---|---|---|---|---|---|"]
    for name, spec in REGISTRY.items():
        if not all((data / spec.folder / f).exists() for f in spec.splits.get("test", spec.splits["train"])):
            continue
        run = root / name
        t0 = time.perf_counter()
        summary = json.loads(doccat("train", "--dataset", name, *EXTRA.get(name, []), *flags,
                                    "--out", run, "--overwrite", "--quiet"))
        wall = time.perf_counter() - t0
        ev = json.loads(doccat("evaluate", run))
        pred = json.loads(doccat("predict", run, EXAMPLE[name], "-k", 1).splitlines()[0])
        sizes = json.loads((run / "metrics.json").read_text())["sizes"]
        rows.append(f"| {name} | {sizes['train']} / {sizes['valid']} / {sizes['test']} | "
                    f"{summary['test_accuracy']:.4f} | {summary['test_macro_f1']:.4f} | {ev['accuracy']:.4f} | "
                    f"{summary['train_seconds']:.1f} | {wall:.1f} | {EXAMPLE[name]!r} -> {pred['labels'][0]} "
                    f"({pred['probs'][0]:.2f}) |")
        print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main(sys.argv[1:])
