"""Typed configuration: plain dataclasses with their defaults, loaded from TOML and flags.

One override path: defaults <- config file <- command-line flags. Unknown keys are errors.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path


class ConfigError(ValueError):
    """A configuration value or key that doesn't make sense."""


@dataclass
class DataConfig:
    dataset: str | None = None  # a registry name (see `doccat datasets`); or give files below
    # classify (one label per document) | multilabel (a set of labels) | regression (a number);
    # auto: the registry dataset's task, else classify
    task: str = "auto"
    train: str | None = None
    valid: str | None = None
    test: str | None = None
    # auto (by the name: .csv .tsv .jsonl .txt .parquet .arrow/.feather, a folder per class or a Hugging Face
    # save_to_disk folder) | csv | tsv | jsonl | fasttext | folder | parquet | arrow | hf
    format: str = "auto"
    delimiter: str | None = None  # CSV/TSV: None: "," or tab by the format, or the one the header shows (e.g. ";")
    # CSV/TSV: the quote character; None: '"' for CSV, and for a TSV whose fields are quoted (as pandas writes
    # them: found from the file's start), else none; "" = no quoting (every delimiter splits)
    quotechar: str | None = None
    label_column: str = "label"  # a column name, or a 0-based index for headerless CSV/TSV
    label_sep: str | None = None  # multilabel CSV/TSV/JSONL strings: the separator of the labels in a field, e.g. ","
    text_columns: list[str] = field(default_factory=lambda: ["text"])
    header: bool | None = None  # CSV/TSV: None guesses from the first row
    encoding: str = "utf-8"
    on_bad_row: str = "error"  # error | skip | warn: skip/warn drop bad rows and report their line numbers
    from_split: str | None = None  # use only this registry split, carve the others from it
    valid_fraction: float = 0.1  # carved from train when there is no validation split
    test_fraction: float | None = None  # carved from train when there is no test split
    split_seed: int = 0
    data_dir: str | None = None
    # read the files a block at a time, every epoch, instead of loading them: corpora larger than memory
    # (doccat/data/stream.py); mini-batch optimizers only
    streaming: bool = False
    shuffle_buffer: int = 10_000  # streaming: documents held to shuffle the training stream (memory ~ this x doc size)


@dataclass
class ModelConfig:
    # the default recipe, chosen on held-out training data (bench/SELECTION.md): a linear SVM on TF-IDF word 1-2-grams
    embed_dim: int = 0  # 0: no embedding, the bag holds one weight per class (a linear model)
    ngrams: int = 2  # word n-grams up to this n, hashed into `buckets`
    buckets: int = 2_000_000  # only the buckets training uses become columns: few collisions, little memory
    # character n-grams of every word (unknown ones too), lengths [low, high], marked at the word's ends
    # ("<wo", "ord>"), hashed into `buckets` of their own, weighed as a block beside the words; [] = none.
    # None: [3, 5] for a linear model whose training split has at most 500,000 tokens (the default recipe, chosen
    # on held-out training data), else none: a word brings ~10 character n-grams, which on a larger corpus cost
    # 3-5x the training time for a gain of -0.2 to +0.7 points (bench/SELECTION.md)
    char_ngrams: list[int] | None = None
    min_freq: int = 1  # a word needs this many occurrences in the training split to enter the vocabulary
    min_df: int = 2  # a feature (word or n-gram) needs this many training documents to be a column
    max_vocab: int | None = 2_000_000  # the most frequent tokens kept; None = all
    max_tokens: int | None = 10_000  # documents are cut to their first N tokens (before n-grams); None = all
    weighting: str = "tfidf"  # mean (of token and n-gram vectors) | tfidf (sublinear, L2-normalized)
    # Naive Bayes scaling (NBSVM, Wang & Manning 2012) of a linear classifier: each class's score weighs a feature by
    # |r| ** nb, r the log-ratio of its smoothed document frequencies in and out of the class, so the features that
    # tell the class apart cost less under weight decay. 0 = off; None: 0.5 for a linear classify/multilabel model
    # fit full batch (the default recipe, chosen on held-out training data), else 0
    nb: float | None = None
    hidden: list[int] = field(default_factory=list)  # sizes of the hidden layers between the bag and the output
    activation: str = "relu"  # relu | tanh | sigmoid | hardtanh | gelu
    dropout: float = 0.0
    # auto (zeros for a linear model; with word vectors, "vectors": uniform at their scale; else uniform) |
    # uniform | vectors | xavier | kaiming | normal | zeros | default (PyTorch's own per layer)
    init: str = "auto"
    init_range: float = 0.5
    # pretrained representations (README: "Pretrained representations")
    vectors: str | None = None  # word vectors (GloVe .txt, fastText/word2vec .vec, .gz) for the bag's word rows
    freeze_embeddings: bool = False  # the bag keeps its initial rows (e.g. the vectors); else they are fine-tuned
    unfreeze_after: int = 0  # with freeze_embeddings: fine-tune the bag after this many epochs; 0 = never
    bag: bool = True  # with an encoder: the n-gram bag beside it (see model.EncoderClassifier); false: none
    encoder: str | None = None  # a sentence encoder: a known name (all-MiniLM-L6-v2) or a Hugging Face folder
    encoder_mode: str = "frozen"  # frozen (embeddings computed once, cached on disk) | finetune
    encoder_layers: int | None = None  # finetune: only the top N transformer layers train; None = all
    encoder_max_length: int | None = None  # tokens per window; None = the encoder's own (256 for MiniLM)
    encoder_long_docs: str = "truncate"  # truncate | chunk (windows of encoder_max_length, embeddings averaged)
    encoder_overlap: int = 0  # chunk: tokens shared by neighbouring windows
    encoder_pool_layers: int = 1  # the token states pooled: the mean of the top N layers' (1: the last layer's)
    encoder_cache: str | None = None  # frozen: embeddings cache; None = $DOCCAT_CACHE_DIR/encoder or ~/.cache/doccat/encoder
    threshold: float = 0.5  # multilabel: a label is predicted when its probability reaches this


@dataclass
class TrainConfig:
    # the default recipe is scikit-learn's LinearSVC (squared hinge, one-vs-rest, C = 2), solved by liblinear's
    # dual coordinate descent (chosen on held-out training data)
    epochs: int = 40
    batch_size: int = 0  # 1: stochastic; 0: full batch (one update per epoch, the whole training split)
    shuffle: bool = True  # reshuffle the training documents every epoch
    # auto: liblinear where it solves the same problem (a linear model, squared_hinge, in memory, no class
    # weights), else lbfgs | liblinear (full batch, one solve) | lbfgs (full batch; 4 iterations an epoch) |
    # sgd | adam | adamw | adagrad | rmsprop
    optimizer: str = "auto"
    lr: float = 1.0
    encoder_lr: float = 2e-5  # model.encoder_mode finetune: the pretrained encoder's learning rate (small: it forgets)
    momentum: float = 0.0
    nesterov: bool = False
    # L2 on weights (not biases); lbfgs adds 0.5 * wd * |W|^2 to its objective (the mean loss). None: by the
    # loss: squared_hinge 1 / (2 * training docs) (scikit-learn's C = 2: half a document's weight); else 3e-6
    weight_decay: float | None = None
    scheduler: str = "none"  # none | step | cosine | linear | plateau
    step_size: int = 1
    step_when: str = "epoch"  # step: every step_size epochs, or "val_drop": when val accuracy drops (the tutorial)
    gamma: float = 0.1  # step: lr *= gamma every step_size epochs; plateau: the reduce factor
    plateau_patience: int = 0
    warmup_epochs: float = 0.0  # linear: warm up over this many epochs, then decay to 0
    # auto: the task's usual (classify: squared_hinge for a linear model, as the default recipe, else
    # cross_entropy; multilabel: bce; regression: mse) | cross_entropy | nll | bce | squared_hinge | mse | l1
    loss: str = "auto"
    label_smoothing: float = 0.0  # classify/multilabel: move targets this much toward uniform
    class_weights: str = "none"  # none | balanced | "w1,w2,..." (one per class, in class order)
    clip_norm: float = 0.0  # clip the gradient norm to this; 0 = off
    clip_value: float = 0.0  # clip every gradient element to [-v, v]; 0 = off
    patience: int = 0  # stop after this many epochs without a better validation accuracy; 0 = off
    keep: str = "last"  # last | best: the weights training ends with, or those of the best validation epoch
    tol: float = 3e-3  # full batch: stop once an epoch lowers the training loss by less than this fraction
    seed: int = 0
    # checkpoints (into <out>.partial/, for --resume): a killed run loses at most this many minutes;
    # by time rather than by epoch, since an L-BFGS checkpoint holds its history (5 steps of all weights)
    checkpoint_minutes: float = 2.0  # 0 = off; mid-epoch too
    checkpoint_every: int = 0  # also every N epochs; 0 = off
    threads: int | None = None  # torch's CPU threads; None = torch's default (one per core)
    device: str = "auto"  # cpu | cuda | auto (cuda when a GPU is present, else cpu)


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


SECTION_TYPES = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}


def set_type(tp):
    """The type a field holds when it is set: `X | None` -> X; any other annotation as it is."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        return next(a for a in typing.get_args(tp) if a is not type(None))
    return tp


def coerce(value, tp, key):
    """Check `value` against the annotated type `tp`; ints are accepted where floats are, and numpy's scalars
    as Python's (a parameter grid gives np.int64)."""
    if type(value).__module__ == "numpy" and hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        value = value.item()
    origin = typing.get_origin(tp)
    if origin in (types.UnionType, typing.Union):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ConfigError:
                pass
        raise ConfigError(f"{key}: {value!r} is not a {_type_name(tp)}")
    if origin is list:
        (item,) = typing.get_args(tp)
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        return [coerce(v, item, key) for v in value]
    if tp is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if tp is str and isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # e.g. a CSV column given by index
    if tp in (int, str, bool) and type(value) is tp:
        return value
    raise ConfigError(f"{key}: {value!r} is not a {_type_name(tp)}")


def _type_name(tp) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _field_types(cls) -> dict:
    return typing.get_type_hints(cls)


def from_dict(d: dict) -> Config:
    """Build a Config from nested plain data ({"data": {...}, "model": {...}, "train": {...}})."""
    return merge(Config(), d)


def merge(cfg: Config, overrides: dict) -> Config:
    """Return a copy of `cfg` with `overrides` (nested dict) applied, checking keys and types."""
    out = copy.deepcopy(cfg)
    for section, values in overrides.items():
        if section not in SECTION_TYPES:
            owner = [name for name, cls in SECTION_TYPES.items() if section in _field_types(cls)]
            if owner and not isinstance(values, dict):
                raise ConfigError(f"{section} = {values!r} is outside any section: put it under [{owner[0]}]")
            raise ConfigError(f"unknown config section [{section}] (known: {', '.join(SECTION_TYPES)})")
        if not isinstance(values, dict):
            raise ConfigError(f"[{section}] must be a table of keys")
        cls = SECTION_TYPES[section]
        hints = _field_types(cls)
        current = dataclasses.asdict(getattr(out, section))
        for key, value in values.items():
            if key not in hints:
                raise ConfigError(f"unknown key {section}.{key} (known: {', '.join(hints)})")
            current[key] = coerce(value, hints[key], f"{section}.{key}")
        setattr(out, section, cls(**current))
    validate(out)
    return out


FLAT_KEYS = {name: section for section, cls in SECTION_TYPES.items() for name in _field_types(cls)}


def nest(flat: dict) -> dict:
    """{"lr": 0.1, "dataset": "trec"} -> {"train": {"lr": 0.1}, "data": {"dataset": "trec"}}."""
    nested: dict = {}
    for key, value in flat.items():
        if key not in FLAT_KEYS:
            raise ConfigError(f"unknown option {key!r}")
        nested.setdefault(FLAT_KEYS[key], {})[key] = value
    return nested


def load(path: str | Path, overrides: dict | None = None) -> Config:
    """Read a TOML config file, then apply `overrides` (flags win over the file)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            raw = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not UTF-8 text (byte {e.object[e.start]:#04x} at offset {e.start}): a "
                          "config file is TOML, which is UTF-8") from None
    try:
        cfg = merge(Config(), raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None
    return merge(cfg, overrides or {})


def to_dict(cfg: Config) -> dict:
    return dataclasses.asdict(cfg)


def to_toml(cfg: Config) -> str:
    """Render as TOML that `load` reads back (None values are left out: they are the defaults)."""
    lines = []
    for section, values in to_dict(cfg).items():
        lines.append(f"[{section}]")
        for key, value in values.items():
            if value is not None:
                lines.append(f"{key} = {_toml_value(value)}")
        lines.append("")
    return "\n".join(lines)


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)  # a JSON string is a valid TOML basic string, control characters escaped
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return repr(v)


CHOICES = {
    "data.task": {"auto", "classify", "multilabel", "regression"},
    "data.format": {"auto", "csv", "tsv", "jsonl", "fasttext", "folder", "parquet", "arrow", "hf"},
    "data.on_bad_row": {"error", "skip", "warn"},
    "model.activation": {"relu", "tanh", "sigmoid", "hardtanh", "gelu"},
    "model.weighting": {"mean", "tfidf"},
    "model.init": {"auto", "uniform", "vectors", "xavier", "kaiming", "normal", "zeros", "default"},
    "model.encoder_mode": {"frozen", "finetune"},
    "model.encoder_long_docs": {"truncate", "chunk"},
    "train.optimizer": {"auto", "liblinear", "lbfgs", "sgd", "adam", "adamw", "adagrad", "rmsprop"},
    "train.scheduler": {"none", "step", "cosine", "linear", "plateau"},
    "train.step_when": {"epoch", "val_drop"},
    "train.keep": {"last", "best"},
    "train.device": {"cpu", "cuda", "auto"},
    "train.loss": {"auto", "cross_entropy", "nll", "bce", "squared_hinge", "mse", "l1"},
}


MAX_BUCKETS = 2**26
MAX_WIDTH = 2**16  # embed_dim and each hidden size: wider layers are no document classifier's, only memory
MAX_NGRAMS = 10  # word n-grams: each length costs a hash per token; past a few words they never recur
FULL_BATCH = {"auto", "liblinear", "lbfgs"}  # train.optimizer values that solve the whole training split at once


def _weights_spec_ok(spec: str) -> bool:
    if spec in ("none", "balanced"):
        return True
    try:
        return all(float(x) > 0 for x in spec.split(","))
    except ValueError:
        return False


def _pretrained_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    m, t = cfg.model, cfg.train
    return [
        ("model.vectors", not m.vectors or m.embed_dim > 0,
         "needs an embedding of the vectors' size, e.g. --embed-dim 300: embed_dim 0 is a linear model, "
         "whose bag rows are class scores, not word vectors"),
        ("model.freeze_embeddings", not m.freeze_embeddings or m.embed_dim > 0,
         "needs an embedding (embed_dim > 0): with embed_dim 0 the bag is the whole linear model"),
        ("model.unfreeze_after", m.unfreeze_after >= 0, "must be >= 0 (0: never)"),
        ("model.unfreeze_after", not m.unfreeze_after or m.freeze_embeddings,
         "unfreezes a frozen bag: it needs --freeze-embeddings"),
        # L-BFGS's curvature pairs and convergence test assume one objective over one set of weights
        ("model.unfreeze_after", not m.unfreeze_after or t.optimizer not in FULL_BATCH,
         "changes which weights train mid-run, which a full-batch solver can't follow: choose e.g. "
         "--optimizer adam --batch-size 64"),
        ("model.encoder_layers", m.encoder_layers is None or m.encoder_layers >= 1,
         "must be >= 1 (or unset: all layers); to train none, use encoder_mode frozen"),
        ("model.encoder_overlap", m.encoder_overlap >= 0, "must be >= 0"),
        ("model.encoder_pool_layers", m.encoder_pool_layers >= 1, "must be >= 1 (1: the last layer)"),
        ("model.encoder_mode", m.encoder_mode != "finetune" or t.optimizer not in FULL_BATCH,
         "finetune trains the transformer on mini-batches, not full batch: choose e.g. "
         "--optimizer adamw --batch-size 32 --lr 1e-3"),
        ("train.encoder_lr", t.encoder_lr > 0, "must be > 0"),
    ]


def _char_lengths_ok(lengths: list[int] | None) -> bool:
    return not lengths or (len(lengths) == 2 and 1 <= lengths[0] <= lengths[1] <= 20)


def _model_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    m, d = cfg.model, cfg.data
    return [
        ("model.embed_dim", m.embed_dim >= 0, "must be >= 0"),
        ("model.embed_dim", m.embed_dim <= MAX_WIDTH, f"must be <= {MAX_WIDTH:,}: a row of that width per feature"),
        ("model.hidden", all(h <= MAX_WIDTH for h in m.hidden), f"sizes must be <= {MAX_WIDTH:,}"),
        ("model.init_range", math.isfinite(m.init_range) and m.init_range > 0, "must be a number > 0"),
        ("model.hidden", m.embed_dim > 0 or m.encoder or not m.hidden,
         "needs an embedding (embed_dim > 0, or an encoder); embed_dim 0 is a linear model"),
        ("model.init", m.init != "vectors" or m.vectors,
         "vectors draws the rows at the scale of word vectors: it needs --vectors"),
        ("model.ngrams", 1 <= m.ngrams <= MAX_NGRAMS, f"must be in [1, {MAX_NGRAMS}]"),
        ("model.buckets", m.buckets >= 0, "must be >= 0"),
        ("model.buckets", m.buckets <= MAX_BUCKETS,
         f"must be <= {MAX_BUCKETS:,} (2**26): each bucket is a row of the embedding table in memory"),
        ("model.max_vocab", m.max_vocab is None or m.max_vocab >= 1, "must be >= 1"),
        ("model.max_tokens", m.max_tokens is None or m.max_tokens >= 1, "must be >= 1"),
        ("model.char_ngrams", _char_lengths_ok(m.char_ngrams),
         "must be [] (none) or two lengths [low, high] with 1 <= low <= high <= 20, e.g. [3, 5]"),
        ("model.min_freq", m.min_freq >= 1, "must be >= 1"),
        ("model.min_df", m.min_df >= 1, "must be >= 1"),
        ("model.dropout", 0.0 <= m.dropout < 1.0, "must be in [0, 1)"),
        ("model.nb", m.nb is None or m.nb >= 0, "must be >= 0 (0: off)"),
        ("model.nb", not m.nb or (m.embed_dim == 0 and not m.encoder),
         "scales a linear model's weights: it needs embed_dim 0 and no encoder (or nb 0)"),
        ("model.nb", not (m.nb and d.streaming),
         "counts the training split's documents per class in memory: with streaming set nb 0"),
        ("model.hidden", all(h >= 1 for h in m.hidden), "sizes must be >= 1"),
        ("model.threshold", 0.0 < m.threshold < 1.0, "must be in (0, 1)"),
        ("model.bag", m.bag or m.encoder, "false leaves no input: only with an encoder (--encoder)"),
        ("model.embed_dim", m.bag or m.embed_dim == 0, "is the bag's width: with bag false there is none"),
    ]


def _train_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    t = cfg.train
    return [
        ("train.epochs", t.epochs >= 1, "must be >= 1"),
        ("train.batch_size", t.batch_size >= 0, "must be >= 0 (0: full batch)"),
        ("train.batch_size", t.optimizer not in FULL_BATCH or t.batch_size == 0,
         f"must be 0 (full batch) with optimizer {t.optimizer}: it solves the whole objective (lbfgs's line "
         "search needs the same one every call); for mini-batches choose another optimizer, e.g. --optimizer adam"),
        ("train.lr", math.isfinite(t.lr) and t.lr > 0, "must be a number > 0"),
        ("train.tol", math.isfinite(t.tol) and t.tol >= 0, "must be a number >= 0"),
        ("train.weight_decay", t.weight_decay is None or (math.isfinite(t.weight_decay) and t.weight_decay >= 0),
         "must be a number >= 0 (or unset: the recipe's)"),
        ("train.momentum", 0.0 <= t.momentum < 1.0, "must be in [0, 1)"),
        ("train.nesterov", not t.nesterov or (t.momentum > 0 and t.optimizer == "sgd"),
         "needs optimizer sgd with momentum > 0"),
        ("train.step_size", t.step_size >= 1, "must be >= 1 (epochs between steps)"),
        ("train.gamma", math.isfinite(t.gamma) and t.gamma > 0, "must be a number > 0: the factor the learning rate "
         "is multiplied by"),
        ("train.gamma", t.scheduler != "plateau" or t.gamma < 1.0, "must be < 1 with scheduler plateau"),
        ("train.plateau_patience", t.plateau_patience >= 0, "must be >= 0"),
        ("train.warmup_epochs", math.isfinite(t.warmup_epochs) and t.warmup_epochs >= 0, "must be a number >= 0"),
        ("train.patience", t.patience >= 0, "must be >= 0 (0: off)"),
        ("train.seed", t.seed >= 0, "must be >= 0"),
        ("train.threads", t.threads is None or t.threads >= 1, "must be >= 1 (or unset: one per core)"),
        ("train.label_smoothing", 0.0 <= t.label_smoothing < 1.0, "must be in [0, 1)"),
        ("train.clip_norm", t.clip_norm >= 0, "must be >= 0"),
        ("train.clip_value", t.clip_value >= 0, "must be >= 0"),
        ("train.class_weights", _weights_spec_ok(t.class_weights),
         'must be "none", "balanced" or comma-separated positive numbers, one per class'),
        ("train.checkpoint_every", t.checkpoint_every >= 0, "must be >= 0"),
        ("train.checkpoint_minutes", t.checkpoint_minutes >= 0, "must be >= 0"),
    ]


def _data_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    m, t, d = cfg.model, cfg.train, cfg.data
    return [
        ("data.label_sep", d.label_sep != "", "must not be empty (e.g. \",\" or \"|\")"),
        ("data.dataset", not (d.dataset and (d.train or d.valid or d.test)),
         f"{d.dataset!r} and files (--train/--valid/--test) both name the data: give one of them"),
        ("data.delimiter", d.delimiter is None or (len(d.delimiter) == 1 and d.delimiter not in "\r\n\"'"),
         "must be one character other than a quote or a line break, e.g. \";\" or \"|\" (a tab: $'\\t' in a shell)"),
        ("data.quotechar", d.quotechar is None or len(d.quotechar) <= 1 and d.quotechar not in ("\r", "\n"),
         "must be one character, e.g. \"'\", or \"\" for none"),
        ("data.quotechar", not d.quotechar or d.quotechar != d.delimiter, "must differ from the delimiter"),
        # a separator with one label per document would silently split class names
        ("data.label_sep", d.label_sep is None or d.task == "multilabel",
         "splits a field into several labels: it needs task = \"multilabel\""),
        ("data.valid_fraction", 0.0 <= d.valid_fraction < 1.0, "must be in [0, 1)"),
        ("data.split_seed", d.split_seed >= 0, "must be >= 0"),
        ("data.streaming", not d.streaming or t.batch_size > 0,
         "trains on mini-batches read from disk; the full batch (batch_size 0, L-BFGS: the default) would read "
         "and featurize the whole corpus at every step of its line search: give a mini-batch recipe, e.g. "
         "--optimizer adagrad --lr 0.5 --batch-size 1024 --weight-decay 0"),
        ("data.shuffle_buffer", d.shuffle_buffer >= 1, "must be >= 1"),
        ("data.streaming", not (d.streaming and (m.encoder or m.vectors)),
         "cannot be used with a pretrained encoder or word vectors (they need the corpus in memory)"),
        ("data.test_fraction", d.test_fraction is None or 0.0 < d.test_fraction < 1.0,
         "must be in (0, 1)"),
    ]


def validate(cfg: Config) -> None:
    for key, allowed in CHOICES.items():
        section, name = key.split(".")
        value = getattr(getattr(cfg, section), name)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(sorted(allowed))}")
    for key, ok, why in [*_model_checks(cfg), *_pretrained_checks(cfg), *_train_checks(cfg), *_data_checks(cfg)]:
        if not ok:
            raise ConfigError(f"{key} {why}")
