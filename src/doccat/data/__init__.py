"""Labeled corpora in: files or registry datasets -> train / valid / test splits."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..config import DataConfig
from . import readers, registry
from .readers import DataError
from .split import stratified_split

__all__ = ["Splits", "load_splits", "DataError", "registry", "readers"]


@dataclass
class Split:
    texts: list[str]
    labels: list[str]

    def __len__(self) -> int:
        return len(self.texts)

    def take(self, idx) -> "Split":
        return Split([self.texts[i] for i in idx], [self.labels[i] for i in idx])


@dataclass
class Splits:
    train: Split
    valid: Split
    test: Split | None
    classes: list[str]  # class names in label-id order

    def summary(self) -> dict:
        return {name: len(s) for name, s in [("train", self.train), ("valid", self.valid), ("test", self.test)] if s}


def digest(path: Path, algo: str = "sha256") -> str:
    """Hex digest of a file, read in blocks (files may be large archives)."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, algo).hexdigest()


def dataset_dir(cfg: DataConfig) -> Path:
    return Path(cfg.data_dir) if cfg.data_dir else registry.default_data_dir()


def _read_registry(cfg: DataConfig) -> tuple[dict[str, Split], dict | None, float | None]:
    spec = registry.get(cfg.dataset)
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
    return splits, spec.label_names, test_fraction


def _read_files(cfg: DataConfig) -> dict[str, Split]:
    out = {}
    for name in ("train", "valid", "test"):
        path = getattr(cfg, name)
        if path:
            out[name] = Split(*readers.read(path, cfg.format, cfg.label_column, cfg.text_columns,
                                            cfg.header, cfg.encoding, cfg.on_bad_row))
    if "train" not in out:
        raise DataError("no training data: give a registry dataset (--dataset) or a --train file")
    return out


def _class_order(labels: list[str], label_names: dict | None) -> tuple[list[str], dict[str, str]]:
    """Class names in a stable order: the registry's, else numeric or alphabetical."""
    if label_names:
        return list(label_names.values()), label_names
    uniq = sorted(set(labels), key=lambda x: (0, int(x), x) if x.lstrip("-").isdigit() else (1, 0, x))
    return uniq, {u: u for u in uniq}


def load_splits(cfg: DataConfig) -> Splits:
    """Read the data a config names and return train / valid / test, carving what is missing."""
    if cfg.dataset:
        parts, label_names, test_fraction = _read_registry(cfg)
        if cfg.from_split:
            parts = {"train": parts[cfg.from_split]}
    else:
        parts, label_names, test_fraction = _read_files(cfg), None, cfg.test_fraction
    train = parts["train"]
    if len(set(train.labels)) < 2:
        raise DataError(f"{cfg.train or cfg.dataset}: every training row has the label {train.labels[0]!r}; "
                        "a classifier needs at least 2 classes: add examples of other classes")
    classes, mapping = _class_order(train.labels, label_names)
    for name, split in parts.items():
        unseen = sorted(set(split.labels) - mapping.keys())
        if unseen:
            raise DataError(f"{getattr(cfg, name, None) or name}: label(s) {', '.join(map(repr, unseen[:5]))} "
                            f"of the {name} split never occur in the training data; a classifier can't "
                            "learn them: fix the labels or add training examples")
        split.labels = [mapping[x] for x in split.labels]
    test = parts.get("test")
    if test is None and test_fraction:
        kept, carved = stratified_split(train.labels, test_fraction, cfg.split_seed)
        train, test = train.take(kept), train.take(carved)
    valid = parts.get("valid")
    if valid is None:
        if cfg.valid_fraction <= 0:
            raise DataError("no validation split: give a --valid file or a valid_fraction above 0")
        kept, carved = stratified_split(train.labels, cfg.valid_fraction, cfg.split_seed + 1)
        train, valid = train.take(kept), train.take(carved)
    return Splits(train, valid, test, classes)
