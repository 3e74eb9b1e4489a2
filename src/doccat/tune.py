"""Hyperparameter search on the validation split: Optuna's TPE sampler, bad trials pruned epoch by epoch.

Each trial trains the base config (defaults <- config file <- flags) with the keys of the search space
drawn by TPE, on the train split, and is scored on the validation split. The trials are given the
splits without the test split, so none can look at it. After each epoch a trial reports its
validation score; the pruner stops a trial whose best score so far is in the bottom quarter of the
finished trials' scores at that epoch. At the end the best config is written as a TOML file that
`doccat train --config` takes, every trial to a CSV table, and the best config is trained once more
and scored on the test split, once.

The first trial is always the base config itself, so the best config is never worse than the base on
validation: drawn from the space when the base's values lie in it (the default recipe's do in the "linear"
space), so the sampler learns from it; else trained as it is (the default recipe in the "network" space, a
linear SVM, is no mini-batch network). The sampler is
seeded with the config's `seed` (also every trial's training seed), so a search with a trial count is
reproducible; one bounded by time runs as many trials as fit, which varies.
Optuna is an optional extra (`pip install -e '.[tune]'`), imported only when tuning.
"""
from __future__ import annotations

import json
import logging
import time
import tomllib
import typing
from dataclasses import dataclass
from pathlib import Path

from . import artifacts, classifier, config as config_mod, recipe
from .checkpoint import Checkpoints
from .data.summary import Stats
from .text import Tokens
from .train import Hooks
from .config import Config, ConfigError, TrainingError
from .data import DataError, Splits, load_splits
from .loss import SCORES
from .seeds import headline

LOG = logging.getLogger(__name__)

# Search spaces by name (--space NAME), else a file (see load_space). Every combination of each is a
# valid config on top of the default one.
SPACES = {
    # a mini-batch embedding-bag network, over the knobs of the classic course
    "network": {
        "optimizer": {"choices": ["adam", "adagrad", "sgd"]},
        "lr": {"low": 1e-3, "high": 1.0, "log": True},
        "batch_size": {"choices": [32, 64, 128, 256]},
        "epochs": {"low": 2, "high": 10},
        "embed_dim": {"choices": [16, 32, 64, 128]},
        "hidden": {"choices": [0, 64, 256]},  # one hidden layer of this size; 0: none
        "activation": {"choices": ["relu", "tanh"]},
        "dropout": {"low": 0.0, "high": 0.5},
        "ngrams": {"low": 1, "high": 3},
        "weighting": {"choices": ["mean", "tfidf"]},
        "weight_decay": {"choices": [0.0, 1e-6, 1e-5, 1e-4]},  # 0 keeps sgd/adagrad's sparse, fast updates
    },
    # the default recipe's own knobs (by default, the linear model fit full batch by L-BFGS): its
    # regularization and its features; quick trials, and the family that is usually best on small corpora
    "linear": {
        "weight_decay": {"low": 1e-8, "high": 1e-3, "log": True},
        "ngrams": {"low": 1, "high": 3},
        "min_df": {"low": 1, "high": 3},
        "weighting": {"choices": ["tfidf", "mean"]},
        "nb": {"low": 0.0, "high": 1.0},  # Naive Bayes scaling's exponent (0: off)
    },
}
DEFAULT_SPACE = "network"
DEFAULT_TRIALS = 20  # when neither a trial count nor a timeout is given
# Pruning: a trial whose best validation score so far is in the bottom quarter of the finished trials' at
# the same epoch is stopped; not before 5 trials have finished, nor before its 3rd epoch. Optuna's median
# pruner (the bottom half) stopped most trials of a full-batch L-BFGS search by their 2nd epoch, when its
# scores still say little about the last one.
PRUNE_PERCENTILE, PRUNE_STARTUP_TRIALS, PRUNE_WARMUP_EPOCHS = 75.0, 5, 3
SPEC_KEYS = {"choices", "low", "high", "log"}
# the user attribute of a trial that trains the base config as it is (the base lies outside the space): the
# base's values of the space's keys, for the trials table
BASE_TRIAL = "base_config"


@dataclass
class TuneResult:
    config: Config  # the best trial's config
    trials: list[dict]  # the table: one row per trial (trial, state, validation score, epochs, seconds, params)
    summary: dict  # what tune.json holds
    classifier: classifier.Classifier  # the best config trained once more; metrics_["test"] is the test score


def load_space(space: str | Path | dict | None) -> dict:
    """The search space: a name in SPACES (None: DEFAULT_SPACE), a dict, or a TOML / JSON file of that shape.

    One table per config key: `choices = [...]` (categorical), or `low`, `high` and optionally
    `log = true` (a range: integers for integer keys, e.g. epochs). `hidden` takes integer choices,
    each one hidden layer of that size (0: none). Data keys and `seed` cannot be searched.
    """
    if space is None or isinstance(space, str) and space in SPACES:
        return SPACES[space or DEFAULT_SPACE]
    if not isinstance(space, dict):
        path = Path(space)
        try:
            text = path.read_text(encoding="utf-8")
            space = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except FileNotFoundError:
            raise ConfigError(f"{path}: search space file not found") from None
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {e}") from None
    if not isinstance(space, dict) or not space:
        raise ConfigError("space: expected one table per config key to search, got none")
    for name, spec in space.items():
        _check_spec(name, spec)
    return space


def _check_spec(name: str, spec) -> None:
    where = f"space.{name}"
    section = config_mod.FLAT_KEYS.get(name)
    if section is None:
        raise ConfigError(f"{where}: unknown config key")
    if section == "data" or name == "seed":
        raise ConfigError(f"{where}: cannot be searched: the data and the seed stay fixed so trials compare")
    if not isinstance(spec, dict) or not spec or set(spec) - SPEC_KEYS:
        raise ConfigError(f"{where}: expected a table with choices = [...], or low, high (and log = true)")
    tp = _field_type(name)
    if "choices" in spec:
        if set(spec) != {"choices"} or not isinstance(spec["choices"], list) or not spec["choices"]:
            raise ConfigError(f"{where}: choices must be a non-empty list, and alone")
        allowed = config_mod.CHOICES.get(f"{section}.{name}")
        for value in spec["choices"]:
            config_mod.coerce(value, tp, where)
            if allowed is not None and value not in allowed:
                raise ConfigError(f"{where}: {value!r} is not one of {', '.join(sorted(allowed))}")
        return
    if not {"low", "high"} <= set(spec) or tp not in (int, float):
        raise ConfigError(f"{where}: a range needs low and high, and a numeric key (else give choices)")
    low, high = (config_mod.coerce(spec[k], tp, where) for k in ("low", "high"))
    if not low < high or not isinstance(spec.get("log", False), bool) or (spec.get("log") and low <= 0):
        raise ConfigError(f"{where}: needs low < high, and low > 0 with log = true")


def trial_config(base: Config, trial, space: dict) -> Config:
    """The base config with the space's keys drawn by `trial` (an Optuna trial, or a FixedTrial)."""
    values = {}
    for name, spec in space.items():
        if "choices" in spec:
            values[name] = trial.suggest_categorical(name, spec["choices"])
        else:  # integer keys (epochs, embed_dim, ...) draw integers
            suggest = trial.suggest_int if _field_type(name) is int else trial.suggest_float
            values[name] = suggest(name, spec["low"], spec["high"], log=spec.get("log", False))
    if "hidden" in values:
        values["hidden"] = [values["hidden"]] if values["hidden"] else []
    if not values.get("hidden", base.model.hidden):  # the hidden layers' own keys would change nothing
        for name in ("dropout", "activation"):
            values.pop(name, None)
    return config_mod.merge(base, config_mod.nest(values))


def base_values(base: Config, space: dict) -> dict | None:
    """The base config's values of the space's keys, or None when one of them lies outside the space."""
    values = {}
    for name, spec in space.items():
        value = _value(base, name)
        if name == "hidden" and isinstance(value, str):  # more than one layer: no one size of the space
            return None
        inside = value in spec["choices"] if "choices" in spec else value is not None and spec["low"] <= value <= spec["high"]
        if not inside:
            return None
        values[name] = value
    return values


def _field_type(name: str):
    """The config key's type; `hidden` (a list of sizes) is searched as one integer size."""
    if name == "hidden":
        return int
    return config_mod.set_type(typing.get_type_hints(config_mod.SECTION_TYPES[config_mod.FLAT_KEYS[name]])[name])


def tune(*, config=None, out=None, trials: int | None = None, timeout: float | None = None, space=None,
         overwrite: bool = False, log=LOG.info, progress: bool | None = None, **overrides) -> TuneResult:
    """Search hyperparameters on the validation split, then train the best config and score it on test once.

    Parameters
    ----------
    config : Config, dict or path, optional
        The base config, as `doccat.train` takes it; its data section names the data.
    out : path, optional
        Writes out/best.toml, out/trials.csv, out/tune.json and the final run directory out/best.
    trials, timeout : int, float, optional
        How many trials (default 20 when no timeout is given); no trial starts after `timeout` seconds.
    space : str, dict or path, optional
        A name in SPACES (default "network"), a dict or a TOML/JSON file (see `load_space`).
    overwrite, log, progress, **overrides
        As in `doccat.train` (any config key as a keyword).

    Returns
    -------
    TuneResult
        The best config, the trials' rows, the summary and the final classifier. (ConfigError when no
        trial completes.)
    """
    optuna = _import_optuna()
    space = load_space(space)
    base = classifier.resolve_config(config, overrides)
    out = _claim(Path(out), overwrite) if out is not None else None
    splits = _scored_splits(base)
    base = _resolve_searched(base, splits, space)
    score = f"valid_{SCORES[splits.task]}"
    trials = DEFAULT_TRIALS if trials is None and timeout is None else trials
    t0 = time.perf_counter()
    study = _search(optuna, base, space, splits, trials, timeout, log, out)
    search_seconds = time.perf_counter() - t0
    rows = trial_rows(study, space, score)
    best = _best_trial(study, optuna)
    best_cfg = _best_config(optuna, base, best, space)
    log(f"best: trial {best.number + 1}, {score} {best.value:.4f}; training it once more and scoring the test split")
    if out is not None:
        header = f"# doccat tune: trial {best.number + 1} of {len(rows)}, {score} {best.value:.6g}\n"
        artifacts.write_atomic(out / "best.toml", (header + config_mod.to_toml(best_cfg)).encode())
    clf = classifier.fit_data(splits, best_cfg, classifier.RunOptions(out / "best" if out else None, overwrite,
                                                                       Hooks(log, progress)))
    summary = {"out": str(out) if out else None, **_counts(rows), "search_seconds": search_seconds,
               "best_trial": best.number + 1, "best_params": best.params, "best_is_base": BASE_TRIAL in best.user_attrs,
               score: best.value, "best_config": str(out / "best.toml") if out else None,
               "run_dir": str(out / "best") if out else None, "final": headline(clf)}
    if out is not None:
        artifacts.write_atomic(out / "tune.json", (json.dumps(summary, indent=2) + "\n").encode())
    return TuneResult(best_cfg, rows, summary, clf)


def _counts(rows: list[dict]) -> dict:
    return {"trials": len(rows), **{state: sum(r["state"] == state for r in rows) for state in ("complete", "pruned", "fail")}}


def _scored_splits(base: Config) -> Splits:
    """The data of the trials, which are scored on its validation split: that split must hold documents."""
    splits = load_splits(base.data)
    if not len(splits.valid.labels):
        raise DataError("tune scores each trial on the validation split, which is empty: give --valid FILE "
                        "(or more documents per class)")
    return splits


def _resolve_searched(base: Config, splits: Splits, space: dict) -> Config:
    """`base` with weight_decay (and, when searched, nb) as training resolves them (doccat.recipe), so that a
    range can hold the base config's value and the first trial is the base config itself. (Only these: a
    trial that turns the linear model into a network must still get a network's loss and init.)"""
    resolved = recipe.resolve(base, Stats.of(splits, Tokens.of(splits.train.texts).count))
    if base.train.weight_decay is None:
        base = config_mod.merge(base, {"train": {"weight_decay": resolved.train.weight_decay}})
    if base.model.nb is None and "nb" in space:  # only then: an explicit nb refuses a network
        base = config_mod.merge(base, {"model": {"nb": resolved.model.nb}})
    return base


def _search(optuna, base: Config, space: dict, splits: Splits, trials, timeout, log, out: Path | None):
    """Run the study: TPE seeded by the config's seed, the percentile pruner, trials on train + valid only."""
    search_splits = Splits(splits.train, splits.valid, None, splits.classes, splits.task)  # no test: it stays unseen
    score = f"valid_{SCORES[splits.task]}"

    def after_trial(study, trial):
        log(_trial_line(trial, trials, score))
        if out is not None:  # the table so far, so a long search shows where it stands
            artifacts.write_atomic(out / "trials.csv", artifacts.rows_csv(trial_rows(study, space, score)))

    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our own line per trial instead of Optuna's
    try:
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=base.train.seed),
            pruner=optuna.pruners.PercentilePruner(PRUNE_PERCENTILE, n_startup_trials=PRUNE_STARTUP_TRIALS,
                                                   n_warmup_steps=PRUNE_WARMUP_EPOCHS))
        _enqueue_base(study, base, space)
        study.optimize(_objective(optuna, base, space, search_splits, SCORES[splits.task]), n_trials=trials,
                       timeout=timeout, catch=(ConfigError, TrainingError), callbacks=[after_trial])
    finally:
        optuna.logging.set_verbosity(verbosity)
    return study


def _enqueue_base(study, base: Config, space: dict) -> None:
    """Make the base config the first trial, so the best is never worse than the base on validation: its
    values drawn from the space when they lie in it; else a trial that trains the base as it is, its values
    of the space's keys kept (as BASE_TRIAL) for the table."""
    start = base_values(base, space)
    if start is not None:
        study.enqueue_trial(start)
    else:
        study.enqueue_trial({}, user_attrs={BASE_TRIAL: {name: _value(base, name) for name in space}})


def _value(cfg: Config, name: str):
    """The config's value of a space key, as the space writes it (`hidden`: one layer's size, 0 for none)."""
    value = getattr(getattr(cfg, config_mod.FLAT_KEYS[name]), name)
    if name == "hidden":
        return value[0] if len(value) == 1 else 0 if not value else ",".join(map(str, value))
    return value


def _objective(optuna, base: Config, space: dict, splits: Splits, score_key: str):
    """One trial: train on train, score on valid; report each epoch's score so the pruner can stop it."""
    def objective(trial) -> float:
        def on_epoch(row):
            trial.report(row["val_score"], row["epoch"])
            if trial.should_prune():
                raise optuna.TrialPruned(f"pruned at epoch {row['epoch']}")

        try:
            cfg = base if BASE_TRIAL in trial.user_attrs else trial_config(base, trial, space)
            quiet = classifier.RunOptions(hooks=Hooks(lambda *a: None, False, on_epoch))
            clf = classifier.fit_data(splits, cfg, quiet)
        except (ConfigError, TrainingError) as e:  # a bad combination or a diverging rate: a failed trial
            trial.set_user_attr("error", str(e))
            raise
        return clf.metrics_["valid"][score_key]
    return objective


def trial_rows(study, space: dict, score: str) -> list[dict]:
    """One row per trial, numbered from 1. A pruned trial's score is the best it reached before it was stopped;
    a trial of the base config as it is shows the base's values."""
    rows = []
    for t in study.trials:
        value = t.value if t.value is not None else max(t.intermediate_values.values(), default=None)
        rows.append({"trial": t.number + 1, "state": t.state.name.lower(), score: value,
                     "epochs": len(t.intermediate_values),
                     "seconds": round(t.duration.total_seconds(), 3) if t.duration else None,
                     **{name: t.params.get(name) for name in space}, **t.user_attrs.get(BASE_TRIAL, {}),
                     "error": t.user_attrs.get("error", "")})
    return rows


def _trial_line(trial, trials: int | None, score: str) -> str:
    of = f" of {trials}" if trials else ""
    seconds = f"{trial.duration.total_seconds():.1f} s" if trial.duration else ""
    state = trial.state.name.lower()
    if state == "complete":
        what = f"{score} {trial.value:.4f}"
    elif state == "pruned":
        what = f"pruned at epoch {len(trial.intermediate_values)}"
    else:
        what = f"failed: {trial.user_attrs.get('error', '?')}"
    drawn = "the base config" if BASE_TRIAL in trial.user_attrs else trial.params
    return f"trial {trial.number + 1}{of}: {what} ({seconds}) {drawn}"


def _best_config(optuna, base: Config, best, space: dict) -> Config:
    """The best trial's config: the base itself, or the base with the trial's values of the space's keys."""
    if BASE_TRIAL in best.user_attrs:
        return base
    return trial_config(base, optuna.trial.FixedTrial(best.params), space)


def _best_trial(study, optuna):
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    if not complete:
        raise ConfigError(f"no trial completed ({len(study.trials)} run): see the errors in trials.csv; "
                          "widen the space, or give more trials or time")
    return study.best_trial


def _claim(out: Path, overwrite: bool) -> Path:
    """`out` for a search: new, or (with `overwrite`) one that an earlier `doccat tune` wrote."""
    artifacts.claim_folder(out, overwrite, {"best.toml", "trials.csv", "tune.json", "best", "best.partial"})
    Checkpoints.check(out / "best", overwrite)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _import_optuna():
    try:
        import optuna
    except ImportError:
        raise ConfigError("doccat tune needs Optuna: pip install -e '.[tune]'") from None
    return optuna
