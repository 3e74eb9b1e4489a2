"""Behaviour parity of a refactor: same config -> same predictions and test metrics, before and after.

    python bench/parity.py run OUT.json [--corpora trec,sst2] [--families linear,network]
    python bench/parity.py compare BEFORE.json AFTER.json

`run` trains every (corpus, family) in this process with whichever doccat is imported (set PYTHONPATH
to the checkout's src/ to measure that checkout) and records, per run: the test and valid headline
metrics (every top-level number of clf.metrics_[split], loss included), kept_epoch, train_seconds, the
number of features, and on the test split's texts the predictions (classify: argmax of predict_proba;
multilabel: the indicator rows of predict's labels; regression: predict's values) and the scores
(probabilities, or the values for regression) as float32: their sha256 and the array itself,
zlib-compressed and base64-encoded, so two runs can be compared number by number. The data folder is
$DOCCAT_DATA_DIR (else doccat's own default). A run that fails is recorded with its error; the rest go on.

`compare` prints a markdown table per (corpus, family): test headline metrics before/after, whether
every recorded metric is equal, how many predictions differ, the largest absolute score difference
and whether the score bytes are bit-identical. It always exits 0.

Families (settings fixed here so before/after stay comparable; change them only for both runs):
  linear   the default recipe, no overrides
  network  an embedding bag (32 dims) + one hidden layer of 32, Adam lr 0.01, batches of 64, 2 epochs
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
import traceback
import zlib
from importlib import metadata
from pathlib import Path

import numpy as np

CORPORA = ["ag_news", "20newsgroups", "imdb", "imdb_rating", "reuters21578", "sst2", "trec",
           "movie_review_polarity"]
DATA_OPTIONS = {"ag_news": {"from_split": "test", "test_fraction": 0.2}}  # as bench/run.py: only test.csv offline
FAMILIES = {
    "linear": {},
    "network": {"embed_dim": 32, "hidden": [32], "optimizer": "adam", "lr": 0.01, "batch_size": 64,
                "epochs": 2, "seed": 0},
}
HEADLINE = {"classify": ["accuracy", "macro_f1", "loss"], "multilabel": ["micro_f1", "macro_f1", "loss"],
            "regression": ["mae", "rmse", "r2", "loss"]}


# ---------------------------------------------------------------- arrays in JSON

def pack(a: np.ndarray) -> dict:
    """An array as JSON: dtype, shape, sha256 of its little-endian bytes, and the bytes zlib+base64."""
    a = np.ascontiguousarray(a, dtype=np.dtype(a.dtype).newbyteorder("<"))
    raw = a.tobytes()
    return {"dtype": a.dtype.str, "shape": list(a.shape), "sha256": hashlib.sha256(raw).hexdigest(),
            "zlib_b64": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


def unpack(d: dict) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(d["zlib_b64"])), dtype=d["dtype"]).reshape(d["shape"])


# ---------------------------------------------------------------- run

def provenance() -> dict:
    import doccat
    pkg = Path(doccat.__file__).resolve().parent

    def git(*args: str) -> str:
        r = subprocess.run(["git", "-C", str(pkg), *args], capture_output=True, text=True)
        return r.stdout.strip() if r.returncode == 0 else f"(git failed: {r.stderr.strip()})"
    versions = {}
    for name in ["torch", "numpy"]:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"doccat_file": doccat.__file__, "git_head": git("rev-parse", "HEAD"),
            "git_dirty": bool(git("status", "--porcelain", "--untracked-files=no")),
            "python": sys.version.split()[0], "versions": versions, "machine": platform.platform(),
            "cpus": os.cpu_count(), "data_dir": os.environ.get("DOCCAT_DATA_DIR"),
            "families": FAMILIES, "data_options": DATA_OPTIONS, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z")}


def headline(metrics: dict) -> dict:
    """The top-level numbers of a metrics dict (not per_class, not the confusion matrix)."""
    return {k: v for k, v in metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}


def outputs(clf, texts: list[str], task: str) -> tuple[np.ndarray, np.ndarray]:
    """(predictions, scores) on `texts`: see the module docstring."""
    if task == "regression":
        values = np.array([p.value for p in clf.predict(texts)], dtype=np.float32)
        return values, values
    if task == "multilabel":
        index = {c: i for i, c in enumerate(clf.classes_)}
        pred = np.zeros((len(texts), len(clf.classes_)), dtype=np.uint8)
        for row, p in enumerate(clf.predict(texts)):
            pred[row, [index[c] for c in p.labels]] = 1
        return pred, clf.predict_proba(texts).astype(np.float32)
    probs = clf.predict_proba(texts).astype(np.float32)
    return probs.argmax(axis=1).astype(np.int32), probs


def run_one(corpus: str, family: str, data_dir: str | None) -> dict:
    import doccat
    from doccat.config import DataConfig
    from doccat.data import load_splits
    options = {**DATA_OPTIONS.get(corpus, {}), **({"data_dir": data_dir} if data_dir else {})}
    splits = load_splits(DataConfig(dataset=corpus, **options))
    t0 = time.perf_counter()
    clf = doccat.train(dataset=corpus, **options, **FAMILIES[family], log=lambda *a: None, progress=False)
    wall = time.perf_counter() - t0
    pred, scores = outputs(clf, splits.test.texts, splits.task)
    m = clf.metrics_
    return {"task": splits.task, "n_classes": len(clf.classes_), "n_test": len(splits.test.texts),
            "test": headline(m.get("test", {})), "valid": headline(m.get("valid", {})),
            "kept_epoch": m.get("kept_epoch"), "train_seconds": m.get("train_seconds"), "wall_seconds": wall,
            "num_features": getattr(getattr(clf, "featurizer", None), "num_features", None),
            "pred": pack(pred), "scores": pack(scores)}


def run(out: Path, corpora: list[str], families: list[str]) -> None:
    data_dir = os.environ.get("DOCCAT_DATA_DIR")
    result = {"provenance": provenance(), "runs": {}}
    print(f"doccat from {result['provenance']['doccat_file']} at {result['provenance']['git_head']}", file=sys.stderr)
    t0 = time.perf_counter()
    for corpus in corpora:
        for family in families:
            t = time.perf_counter()
            try:
                rec = run_one(corpus, family, data_dir)
            except Exception as e:  # record it and go on
                rec = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
            result["runs"][f"{corpus}/{family}"] = rec
            print(f"{corpus}/{family}: {time.perf_counter() - t:.1f} s  "
                  f"{rec.get('error') or rec['test']}", file=sys.stderr, flush=True)
            result["total_seconds"] = time.perf_counter() - t0
            write_json(out, result)  # after every run: a crash keeps what was measured
    print(f"total {result['total_seconds']:.1f} s -> {out}", file=sys.stderr)


def write_json(path: Path, obj: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1))
    tmp.replace(path)


# ---------------------------------------------------------------- compare

def fmt_metrics(rec: dict) -> str:
    if "error" in rec:
        return f"ERROR {rec['error'][:60]}"
    return ", ".join(f"{k} {rec['test'][k]:.4f}" for k in HEADLINE[rec["task"]] if k in rec["test"])


def diff(a: dict, b: dict) -> dict:
    """How run b differs from run a."""
    same_metrics = all(a.get(k) == b.get(k) for k in ["test", "valid", "kept_epoch", "num_features"])
    pa, pb, sa, sb = unpack(a["pred"]), unpack(b["pred"]), unpack(a["scores"]), unpack(b["scores"])
    if pa.shape != pb.shape or sa.shape != sb.shape:
        return {"metrics": same_metrics, "pred": f"shape {pa.shape} vs {pb.shape}", "max": "-", "bits": False}
    rows_differ = (pa != pb).reshape(len(pa), -1).any(axis=1).sum() if len(pa) else 0
    with np.errstate(invalid="ignore"):
        max_abs = float(np.nanmax(np.abs(sa.astype(np.float64) - sb))) if sa.size else 0.0
    return {"metrics": same_metrics, "pred": f"{int(rows_differ)} / {len(pa)}", "max": f"{max_abs:.3g}",
            "bits": a["scores"]["sha256"] == b["scores"]["sha256"]}


def compare(before: Path, after: Path) -> None:
    a, b = json.loads(before.read_text()), json.loads(after.read_text())
    for name, r in [("before", a), ("after", b)]:
        p = r["provenance"]
        print(f"- {name}: `{p['doccat_file']}` at {p['git_head'][:12]}{' (dirty)' if p['git_dirty'] else ''}, "
              f"{r.get('total_seconds', 0):.0f} s")
    print("\n| corpus / family | test before | test after | metrics equal | predictions differing "
          "| max abs diff (scores) | scores bit-identical |\n|---|---|---|---|---|---|---|")
    for key in list(a["runs"]) + [k for k in b["runs"] if k not in a["runs"]]:
        ra, rb = a["runs"].get(key, {"error": "missing"}), b["runs"].get(key, {"error": "missing"})
        if "error" in ra or "error" in rb:
            d = {"metrics": "-", "pred": "-", "max": "-", "bits": "-"}
        else:
            d = diff(ra, rb)
        yes = {True: "yes", False: "**NO**"}
        print(f"| {key} | {fmt_metrics(ra)} | {fmt_metrics(rb)} | {yes.get(d['metrics'], d['metrics'])} "
              f"| {d['pred']} | {d['max']} | {yes.get(d['bits'], d['bits'])} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("out", type=Path)
    r.add_argument("--corpora", default=",".join(CORPORA))
    r.add_argument("--families", default=",".join(FAMILIES))
    c = sub.add_parser("compare")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    args = ap.parse_args()
    if args.cmd == "run":
        families = args.families.split(",")
        unknown = [f for f in families if f not in FAMILIES]
        if unknown:
            ap.error(f"unknown families {unknown}; known: {', '.join(FAMILIES)}")
        run(args.out, args.corpora.split(","), families)
    else:
        compare(args.before, args.after)


if __name__ == "__main__":
    main()
