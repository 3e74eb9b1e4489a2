"""Several runs of one config, one per seed: the mean and standard deviation of each headline metric.

A single run's score moves with its seed (initial weights, data order, dropout), so papers report
mean +- std over seeds. Here every run sees the same splits (`split_seed` is not a training seed);
only `train.seed` changes.
"""
from __future__ import annotations

import json
import logging
import re
import statistics
from pathlib import Path

from . import artifacts, classifier, config as config_mod
from .checkpoint import Checkpoints
from .config import ConfigError
from .data import from_memory, load_splits
from .metrics import HEADLINE
from .train import Hooks

LOG = logging.getLogger(__name__)

SUMMARY = "seeds.json"


def seed_list(seeds: int | str | list[int]) -> list[int]:
    """The seeds to run: a count N means 0..N-1; a list (or "1,2,3") is taken as it is.

    A string with a comma is a list ("7," is the one seed 7); a string without one is a count ("3").
    """
    if isinstance(seeds, str):
        try:
            items = [int(x) for x in seeds.split(",") if x.strip()]
        except ValueError:
            raise ConfigError(f"seeds: {seeds!r} is not a count (3) or a comma-separated list of integers "
                              "(1,2,3)") from None
        seeds = items if "," in seeds else (items[0] if items else 0)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ConfigError(f"seeds: a count must be >= 1, got {seeds}")
        return list(range(seeds))
    seeds = list(seeds) if isinstance(seeds, (list, tuple)) else []
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ConfigError(f"seeds: expected a count or a non-empty list of integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"seeds: {seeds} repeats a seed; a repeated seed repeats the same run")
    return seeds


def headline(clf) -> dict:
    """A run's figures: training seconds, best epoch, and the task's headline metrics per scored split."""
    m = clf.metrics_
    row = {"train_seconds": m["train_seconds"], "kept_epoch": m["kept_epoch"]}
    for split in ("valid", "test"):
        if split in m:
            row |= {f"{split}_{key}": m[split][key] for key in HEADLINE[clf.task]}
    return row


def mean_std(rows: list[dict]) -> tuple[dict, dict]:
    """Per key: the mean, and the sample standard deviation (n - 1 in the denominator; 0 for one run)."""
    keys = [k for k in rows[0] if k not in ("seed", "run_dir", "kept_epoch")]
    mean = {k: statistics.fmean(r[k] for r in rows) for k in keys}
    std = {k: statistics.stdev(r[k] for r in rows) if len(rows) > 1 else 0.0 for k in keys}
    return mean, std


def summarize(seeds: list[int], rows: list[dict], last) -> dict:
    """seeds.json: the runs, the mean and std of each figure, and why the spread is ~0 where it must be."""
    mean, std = mean_std(rows)
    summary = {"seeds": seeds, "task": last.task, "runs": rows, "mean": mean, "std": std}
    cfg = last.config
    if seed_free(cfg):
        summary["note"] = (f"a linear model started at zero and fit full batch ({cfg.train.optimizer}) does "
                           "not depend on the seed (liblinear only through its coordinate order): a std near 0 is "
                           "expected; seeds measure the spread of mini-batch networks (init, order, dropout)")
    return summary


def seed_free(cfg) -> bool:
    """Whether a resolved config trains the same model whatever its seed (up to liblinear's coordinate order)."""
    return cfg.train.batch_size == 0 and cfg.model.init == "zeros" and not cfg.model.dropout


def train_seeds(seeds: int | str | list[int], texts: list[str] | None = None, labels: list | None = None, *,
                config=None, out=None, overwrite: bool = False, log=LOG.info, progress: bool | None = None,
                **overrides) -> dict:
    """Train one model per seed, everything else as `doccat.train` takes it; the data is loaded once.

    Parameters
    ----------
    seeds : int, str or list of int
        A count N (seeds 0..N-1) or a list of seeds; the config's own `seed` is replaced, so giving
        ``seed=`` as well is an error.
    texts, labels, config, overwrite, log, progress, **overrides
        As in `doccat.train`.
    out : path, optional
        Seed s's run directory is ``out/seed-s``; the summary is written to ``out/seeds.json``.

    Returns
    -------
    dict
        {"seeds", "task", "runs": one row per seed (seed, run_dir, train_seconds, kept_epoch, valid_* and
        test_* headline metrics), "mean" and "std": per figure, over the seeds (std: sample standard
        deviation)}.
    """
    if overrides.get("seed") is not None:
        raise ConfigError("give either seed (one run) or seeds (several runs), not both")
    seeds = seed_list(seeds)
    cfg = classifier.resolve_config(config, overrides)
    out = Path(out) if out is not None else None
    if out is not None:  # refuse a taken directory before the first run, not after it
        runs = {e.name for e in out.iterdir() if re.fullmatch(r"seed-\d+(\.partial)?", e.name)} if out.is_dir() else set()
        artifacts.claim_folder(out, overwrite, {SUMMARY} | runs)
        for s in seeds:
            Checkpoints.check(out / f"seed-{s}", overwrite)
    splits = from_memory(cfg.data, texts, labels) if texts is not None else load_splits(cfg.data)
    rows = []
    for i, s in enumerate(seeds, 1):
        log(f"seed {s} ({i} of {len(seeds)})")
        run_dir = out / f"seed-{s}" if out is not None else None
        seeded = config_mod.merge(cfg, {"train": {"seed": s}})
        clf = classifier.fit_data(splits, seeded, classifier.RunOptions(run_dir, overwrite, Hooks(log, progress)))
        rows.append({"seed": s, "run_dir": str(run_dir) if run_dir else None, **headline(clf)})
    summary = summarize(seeds, rows, clf)
    if "note" in summary:
        log(f"note: {summary['note']}")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        artifacts.write_atomic(out / SUMMARY, (json.dumps(summary, indent=2) + "\n").encode())
    return summary
