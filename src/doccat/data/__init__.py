"""Labeled corpora in: files or registry datasets -> train / valid / test splits."""
from __future__ import annotations

import logging
import numbers
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from ..config import DataConfig
from . import readers, registry
from .readers import DataError
from .registry import digest
from .split import random_split, stratified_split

LOG = logging.getLogger(__name__)

__all__ = ["Split", "Splits", "load_splits", "from_memory", "resolve_task", "reading", "class_order", "digest", "DataError", "registry", "readers"]


@dataclass
class Split:
    texts: list[str]
    # per text: a class name (classify), a sorted list of distinct labels, maybe empty (multilabel),
    # a float (regression)
    labels: list

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx) -> "Split":
        return Split([self.texts[i] for i in idx], [self.labels[i] for i in idx])


@dataclass
class Splits:
    train: Split
    valid: Split
    test: Split | None
    classes: list[str]  # class names in label-id order; multilabel: every label of train, sorted; regression: []
    task: str = "classify"  # the resolved task: classify | multilabel | regression
    values: dict | None = None  # class name -> the label as given in memory, when those were integers

    def summary(self) -> dict:
        return {name: len(s) for name, s in [("train", self.train), ("valid", self.valid), ("test", self.test)] if s}


def dataset_dir(cfg: DataConfig) -> Path:
    return Path(cfg.data_dir) if cfg.data_dir else registry.default_data_dir()


def resolve_task(cfg: DataConfig, dataset_task: str | None = None, labels: list | None = None) -> str:
    """The data's task: cfg.task, or with auto the registry dataset's task, else (in-memory `labels`) what the
    labels are: lists (tuples, sets) multilabel, floats regression; else classify. Decided where the labels
    are read, since reading them depends on it; the recipe takes it from the data's statistics."""
    if cfg.task != "auto":
        if dataset_task and cfg.task != dataset_task:
            raise DataError(f"{cfg.dataset} is a {dataset_task} dataset; task {cfg.task!r} does not fit its labels: "
                            "leave task auto")
        return cfg.task
    if dataset_task or labels is None:
        return dataset_task or "classify"
    if all(isinstance(x, (list, tuple, set)) for x in labels):
        return "multilabel"
    return "regression" if all(isinstance(x, float) for x in labels) else "classify"


def _read_registry(cfg: DataConfig) -> tuple[dict[str, Split], dict | None, float | None, str]:
    spec = registry.get(cfg.dataset)
    task = resolve_task(cfg, spec.task)
    folder = dataset_dir(cfg) / spec.folder
    wanted = [cfg.from_split] if cfg.from_split else list(spec.splits)
    if cfg.from_split and cfg.from_split not in spec.splits:
        raise DataError(f"{spec.name} has no split {cfg.from_split!r} (splits: {', '.join(spec.splits)})")
    needed = [f for split in wanted for f in spec.splits[split]]
    missing = [f for f in needed if not (folder / f).exists()]
    if missing:
        from .download import fetch  # the network only when a needed file is not on disk
        fetch(spec, folder, missing)
    for name in needed:
        if digest(folder / name) != spec.files[name]:
            raise DataError(f"{folder / name}: checksum differs from the registry's; the file is "
                            "damaged or another version: delete it to download it again")
    splits = {s: Split(*spec.read(folder, s)) for s in wanted}
    test_fraction = cfg.test_fraction if cfg.test_fraction is not None else spec.test_fraction
    return splits, spec.label_names, test_fraction, task


def reading(cfg: DataConfig, task: str) -> dict:
    """How the config's files are read: the options of readers.read (the fields of readers.Format)."""
    return {"label_column": cfg.label_column, "text_columns": cfg.text_columns, "header": cfg.header,
            "encoding": cfg.encoding, "on_bad_row": cfg.on_bad_row, "task": task, "label_sep": cfg.label_sep,
            "delimiter": cfg.delimiter, "quotechar": cfg.quotechar}


def _read_files(cfg: DataConfig, task: str) -> dict[str, Split]:
    out = {}
    for name in ("train", "valid", "test"):
        path = getattr(cfg, name)
        if path:
            out[name] = Split(*readers.read(path, cfg.format, **reading(cfg, task)))
    if "train" not in out:
        raise DataError("no training data: give a registry dataset (--dataset) or a --train file")
    return out


def class_order(labels: list[str], label_names: dict | None) -> tuple[list[str], dict[str, str]]:
    """Class names in a stable order: the registry's, else numeric or alphabetical."""
    if label_names:
        return list(label_names.values()), label_names
    # isascii: "²" and other Unicode digits pass isdigit but are no integer int() reads
    uniq = sorted(set(labels), key=lambda x: (0, int(x), x) if x.lstrip("-").isascii() and x.lstrip("-").isdigit()
                  else (1, 0, x))
    return uniq, {u: u for u in uniq}


def _classify_classes(cfg: DataConfig, parts: dict[str, Split], label_names: dict | None) -> list[str]:
    """The class names; every split's labels mapped to them. A label unseen in train is an error."""
    train = parts["train"]
    if len(set(train.labels)) < 2:
        raise DataError(f"{cfg.train or cfg.dataset or 'the training data'}: every training row has the label "
                        f"{train.labels[0]!r}; a classifier needs at least 2 classes (this data has one class): "
                        "add examples of other classes")
    classes, mapping = class_order(train.labels, label_names)
    for name, split in parts.items():
        unseen = sorted(set(split.labels) - mapping.keys())
        if unseen:
            raise DataError(f"{getattr(cfg, name, None) or name}: label(s) {', '.join(map(repr, unseen[:5]))} "
                            f"of the {name} split never occur in the training data; a classifier can't "
                            "learn them: fix the labels or add training examples")
        split.labels = [mapping[x] for x in split.labels]
    return classes


def _multilabel_classes(cfg: DataConfig, parts: dict[str, Split]) -> list[str]:
    """Every label of the training data, sorted; labels of other splits that train lacks are dropped.

    Dropped, not an error: in multilabel data a rare label missing from train is ordinary, the rest of
    such a document's labels are still worth scoring, and scikit-learn's MultiLabelBinarizer (fit on
    train) does the same. Not silently: the count is printed, since those occurrences can't count as
    misses any more, which lifts recall a little.
    """
    classes = sorted({x for labels in parts["train"].labels for x in labels})
    if not classes:
        raise DataError(f"{cfg.train or cfg.dataset}: no training document has a label; a multilabel "
                        "classifier needs labeled examples")
    known = set(classes)
    for name, split in parts.items():
        unseen = Counter(x for labels in split.labels for x in labels if x not in known)
        if unseen:
            shown = ", ".join(repr(x) for x in sorted(unseen)[:5]) + (" ..." if len(unseen) > 5 else "")
            LOG.warning(f"{getattr(cfg, name, None) or name}: dropped {len(unseen)} label(s) of the {name} split "
                        f"that never occur in the training data ({shown}; {sum(unseen.values())} occurrence(s)): "
                        "no model can predict them")
            split.labels = [[x for x in labels if x in known] for labels in split.labels]
    return classes


def _check_regression(cfg: DataConfig, parts: dict[str, Split]) -> list[str]:
    if len(set(parts["train"].labels)) < 2:
        raise DataError(f"{cfg.train or cfg.dataset}: every training target is {parts['train'].labels[0]}; "
                        "regression needs targets that vary")
    return []  # no classes: the model predicts one number


def _carve(split: Split, fraction: float, seed: int, task: str) -> tuple[Split, Split]:
    """(rest, carved): stratified by class for classify; multilabel and regression have no one class."""
    kept, carved = (stratified_split(split.labels, fraction, seed) if task == "classify"
                    else random_split(len(split), fraction, seed))
    return split.take(kept), split.take(carved)


def load_splits(cfg: DataConfig) -> Splits:
    """Read the data a config names and return train / valid / test, carving what is missing.

    The labels are those of the task (see `Split`); classify carves stratified by class, multilabel
    and regression uniformly at random; both seeded by `split_seed`."""
    if cfg.dataset:
        parts, label_names, test_fraction, task = _read_registry(cfg)
        if cfg.from_split:
            parts = {"train": parts[cfg.from_split]}
    else:
        task = resolve_task(cfg)
        parts, label_names, test_fraction = _read_files(cfg, task), None, cfg.test_fraction
    return _splits(cfg, parts, label_names, test_fraction, task)


def from_memory(cfg: DataConfig, texts, labels=None) -> Splits:
    """Splits of in-memory data, checked and carved as files are (see `load_splits`).

    `texts`: a list (tuple, numpy array, pandas Series) of strings, with `labels` beside it; or a pandas
    DataFrame or a Hugging Face Dataset holding cfg.text_columns and cfg.label_column (a ClassLabel column
    gives its names). Labels become class names (str), sorted label lists, or floats (see `resolve_task`);
    integer labels are kept as `values`, so that predictions give them back as integers."""
    texts, labels = _in_memory(cfg, texts, labels)
    if len(texts) != len(labels):
        raise DataError(f"{len(texts)} texts but {len(labels)} labels: give one label per text")
    if not texts:
        raise DataError("no training data: the list of texts is empty")
    labels = [int(x) if isinstance(x, numbers.Integral) and not isinstance(x, bool) else x for x in labels]
    task = resolve_task(cfg, labels=labels)
    values = None
    if task == "multilabel":
        cut = [(x.split(cfg.label_sep) if cfg.label_sep else [x]) if isinstance(x, str) else x for x in labels]
        labels = [sorted({str(x).strip() for x in row} - {""}) for row in cut]
    elif task == "regression":
        labels = [float(x) for x in labels]
    else:
        if all(isinstance(x, int) and not isinstance(x, bool) for x in labels):
            values = {str(x): x for x in labels}
        labels = [str(x) for x in labels]
    splits = _splits(cfg, {"train": Split(texts, labels)}, None, cfg.test_fraction, task)
    splits.values = values
    return splits


def _in_memory(cfg: DataConfig, texts, labels) -> tuple[list[str], list]:
    """(texts, labels) as lists from what a Python user holds (see `from_memory`)."""
    if hasattr(texts, "column_names") and hasattr(texts, "features") and labels is None:  # a Hugging Face Dataset
        names = getattr(texts.features.get(cfg.label_column), "names", None)  # a ClassLabel's
        texts, labels = _table_columns(cfg, {c: texts[c] for c in texts.column_names}), texts[cfg.label_column]
        labels = [names[x] for x in labels] if names else labels
    elif hasattr(texts, "columns") and hasattr(texts, "iloc") and labels is None:  # a pandas DataFrame
        texts, labels = _table_columns(cfg, {c: texts[c].tolist() for c in texts.columns}), texts[cfg.label_column]
    if labels is None:
        raise DataError("no labels: give labels beside the texts, or a DataFrame or Dataset with a "
                        f"{cfg.label_column!r} column (--label-column)")
    texts, labels = _as_list(texts, "texts"), _as_list(labels, "labels")
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise DataError(f"text {bad} is a {type(texts[bad]).__name__} ({texts[bad]!r:.40}), not a string: "
                        "give one string per document (a missing value? drop or fill it first)")
    return texts, labels


def _table_columns(cfg: DataConfig, columns: dict) -> list[str]:
    """The texts of a table: its text columns joined with a space, as the file readers join them."""
    missing = [c for c in (cfg.label_column, *cfg.text_columns) if c not in columns]
    if missing:
        raise DataError(f"no column {missing[0]!r} (columns: {list(columns)}); set label_column / text_columns")
    parts = [columns[c] for c in cfg.text_columns]
    return parts[0] if len(parts) == 1 else [" ".join(map(str, row)) for row in zip(*parts)]


def _as_list(items, what: str) -> list:
    if hasattr(items, "tolist"):  # numpy arrays and pandas Series: numpy scalars become Python's
        return items.tolist()
    if isinstance(items, (str, bytes, dict)) or not hasattr(items, "__iter__"):
        raise DataError(f"{what}: expected a list (or a numpy array, pandas Series, DataFrame or Hugging Face "
                        f"Dataset), got a {type(items).__name__}")
    return list(items)


def _splits(cfg: DataConfig, parts: dict[str, Split], label_names: dict | None, test_fraction: float | None,
            task: str) -> Splits:
    """The splits of what was read: classes found and checked, the missing test and valid splits carved."""
    if task == "classify":
        classes = _classify_classes(cfg, parts, label_names)
    elif task == "multilabel":
        classes = _multilabel_classes(cfg, parts)
    else:
        classes = _check_regression(cfg, parts)
    train, test = parts["train"], parts.get("test")
    if test is None and test_fraction:
        train, test = _carve(train, test_fraction, cfg.split_seed, task)
    valid = parts.get("valid")
    if valid is None:
        if cfg.valid_fraction <= 0:
            raise DataError("no validation split: give a --valid file or a valid_fraction above 0")
        train, valid = _carve(train, cfg.valid_fraction, cfg.split_seed + 1, task)
    if task == "classify":
        _check_shape(cfg, train, valid, classes)
    return Splits(train, valid, test, classes, task)


MAX_LABEL_CHARS = 1000  # a class name longer than this is a text read as a label


def _check_shape(cfg: DataConfig, train: Split, valid: Split, classes: list[str]) -> None:
    """Data a classifier can't learn from as given: refused (a text as the label column) or said (numbers)."""
    where = cfg.train or cfg.dataset or "the training data"
    longest = max(classes, key=len)
    if len(longest) > MAX_LABEL_CHARS:
        raise DataError(f"{where}: a label of {len(longest):,} characters ({longest[:40]!r}...): labels are class "
                        "names; are --label-column and --text-columns swapped?")
    single = sum(n == 1 for n in Counter(train.labels).values())
    if single:
        _warn(f"{where}: {single} of {len(classes)} classes have a single training document (they can't be "
              "scored on a validation split, and are learned from one example)")
    if len(classes) > max(len(train.labels) / 10, 50):
        _warn(f"{where}: {len(classes):,} classes for {len(train.labels):,} training documents (fewer than 10 per "
              "class): is --label-column the column of the classes?")
    if not len(valid.labels):
        _warn(f"{where}: the validation split is empty (too few documents per class to carve one): validation "
              "scores are not computed and the probabilities are not calibrated; give --valid FILE")


def _warn(text: str) -> None:
    LOG.warning(text)
