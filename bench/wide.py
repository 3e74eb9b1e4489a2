"""A wide benchmark: doccat's default recipe and four peers on 18 corpora and 6 small-corpus shapes (issue 21).

    .venv/bin/python bench/wide.py [--quick] [--corpora trec,ag_news@200] [--repeat N]
    .venv/bin/python bench/wide.py --busy [--quick]    # doccat and scikit-learn word+char under load
    .venv/bin/python bench/wide.py --render            # rewrite bench/WIDE.md from bench/wide.json

Corpora: the six English ones bench/run.py uses, the nine MasakhaNEWS languages (their own
train/dev/test), the three Chinese review corpora (a seeded 20 % test split); shapes NAME@N: N training
documents drawn (seeded, in proportion to the classes) from NAME's training split, N/10 from its
validation split, scored on its full test split. Systems: doccat's default recipe, scikit-learn TF-IDF
word(1,2) and word(1,2) + char_wb(1,4) (min_df 2, sublinear) + LinearSVC, fastText's paper recipe
with and without its character n-grams (minn 2, maxn 5). The machinery is bench/run.py's: every
corpus is loaded once, its splits written once, each system run in its own process (bench/peers.py),
scored by one metric function; `doccat train` is also timed as a whole process, as a user runs it.

--busy starts one CPU-bound process per usable core (each stops itself after --busy-limit seconds and
is stopped when a pair is done, on errors and on ctrl-C too) and runs doccat and scikit-learn word+char
idle, then under that load, on the selected corpora (at least four): their busy / idle time ratios.
Each run keeps the other part (idle / busy) of bench/wide.json and writes bench/WIDE.md from both.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  bench/run.py: prepare, repeated, machine, table

ROOT = run.ROOT
ENGLISH = ["ag_news", "20newsgroups", "imdb", "sst2", "trec", "movie_review_polarity"]
MASAKHANEWS = [f"masakhanews_{lang}" for lang in ("ibo", "lin", "lug", "orm", "pcm", "run", "sna", "som", "xho")]
CHINESE = ["online_shopping_10_cats", "chnsenticorp", "waimai_10k"]
CORPORA = ENGLISH + MASAKHANEWS + CHINESE
SHAPES = [f"{base}@{n}" for base in ("ag_news", "20newsgroups", "masakhanews_xho") for n in (200, 1000)]
QUICK = ["trec", "movie_review_polarity", "masakhanews_xho", "masakhanews_som", "chnsenticorp",
         "ag_news@200", "masakhanews_xho@200"]
SYSTEMS = {  # key in bench/peers.py -> row name
    "doccat-default": "doccat default recipe",
    "sklearn-word": "scikit-learn TF-IDF word(1,2) + LinearSVC (min_df 2; run.py's peer has min_df 1)",
    "sklearn-word-char": "scikit-learn TF-IDF word(1,2) + char_wb(1,4) + LinearSVC (min_df 2)",
    "fasttext-paper": "fastText, paper recipe",
    "fasttext-char": "fastText, paper recipe + char n-grams (minn 2, maxn 5)",
}
BUSY_SYSTEMS = ["doccat-default", "sklearn-word-char"]
# spawned straight from this process (torch, a corpus in memory), a system's ru_maxrss would start from this
# process's peak RSS (Linux carries it over fork and exec); coreutils' timeout forks the system, which resets
# it, and stops it before run.py's own timeout would kill only the launcher (main sets the seconds); setpriv
# (util-linux), where present, stops the system when the launcher is killed (this process stopped)
LAUNCHER = ["timeout", "--foreground", "--kill-after=10"]
DEATH = ["setpriv", "--pdeathsig", "TERM"] if shutil.which("setpriv") else []


# ---- data ------------------------------------------------------------------------------------------

def load(corpus: str):
    """The corpus's splits through doccat's registry, as run.py's `prepare` loads them."""
    from doccat.config import DataConfig
    from doccat.data import load_splits
    return load_splits(DataConfig(dataset=corpus, **run.DATA_OPTIONS.get(corpus, {})))


def draw(split, n: int, seed: int = 0):
    """`n` documents of `split`, seeded, each class in proportion (its shuffled documents spread evenly)."""
    rng, by_class = random.Random(seed), {}
    for i, y in enumerate(split.labels):
        by_class.setdefault(y, []).append(i)
    keyed = []
    for idx in by_class.values():
        rng.shuffle(idx)
        keyed += [((k + rng.random()) / len(idx), i) for k, i in enumerate(idx)]
    return split.take(sorted(i for _, i in sorted(keyed)[:n]))


def shape(splits, n: int):
    return dataclasses.replace(splits, train=draw(splits.train, n), valid=draw(splits.valid, max(n // 10, 1)))


def grouped(names: list[str]) -> dict[str, list[str]]:
    """Base corpus -> the selected names on it (the corpus itself, its shapes), so each loads once."""
    groups = {}
    for name in names:
        groups.setdefault(name.split("@")[0], []).append(name)
    return groups


# ---- measuring -------------------------------------------------------------------------------------

def train_cli(work: Path, timeout: float) -> float | str:
    """Seconds of a whole `doccat train` process on the prepared files (interpreter, imports, reading,
    training, evaluating, writing the run), or an error message."""
    files = [f"--{s}={work / f'{s}.jsonl'}" for s in ("train", "valid", "test")]
    cmd = [sys.executable, "-m", "doccat", "train", *files, "--format=jsonl", f"--out={work / 'cli-run'}",
           "--overwrite", "--quiet"]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - t0
    return f"exit {proc.returncode}: {proc.stderr.strip()[-300:]}" if proc.returncode else seconds


def timed(system: str, work: Path, args, prepared: dict) -> dict:
    before = os.getloadavg()[0]
    r = run.repeated(system, work, args, prepared)
    r["load_before"], r["load_after"] = before, os.getloadavg()[0]
    say(f"  {system}: " + (f"failed: {r['error']}" if "error" in r else
                           f"acc {r['accuracy']:.4f} F1 {r['macro_f1']:.4f} train {r['train_seconds']:.2f} s "
                           f"process {r['process_seconds']:.2f} s peak {r['peak_rss_mib']:,.0f} MiB"))
    return r


def measure(name: str, splits, args, report: dict) -> None:
    """Every system on one corpus or shape, on splits written once."""
    with tempfile.TemporaryDirectory(prefix=f"doccat-wide-{name.replace('@', '-')}-") as tmp:
        work = Path(tmp)
        prepared = run.write_splits(splits, work)
        say(f"{name}: {prepared['sizes']}")
        report["results"][name] = {s: timed(s, work, args, prepared) for s in SYSTEMS}
        cli = [train_cli(work, args.timeout) for _ in range(args.repeat)]
        errors = [c for c in cli if isinstance(c, str)]
        info = {k: v for k, v in prepared.items() if k != "test_labels"}
        info["doccat_train_process_seconds"] = errors[0] if errors else statistics.median(cli)
        say(f"  doccat train (whole process): {info['doccat_train_process_seconds']}")
        report["corpora"][name] = info


@contextlib.contextmanager
def burners(n: int, seconds: float):
    """`n` CPU-bound processes, each stopping itself after `seconds`, stopped on leaving (errors, ctrl-C)."""
    code = f"import time\nend = time.monotonic() + {seconds}\nwhile time.monotonic() < end: pass"
    procs = []
    try:
        procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(n)]
        time.sleep(2)  # let the load settle
        yield procs
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(5)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def measure_busy(name: str, splits, args, report: dict) -> None:
    """doccat and scikit-learn word+char on the same files: idle, then with one burner per core."""
    cores = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix=f"doccat-wide-busy-{name.replace('@', '-')}-") as tmp:
        work = Path(tmp)
        prepared = run.write_splits(splits, work)
        say(f"{name} (busy pair): {prepared['sizes']}")
        pair = {s: {"idle": timed(s, work, args, prepared)} for s in BUSY_SYSTEMS}
        with burners(cores, args.busy_limit):
            say(f"  {cores} burners running, load {os.getloadavg()[0]:.2f}")
            for s in BUSY_SYSTEMS:
                pair[s]["busy"] = timed(s, work, args, prepared)
        report["corpora"][name] = pair


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# ---- targets ---------------------------------------------------------------------------------------

def get(report: dict, corpus: str, system: str, key: str):
    return report.get("results", {}).get(corpus, {}).get(system, {}).get(key)


def best(report, corpus, systems, key):
    values = [get(report, corpus, s, key) for s in systems]
    return None if None in values else max(values)


def count_target(checks: list[tuple[str, float, str]], need: int, total: int) -> tuple[str, str]:
    """checks: (corpus, slack, text) for the measured corpora, met where slack >= 0. MET with `need`
    met, MISSED when the unmeasured ones could no longer make it, else NOT MEASURED; the misses by how
    much, or the closest call."""
    oks = sum(slack >= 0 for _, slack, _ in checks)
    status = "MET" if oks >= need else "MISSED" if oks + total - len(checks) < need else "NOT MEASURED"
    text = f"{oks} of {len(checks)} measured (need {need} of {total})"
    misses = [f"{c} {t}" for c, slack, t in sorted(checks, key=lambda x: x[1]) if slack < 0]
    if misses:
        return status, text + "; missed: " + ", ".join(misses)
    if checks:
        c, _, t = min(checks, key=lambda x: x[1])
        text += f"; closest: {c} {t}"
    return status, text


def margins(report, corpora, mine, theirs):
    """(corpus, mine - theirs, the difference in points) where both are measured."""
    pairs = [(c, mine(report, c), theirs(report, c)) for c in corpora]
    return [(c, a - b, f"{100 * (a - b):+.2f} pts") for c, a, b in pairs if a is not None and b is not None]


def ratios(report, corpora, peer, limit=1.0):
    """(corpus, limit - doccat / peer training time, the ratio) where both are measured."""
    pairs = [(c, get(report, c, "doccat-default", "train_seconds"), get(report, c, peer, "train_seconds")) for c in corpora]
    return [(c, limit - a / b, f"{a / b:.2f}x") for c, a, b in pairs if a and b]


def targets(report: dict, busy: dict | None) -> list[tuple[str, str, str]]:
    doccat = lambda key: lambda r, c: get(r, c, "doccat-default", key)  # noqa: E731
    sk_f1 = lambda r, c: best(r, c, ["sklearn-word", "sklearn-word-char"], "macro_f1")  # noqa: E731
    ft_acc = lambda r, c: best(r, c, ["fasttext-paper", "fasttext-char"], "accuracy")  # noqa: E731
    rows = [("macro-F1 ≥ the better scikit-learn baseline on ≥ 15 of 18",
             *count_target(margins(report, CORPORA, doccat("macro_f1"), sk_f1), 15, 18))]
    masakha = margins(report, MASAKHANEWS, doccat("macro_f1"), sk_f1)
    if masakha:
        mean = 100 * statistics.mean(m for _, m, _ in masakha)
        status = ("MET" if mean >= 1.0 else "MISSED") if len(masakha) == 9 else "NOT MEASURED"
        rows.append(("MasakhaNEWS: mean macro-F1 margin over the better scikit-learn ≥ +1 point", status,
                     f"{mean:+.2f} pts over {len(masakha)} of 9 ({mean - 1.0:+.2f} against the target)"))
    else:
        rows.append(("MasakhaNEWS: mean macro-F1 margin over the better scikit-learn ≥ +1 point", "NOT MEASURED", "-"))
    rows += [
        ("accuracy ≥ both fastText recipes on all 18",
         *count_target(margins(report, CORPORA, doccat("accuracy"), ft_acc), 18, 18)),
        ("training time ≤ 1.0x scikit-learn word+char on all 18",
         *count_target(ratios(report, CORPORA, "sklearn-word-char"), 18, 18)),
        ("training time ≤ 1.0x scikit-learn word on ≥ 12 of 18",
         *count_target(ratios(report, CORPORA, "sklearn-word"), 12, 18)),
    ]
    walls = [(c, 5.0 - s, f"{s:.2f} s") for c in MASAKHANEWS + SHAPES
             if isinstance(s := report.get("corpora", {}).get(c, {}).get("doccat_train_process_seconds"), float)]
    rows.append(("`doccat train` whole process ≤ 5 s on each MasakhaNEWS language and shape",
                 *count_target(walls, 15, 15)))
    if busy:
        checks = []
        for c, pair in busy["corpora"].items():
            g = {s: growth(pair[s], "train_seconds") for s in BUSY_SYSTEMS}
            if None not in g.values():
                checks.append((c, g["sklearn-word-char"] - g["doccat-default"],
                               f"{g['doccat-default']:.2f}x vs {g['sklearn-word-char']:.2f}x"))
        need = max(4, len(busy["corpora"]))
        rows.append(("busy / idle training time ≤ scikit-learn word+char's (each busy corpus, ≥ 4)",
                     *count_target(checks, need, need)))
    else:
        rows.append(("busy / idle training time ≤ scikit-learn word+char's", "NOT MEASURED", "run --busy"))
    peaks = [(c, 2048 - p, f"{p:,.0f} MiB") for c in report.get("results", {})
             if (p := get(report, c, "doccat-default", "peak_rss_mib")) is not None]
    rows.append(("doccat peak memory ≤ 2 GiB (whole process, every corpus and shape run)",
                 *count_target(peaks, len(peaks), len(peaks))))
    a, b = get(report, "imdb", "doccat-default", "predict_docs_per_s"), get(report, "imdb", "fasttext-paper", "predict_docs_per_s")
    rows.append(("imdb: prediction docs/s ≥ fastText paper recipe's",
                 *(("MET" if a >= b else "MISSED", f"{a / b:.2f}x ({a:,.0f} vs {b:,.0f} docs/s)")
                   if a and b else ("NOT MEASURED", "-"))))
    return rows


def growth(pair: dict, key: str):
    idle, busy = pair.get("idle", {}).get(key), pair.get("busy", {}).get(key)
    return busy / idle if idle and busy else None


# ---- report ----------------------------------------------------------------------------------------

def fmt(value, spec=".2f", scale=1.0):
    return "-" if value is None else format(scale * value, spec)


def load_line(part: dict) -> str:
    start, end = part["loadavg_start"], part["loadavg_end"]
    around = [r[k] for per in part["results"].values() for r in per.values() for k in ("load_before", "load_after")
              if k in r] if "results" in part else [
        r[k] for pair in part["corpora"].values() for ph in pair.values() for r in ph.values()
        for k in ("load_before", "load_after") if k in r]
    text = (f"Load average (1, 5, 15 min) at the start {', '.join(f'{x:.2f}' for x in start)}, at the end "
            f"{', '.join(f'{x:.2f}' for x in end)}")
    if around:
        text += f"; 1-minute load around the systems' runs {min(around):.2f} to {max(around):.2f}"
    return text + f" on {part['machine']['cpus_usable']} usable CPUs; {part['seconds']:.0f} s in all."


def corpus_section(name: str, info: dict, per: dict) -> list[str]:
    sizes = info["sizes"]
    cli = info.get("doccat_train_process_seconds")
    lines = [f"### {name}", "", f"{sizes['train']:,} train / {sizes['valid']:,} valid / {sizes['test']:,} test docs, "
             f"{len(info['classes'])} classes; `doccat train` as a whole process: "
             + (f"{cli:.2f} s." if isinstance(cli, float) else f"failed: {cli}."), ""]
    mine = per.get("doccat-default", {}).get("train_seconds")
    rows = []
    for system, r in per.items():
        if "error" in r:
            rows.append([SYSTEMS[system], f"failed: {r['error']}"] + [""] * 6)
            continue
        ratio = f"{mine / r['train_seconds']:.2f}x" if mine and system != "doccat-default" else "-"
        rows.append([SYSTEMS[system], fmt(r["accuracy"], scale=100), fmt(r["macro_f1"], scale=100),
                     fmt(r["train_seconds"]), fmt(r["process_seconds"]), fmt(r["predict_docs_per_s"], ",.0f"),
                     fmt(r["peak_rss_mib"], ",.0f"), ratio])
    return lines + run.table(["system", "accuracy", "macro-F1", "train s", "process s", "predict docs/s",
                              "peak MiB", "doccat / this train time"], rows) + [""]


def overview(idle: dict) -> list[str]:
    rows = []
    for c in idle["results"]:
        d = lambda key: get(idle, c, "doccat-default", key)  # noqa: E731
        sk, ft = best(idle, c, ["sklearn-word", "sklearn-word-char"], "macro_f1"), best(idle, c, ["fasttext-paper", "fasttext-char"], "accuracy")
        tr = lambda peer: (f"{d('train_seconds') / get(idle, c, peer, 'train_seconds'):.2f}x"  # noqa: E731
                           if d("train_seconds") and get(idle, c, peer, "train_seconds") else "-")
        cli = idle["corpora"][c].get("doccat_train_process_seconds")
        rows.append([c, f"{idle['corpora'][c]['sizes']['train']:,}", fmt(d("accuracy"), scale=100),
                     fmt(d("macro_f1"), scale=100),
                     fmt(d("macro_f1") - sk if d("macro_f1") is not None and sk is not None else None, "+.2f", 100),
                     fmt(d("accuracy") - ft if d("accuracy") is not None and ft is not None else None, "+.2f", 100),
                     tr("sklearn-word"), tr("sklearn-word-char"), fmt(cli if isinstance(cli, float) else None),
                     fmt(d("peak_rss_mib"), ",.0f")])
    return run.table(["corpus", "train docs", "doccat acc", "doccat macro-F1", "Δ F1 vs better sklearn",
                      "Δ acc vs better fastText", "train time / sklearn word", "/ sklearn word+char",
                      "`doccat train` process s", "doccat peak MiB"], rows) + [""]


def busy_section(busy: dict) -> list[str]:
    rows = []
    for c, pair in busy["corpora"].items():
        for s in BUSY_SYSTEMS:
            i, b = pair[s].get("idle", {}), pair[s].get("busy", {})
            rows.append([c, SYSTEMS[s], fmt(i.get("train_seconds")), fmt(b.get("train_seconds")),
                         fmt(growth(pair[s], "train_seconds"), ".2f") + "x", fmt(i.get("process_seconds")),
                         fmt(b.get("process_seconds")), fmt(growth(pair[s], "process_seconds"), ".2f") + "x"])
    return ["## Under load (--busy)", "", f"Generated by `{busy['command']}` on {busy['date']}. "
            f"{busy['burners']} CPU-bound processes (`while time.monotonic() < end: pass`, one per usable core) ran "
            "beside each system's busy runs; the idle runs came just before, on the same files.", "",
            load_line(busy), ""] + run.table(["corpus", "system", "idle train s", "busy train s", "growth",
                                               "idle process s", "busy process s", "growth"], rows) + [""]


def markdown(report: dict) -> str:
    idle, busy = report.get("idle"), report.get("busy")
    lines = ["# A wide benchmark (bench/wide.py, issue 21)", "",
             "Do not edit by hand: rerun `bench/wide.py` (or `--render`). Accuracy and macro-F1 on the test split "
             "in %, one metric function for every system; train s: in process, featurizing + fitting (doccat: "
             "`metrics_['train_seconds']`; scikit-learn: vectorizer fit + LinearSVC fit; fastText: "
             "`train_supervised` on text tokenized beforehand by doccat's tokenizer, which splits Chinese into "
             "characters); process s: the system's whole process (interpreter, imports, reading, training, "
             "scoring, at least 1 s of timed prediction); predict docs/s: the fastest of ≥ 3 calls over the test "
             "split; peak MiB: the process's ru_maxrss; `doccat train` process s: the CLI on the same files. "
             "Shapes NAME@N: N training docs drawn (seeded, stratified) from NAME's training split and N/10 from "
             "its validation split, scored on its full test split. scikit-learn word here uses min_df 2 (and "
             "sublinear tf); bench/run.py's scikit-learn peer uses min_df 1.", ""]
    if idle:
        m = idle["machine"]
        lines += [f"Generated by `{idle['command']}` on {idle['date']}; {idle['repeat']} run(s) per system "
                  f"(medians of timings when more). Machine: {m['cpus_usable']} usable CPUs ({m['cpu_model']}), "
                  f"torch {m['torch']}, scikit-learn {m['scikit-learn']}, fasttext-numpy2 {m['fasttext-numpy2']}, "
                  f"git {m['git']}.", "", load_line(idle), ""]
        missing = [c for c in CORPORA + SHAPES if c not in idle["results"]]
        if missing:
            lines += [f"Not in this run: {', '.join(missing)}.", ""]
    lines += ["## Targets (issue 21)", "", "Checked mechanically on what bench/wide.json holds; NOT MEASURED when "
              "the run lacks what a target needs.", ""]
    lines += run.table(["target", "status", "measured"], [list(t) for t in targets(idle or {}, busy)]) + [""]
    if idle:
        lines += ["## Overview", "", "Δ in points (positive: doccat better); time ratios doccat / peer "
                  "(below 1: doccat faster).", ""] + overview(idle)
        lines += ["## Per corpus", ""]
        for c, per in idle["results"].items():
            lines += corpus_section(c, idle["corpora"][c], per)
    if busy:
        lines += busy_section(busy)
    return "\n".join(lines)


# ---- main ------------------------------------------------------------------------------------------

def selection(args, parser) -> list[str]:
    if args.corpora:
        names = [c.strip() for c in args.corpora.split(",") if c.strip()]
    else:
        names = QUICK if args.quick else CORPORA + SHAPES
    bad = [n for n in names if n.split("@")[0] not in CORPORA or ("@" in n and not n.split("@")[1].isdigit())]
    if bad:
        parser.error(f"unknown: {', '.join(bad)} (corpora: {', '.join(CORPORA)}; shapes NAME@N, e.g. {SHAPES[0]})")
    if args.busy and len(names) < 4:
        parser.error("--busy needs at least four corpora")
    return names


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", help="comma-separated corpora and shapes (NAME@N)")
    parser.add_argument("--quick", action="store_true", help=f"only {', '.join(QUICK)}")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each system (fresh processes): medians")
    parser.add_argument("--busy", action="store_true", help="doccat and scikit-learn word+char idle and under load")
    parser.add_argument("--busy-limit", type=float, default=1800, help="seconds a burner may run at most")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds allowed per system and corpus")
    parser.add_argument("--render", action="store_true", help="run nothing: rewrite WIDE.md from wide.json")
    args = parser.parse_args(argv)
    out_json, out_md = ROOT / "bench" / "wide.json", ROOT / "bench" / "WIDE.md"
    report = json.loads(out_json.read_text()) if out_json.exists() else {}
    if not args.render:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the burners' cleanup on kill too
        run.LAUNCHER = [*LAUNCHER, str(max(args.timeout - 5, 1)), *DEATH]
        names = selection(args, parser)
        part = {"command": " ".join([".venv/bin/python", "bench/wide.py", *(sys.argv[1:] if argv is None else argv)]),
                "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                "machine": run.machine(), "repeat": args.repeat, "loadavg_start": os.getloadavg(), "corpora": {}}
        say(f"load average {os.getloadavg()}")
        t0 = time.perf_counter()
        if args.busy:
            part["burners"] = len(os.sched_getaffinity(0))
        else:
            part["results"] = {}
        for base, todo in grouped(names).items():
            splits = load(base)
            for name in todo:
                chosen = shape(splits, int(name.split("@")[1])) if "@" in name else splits
                (measure_busy if args.busy else measure)(name, chosen, args, part)
        part["seconds"], part["loadavg_end"] = time.perf_counter() - t0, os.getloadavg()
        report["busy" if args.busy else "idle"] = part
        out_json.write_text(json.dumps(report, indent=1) + "\n")
    out_md.write_text(markdown(report) + "\n")
    say(f"wrote {out_md} and {out_json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
