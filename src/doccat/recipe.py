"""The recipe: a config with every "auto" (and every None that means "decide for me") made concrete.

    config (as given) + data statistics (doccat.data.summary.Stats) --resolve--> config (resolved)

This is the one place where such defaults are decided; every module below it reads concrete values.
Training, streaming, resume, `tune` and `load` call `resolve`, and a run's config.json is its result.
Each default was chosen on data held out of the training splits (README: "How the default recipe works").
"""
from __future__ import annotations

import dataclasses
import math

from .config import Config, ConfigError, ModelConfig, TrainConfig, shown
from .data.summary import Stats
from .loss import LOSSES, LossError, check as check_loss

# model.char_ngrams None: these lengths, for a linear model on at most this many training tokens
AUTO_CHARS, AUTO_CHAR_TOKENS = [3, 5], 1_000_000
AUTO_WEIGHT_DECAY = 3e-6  # train.weight_decay None, for any loss but squared_hinge (1 / (AUTO_C * training documents))
AUTO_C = 2.0  # squared_hinge's weight_decay None: 1 / (C * training documents), as scikit-learn's C
AUTO_NB = 0.5  # model.nb None, for a linear classifier fit full batch
AUTO_CLASS_WEIGHTS = "balanced"  # train.class_weights auto, where liblinear solves the linear SVM
# train.patience None, for mini-batches: epochs without a better validation score before training stops (as
# scikit-learn's SGDClassifier n_iter_no_change). A full batch stops when its objective no longer falls (tol).
AUTO_PATIENCE = 5
# model.recipe fewlabel: the encoder when none is given; train.weight_decay None: 1 / (FEW_C x training documents)
# (a summed loss's C, as scikit-learn's LogisticRegression takes it, which SetFit's head is)
FEW_ENCODER, FEW_C = "all-MiniLM-L6-v2", 1.0
# ... and its encoder, for a task with classes: tuned on pairs of training documents first (SetFit's contrastive
# stage: +4 to +28 points over the frozen encoder on the benchmark's validation draws, bench/FEWLABEL.md)
FEW_MODE = "contrastive"
AUTO_FEW_PER_CLASS = 100  # model.recipe auto: fewlabel is a candidate up to this many training documents per class
AUTO_Z = 2.0  # ... and is kept unless the bag validates better by more than this many standard errors


def is_linear(m: ModelConfig) -> bool:
    """Whether the model config describes a linear model: the bag's class scores, nothing else."""
    return m.embed_dim == 0 and not m.hidden and not m.encoder and m.bag


def resolve(cfg: Config, stats: Stats | None) -> Config:
    """`cfg` with nothing left to decide, by the training split's `stats`.

    data.task auto: the data's task. model.char_ngrams None: [3, 5] for a linear model on at most
    1,000,000 training tokens, else []. model.nb None: 0.5 for a linear classifier fit full batch, else 0.
    model.init auto: zeros where the model is linear in its inputs, "vectors" (uniform at the word
    vectors' scale) with model.vectors, else uniform. train.loss auto: squared_hinge for a linear
    classifier, else the task's usual (cross_entropy, bce, mse). train.weight_decay None: 1 / (2 x training
    documents) for squared_hinge (scikit-learn's C = 2), else 3e-6. train.optimizer auto: liblinear where
    it solves the same problem, else lbfgs. train.class_weights auto: balanced where liblinear solves, else none.
    train.patience None: 5 for mini-batches, else 0.

    `stats` None (a saved run's config, resolved when it was trained): only what needs no data is
    resolved, and a key that needs data and is still undecided is an error.
    """
    cfg = named_recipe(cfg)
    if stats is None:
        undecided = [key for key, value in (("data.task", cfg.data.task == "auto"),
                                            ("model.char_ngrams", cfg.model.char_ngrams is None),
                                            ("model.nb", cfg.model.nb is None), ("train.loss", cfg.train.loss == "auto"),
                                            ("model.encoder_mode", cfg.model.encoder and cfg.model.encoder_mode == "auto"),
                                            ("train.weight_decay", cfg.train.weight_decay is None),
                                            ("train.class_weights", cfg.train.class_weights == "auto"),
                                            ("train.optimizer", cfg.train.optimizer == "auto")) if value]
        if undecided:
            raise ConfigError(f"{', '.join(undecided)}: undecided in a saved run's config (it needs the training "
                              "data to be resolved); the run was written by another version of doccat: train it again")
        return dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, init=init_scheme(cfg.model)),
                                   train=dataclasses.replace(cfg.train, patience=stopping_patience(cfg.train)))
    if cfg.train.compress_bits < 32 and not is_linear(cfg.model):
        raise ConfigError("train.compress_bits / compress_max_features compress a linear model's weights (the default "
                          "recipe: embed_dim 0, no hidden layers, no encoder); a network is saved as float32")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, encoder_mode=_encoder_mode(cfg.model, stats.task)))
    if cfg.model.encoder and cfg.model.encoder_mode == "contrastive" and stats.task != "classify":
        raise ConfigError(f"model.encoder_mode contrastive pairs documents of one class against those of others: "
                          f"a {stats.task} task has no such pairs (use encoder_mode frozen or finetune)")
    loss = check_loss(stats.task, _loss(cfg, stats.task), len(stats.classes))
    if loss == "squared_hinge" and cfg.train.label_smoothing:
        raise LossError("train.label_smoothing smooths probabilities: squared_hinge has none to smooth "
                        "(use cross_entropy, or label_smoothing 0)")
    decay = cfg.train.weight_decay
    if decay is None:
        c = AUTO_C if loss == "squared_hinge" else FEW_C if cfg.model.recipe == "fewlabel" else None
        decay = AUTO_WEIGHT_DECAY if c is None else 1.0 / (c * max(stats.documents, 1))
    model = dataclasses.replace(cfg.model, nb=_nb(cfg, stats.task), char_ngrams=_chars(cfg.model, stats.tokens),
                                init=init_scheme(cfg.model))
    train = dataclasses.replace(cfg.train, loss=loss, weight_decay=decay, patience=stopping_patience(cfg.train))
    train = dataclasses.replace(train, optimizer=_optimizer(dataclasses.replace(cfg, train=train)))
    train = dataclasses.replace(train, class_weights=_class_weights(train))
    return dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, task=stats.task), model=model, train=train)


def named_recipe(cfg: Config) -> Config:
    """model.recipe fewlabel: an encoder (FEW_ENCODER unless model.encoder names one; its mode: see `_encoder_mode`)
    and a linear head alone (its weight decay: see `resolve`); bag: `cfg` as it is. ("auto" is decided by training
    both: doccat.classifier, with `candidates` and `pick`.)"""
    m = cfg.model
    if m.recipe == "auto":
        raise ConfigError("model.recipe auto is decided on the training data (doccat.train); a resolved config "
                          "names bag or fewlabel")
    if m.recipe != "fewlabel":
        return cfg
    return dataclasses.replace(cfg, model=dataclasses.replace(m, encoder=m.encoder or FEW_ENCODER, bag=False))


def _encoder_mode(m: ModelConfig, task: str) -> str:
    """model.encoder_mode auto: FEW_MODE for recipe fewlabel on a task with classes (the pairs need them), else
    frozen; without an encoder it stays as given (unused)."""
    if not m.encoder or m.encoder_mode != "auto":
        return m.encoder_mode
    return FEW_MODE if m.recipe == "fewlabel" and task == "classify" else "frozen"


def candidates(documents: int, classes: int) -> tuple[list[str], str]:
    """model.recipe auto: the recipes worth training on a training split of `documents` in `classes` classes
    (at most AUTO_FEW_PER_CLASS each, fewlabel too: bench/FEWLABEL.md), and why."""
    per_class = documents / max(classes, 1)
    if per_class > AUTO_FEW_PER_CLASS:
        return ["bag"], (f"{documents:,} training documents, {per_class:,.0f} per class: more than "
                         f"{AUTO_FEW_PER_CLASS}, where the bag is the recipe")
    return ["bag", "fewlabel"], f"{documents:,} training documents, {per_class:,.0f} per class"


def candidate(cfg: Config, name: str) -> Config:
    """model.recipe auto's candidate `name`: `cfg` with that recipe; the bag without an encoder leaves the encoder's
    settings at their defaults (they were given for fewlabel: not unused settings to warn about)."""
    m = dataclasses.replace(cfg.model, recipe=name)
    if name == "bag" and not m.encoder:
        m = dataclasses.replace(m, **{f.name: getattr(ModelConfig(), f.name) for f in dataclasses.fields(ModelConfig)
                                      if f.name.startswith("encoder_")})
    return dataclasses.replace(cfg, model=m)


def pick(scores: dict[str, float], why: str, documents: int) -> tuple[str, str]:
    """The recipe to keep from validation `scores` on `documents` validation documents: fewlabel, unless the bag
    scores better by more than AUTO_Z standard errors of the difference of two accuracies (a few dozen
    validation documents are noise: on the benchmark's small draws fewlabel validated better on average,
    bench/FEWLABEL.md). A candidate that could not be trained is not in `scores`."""
    shown_scores = ", ".join(f"{name} {score:.4f}" for name, score in scores.items())
    if set(scores) != {"bag", "fewlabel"}:
        return next(iter(scores)), f"{why}; validation: {shown_scores}"
    mean = (scores["bag"] + scores["fewlabel"]) / 2
    error = math.sqrt(2 * mean * (1 - mean) / max(documents, 1))
    better = scores["bag"] - scores["fewlabel"] > AUTO_Z * error
    return ("bag" if better else "fewlabel"), (f"{why}; validation on {documents:,} documents: {shown_scores} "
                                               f"(the bag {'is' if better else 'is not'} better by more than "
                                               f"{AUTO_Z:g} standard errors, {AUTO_Z * error:.4f})")


def _loss(cfg: Config, task: str) -> str:
    """The default recipe is a linear SVM: squared_hinge for a linear classifier, else the task's usual loss."""
    if cfg.train.loss != "auto":
        return cfg.train.loss
    return "squared_hinge" if is_linear(cfg.model) and task == "classify" else LOSSES[task][0]


def _optimizer(cfg: Config) -> str:
    """liblinear solves the linear SVM itself, in a pass over the non-zeros per iteration; lbfgs the rest."""
    t = cfg.train
    reasons = _liblinear_misses(cfg)
    if t.optimizer == "auto":
        return "lbfgs" if reasons else "liblinear"
    if t.optimizer == "liblinear" and reasons:
        raise ConfigError(f"train.optimizer liblinear solves a linear SVM and needs {', '.join(reasons)}; "
                          "for anything else use --optimizer lbfgs (or a mini-batch optimizer)")
    return t.optimizer


def _class_weights(t) -> str:
    """Balanced class weights where liblinear solves the linear SVM: macro-F1 +1.3 points on held-out training
    data of 18 corpora (+2.1 on MasakhaNEWS), accuracy within 0.04 (bench/CLASS_WEIGHTS.md)."""
    if t.class_weights == "auto":
        return AUTO_CLASS_WEIGHTS if t.optimizer == "liblinear" else "none"
    return t.class_weights


def _liblinear_misses(cfg: Config) -> list[str]:
    """What liblinear needs that `cfg` (its loss and weight decay resolved) does not have."""
    t = cfg.train
    return [why for why, fails in (
        ("a linear model (no embedding, hidden layers or encoder)", not is_linear(cfg.model)),
        ("train.loss squared_hinge", t.loss != "squared_hinge"), ("train.batch_size 0", t.batch_size != 0),
        ("data in memory (not data.streaming)", cfg.data.streaming),
        ("train.weight_decay > 0", not t.weight_decay > 0)) if fails]


def stopping_patience(t: TrainConfig) -> int:
    """train.patience resolved: mini-batch runs stop once validation stops improving (a streamed IMDb run's
    training loss is 0 from its 4th epoch on: the other 36 of 40 epochs change nothing)."""
    if t.patience is None:
        return AUTO_PATIENCE if t.batch_size > 0 else 0
    return t.patience


def _chars(m: ModelConfig, tokens: int) -> list[int]:
    if m.char_ngrams is None:
        return list(AUTO_CHARS) if is_linear(m) and tokens <= AUTO_CHAR_TOKENS else []
    return list(m.char_ngrams)


def _nb(cfg: Config, task: str) -> float:
    """Mini-batches (streaming among them) keep the bag's sparse gradients, which the scale would make dense."""
    if cfg.model.nb is None:
        return AUTO_NB if is_linear(cfg.model) and task != "regression" and cfg.train.batch_size == 0 else 0.0
    if cfg.model.nb and task == "regression":
        raise ConfigError("model.nb scales features by how they tell classes apart: a regression "
                          "has no classes (set nb 0)")
    return cfg.model.nb


def init_scheme(m: ModelConfig) -> str:
    """model.init resolved: a linear model starts at zero, as logistic regression does; an embedding needs
    symmetry broken. (The networks call it too, for a config built by hand and not resolved.)"""
    if m.init != "auto":
        return m.init
    # with an encoder: the bag's class scores beside it, or the encoder alone with no hidden layer
    linear = (m.bag and m.embed_dim == 0) or (not m.bag and not m.hidden) if m.encoder else m.embed_dim == 0
    if linear:
        return "zeros"
    return "vectors" if m.vectors else "uniform"


def decisions(given: Config, resolved: Config, stats: Stats) -> list[str]:
    """One line per key `resolve` decided (given as auto), with the reason: a recipe switch is never silent."""
    m, t = resolved.model, resolved.train
    named = named_recipe(given)
    lines = [] if named is given else [
        f"recipe: model.recipe {given.model.recipe} -> encoder {m.encoder}, bag false (a linear head on the "
        "encoder's embeddings, for few examples per class)"]
    given = named
    linear = is_linear(given.model)
    why = {
        "data.task": "the data's labels",
        "model.char_ngrams": ("not a linear model" if not linear else
                              f"a linear model on {stats.tokens:,} training tokens, "
                              f"{'at most' if stats.tokens <= AUTO_CHAR_TOKENS else 'more than'} {AUTO_CHAR_TOKENS:,}"),
        "model.nb": "a linear classifier fit full batch" if m.nb else "not a linear classifier fit full batch",
        "model.init": {"zeros": "a linear model", "vectors": "word vectors"}.get(m.init, "a network"),
        "train.loss": "a linear classifier: a linear SVM" if t.loss == "squared_hinge" else f"the {stats.task} task's usual",
        "train.weight_decay": (f"1 / ({AUTO_C:g} x {stats.documents:,} training documents), for squared_hinge"
                               if t.loss == "squared_hinge" else
                               f"1 / ({FEW_C:g} x {stats.documents:,} training documents), for fewlabel's head"
                               if m.recipe == "fewlabel" else f"for {t.loss}"),
        "train.class_weights": ("each one-vs-rest problem balanced, for macro-F1" if t.class_weights == "balanced"
                                else "not solved by liblinear"),
        "train.patience": ("mini-batches: stop once validation stops improving" if t.patience else
                           "full batch: it stops when the objective no longer falls (tol)"),
        **({"model.encoder_mode": (f"tuned on pairs of training documents ({m.encoder_pair_steps} steps of "
                                   f"{m.encoder_pair_batch}), then frozen: recipe fewlabel, a {stats.task} task"
                                   if m.encoder_mode == "contrastive" else "not recipe fewlabel on a classify task")}
           if m.encoder else {}),
        "train.optimizer": ("it solves this linear SVM exactly" if t.optimizer == "liblinear" else
                            "liblinear needs " + ", ".join(_liblinear_misses(dataclasses.replace(given, train=t)))),
    }
    for key, reason in why.items():
        section, name = key.split(".")
        before, after = getattr(getattr(given, section), name), getattr(getattr(resolved, section), name)
        if before in (None, "auto"):
            lines.append(f"recipe: {key} auto -> {shown(after)} ({reason})")
    return lines


LIBLINEAR_UNUSED = ("lr", "scheduler", "clip_norm", "clip_value", "patience", "warmup_epochs", "keep", "shuffle")


def unused(cfg: Config) -> list[str]:
    """Settings of a resolved `cfg` that change nothing, or that make training degenerate: each a warning."""
    m, t = cfg.model, cfg.train
    m0, t0 = ModelConfig(), dataclasses.replace(TrainConfig(), patience=0)  # patience auto is 0 at full batch
    notes = []
    if t.optimizer == "liblinear":
        notes += [f"train.{k} {shown(getattr(t, k))} is not used: the optimizer is liblinear (one exact solve of the "
                  "linear SVM, no learning rate or epochs); to use it, give --optimizer lbfgs or a mini-batch one"
                  for k in LIBLINEAR_UNUSED if getattr(t, k) != getattr(t0, k)]
    needs = {"step_size": ("step",), "step_when": ("step",), "gamma": ("step", "plateau"),
             "plateau_patience": ("plateau",), "warmup_epochs": ("linear",)}
    notes += [f"train.{k} {shown(getattr(t, k))} is not used: it belongs to scheduler {' or '.join(kinds)}, and "
              f"the scheduler is {t.scheduler}" for k, kinds in needs.items()
              if getattr(t, k) != getattr(t0, k) and t.scheduler not in kinds]
    if not m.encoder:
        notes += [f"model.{f.name} {shown(getattr(m, f.name))} is not used: there is no encoder (--encoder)"
                  for f in dataclasses.fields(ModelConfig) if f.name.startswith("encoder_")
                  and getattr(m, f.name) != getattr(m0, f.name)]
    if m.init == "zeros" and not m.encoder and (m.hidden or m.embed_dim > 0):  # (an encoder's wide part: zeros)
        notes.append("model.init zeros with an embedding or hidden layers: every unit starts the same and gets the "
                     "same gradient (with zero output weights, none at all), so the layers never learn apart; "
                     "leave init auto (uniform)")
    if t.init_from and t.optimizer == "lbfgs":
        notes.append("train.init_from with optimizer lbfgs: a full-batch solve to convergence ends where the new "
                     "documents alone lead, whatever it starts from, so the saved model is forgotten; leave the "
                     "optimizer auto (liblinear averages the two), or use mini-batches for few epochs")
    if not t.shuffle and t.batch_size == 0 and t.optimizer != "liblinear":
        notes.append("train.shuffle false is not used: full batch (batch_size 0) sees every document at each step")
    return notes
