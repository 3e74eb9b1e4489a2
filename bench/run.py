"""Benchmark doccat's default recipe against its peers on every corpus present (issue 3).

    .venv/bin/python bench/run.py [--corpora trec,imdb] [--quick] [--no-autotune]

Needs the `bench` extra: `.venv/bin/pip install -e '.[bench]'` (fastText, scikit-learn).
For each corpus, the splits are loaded once through doccat's registry and written to a temporary
folder, so every system sees exactly the same train / valid / test texts. Then each system runs,
one after the other, in its own process (bench/peers.py), so its peak memory is its own; --repeat
times (default 3, fresh processes; medians of the timings). Writes BENCHMARKS.md (repo root) and
bench/results.json. --quick skips fastText's autotune (60 s per corpus).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

SYSTEMS = {  # key (bench/peers.py) -> row name in the tables
    "doccat-default": "doccat default recipe",
    "fasttext-paper": "fastText, paper recipe",
    "fasttext-autotune": "fastText autotune (60 s)",
    "sklearn-tfidf-svm": "scikit-learn TF-IDF(1,2) + LinearSVC",
    "tutorial": "classic tutorial recipe (doccat)",
}
PEERS = [s for s in SYSTEMS if s != "doccat-default"]
# ag_news: only test.csv is available offline, so it is split 80/20 (as in the tutorial recipe)
DATA_OPTIONS = {"ag_news": {"from_split": "test", "test_fraction": 0.2}}
LARGE, SMALL = ["imdb", "20newsgroups", "sst2"], ["ag_news", "trec", "movie_review_polarity"]
ALL_CORPORA = 6
# a prefix for the systems' command lines (none here); bench/wide.py puts coreutils' timeout in front, which
# forks the system, so that its ru_maxrss is its own: spawned straight from here, it starts from this one's peak
LAUNCHER: list[str] = []


def present_corpora() -> list[str]:
    from doccat.config import DataConfig
    from doccat.data import dataset_dir
    from doccat.data.registry import REGISTRY
    data = dataset_dir(DataConfig())
    return [name for name, spec in REGISTRY.items() if spec.task == "classify"  # the peers classify
            and all((data / spec.folder / f).exists() for f in spec.splits.get("test", spec.splits["train"]))]


def prepare(corpus: str, work: Path) -> dict:
    """Write the corpus's splits as jsonl (doccat, scikit-learn) and tokenized fastText files."""
    from doccat.config import DataConfig
    from doccat.data import load_splits
    return write_splits(load_splits(DataConfig(dataset=corpus, **DATA_OPTIONS.get(corpus, {}))), work)


def write_splits(s, work: Path) -> dict:
    """Write loaded splits (doccat.data.Splits, left unchanged) as `prepare` does; bench/wide.py reuses it."""
    import copy
    from doccat.text import tokenize
    s = copy.copy(s)  # the caller's Splits keeps its own training order
    # Registry files are often sorted by class (movie_review_polarity, imdb: all neg, then all pos).
    # fastText reads its file in order without shuffling and learns little from sorted data, so every
    # system gets the training docs in one seeded shuffled order (doccat reshuffles every epoch anyway).
    order = list(range(len(s.train)))
    random.Random(0).shuffle(order)
    s.train = s.train.take(order)
    label_id = {c: i for i, c in enumerate(s.classes)}
    t0 = time.perf_counter()
    for name, split in [("train", s.train), ("valid", s.valid), ("test", s.test)]:
        with open(work / f"{name}.jsonl", "w", encoding="utf-8") as f:
            f.writelines(json.dumps({"label": y, "text": x}, ensure_ascii=False) + "\n"
                         for x, y in zip(split.texts, split.labels))
        # fastText reads whitespace-separated words: lowercase and split punctuation off first,
        # as the fastText paper's preprocessing does; labels become class indices (no spaces)
        with open(work / f"ft_{name}.txt", "w", encoding="utf-8") as f:
            f.writelines(f"__label__{label_id[y]} {' '.join(tokenize(x))}\n" for x, y in zip(split.texts, split.labels))
    (work / "meta.json").write_text(json.dumps({"classes": s.classes}))
    return {"sizes": s.summary(), "classes": s.classes, "test_labels": s.test.labels,
            "fasttext_prep_seconds": time.perf_counter() - t0}


def run_system(system: str, work: Path, timeout: float) -> dict:
    log = work / f"{system}.log"
    t0 = time.perf_counter()
    try:
        with open(log, "w") as err:
            proc = subprocess.run([*LAUNCHER, sys.executable, str(ROOT / "bench" / "peers.py"), system, str(work)],
                                  stdout=err, stderr=err, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    out = work / f"{system}.json"
    if proc.returncode or not out.exists():
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        return {"error": f"exit {proc.returncode}: " + " / ".join(tail)}
    result = json.loads(out.read_text())
    result["process_seconds"] = time.perf_counter() - t0
    return result


def repeated(system: str, work: Path, args, prepared: dict) -> dict:
    """`system` run args.repeat times, each in a fresh process: the mean test accuracy and macro-F1 (a
    multi-threaded fastText is not deterministic: its accuracy moves from run to run), the median
    training seconds and prediction throughput (one run on this shared 2-core VM can be off by half),
    the largest peak memory, every run's figures under "runs". fastText autotune runs once: its
    training time is its 60-second budget."""
    runs = [run_system(system, work, args.timeout) for _ in range(1 if system == "fasttext-autotune" else args.repeat)]
    failed = next((r for r in runs if "error" in r), None)
    if failed:
        return failed
    runs = [score(r, prepared) for r in runs]
    keys = ("accuracy", "macro_f1", "train_seconds", "wall_seconds", "predict_docs_per_s", "peak_rss_mib",
            "process_seconds")
    result = {**runs[0], **{k: statistics.mean(r[k] for r in runs) for k in keys[:2]},
              **{k: statistics.median(r[k] for r in runs) for k in keys[2:5]}}
    result["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    result["runs"] = [{k: r[k] for k in keys} for r in runs]
    return result


def score(result: dict, prepared: dict) -> dict:
    """Accuracy and macro-F1 from the same function for every system."""
    from doccat.metrics import classification_report
    index = {c: i for i, c in enumerate(prepared["classes"])}
    rep = classification_report([index[y] for y in prepared["test_labels"]],
                                [index[y] for y in result.pop("pred")], prepared["classes"])
    result.update(accuracy=rep["accuracy"], macro_f1=rep["macro_f1"])
    if "evaluate_accuracy" in result and abs(result["evaluate_accuracy"] - rep["accuracy"]) > 1e-9:
        print(f"warning: {result['system']}: clf.evaluate accuracy {result['evaluate_accuracy']:.4f} "
              f"differs from the shared metric's {rep['accuracy']:.4f}", file=sys.stderr)
    return result


# ---- targets -------------------------------------------------------------------------------------

def figure(results: dict, corpus: str, system: str, key: str):
    r = results.get(corpus, {}).get(system, {})
    return r.get(key)


def accuracy_target(results: dict, peer: str, need: int) -> tuple[str, str]:
    """doccat's accuracy >= the peer's on at least `need` of the 6 corpora."""
    wins, losses = [], []
    for corpus in results:
        mine, theirs = figure(results, corpus, "doccat-default", "accuracy"), figure(results, corpus, peer, "accuracy")
        if mine is not None and theirs is not None:
            (wins if mine >= theirs else losses).append(f"{corpus} {100 * (mine - theirs):+.1f}")
    status = "met" if len(wins) >= need else "missed" if ALL_CORPORA - len(losses) < need else "not measured"
    text = f"≥ on {len(wins)} of {len(wins) + len(losses)} measured (pts: {', '.join(wins + losses) or '-'})"
    return status, text


def ratio_target(results, corpus, peer, key, limit, higher_is_better=False) -> tuple[str, str]:
    mine, theirs = figure(results, corpus, "doccat-default", key), figure(results, corpus, peer, key)
    if mine is None or theirs is None:
        return "not measured", "-"
    ratio = mine / theirs
    ok = ratio >= limit if higher_is_better else ratio <= limit
    unit = "docs/s" if key == "predict_docs_per_s" else "s"
    return ("met" if ok else "missed"), f"{ratio:.2f}x ({mine:,.1f} vs {theirs:,.1f} {unit})"


def absolute_target(results, corpus, key, limit, unit) -> tuple[str, str]:
    mine = figure(results, corpus, "doccat-default", key)
    if mine is None:
        return "not measured", "-"
    return ("met" if mine <= limit else "missed"), f"{mine:,.1f} {unit} (limit {limit:g} {unit})"


def targets(results: dict) -> list[tuple[str, str, str]]:
    rows = [
        ("accuracy ≥ scikit-learn TF-IDF + LinearSVC on ≥ 5 of 6 corpora", *accuracy_target(results, "sklearn-tfidf-svm", 5)),
        ("accuracy ≥ fastText paper recipe on all 6 corpora", *accuracy_target(results, "fasttext-paper", 6)),
        ("accuracy ≥ fastText autotune on all 6 corpora", *accuracy_target(results, "fasttext-autotune", 6)),
    ]
    rows += [(f"{c}: training time ≤ 1.0x scikit-learn's", *ratio_target(results, c, "sklearn-tfidf-svm", "train_seconds", 1.0))
             for c in LARGE]
    rows += [(f"{c}: training time < 5 s", *absolute_target(results, c, "train_seconds", 5.0, "s")) for c in SMALL]
    rows += [
        ("imdb: training time ≤ 2.0x fastText paper recipe's",
         *ratio_target(results, "imdb", "fasttext-paper", "train_seconds", 2.0)),
        ("imdb: prediction docs/s ≥ fastText paper recipe's",
         *ratio_target(results, "imdb", "fasttext-paper", "predict_docs_per_s", 1.0, higher_is_better=True)),
        ("imdb: prediction docs/s ≥ fastText autotune's",
         *ratio_target(results, "imdb", "fasttext-autotune", "predict_docs_per_s", 1.0, higher_is_better=True)),
        ("imdb: peak memory during training ≤ 2 GiB",
         *absolute_target(results, "imdb", "peak_rss_mib_train", 2048, "MiB")),
    ]
    return rows


# ---- report --------------------------------------------------------------------------------------

def table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def machine() -> dict:
    import numpy
    import torch
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")

    def version(dist):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return "not installed"

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    return {"cpu_count": os.cpu_count(), "cpus_usable": len(os.sched_getaffinity(0)), "cpu_model": cpu,
            "platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "numpy": numpy.__version__,
            "scikit-learn": version("scikit-learn"), "fasttext-numpy2": version("fasttext-numpy2"),
            "doccat": version("doccat"), "git": git + (" (uncommitted changes)" if dirty else "")}


def markdown(report: dict) -> str:
    m, results = report["machine"], report["results"]
    lines = ["# doccat benchmarks", "",
             f"Generated by `{report['command']}` on {report['date']} (do not edit by hand: rerun it).", "",
             f"Machine: {m['cpus_usable']} usable CPUs of {m['cpu_count']} ({m['cpu_model']}), {m['platform']}; "
             f"Python {m['python']}, torch {m['torch']} ({m['torch_threads']} threads), numpy {m['numpy']}, "
             f"scikit-learn {m['scikit-learn']}, fasttext-numpy2 {m['fasttext-numpy2']}; doccat {m['doccat']} "
             f"at git {m['git']}.", ""]
    loads = [r[k] for per in results.values() for r in per.values() for k in ("load_before", "load_after")]
    if loads:
        busy = max(loads) > m["cpus_usable"] + 0.5
        lines += [f"1-minute load average around the systems' runs: {min(loads):.1f} to {max(loads):.1f} "
                  f"on {m['cpus_usable']} CPUs" + (" (the machine was busy with other work: timings are "
                                                   "inflated and noisy; rerun on an idle machine)" if busy else "")
                  + ".", ""]
    if report["skipped"]:
        lines += [f"Skipped in this run: {', '.join(SYSTEMS[s] for s in report['skipped'])}.", ""]
    lines += ["Columns: accuracy and macro-F1 on the test split in %, one metric function "
              "(`doccat.metrics.classification_report`) for all systems; training seconds measured in "
              "process (doccat: `clf.metrics_['train_seconds']`, featurizing included; scikit-learn: "
              "vectorizer fit + SVM fit; fastText: `train_supervised`, on text tokenized beforehand); "
              "wall seconds: the whole `doccat.train` call (reads the files, trains, evaluates valid and test); "
              "prediction docs/s: one batch over the test split from raw text (fastText: from the "
              "pre-tokenized text, its own speed), the fastest of at least 3 calls; peak memory: the "
              "system's process `ru_maxrss` (interpreter, imports and data included) after training / at "
              "the end. " + (f"Each system ran {report['repeat']} times, each in a fresh process (fastText "
              "autotune once: its training time is its budget): accuracy and macro-F1 are the means (fastText "
              "on 2 threads is not deterministic), training and wall seconds and prediction throughput the "
              "medians, peak memory the largest; every run's figures are in bench/results.json." if report.get("repeat", 1) > 1 else "One run per system."), ""]
    for corpus, per_system in results.items():
        info = report["corpora"][corpus]
        sizes = info["sizes"]
        lines += [f"## {corpus}", "",
                  f"{sizes['train']} train / {sizes['valid']} valid / {sizes['test']} test docs, "
                  f"{len(info['classes'])} classes; fastText preprocessing (not in its training time): "
                  f"{info['fasttext_prep_seconds']:.2f} s.", ""]
        rows = []
        for system, r in per_system.items():
            if "error" in r:
                rows.append([SYSTEMS[system], f"failed: {r['error']}"] + [""] * 6)
                continue
            rows.append([SYSTEMS[system], f"{100 * r['accuracy']:.2f}", f"{100 * r['macro_f1']:.2f}",
                         f"{r['train_seconds']:.2f}", f"{r['wall_seconds']:.2f}", f"{r['predict_docs_per_s']:,.0f}",
                         f"{r['peak_rss_mib_train']:,.0f}", f"{r['peak_rss_mib']:,.0f}"])
        lines += table(["system", "accuracy", "macro-F1", "train s", "wall s", "predict docs/s",
                        "peak MiB (train)", "peak MiB (end)"], rows) + [""]
    rows = []
    for corpus, per_system in results.items():
        mine = per_system.get("doccat-default", {})
        for peer in PEERS:
            theirs = per_system.get(peer, {})
            if "accuracy" not in mine or "accuracy" not in theirs:
                continue
            rows.append([corpus, SYSTEMS[peer], f"{100 * (mine['accuracy'] - theirs['accuracy']):+.2f}",
                         f"{100 * (mine['macro_f1'] - theirs['macro_f1']):+.2f}",
                         f"{mine['train_seconds'] / theirs['train_seconds']:.2f}x",
                         f"{mine['predict_docs_per_s'] / theirs['predict_docs_per_s']:.2f}x",
                         f"{mine['peak_rss_mib_train'] / theirs['peak_rss_mib_train']:.2f}x"])
    lines += ["## doccat's default recipe against each peer", "",
              "Accuracy and macro-F1 differences in points (positive: doccat better); training time and "
              "peak memory as doccat / peer (below 1: doccat faster / smaller); prediction throughput as "
              "doccat / peer (above 1: doccat faster).", ""]
    lines += table(["corpus", "peer", "Δ accuracy (pts)", "Δ macro-F1 (pts)", "training time ratio",
                    "prediction throughput ratio", "peak memory ratio"], rows) + [""]
    lines += ["## Targets (issue 3)", "",
              "A target is `not measured` when this run lacks the corpora or systems it needs.", ""]
    lines += table(["target", "status", "measured"], [list(t) for t in report["targets"]]) + [""]
    return "\n".join(lines + other_benchmarks())


def other_benchmarks() -> list[str]:
    """The other scripts' reports: streaming and processes quoted as last written (bench/scale.py runs
    apart, for minutes), the others linked."""
    lines = ["## Other benchmarks", "",
             "Each written by its own script, in its own run: `bench/COURSE.md` (`bench/course.py`: the "
             "course's training ideas on real corpora), `bench/PRETRAINED.md` (`bench/pretrained.py`: bag "
             "vs sentence encoder vs combined; `bench/PRETRAINED-mpnet.md` with all-mpnet-base-v2), "
             "`bench/SELECTION.md` (`bench/selection.py`: how the default recipe was chosen, the peer beside it), "
             "`bench/WIDE.md` (`bench/wide.py`: 18 corpora in three scripts, its targets quoted here), "
             "`bench/SCALE.md` (`bench/scale.py`), quoted here:", ""]
    lines += wide_targets()
    scale = Path(__file__).with_name("SCALE.md")
    if scale.exists():
        lines += ["#" + line if line.startswith("#") else line for line in scale.read_text().splitlines()]
    return lines + [""]


def wide_targets() -> list[str]:
    """bench/WIDE.md's header and targets table, as it last wrote them (the wide run takes ~25 minutes)."""
    wide = Path(__file__).with_name("WIDE.md")
    if not wide.exists():
        return []
    text = wide.read_text()
    generated = next((line for line in text.splitlines() if line.startswith("Generated by")), "")
    body = text.split("## Targets (issue 21)", 1)[-1].split("\n## ", 1)[0] if "## Targets (issue 21)" in text else ""
    return ["## Wide benchmark: targets (issue 21)", "", generated, "", body.strip(), ""] if body else []


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--corpora", help="comma-separated registry names (default: every corpus present)")
    ap.add_argument("--quick", action="store_true", help="skip fastText autotune (60 s per corpus)")
    ap.add_argument("--no-autotune", action="store_true", help="skip fastText autotune")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds allowed per system and corpus")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each system (fresh processes): medians reported")
    ap.add_argument("--render", action="store_true",
                    help="run nothing: write BENCHMARKS.md again from bench/results.json (e.g. after bench/scale.py)")
    args = ap.parse_args(argv)
    if args.render:
        (ROOT / "BENCHMARKS.md").write_text(markdown(json.loads((ROOT / "bench" / "results.json").read_text())))
        return 0
    present = present_corpora()
    corpora = present
    if args.corpora:
        corpora = [c.strip() for c in args.corpora.split(",") if c.strip()]
        missing = [c for c in corpora if c not in present]
        if missing:
            ap.error(f"not present in the data directory: {', '.join(missing)} (present: {', '.join(present)})")
    skipped = ["fasttext-autotune"] if args.quick or args.no_autotune else []
    systems = [s for s in SYSTEMS if s not in skipped]
    report = {"command": " ".join([".venv/bin/python", "bench/run.py", *(argv if argv is not None else sys.argv[1:])]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": machine(), "skipped": skipped, "repeat": args.repeat, "corpora": {}, "results": {}}
    failed = False
    for corpus in corpora:
        with tempfile.TemporaryDirectory(prefix=f"doccat-bench-{corpus}-") as tmp:
            work = Path(tmp)
            prepared = prepare(corpus, work)
            report["corpora"][corpus] = {k: v for k, v in prepared.items() if k != "test_labels"}
            report["results"][corpus] = {}
            for system in systems:
                print(f"{corpus}: {system} ...", file=sys.stderr, flush=True)
                load = os.getloadavg()[0]  # other work on a shared machine skews the timings: record it
                r = repeated(system, work, args, prepared)
                r["load_before"], r["load_after"] = load, os.getloadavg()[0]
                if "error" in r:
                    failed = True
                    print(f"  failed: {r['error']}", file=sys.stderr)
                else:
                    print(f"  accuracy {r['accuracy']:.4f}, train {r['train_seconds']:.2f} s, "
                          f"{r['predict_docs_per_s']:,.0f} docs/s, peak {r['peak_rss_mib']:,.0f} MiB",
                          file=sys.stderr, flush=True)
                report["results"][corpus][system] = r
    report["targets"] = targets(report["results"])
    (ROOT / "bench" / "results.json").write_text(json.dumps(report, indent=1) + "\n")
    (ROOT / "BENCHMARKS.md").write_text(markdown(report))
    print(f"wrote {ROOT / 'BENCHMARKS.md'} and {ROOT / 'bench' / 'results.json'}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
