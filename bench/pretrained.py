"""Pretrained representations against the bag of n-grams (issue 7); outside CI.

    .venv/bin/pip install -e '.[encoder]' && .venv/bin/python bench/pretrained.py
    .venv/bin/python bench/pretrained.py --tune      # first choose the recipes on validation splits
    .venv/bin/python bench/pretrained.py --encoder FOLDER --out bench/PRETRAINED-x.md --json bench/pretrained-x.json

On each corpus, for each seed s (train.seed = data.split_seed = s: another validation split, and for
movie_review_polarity another test split too), these models:

    bag       doccat's default recipe (TF-IDF 1-2-grams, a linear SVM with Naive Bayes scaling, fit by L-BFGS)
    encoder   the frozen encoder's embeddings + MLP head (--encoder: a known name or a Hugging Face
              folder; default all-MiniLM-L6-v2)
    combined  the n-gram bag beside the frozen encoder's embeddings: by default (embed_dim 0) the bag's
              TF-IDF features and the embedding in one linear model; embed_dim > 0: a bag of that
              width concatenated with the embedding before the head
    finetuned the combined model with the encoder fine-tuned (FINETUNED), on the --finetune corpora

Test accuracy (SST-2: the GLUE dev set) and training seconds, mean ± std over the seeds. Training
seconds are `metrics_["train_seconds"]` with the encoder's embeddings already in the disk cache: the
one-time encoding of each corpus is timed apart, first, when the cache is cold: `--cache-dir` an
empty folder to measure it (default: doccat's cache, $DOCCAT_CACHE_DIR or ~/.cache/doccat).

--tune scores GRID on the validation splits of seed 0 (never a test split) and keeps, for the
encoder and for the combined model, the one recipe with the best mean validation accuracy over the
corpora; without it, RECIPES (chosen that way, see bench/PRETRAINED.md) are used. Writes
bench/PRETRAINED.md and bench/pretrained.json. Fine-tuning takes minutes to tens of minutes a seed,
so it may be measured apart (`--finetune ''` here): PRETRAINED.md also lists the figures kept in
bench/pretrained-<corpus>-finetuned.json (each says how it was measured).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import doccat
from doccat.encoder import KNOWN, file_hashes, find_encoder

ENCODER = "all-MiniLM-L6-v2"
CORPORA = ["sst2", "movie_review_polarity", "trec"]
RECIPES = {  # chosen by --tune (see the docstring); the bag is doccat's default recipe, untouched
    "bag": {},
    "encoder": {"encoder": ENCODER, "bag": False, "hidden": [256], "encoder_pool_layers": 2},
    # the default recipe's linear bag beside the embedding: one linear SVM on both
    "combined": {"encoder": ENCODER, "encoder_pool_layers": 2, "loss": "squared_hinge"},
}
GRID = {
    "encoder": [{"encoder": ENCODER, "bag": False, "hidden": hidden, **pool}
                for hidden, pool in itertools.product(([], [256]), ({}, {"encoder_pool_layers": 2}))],
    "combined": [{"encoder": ENCODER, **shape, "weight_decay": wd} for shape, wd in itertools.product(
        ({}, {"hidden": [256]}, {"embed_dim": 16, "init": "normal", "init_range": 0.01},
         {"embed_dim": 64, "init": "normal", "init_range": 0.01}), (3e-6, 3e-5))]
    + [{"encoder": ENCODER, "encoder_pool_layers": layers, "weight_decay": 3e-6} for layers in (2, 3)]
    # the bag's own default loss (a linear SVM, weight decay 1 / training docs) on the bag and the embedding
    + [{"encoder": ENCODER, "encoder_pool_layers": 2, "loss": "squared_hinge"}],
}
# the combined model with the encoder fine-tuned (mini-batches, AdamW): set once beforehand, never tuned;
# minutes per epoch on 2 CPU cores, so only on the corpora of --finetune
FINETUNED = {"encoder": ENCODER, "encoder_mode": "finetune", "optimizer": "adamw", "batch_size": 32, "lr": 0.01,
             "encoder_lr": 3e-5, "weight_decay": 0.0, "epochs": 3}
QUIET = dict(log=lambda *a: None, progress=False)


def using(recipe: dict, encoder: str) -> dict:
    """`recipe` with `encoder` in place of the one it names (a recipe without an encoder is left as is)."""
    return {**recipe, "encoder": encoder} if "encoder" in recipe else recipe


def run(corpus: str, recipe: dict, seed: int) -> dict:
    clf = doccat.train(dataset=corpus, seed=seed, split_seed=seed, **recipe, **QUIET)
    m = clf.metrics_
    return {"valid": m["valid"]["accuracy"], "test": m["test"]["accuracy"], "seconds": m["train_seconds"],
            "kept_epoch": m["kept_epoch"]}


def warm_cache(corpus: str, seeds: list[int], recipe: dict) -> dict:
    """Encode every split of every seed once as `recipe` does (a one-epoch run each): the later runs read the cache."""
    encoded, t0 = 0, time.perf_counter()
    settings = {k: v for k, v in recipe.items() if k.startswith("encoder")}
    for seed in seeds:
        clf = doccat.train(dataset=corpus, seed=seed, split_seed=seed, epochs=1, **settings, **QUIET)
        encoded += sum(c["encoded"] for c in clf.metrics_["encoder"]["cache"].values())
    return {"texts_encoded": encoded, "seconds": round(time.perf_counter() - t0, 1)}


def tune(corpora: list[str], encoder: str, log) -> tuple[dict, dict]:
    """The recipe of each model with the best mean validation accuracy (seed 0), and all the scores."""
    scores, chosen = {}, {m: using(r, encoder) for m, r in RECIPES.items()}
    for model, grid in GRID.items():
        rows = []
        for recipe in (using(r, encoder) for r in grid):
            valid = {c: run(c, recipe, 0)["valid"] for c in corpora}
            rows.append({"recipe": recipe, "valid": valid, "mean": statistics.mean(valid.values())})
            log(f"tune {model}: {json.dumps(recipe)} -> " + ", ".join(f"{c} {v:.4f}" for c, v in valid.items()))
        scores[model] = rows
        chosen[model] = max(rows, key=lambda r: r["mean"])["recipe"]
    return chosen, scores


def summary(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    mean = statistics.mean(values) * scale
    std = statistics.stdev(values) * scale if len(values) > 1 else 0.0
    return f"{mean:.{digits}f} ± {std:.{digits}f}"


def markdown(report: dict) -> str:
    lines = ["# Pretrained representations: bag of n-grams vs frozen encoder vs combined", "",
             f"Measured by `bench/pretrained.py` on {report['machine']}; {len(report['seeds'])} seeds "
             f"({', '.join(map(str, report['seeds']))}: training seed and validation split; movie_review_polarity's "
             "test split too). Test accuracy in % (SST-2: the GLUE dev set) and training seconds "
             "(featurizing and the model's fit, the encoder's embeddings read from the disk cache), "
             f"mean ± std. Whole run: {report['wall_minutes']:.1f} minutes.", "",
             f"Encoder: `{report['encoder']['name']}` (model.safetensors sha256 "
             f"{report['encoder']['sha256']['model.safetensors'][:16]}...).", "",
             "Recipes (the bag: doccat's default; the others chosen on validation splits, seed 0, "
             "never a test split):", ""]
    lines += [f"- {model}: `{json.dumps(recipe)}`" for model, recipe in report["recipes"].items()]
    lines += ["", "| corpus | bag accuracy | encoder + MLP accuracy | combined accuracy | combined - bag (pts) "
              "| bag s | encoder s | combined s | one-time encoding (train + valid texts) |", "|---|---|---|---|---|---|---|---|---|"]
    for corpus, res in report["results"].items():
        acc = {m: [r["test"] for r in res[m]] for m in ("bag", "encoder", "combined")}
        secs = {m: [r["seconds"] for r in res[m]] for m in ("bag", "encoder", "combined")}
        gain = [c - b for c, b in zip(acc["combined"], acc["bag"])]
        warm = report["encoding"][corpus]
        lines.append(f"| {corpus} | {summary(acc['bag'], 100)} | {summary(acc['encoder'], 100)} | "
                     f"{summary(acc['combined'], 100)} | {summary(gain, 100)} | {summary(secs['bag'], digits=1)} | "
                     f"{summary(secs['encoder'], digits=1)} | {summary(secs['combined'], digits=1)} | "
                     + (f"{warm['texts_encoded']:,} texts, {warm['seconds']:.0f} s |" if warm["texts_encoded"]
                        else "cached by an earlier run |"))
    tuned = {c: res for c, res in report["results"].items() if "finetuned" in res}
    if tuned:
        lines += ["", f"The combined model with the encoder fine-tuned: `{json.dumps(report['finetuned'])}` "
                  "(set beforehand, not tuned; training seconds include encoding every epoch's texts "
                  "through the transformer, forward and backward):", "",
                  "| corpus | fine-tuned combined accuracy | fine-tuned combined - bag (pts) | seconds |",
                  "|---|---|---|---|"]
        for corpus, res in tuned.items():
            acc = [r["test"] for r in res["finetuned"]]
            gain = [t - b["test"] for t, b in zip(acc, res["bag"])]
            lines.append(f"| {corpus} | {summary(acc, 100)} | {summary(gain, 100)} | "
                         f"{summary([r['seconds'] for r in res['finetuned']], digits=0)} |")
    # corpus -> its pretrained-<corpus>-finetuned.json
    apart = {path.name.split("-")[1]: side for path in sorted(Path(__file__).parent.glob("pretrained-*-finetuned.json"))
             if (side := json.loads(path.read_text()))["recipe"]["encoder"] == report["encoder"]["given"]}
    if apart:
        lines += ["", "The combined model with the encoder fine-tuned, measured apart (minutes to tens of minutes "
                  "a seed on 2 CPU cores; the bag beside it in the same run, and the bag of the table above, "
                  "the same seeds and splits, when the default recipe has changed since):", "",
                  "| file | what | fine-tuned combined accuracy | bag accuracy | fine-tuned - bag (pts) | "
                  "fine-tuned - the bag above (pts) | seconds |", "|---|---|---|---|---|---|---|"]
        for corpus, side in apart.items():
            acc, bag = [r["test"] for r in side["finetuned"]], [r["test"] for r in side["bag"]]
            now = [r["test"] for r in report["results"].get(corpus, {}).get("bag", [])]
            lines.append(f"| pretrained-{corpus}-finetuned.json | {side['what']}; `{json.dumps(side['recipe'])}` | {summary(acc, 100)} | "
                         f"{summary(bag, 100)} | {summary([a - b for a, b in zip(acc, bag)], 100)} | "
                         f"{summary([a - b for a, b in zip(acc, now)], 100) if len(now) == len(acc) else '-'} | "
                         f"{summary([r['seconds'] for r in side['finetuned']], digits=0)} |")
    lines += ["", "Target (issue 7): the combined model beats the bag of n-grams by at least 3 points of "
              "accuracy on SST-2 and movie_review_polarity.", ""]
    for corpus in ("sst2", "movie_review_polarity"):
        res = report["results"].get(corpus, {})
        for model in ("combined", "finetuned"):
            if model in res:
                gain = 100 * statistics.mean(c["test"] - b["test"] for c, b in zip(res[model], res["bag"]))
                lines.append(f"- {corpus}, {'frozen' if model == 'combined' else 'fine-tuned'} encoder: "
                             f"{gain:+.2f} points: {'met' if gain >= 3 else 'missed'}")
    for corpus, side in apart.items():  # against the bag of this run when it has the same seeds
        now = report["results"].get(corpus, {}).get("bag", [])
        bag, which = (now, "this run's bag") if len(now) == len(side["finetuned"]) else (side["bag"], "its own bag")
        gain = 100 * statistics.mean(f["test"] - b["test"] for f, b in zip(side["finetuned"], bag))
        lines.append(f"- {corpus}, fine-tuned encoder (measured apart, against {which}): {gain:+.2f} points: "
                     f"{'met' if gain >= 3 else 'missed'}")
    if report.get("tuning"):
        lines += ["", "## Validation accuracy of the recipes tried (seed 0)", "",
                  "| model | recipe | " + " | ".join(report["corpora"]) + " | mean |",
                  "|---|---|" + "---|" * (len(report["corpora"]) + 1)]
        for model, rows in report["tuning"].items():
            for r in rows:
                lines.append(f"| {model} | `{json.dumps(r['recipe'])}` | "
                             + " | ".join(f"{100 * r['valid'][c]:.2f}" for c in report["corpora"])
                             + f" | {100 * r['mean']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpora", default=",".join(CORPORA))
    p.add_argument("--encoder", default=ENCODER, help="a known encoder name or a Hugging Face folder (default: %(default)s)")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--cache-dir", help="the encoder's cache root, as $DOCCAT_CACHE_DIR (default: doccat's)")
    p.add_argument("--tune", action="store_true", help="choose the encoder and combined recipes on validation first")
    p.add_argument("--finetune", default="movie_review_polarity",
                   help="corpora on which the combined model is also trained with the encoder fine-tuned ('': none)")
    p.add_argument("--finetune-epochs", type=int, default=FINETUNED["epochs"],
                   help="epochs of the fine-tuned model (SST-2's 67k phrases: about 20 minutes an epoch on 2 cores)")
    p.add_argument("--out", default=str(Path(__file__).with_name("PRETRAINED.md")))
    p.add_argument("--json", default=str(Path(__file__).with_name("pretrained.json")))
    args = p.parse_args(argv)
    corpora, seeds = args.corpora.split(","), list(range(args.seeds))
    if args.cache_dir:
        os.environ["DOCCAT_CACHE_DIR"] = args.cache_dir
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    t0 = time.perf_counter()
    base = {m: using(r, args.encoder) for m, r in RECIPES.items()}
    encoding = {}
    for corpus in corpora:
        encoding[corpus] = warm_cache(corpus, seeds, base["combined"])
        log(f"{corpus}: encoded {encoding[corpus]['texts_encoded']:,} texts in {encoding[corpus]['seconds']} s")
    recipes, tuning = tune(corpora, args.encoder, log) if args.tune else (base, None)
    results, finetuned = {}, using({**FINETUNED, "epochs": args.finetune_epochs}, args.encoder)
    for corpus in corpora:
        models = {**recipes, **({"finetuned": finetuned} if corpus in args.finetune.split(",") else {})}
        results[corpus] = {model: [run(corpus, recipe, seed) for seed in seeds] for model, recipe in models.items()}
        log(f"{corpus}: " + ", ".join(f"{m} {summary([r['test'] for r in rs], 100)}" for m, rs in results[corpus].items()))
    machine = f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch threads default"
    path = find_encoder(args.encoder)
    identity = {"given": args.encoder, "name": args.encoder if args.encoder in KNOWN else path.name,
                "sha256": file_hashes(path)}
    report = {"machine": machine, "encoder": identity, "corpora": corpora, "seeds": seeds, "recipes": recipes, "encoding": encoding,
              "results": results, "finetuned": finetuned, "tuning": tuning,
              "wall_minutes": (time.perf_counter() - t0) / 60}
    Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    Path(args.out).write_text(markdown(report))
    print(markdown(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
