"""bench/COMPRESS.md: bytes on disk and test accuracy of doccat's default-recipe runs and their compressed
copies, and of fastText's paper recipe and its quantized models, on the same splits (issue 24).

    .venv/bin/python bench/compress.py [--data-dir ../shared/datasets] [--work /tmp/doccat-compress]
                                       [--corpora 20newsgroups,imdb,ag_news,trec]

doccat: `doccat train` (the default recipe), `doccat compress` four ways, `du -sb` of each whole run directory,
`doccat evaluate` accuracy on the test split. fastText: the paper recipe bench/peers.py runs, trained on
doccat's training split as bench/run.py writes it (tokenized, one seeded shuffle); the .bin, then
`quantize(retrain=True, qnorm=True)` with no cutoff (fastText's default), cutoff 100000 and 20000, saved as
.ftz; bytes of the file, accuracy by fastText's own test() (precision@1: accuracy, one label per document).
"""
from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import run  # noqa: E402  bench/run.py: DATA_OPTIONS, write_splits, machine, table

ROOT = run.ROOT
CORPORA = ["20newsgroups", "imdb", "ag_news", "trec"]
DOCCAT_VARIANTS = [(16, None), (8, None), (8, 100_000), (8, 20_000)]  # (--bits, --max-features)
CUTOFFS = [0, 100_000, 20_000]  # fastText quantize; 0 is its default: no pruning, so no retraining either
# issue 24's targets: bytes on disk (MB = 10^6 bytes), within this many points of the uncompressed model
CAPS = {"imdb": 1_000_000, "20newsgroups": 3_000_000}
SLACK_POINTS = 0.5


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def doccat(*args) -> str:
    out = subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True, cwd=ROOT)
    if out.returncode:
        raise SystemExit(f"doccat {' '.join(map(str, args))} failed:\n{out.stderr}")
    return out.stdout


def du(path: Path) -> int:
    return int(subprocess.run(["du", "-sb", str(path)], capture_output=True, text=True, check=True).stdout.split()[0])


def digest(split) -> str:
    """sha256 of a split's documents and labels in order: equal digests, the same test documents."""
    h = hashlib.sha256()
    for text, label in zip(split.texts, split.labels):
        h.update(json.dumps([text, label], ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


# ---- doccat ----------------------------------------------------------------------------------------

def doccat_rows(corpus: str, data_dir: str, work: Path) -> tuple[list[dict], dict]:
    """The uncompressed run and its four compressed copies: variant, bytes, accuracy, n; and the run's facts."""
    base = work / corpus
    extra = ["--" + k.replace("_", "-") + "=" + str(v) for k, v in run.DATA_OPTIONS.get(corpus, {}).items()]
    doccat("train", "--dataset", corpus, *extra, "--data-dir", data_dir, "--out", base, "--overwrite", "-q")

    def row(variant, path):
        ev = json.loads(doccat("evaluate", path))  # the run's own data config: its test split
        r = {"variant": variant, "bytes": du(path), "accuracy": ev["accuracy"], "n": ev["n"]}
        say(f"  doccat {variant}: {r['bytes']:,} bytes, accuracy {r['accuracy']:.4f} (n {r['n']})")
        return r

    rows, facts = [row("uncompressed", base)], {}
    for bits, keep in DOCCAT_VARIANTS:
        out = work / f"{corpus}-{bits}" if keep is None else work / f"{corpus}-{bits}-{keep}"
        summary = json.loads(doccat("compress", base, "--out", out, "--bits", bits,
                                    *(["--max-features", keep] if keep else []), "--overwrite"))
        facts["features"] = summary["features_before"]
        variant = f"--bits {bits}" + (f" --max-features {keep}" if keep else "")
        r = row(variant, out)
        r["features"] = summary["features_after"]
        r["files"] = {f.name: f.stat().st_size for f in sorted(out.iterdir())}
        rows.append(r)
    return rows, facts


# ---- fastText --------------------------------------------------------------------------------------

def export(corpus: str, data_dir: str, base: Path, ft: Path) -> dict:
    """Write doccat's splits of `corpus` as bench/run.py does, from the run's own data config (what `doccat
    evaluate` read); checked against bench/run.py's config of the corpus (the one peers.py's figures use)."""
    from doccat.config import DataConfig, from_dict
    from doccat.data import load_splits
    mine = load_splits(from_dict(json.loads((base / "config.json").read_text())).data)
    bench = load_splits(DataConfig(dataset=corpus, data_dir=data_dir, **run.DATA_OPTIONS.get(corpus, {})))
    for name in ("train", "valid", "test"):
        if digest(getattr(mine, name)) != digest(getattr(bench, name)):
            raise SystemExit(f"{corpus}: the run's {name} split differs from bench/run.py's")
    ft.mkdir(parents=True, exist_ok=True)
    prepared = run.write_splits(mine, ft)
    return {"sizes": prepared["sizes"], "classes": len(mine.classes), "test_sha256": digest(mine.test)}


def fasttext_rows(ft: Path, n_test: int) -> list[dict]:
    """The paper recipe's .bin and its three quantized .ftz: variant, bytes, accuracy, n."""
    import fasttext
    train, test = str(ft / "ft_train.txt"), str(ft / "ft_test.txt")
    labels = [line.split(" ", 1)[0] for line in open(test, encoding="utf-8")]
    texts = [line.rstrip("\n").split(" ", 1)[1] if " " in line.rstrip("\n") else "" for line in open(test, encoding="utf-8")]

    def row(variant, model, path):
        n, p_at_1, _ = model.test(test)
        # test() skips a line with no words or no label; then precision@1 would not be accuracy over every document
        if n != n_test or len(labels) != n_test:
            raise SystemExit(f"fastText {variant}: test() read {n} of {n_test} test documents ({len(labels)} lines)")
        # a second reading through predict(), as a user calls it: should agree with test()
        predicted = [p[0] if p else None for p in model.predict(texts, k=1)[0]]
        agree = sum(p == y for p, y in zip(predicted, labels)) / n_test
        r = {"variant": variant, "bytes": path.stat().st_size, "accuracy": p_at_1, "n": n, "predict_accuracy": agree}
        say(f"  fastText {variant}: {r['bytes']:,} bytes, accuracy {p_at_1:.4f} (predict {agree:.4f}, n {n})")
        return r

    binary = ft / "model.bin"
    # Joulin et al. 2016, as bench/peers.py's fasttext_paper: 10 hidden units, lr 0.25, bigrams, 5 epochs
    model = fasttext.train_supervised(input=train, dim=10, lr=0.25, wordNgrams=2, epoch=5, minCount=1,
                                      bucket=10_000_000, thread=2, verbose=0)
    model.save_model(str(binary))
    rows = [row("paper recipe (.bin)", model, binary)]
    for cutoff in CUTOFFS:
        model = fasttext.load_model(str(binary))  # quantize changes the model in place: each from the .bin
        model.quantize(input=train, retrain=True, qnorm=True, cutoff=cutoff, verbose=0)
        path = ft / f"model-{cutoff}.ftz"
        model.save_model(str(path))
        rows.append(row("quantize, default (no cutoff)" if cutoff == 0 else f"quantize, cutoff {cutoff}", model, path))
        path.unlink()
    binary.unlink()  # ~400 MB each (10M buckets x 10 floats): not kept
    return rows


# ---- report ----------------------------------------------------------------------------------------

def points(r: dict, base: dict) -> str:
    return "" if r is base else f"{100 * (r['accuracy'] - base['accuracy']):+.2f}"


def target_lines(results: dict) -> list[str]:
    lines = []
    for corpus, cap in CAPS.items():
        if corpus not in results:
            lines.append(f"- {corpus} <= {cap / 1e6:g} MB within {SLACK_POINTS} points: NOT MEASURED")
            continue
        for system in ("doccat", "fastText"):
            rows = results[corpus][system]
            fits = [r for r in rows if r["bytes"] <= cap]
            best = max(fits, key=lambda r: r["accuracy"], default=None)
            head = f"{corpus} <= {cap / 1e6:g} MB within {SLACK_POINTS} points"
            if best is None:
                found = "no variant fits"
            else:
                found = (f"best variant under the cap `{best['variant']}` {best['bytes']:,} bytes, accuracy "
                         f"{best['accuracy']:.4f} ({points(best, rows[0]) or '+0.00'} points)")
            if system == "doccat":
                ok = best is not None and 100 * (best["accuracy"] - rows[0]["accuracy"]) >= -SLACK_POINTS
                lines.append(f"- **{'MET' if ok else 'MISSED'}**: doccat, {head}: {found}.")
            else:
                lines.append(f"  (fastText, for comparison: {found}.)")
    return lines


def markdown(report: dict, kept: str) -> str:
    m = report["machine"]
    lines = ["# doccat compress and fastText quantize: size on disk and test accuracy", "",
             f"Generated by `{report['command']}` on {report['date']} at git {m['git']}; load average (1, 5, "
             f"15 min) {', '.join(f'{x:.2f}' for x in report['loadavg_start'])} at the start, "
             f"{', '.join(f'{x:.2f}' for x in report['loadavg_end'])} at the end, {m['cpus_usable']} usable CPUs "
             f"(sizes and accuracies do not depend on the load; no timings are reported). Do not edit by hand: "
             "rerun the script; it carries the last section (Which features to keep: trials measured by hand "
             "when compress was written) over as it is.", "",
             "doccat: the default recipe (a linear bag on TF-IDF words, word bigrams and character 3-5-grams, "
             "liblinear), `doccat train --dataset DATASET` (AG News: `--from-split test --test-fraction 0.2`, "
             "only its test.csv is offline), then `doccat compress RUN --out SMALL --bits 16|8 [--max-features N]`. "
             "Bytes: `du -sb` of the whole run directory (the compressed copies leave the plots out); accuracy: "
             "`doccat evaluate RUN` on the corpus's test split.", "",
             "fastText (fasttext-numpy2 " + m["fasttext-numpy2"] + "): the paper recipe bench/peers.py runs "
             "(dim 10, lr 0.25, wordNgrams 2, epoch 5, minCount 1, bucket 10M, 2 threads) on doccat's training "
             "split (not its validation split), lowercased and tokenized by doccat's tokenizer and shuffled once "
             "(seed 0) as bench/run.py writes it; then, each from the saved .bin, `model.quantize(input=train, "
             "retrain=True, qnorm=True)` with fastText's default cutoff (0: nothing pruned, hence no retraining) "
             "and with cutoff 100000 and 20000, saved as .ftz. Bytes: the .bin / .ftz file; accuracy: fastText's "
             "`test()` precision@1 (one label per document: accuracy; checked to read every test document and "
             "to agree with `predict()`). fastText trains with 2 threads (hogwild), so its figures vary a "
             "little from run to run.", "",
             "The test documents are the same for both systems: the splits are read through the doccat run's "
             "own config.json (what `doccat evaluate` reads) and checked equal, split by split, to bench/run.py's "
             "(sha256 of the documents and labels in order below).", "",
             "## Targets (issue 24)", "",
             f"The best doccat variant (highest accuracy) whose run directory fits the cap, against the "
             f"uncompressed run; MET when within {SLACK_POINTS} points.", ""]
    lines += target_lines(report["results"]) + [""]
    for corpus, res in report["results"].items():
        info, d = res["splits"], res["doccat"]
        sizes = info["sizes"]
        lines += [f"## {corpus}", "",
                  f"{sizes['train']:,} train / {sizes['valid']:,} valid / {sizes['test']:,} test documents, "
                  f"{info['classes']} classes; doccat {res['features']:,} features; test split sha256 "
                  f"`{info['test_sha256'][:16]}`.", ""]
        rows = []
        for system in ("doccat", "fastText"):
            for r in res[system]:
                note = f" ({r['features']:,} features)" if r.get("features", res["features"]) != res["features"] else ""
                rows.append([system, r["variant"] + note, f"{r['bytes']:,}", f"{r['accuracy']:.4f}",
                             points(r, res[system][0])])
        lines += run.table(["system", "variant", "bytes", "test accuracy", "vs that system's uncompressed (points)"],
                           rows) + [""]
        pruned = [r for r in d if "max-features" in r["variant"]]
        parts = lambda f: (f"model.safetensors {f['model.safetensors']:,}, vocab.json {f['vocab.json']:,}, the other "  # noqa: E731
                           f"{len(f) - 2} files {sum(f.values()) - f['model.safetensors'] - f['vocab.json']:,}")
        lines += ["Where the pruned doccat runs' bytes go (file sizes): " + "; ".join(
            f"`{r['variant']}`: {parts(r['files'])}" for r in pruned) + ".", ""]
    return "\n".join(lines) + ("\n" + kept if kept else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "datasets"))
    parser.add_argument("--work", default="/tmp/doccat-compress", help="run directories and fastText files")
    parser.add_argument("--corpora", default=",".join(CORPORA))
    args = parser.parse_args(argv)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    report = {"command": " ".join([".venv/bin/python", "bench/compress.py", *(sys.argv[1:] if argv is None else argv)]),
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": run.machine(), "loadavg_start": os.getloadavg(), "results": {}}
    t0 = time.perf_counter()
    for corpus in args.corpora.split(","):
        say(f"{corpus}:")
        d, facts = doccat_rows(corpus, args.data_dir, work)
        info = export(corpus, args.data_dir, work / corpus, work / f"{corpus}-fasttext")
        if info["sizes"]["test"] != d[0]["n"]:
            raise SystemExit(f"{corpus}: {info['sizes']['test']} test documents exported, doccat evaluate read {d[0]['n']}")
        report["results"][corpus] = {"doccat": d, "fastText": fasttext_rows(work / f"{corpus}-fasttext", d[0]["n"]),
                                     "splits": info, **facts}
    report["loadavg_end"], report["seconds"] = os.getloadavg(), time.perf_counter() - t0
    (work / "report.json").write_text(json.dumps(report, indent=1))  # the figures, beside the runs (not committed)
    out = ROOT / "bench" / "COMPRESS.md"
    # the trials behind compress's feature ranking were measured by hand once: kept as they are
    old = out.read_text() if out.exists() else ""
    kept = old[old.index("## Which features to keep"):] if "## Which features to keep" in old else ""
    out.write_text(markdown(report, kept))
    say(f"wrote {out} in {report['seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
