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


class TrainingError(ValueError):
    """Training cannot go on with this configuration, e.g. the loss became NaN or infinite."""


class ConfigWarning(UserWarning):
    """A setting that changes nothing in the resolved recipe, or makes training degenerate."""


def option(default, doc: str, choices: tuple[str, ...] = (), group: str | None = None):
    """A config field and its documentation, written once: `--help`, the README's config reference and the
    estimator's docstring show `doc`; `choices` are the values a str field allows (checked by `validate`);
    `group` the heading it is listed under in help (default: its section's)."""
    metadata = {"doc": doc, "choices": choices, "group": group}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class DataConfig:
    """Where the documents and labels come from, and how they are read and split."""
    dataset: str | None = option(None, "a registry dataset by name (`doccat datasets` lists them), downloaded "
                                 "on first use; or give files with train / valid / test instead")
    task: str = option("auto", "classify: one label per document; multilabel: a set of labels per document; "
                       "regression: a number per document; auto: the registry dataset's task, else classify",
                       ("auto", "classify", "multilabel", "regression"))
    train: str | None = option(None, "the training file or folder (see format)")
    valid: str | None = option(None, "the validation file; none: valid_fraction of train is held out")
    test: str | None = option(None, "the test file; none: no test scores (or test_fraction of train)")
    format: str = option("auto", "the files' format: csv, tsv, jsonl, fasttext (__label__ lines), folder (one "
                         "subfolder of text files per class), parquet, arrow (or feather), hf (a Hugging Face "
                         "save_to_disk folder); auto: by the name (.csv .tsv .jsonl .txt .parquet .arrow "
                         ".feather) or what the folder holds",
                         ("auto", "csv", "tsv", "jsonl", "fasttext", "folder", "parquet", "arrow", "hf"))
    delimiter: str | None = option(None, "CSV/TSV: the field delimiter; auto (unset): ',' for CSV, a tab for "
                                   "TSV, or the one the header shows (e.g. ';')")
    quotechar: str | None = option(None, "CSV/TSV: the quote character; auto (unset): '\"' for CSV, and for a "
                                   "TSV whose fields are quoted (as pandas writes them: seen at the file's "
                                   "start), else none; '' = no quoting (every delimiter splits)")
    label_column: str = option("label", "the label's column: a name, or a 0-based index for a file without a header")
    label_sep: str | None = option(None, "multilabel: the separator of the labels in one field, e.g. ','")
    text_columns: list[str] = option(["text"], "the text's columns (names or 0-based indexes), joined with a "
                                     "space when there are several, e.g. title,text")
    header: bool | None = option(None, "CSV/TSV: whether the first row is a header; auto (unset): guessed "
                                 "from the first row")
    encoding: str = option("utf-8", "the files' text encoding, e.g. latin-1 (UTF-16/32 files are found by their BOM)")
    on_bad_row: str = option("error", "a row that cannot be read: error stops with its line; skip drops it; "
                             "warn drops it and reports the line numbers", ("error", "skip", "warn"))
    from_split: str | None = option(None, "use only this split of a registry dataset and carve the others from it")
    valid_fraction: float = option(0.1, "the part of train held out for validation when there is no "
                                   "validation split (stratified by class)")
    test_fraction: float | None = option(None, "the part of train held out for testing when there is no test "
                                         "split; unset: none")
    split_seed: int = option(0, "the seed of the held-out splits (apart from train.seed, so that runs with "
                             "different seeds see the same splits)")
    data_dir: str | None = option(None, "where registry datasets are kept; unset: $DOCCAT_DATA_DIR, else "
                                  "../shared/datasets beside a source checkout, else "
                                  "$XDG_CACHE_HOME/doccat/datasets (~/.cache/doccat/datasets)")
    streaming: bool = option(False, "read the files a block at a time, every epoch, instead of loading them: "
                             "for corpora larger than memory; mini-batch optimizers only (batch_size > 0)")
    shuffle_buffer: int = option(10_000, "streaming: how many documents are held to shuffle the training "
                                 "stream (memory ~ this x a document's size)")


@dataclass
class ModelConfig:
    """What the model is: the features of a document (group "features"), then the layers on them."""
    recipe: str = option("bag", "bag: the settings below (by default a linear SVM on TF-IDF n-grams); fewlabel: "
                         "for a few dozen examples per class, a sentence encoder (model.encoder, unset: "
                         "all-MiniLM-L6-v2, the 'encoder' extra), tuned first on pairs of training documents "
                         "(encoder_mode auto: contrastive), and a linear head on its embeddings alone (bag false); auto: "
                         "where the training split has at most 100 documents per class, both are trained and "
                         "fewlabel is kept unless the bag validates better by more than 2 standard errors; "
                         "else bag (README: Few labels)",
                         ("bag", "fewlabel", "auto"))
    embed_dim: int = option(0, "the width of each feature's embedding row; 0: no embedding, the bag holds one "
                            "weight per feature and class: a linear model (the default recipe, a linear SVM)")
    ngrams: int = option(2, "word n-grams up to this n (1: words alone), hashed into buckets", group="features")
    buckets: int = option(2_000_000, "hash buckets for the word n-grams (and, separately, the character "
                          "n-grams); only the buckets training uses become columns, so a large number costs "
                          "little memory and few collisions", group="features")
    char_ngrams: list[int] | None = option(
        None, "character n-grams of every word (unknown words too), lengths low,high, marked at the word's ends "
        "('<wo', 'ord>'), hashed and weighed as a block of their own beside the words; '' (empty) = none; "
        "auto (unset): 3,5 for a linear model whose training split has at most 1,000,000 tokens, else none (on "
        "more, they cost 1.2-3.5x the training time for -0.04 to +0.33 points: bench/SELECTION.md)",
        group="features")
    min_freq: int = option(1, "a word needs this many occurrences in the training split to enter the "
                           "vocabulary", group="features")
    min_df: int = option(2, "a feature (word, n-gram or character n-gram) needs this many training documents "
                         "to become a column", group="features")
    max_vocab: int | None = option(2_000_000, "the most frequent words kept in the vocabulary; unset = all",
                                   group="features")
    max_tokens: int | None = option(10_000, "documents are cut to their first N tokens (before n-grams); "
                                    "unset = all", group="features")
    weighting: str = option("tfidf", "how a document's features are weighed: tfidf: (1 + log count) x idf, "
                            "L2-normalized (sublinear TF-IDF: a linear model on it is a TF-IDF SVM); mean: "
                            "count / total, the average of the feature vectors (fastText's bag)",
                            ("tfidf", "mean"), group="features")
    nb: float | None = option(None, "Naive Bayes scaling (NBSVM, Wang & Manning 2012), linear classify/"
                              "multilabel models only: each class weighs a feature by |r| ** nb, r the log-ratio "
                              "of its document frequencies in and out of the class, so features that tell the "
                              "class apart cost less under weight decay; 0 = off; auto (unset): 0.5 for a "
                              "linear model fit full batch, else 0", group="features")
    hidden: list[int] = option([], "sizes of the hidden layers between the embedding bag and the output, "
                               "e.g. 256,128; needs embed_dim > 0 (or an encoder); none: the bag feeds the output")
    activation: str = option("relu", "the hidden layers' activation: relu, tanh, sigmoid, hardtanh or gelu (only "
                             "with hidden layers)",
                             ("relu", "tanh", "sigmoid", "hardtanh", "gelu"))
    dropout: float = option(0.0, "dropout probability after each hidden layer's activation, in training only "
                            "(only with hidden layers); 0 = off")
    init: str = option("auto", "how the weights start: uniform in [-init_range, init_range]; vectors: uniform "
                       "at the word vectors' scale (needs vectors); xavier, kaiming, normal (std init_range); "
                       "zeros (only for a linear model: hidden layers started at zero never break symmetry); "
                       "default: PyTorch's own per layer; auto: zeros for a linear model, vectors with word "
                       "vectors, else uniform",
                       ("auto", "uniform", "vectors", "xavier", "kaiming", "normal", "zeros", "default"))
    init_range: float = option(0.5, "init uniform: the bound of the uniform draw; normal: its standard "
                               "deviation (a network's embedding rows)")
    vectors: str | None = option(None, "pretrained word vectors (GloVe .txt, fastText/word2vec .vec, .gz) for "
                                 "the bag's word rows; needs embed_dim of their size")
    freeze_embeddings: bool = option(False, "the bag keeps its initial rows (e.g. the vectors); else they are "
                                     "fine-tuned")
    unfreeze_after: int = option(0, "with freeze_embeddings: fine-tune the bag after this many epochs; 0 = never")
    bag: bool = option(True, "with an encoder: the n-gram bag beside it; false: the encoder alone")
    encoder: str | None = option(None, "a sentence encoder: a known name (all-MiniLM-L6-v2, with the "
                                 "'encoder' extra) or a Hugging Face model folder")
    encoder_mode: str = option("auto", "frozen: the encoder's embeddings computed once (cached on disk) and "
                               "a head trained on them; finetune: the encoder trains too (mini-batches); "
                               "contrastive: first the encoder alone is tuned on pairs of training documents (same "
                               "class or not, as SetFit), then a head is trained on its embeddings; the tuned "
                               "encoder is saved with the run; auto: contrastive for recipe fewlabel on a classify "
                               "task, else frozen", ("auto", "frozen", "finetune", "contrastive"))
    encoder_layers: int | None = option(None, "finetune, contrastive: only the top N transformer layers train; "
                                        "unset = all")
    encoder_pair_steps: int = option(40, "contrastive: optimizer steps of the pair stage (its cost: a step is "
                                     "one forward and backward pass over encoder_pair_batch documents)")
    encoder_pair_batch: int = option(32, "contrastive: documents per step; every pair among them counts, those of "
                                     "the same class pulled to cosine 1, the others pushed to 0")
    encoder_pair_max_length: int = option(64, "contrastive: tokens per document in the pair stage (the first "
                                          "ones; the embeddings the head learns from use encoder_max_length)")
    encoder_max_length: int | None = option(None, "tokens per encoder window; unset: the encoder's own (256 "
                                            "for MiniLM)")
    encoder_long_docs: str = option("truncate", "documents longer than a window: truncate keeps the first; "
                                    "chunk embeds windows of encoder_max_length and averages them",
                                    ("truncate", "chunk"))
    encoder_overlap: int = option(0, "chunk: tokens shared by neighbouring windows")
    encoder_pool_layers: int = option(1, "the token states pooled: the mean of the top N layers' (1: the last "
                                      "layer's)")
    encoder_cache: str | None = option(None, "frozen: where embeddings are cached; unset: $DOCCAT_CACHE_DIR/"
                                       "encoder, else ~/.cache/doccat/encoder")
    threshold: float | None = option(
        None, "multilabel: a label is predicted when its probability reaches this; a number: that threshold, "
        "fixed; auto (unset): one threshold for every label, the one that maximizes micro-F1 on the validation "
        "split, chosen after training (0.5 while training, and when the validation split has no labels); the "
        "run records it")
    clip_predictions: bool = option(True, "regression: a prediction is clipped to the training targets' range "
                                    "[min, max], which the run records; false: the model's value as it is, which "
                                    "can leave the range")


@dataclass
class TrainConfig:
    """How the model learns: the loss, the optimizer and its schedule, regularization, stopping."""
    epochs: int = option(40, "passes over the training split at most (the liblinear solve of the default "
                         "recipe is one pass of its own, to convergence)")
    batch_size: int = option(0, "documents per update; 0: full batch (the whole training split at once: "
                             "liblinear and lbfgs); 1: stochastic")
    shuffle: bool = option(True, "mini-batches: reshuffle the training documents every epoch")
    optimizer: str = option("auto", "liblinear: LIBLINEAR's dual coordinate descent, one solve (a linear model, "
                            "squared_hinge, full batch, in memory); lbfgs: full batch, 4 "
                            "iterations an epoch; sgd (momentum, nesterov), adam, adamw, adagrad, rmsprop: "
                            "mini-batches (batch_size > 0); auto: liblinear where it applies, else lbfgs",
                            ("auto", "liblinear", "lbfgs", "sgd", "adam", "adamw", "adagrad", "rmsprop"))
    lr: float = option(1.0, "the learning rate (not used by liblinear; lbfgs: its first step size)")
    encoder_lr: float = option(2e-5, "encoder_mode finetune or contrastive: the pretrained encoder's learning "
                               "rate (small: it forgets)")
    momentum: float = option(0.0, "sgd only: the momentum, in [0, 1)")
    nesterov: bool = option(False, "sgd with momentum only: Nesterov's momentum")
    weight_decay: float | None = option(None, "L2 on the weights (not the biases): the objective is the mean "
                                        "loss + 0.5 x weight_decay x |W|^2; auto (unset): for squared_hinge "
                                        "1 / (2 x training documents), scikit-learn's C = 2; else 3e-6")
    scheduler: str = option("none", "the learning rate's schedule: none (constant), step (x gamma every step_size epochs, or "
                            "see step_when), cosine (to 0 over the epochs), linear (warm up, then down to 0), "
                            "plateau (x gamma when validation accuracy stalls); not used by liblinear",
                            ("none", "step", "cosine", "linear", "plateau"))
    step_size: int = option(1, "scheduler step: epochs between steps")
    step_when: str = option("epoch", "scheduler step: every step_size epochs (epoch), or when validation "
                            "accuracy drops (val_drop)", ("epoch", "val_drop"))
    gamma: float = option(0.1, "scheduler step: the factor the learning rate is multiplied by; plateau: the "
                          "reduce factor (< 1)")
    plateau_patience: int = option(0, "scheduler plateau: epochs without improvement before the rate drops")
    warmup_epochs: float = option(0.0, "scheduler linear: warm up over this many epochs, then decay to 0")
    loss: str = option("auto", "cross_entropy (softmax), nll, squared_hinge (one-vs-rest linear SVM): classify; "
                       "bce: multilabel (or a two-class classify); mse, l1: regression; auto: squared_hinge for "
                       "a linear classifier (the default recipe), else cross_entropy / bce / mse by the task",
                       ("auto", "cross_entropy", "nll", "bce", "squared_hinge", "mse", "l1"))
    label_smoothing: float = option(0.0, "classify/multilabel with probabilities: move targets this much "
                                    "toward uniform")
    class_weights: str = option("auto", "weigh each class's documents in the loss: none, balanced (n / (classes "
                                "x n_class)), or 'w1,w2,...' (one per class, in class order); liblinear weighs "
                                "class k's positives in its one-vs-rest problem, as scikit-learn's LinearSVC; "
                                "auto: balanced where liblinear solves (the default recipe), else none")
    clip_norm: float = option(0.0, "clip the gradient's norm to this; 0 = off")
    clip_value: float = option(0.0, "clip every gradient element to [-v, v]; 0 = off")
    patience: int | None = option(None, "stop after this many epochs without a better validation score "
                                  "(accuracy, micro-F1 or R²); 0 = off (every epoch runs); auto (unset): 5 for "
                                  "mini-batches (batch_size > 0), else 0 (a full batch stops on tol)")
    keep: str = option("last", "the weights training ends with (last), or those of the best validation epoch "
                       "(best)", ("last", "best"))
    tol: float = option(3e-3, "lbfgs: stop once an epoch lowers the training loss by less than this "
                        "fraction (liblinear stops on its own dual tolerance, 0.1)")
    init_from: str | None = option(None, "a saved run to continue from, trained on the new documents: its "
                                   "features and classes are kept; liblinear's solve is averaged with the saved "
                                   "weights, each by the documents it learned from; other optimizers start from "
                                   "them (README: Continue training)")
    seed: int = option(0, "the seed of initialization, shuffling and dropout (and liblinear's coordinate order)")
    checkpoint_minutes: float = option(2.0, "checkpoint (into OUT.partial/, for --resume) at least this often, "
                                       "mid-epoch too: a killed run loses at most this much; 0 = off",
                                       group="output")
    checkpoint_every: int = option(0, "also checkpoint every N epochs; 0 = off", group="output")
    compress_bits: int = option(32, "the saved run's weights: 32 (float32), or as `doccat compress` writes them, "
                                "16 (float16) or 8 (int8, a scale per class); a linear model only",
                                group="output")
    compress_max_features: int | None = option(None, "save only this many features, those that change the class "
                                               "scores most (as `doccat compress --max-features`), with compress_bits 16 or "
                                               "8; unset: all", group="output")
    threads: int | None = option(None, "CPU threads for torch; unset: torch's default (one per core)")
    device: str = option("auto", "cpu, cuda, or auto (cuda when a GPU is present, else cpu)", ("cpu", "cuda", "auto"))


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


CHOICES = {f"{section}.{f.name}": set(f.metadata["choices"]) for section, cls in SECTION_TYPES.items()
           for f in dataclasses.fields(cls) if f.metadata["choices"]}


MAX_BUCKETS = 2**26
MAX_WIDTH = 2**16  # embed_dim and each hidden size: wider layers are no document classifier's, only memory
MAX_NGRAMS = 10  # word n-grams: each length costs a hash per token; past a few words they never recur
FULL_BATCH = {"auto", "liblinear", "lbfgs"}  # train.optimizer values that solve the whole training split at once


def _weights_spec_ok(spec: str) -> bool:
    if spec in ("none", "balanced", "auto"):
        return True
    try:
        return all(float(x) > 0 for x in spec.split(","))
    except ValueError:
        return False


def _pretrained_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    m, t = cfg.model, cfg.train
    return [
        ("model.vectors", not m.vectors or m.embed_dim > 0,
         "needs an embedding as wide as the vectors: give --embed-dim D, D the numbers after the word on each "
         "line of the file (`head -2 FILE | awk '{print NF - 1}'` shows it); embed_dim 0 is a linear model, whose "
         "bag rows are class scores, not word vectors"),
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
        ("model.encoder_pair_steps", m.encoder_pair_steps >= 1, "must be >= 1 (for none, use encoder_mode frozen)"),
        ("model.encoder_pair_batch", m.encoder_pair_batch >= 2, "must be >= 2: a pair needs two documents"),
        ("model.encoder_pair_max_length", m.encoder_pair_max_length >= 3,
         "must be >= 3 (the encoder's two special tokens and one of text)"),
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
        ("model.dropout", not m.dropout or m.hidden,
         "applies after hidden layers, and there are none: it would change nothing (add --hidden, e.g. 64, or "
         "leave dropout 0)"),
        ("model.activation", m.activation == "relu" or m.hidden,
         f"{m.activation} is the hidden layers' activation, and there are none: it would change nothing (add "
         "--hidden, e.g. 64)"),
        ("model.nb", m.nb is None or m.nb >= 0, "must be >= 0 (0: off)"),
        ("model.nb", not m.nb or (m.embed_dim == 0 and not m.encoder),
         "scales a linear model's weights: it needs embed_dim 0 and no encoder (or nb 0)"),
        ("model.nb", not (m.nb and d.streaming),
         "counts the training split's documents per class in memory: with streaming set nb 0"),
        ("model.hidden", all(h >= 1 for h in m.hidden), "sizes must be >= 1"),
        ("model.threshold", m.threshold is None or 0.0 < m.threshold < 1.0,
         "must be in (0, 1) (or unset: chosen on the validation split)"),
        ("model.bag", m.bag or m.encoder, "false leaves no input: only with an encoder (--encoder)"),
        ("model.embed_dim", m.bag or m.embed_dim == 0, "is the bag's width: with bag false there is none"),
    ]


def _train_checks(cfg: Config) -> list[tuple[str, bool, str]]:
    t = cfg.train
    return [
        ("train.epochs", t.epochs >= 1, "must be >= 1"),
        ("train.compress_bits", t.compress_bits in (8, 16, 32), "must be 32 (float32), 16 or 8"),
        ("train.compress_max_features", t.compress_max_features is None or t.compress_max_features >= 1,
         "must be >= 1 (or unset: every feature)"),
        ("train.compress_max_features", t.compress_max_features is None or t.compress_bits < 32,
         "prunes a compressed run: give train.compress_bits 16 or 8 with it"),
        ("train.batch_size", t.batch_size >= 0, "must be >= 0 (0: full batch)"),
        ("train.batch_size", t.optimizer not in FULL_BATCH or t.batch_size == 0,
         f"must be 0 (full batch) with optimizer {t.optimizer}: it solves the whole objective (lbfgs's line "
         "search needs the same one every call); for mini-batches choose another optimizer, e.g. --optimizer adam"),
        ("train.lr", math.isfinite(t.lr) and t.lr > 0, "must be a number > 0"),
        ("train.tol", math.isfinite(t.tol) and t.tol >= 0, "must be a number >= 0"),
        ("train.weight_decay", t.weight_decay is None or (math.isfinite(t.weight_decay) and t.weight_decay >= 0),
         "must be a number >= 0 (or unset: the recipe's)"),
        ("train.momentum", 0.0 <= t.momentum < 1.0, "must be in [0, 1)"),
        ("train.momentum", not t.momentum or t.optimizer == "sgd",
         f"is SGD's: with optimizer {t.optimizer} it would change nothing (give --optimizer sgd, or leave "
         "momentum 0)"),
        ("train.nesterov", not t.nesterov or (t.momentum > 0 and t.optimizer == "sgd"),
         "needs optimizer sgd with momentum > 0"),
        ("train.step_size", t.step_size >= 1, "must be >= 1 (epochs between steps)"),
        ("train.gamma", math.isfinite(t.gamma) and t.gamma > 0, "must be a number > 0: the factor the learning rate "
         "is multiplied by"),
        ("train.gamma", t.scheduler != "plateau" or t.gamma < 1.0, "must be < 1 with scheduler plateau"),
        ("train.plateau_patience", t.plateau_patience >= 0, "must be >= 0"),
        ("train.warmup_epochs", math.isfinite(t.warmup_epochs) and t.warmup_epochs >= 0, "must be a number >= 0"),
        ("train.patience", t.patience is None or t.patience >= 0, "must be >= 0 (0: off; or unset: the recipe's)"),
        ("train.seed", t.seed >= 0, "must be >= 0"),
        ("train.threads", t.threads is None or t.threads >= 1, "must be >= 1 (or unset: one per core)"),
        ("train.label_smoothing", 0.0 <= t.label_smoothing < 1.0, "must be in [0, 1)"),
        ("train.clip_norm", t.clip_norm >= 0, "must be >= 0"),
        ("train.clip_value", t.clip_value >= 0, "must be >= 0"),
        ("train.class_weights", _weights_spec_ok(t.class_weights),
         'must be "auto", "none", "balanced" or comma-separated positive numbers, one per class'),
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
        ("data.streaming", not (d.streaming and t.init_from),
         "cannot be used with train.init_from (a continued model's features are read in memory)"),
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


def default_of(f: dataclasses.Field):
    """A config field's default value."""
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()


def shown(value, doc: str = "") -> str:
    """A config value as a user writes it on the command line; None (a key left unset) is "auto" where its
    `doc` says what auto decides, else "none"."""
    if value is None:
        return "auto" if "auto" in doc else "unset" if "unset" in doc else "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return ",".join(str(v) for v in value) if value else "none"
    if isinstance(value, float):
        return f"{value:.4g}"
    return "''" if value == "" else f"{value:,}" if isinstance(value, int) and value >= 10_000 else str(value)


def reference() -> str:
    """The configuration reference as Markdown, one table per section, from the fields' documentation: the
    README's "Configuration reference" is this text (a test keeps the two the same)."""
    lines = []
    for section, cls in SECTION_TYPES.items():
        lines += [f"### [{section}]", "", cls.__doc__, "", "| key | type | default | meaning |", "|---|---|---|---|"]
        for name, tp in typing.get_type_hints(cls).items():
            f = cls.__dataclass_fields__[name]
            doc = f.metadata["doc"].replace("|", "\\|")
            kind = str(set_type(tp)) if typing.get_origin(set_type(tp)) else _type_name(tp if tp is bool else set_type(tp))
            lines.append(f"| `{name}` | {kind} | `{shown(default_of(f), doc)}` | {doc} |")
        lines.append("")
    return "\n".join(lines)
