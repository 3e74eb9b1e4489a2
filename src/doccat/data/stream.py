"""Corpora larger than memory (`--streaming true`): files read a block at a time, every time.

Nothing holds the corpus. Before training, two passes over the training file learn what
`Featurizer.fit_encode` learns in memory: the first counts tokens (the vocabulary; in bounded memory:
past a cap the rarest tokens are pruned, as fastText's dictionary does), the documents per class, and
a sample of lengths for the data summary; the second counts in how many documents each word and hashed
n-gram occurs (the columns and their idf). Then every epoch reads the file again through a seeded
shuffle buffer, featurizes BLOCK documents at a time and yields mini-batches; validation and test
documents are featurized and scored a block at a time too. Memory is the model, one block, and the
shuffle buffer (`shuffle_buffer` documents), whatever the size of the corpus; the validation and test
outputs are kept (one number per class and document) to score them.

Without --valid (or --test) file, a seeded hash of each document's position in the training file
carves those splits out (`valid_fraction`, `test_fraction`): uniformly at random, not stratified.

Mini-batches only: L-BFGS's full batch would featurize the whole corpus at every step of its line
search, so the config refuses it. Under torchrun every rank reads the same stream in the same order
and featurizes its part of each batch (see doccat.distributed).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch

from .. import distributed
from ..config import Config, DataConfig, ModelConfig
from ..inputs import to_docs
from ..model import predict_logits
from ..text import Featurizer, Vocab, chunks, count_tokens, parallel_map, split_tokens
from . import DataError, class_order, readers, reading, resolve_task
from .readers import BLOCK, chunked
from .summary import Stats, split_summary

SAMPLE = 10_000  # documents per split whose lengths (and targets) the data summary describes
VOCAB_CAP = 10_000_000  # distinct tokens counted at most when max_vocab is None (else twice max_vocab)


@dataclass
class Part:
    """One split of a streamed corpus: the documents of `path` whose position hashes into [low, high)."""

    name: str  # train | valid | test
    path: str
    low: float = 0.0
    high: float = 1.0


def parts(cfg: DataConfig) -> dict[str, Part]:
    """The splits a config names: its files, the missing valid/test ones carved from train by hash."""
    if cfg.dataset or not cfg.train:
        raise DataError("streaming reads files: give --train (and --valid, --test) as CSV, TSV, JSONL or fastText "
                        "files; registry datasets are loaded in memory (leave --streaming off)")
    test = 0.0 if cfg.test else cfg.test_fraction or 0.0
    if not cfg.valid and cfg.valid_fraction <= 0:
        raise DataError("no validation split: give a --valid file or a valid_fraction above 0")
    valid = test + (0.0 if cfg.valid else (1 - test) * cfg.valid_fraction)
    out = {"train": Part("train", cfg.train, valid, 1.0)}
    out["valid"] = Part("valid", cfg.valid) if cfg.valid else Part("valid", cfg.train, test, valid)
    if cfg.test or test:
        out["test"] = Part("test", cfg.test) if cfg.test else Part("test", cfg.train, 0.0, test)
    return out


def _uniform(index: np.ndarray, seed: int) -> np.ndarray:
    """A fixed number in [0, 1) per document position (splitmix64 of position and seed)."""
    z = index.astype(np.uint64) + np.uint64((seed + 1) * 0x9E3779B97F4A7C15 % 2**64)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return ((z ^ (z >> np.uint64(31))) >> np.uint64(11)).astype(np.float64) / 2.0**53


def documents(part: Part, cfg: DataConfig, task: str):
    """The part's (text, label) rows in file order, read a block at a time."""
    found = readers.rows(part.path, cfg.format, **reading(cfg, task))
    if (part.low, part.high) == (0.0, 1.0):
        yield from found
        return
    start = 0
    for chunk in chunked(found, BLOCK):
        u = _uniform(np.arange(start, start + len(chunk)), cfg.split_seed)
        start += len(chunk)
        yield from itertools.compress(chunk, (u >= part.low) & (u < part.high))


def shuffled(items, size: int, rng: np.random.Generator):
    """`items` in a random order drawn from `rng`, holding at most `size` of them: each item read takes
    the place of a random one in the buffer, which comes out. Every item comes out once; when all fit
    in the buffer, the order is a uniform permutation."""
    buffer, draws = [], iter(())
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        j = next(draws, None)
        if j is None:
            draws = iter(rng.integers(0, size, 4096).tolist())
            j = next(draws)
        buffer[j], item = item, buffer[j]
        yield item
    for j in rng.permutation(len(buffer)).tolist():
        yield buffer[j]


class _TokenCounts:
    """Token frequencies counted block by block in at most `cap` rows: when the table outgrows it, the
    tokens below a rising minimum count are dropped (fastText's dictionary prunes the same way)."""

    def __init__(self, cap: int):
        self.cap, self.floor = cap, 1
        self.table = pa.table({"token": pa.array([], pa.large_string()), "count": pa.array([], pa.int64())})

    def add(self, tokens: list[pa.Array]) -> None:
        counts = pc.value_counts(pa.chunked_array(tokens, pa.large_string()))
        block = pa.table({"token": counts.field("values"), "count": counts.field("counts")})
        merged = pa.concat_tables([self.table, block]).group_by("token").aggregate([("count", "sum")])
        table = pa.table({"token": merged["token"], "count": merged["count_sum"]})
        while len(table) > self.cap:
            self.floor += 1
            table = table.filter(pc.greater_equal(table["count"], self.floor))
        self.table = table


@dataclass
class Survey:
    """What the first pass learns of one split, in memory that does not grow with it."""

    documents: int = 0
    tokens: int = 0
    labels: Counter = field(default_factory=Counter)  # documents per class (multilabel: per label)
    target_sum: float = 0.0  # regression: sum and sum of squares of the targets
    target_squares: float = 0.0
    target_min: float = math.inf  # regression: the least and the greatest target
    target_max: float = -math.inf
    sample: list = field(default_factory=list)  # (length in tokens, label) of a uniform sample of documents
    digest: str = ""

    def add(self, lengths: np.ndarray, labels: list, task: str, rng: np.random.Generator) -> None:
        self.tokens += int(lengths.sum())
        if task == "regression":
            y = np.asarray(labels, dtype=np.float64)
            self.target_sum, self.target_squares = self.target_sum + y.sum(), self.target_squares + (y * y).sum()
            if len(y):
                self.target_min, self.target_max = min(self.target_min, y.min()), max(self.target_max, y.max())
        elif task == "multilabel":
            self.labels.update(x for row in labels for x in row)
        else:
            self.labels.update(labels)
        # reservoir sampling: the i-th document replaces a random one of the sample with probability SAMPLE / i
        seen = self.documents + np.arange(1, len(labels) + 1)
        slot = rng.integers(0, seen)
        for i in range(len(labels)):
            if len(self.sample) < SAMPLE:
                self.sample.append((int(lengths[i]), labels[i]))
            elif slot[i] < SAMPLE:
                self.sample[slot[i]] = (int(lengths[i]), labels[i])
        self.documents += len(labels)

    def summary(self, task: str) -> dict:
        """The split's entry of the data summary (doccat.report); lengths and regression targets from the sample."""
        out = split_summary(self.documents, np.array([n for n, _ in self.sample]), [y for _, y in self.sample], task)
        if task != "regression":  # the counts themselves, not the sample's
            out["per_class"] = {str(c): n for c, n in sorted(self.labels.items())}
            if task == "multilabel":
                out["labels_per_document"] = round(sum(self.labels.values()) / max(self.documents, 1), 3)
        return out


class Corpus:
    """A streamed corpus: its splits, and what the first pass over them measured (`stats`, as in memory)."""

    def __init__(self, cfg: Config, log=print):
        self.parts, self.data = parts(cfg.data), cfg.data
        self.task = resolve_task(cfg.data)
        m = cfg.model
        self.counts = _TokenCounts(2 * m.max_vocab if m.max_vocab else VOCAB_CAP)  # of the training split's tokens
        self.surveys = {name: self._survey(part, self.counts if name == "train" else None)
                        for name, part in self.parts.items()}
        train, classes = self.surveys["train"], self._classes()
        mean = train.target_sum / train.documents if self.task == "regression" else 0.0
        regression = self.task == "regression"
        self.stats = Stats(self.task, classes, train.documents, train.tokens, [train.labels[c] for c in classes],
                           mean, self._std() if regression else 1.0,
                           target_range=(float(train.target_min), float(train.target_max)) if regression else None)
        log(f"data: {self.sizes()} docs streamed from {', '.join(sorted({p.path for p in self.parts.values()}))}, "
            + (f"{len(classes)} {'labels' if self.task == 'multilabel' else 'classes'}" if classes
               else "a regression target"))

    def fit_featurizer(self, m: ModelConfig) -> Featurizer:
        """The featurizer of the (resolved) model config: the vocabulary from the first pass's counts, the
        columns and their idf from a second pass over the training split."""
        featurizer = Featurizer.from_config(m, Vocab.from_counts(self.counts.table, m.min_freq, m.max_vocab))
        df = sum((featurizer.document_frequencies([t for t, _ in chunk])
                  for chunk in chunked(documents(self.parts["train"], self.data, self.task), BLOCK)),
                 np.zeros(featurizer.raw_features, dtype=np.int64))
        featurizer.fit_columns(df, self.stats.documents, m.min_df)
        return featurizer

    def _survey(self, part: Part, counts: _TokenCounts | None) -> Survey:
        """The first pass over a split: documents, labels, a sample of lengths; train's tokens counted."""
        survey, digest, rng = Survey(), hashlib.sha256(), np.random.default_rng(0)
        for chunk in chunked(documents(part, self.data, self.task), BLOCK):
            texts, labels = [t for t, _ in chunk], [y for _, y in chunk]
            for text, label in chunk:
                digest.update(f"{len(text)}:{text}{label!r}\n".encode("utf-8", "surrogatepass"))
            if counts is None:
                lengths = count_tokens(texts)
            else:
                tokens = parallel_map(split_tokens, chunks(texts))
                counts.add([t for t, _ in tokens])
                lengths = np.concatenate([n for _, n in tokens])
            survey.add(lengths, labels, self.task, rng)
        survey.digest = digest.hexdigest()
        if not survey.documents:
            raise DataError(f"{part.path}: the {part.name} split has no documents")
        return survey

    def _std(self) -> float:
        s = self.surveys["train"]
        return float(np.sqrt(max(s.target_squares / s.documents - (s.target_sum / s.documents) ** 2, 0.0))) or 1.0

    def _classes(self) -> list[str]:
        if self.task == "regression":
            return []
        train = self.surveys["train"].labels
        if self.task == "classify" and len(train) < 2:
            raise DataError(f"{self.data.train}: every training row has the label {next(iter(train), None)!r}; "
                            "a classifier needs at least 2 classes: add examples of other classes")
        for name in ("valid", "test"):
            unseen = sorted(set(self.surveys[name].labels) - set(train)) if name in self.surveys else []
            if unseen and self.task == "classify":
                raise DataError(f"{self.parts[name].path}: label(s) {', '.join(map(repr, unseen[:5]))} of the {name} "
                                "split never occur in the training data; a classifier can't learn them: fix the "
                                "labels or add training examples")
        return class_order(list(train), None)[0] if self.task == "classify" else sorted(train)

    def sizes(self) -> dict[str, int]:
        return {name: s.documents for name, s in self.surveys.items()}

    def summary(self) -> dict:
        return {name: s.summary(self.task) for name, s in self.surveys.items()}

    def stream(self, name: str, clf, batch_size: int = 0, shuffle: bool = False) -> "Stream":
        """Split `name` as `clf` (doccat.classifier.Classifier) reads it: featurized and with its targets."""
        return Stream(self.parts[name], self.data, clf, self.surveys[name], batch_size, shuffle)


class Stream:
    """One split of a streamed corpus, read from its file each time: what `fit` takes to train on
    (`batches`) and to score (`outputs`)."""

    def __init__(self, part: Part, data: DataConfig, clf, survey: Survey | None = None, batch_size: int = 0,
                 shuffle: bool = False):
        self.part, self.data, self.clf, self.batch_size, self.shuffle = part, data, clf, batch_size, shuffle
        self.size = survey.documents if survey else 0  # documents per epoch, over all ranks
        self._digest = survey.digest if survey else ""

    def digest(self) -> str:
        return self._digest

    def _encode(self, chunk: list) -> tuple:
        """Featurized documents and their targets (labels that training never saw dropped, for multilabel)."""
        labels = [y for _, y in chunk]
        if self.clf.task == "multilabel":
            known = set(self.clf.class_names)
            labels = [[x for x in row if x in known] for row in labels]
        return self.clf.featurizer.encode([t for t, _ in chunk]), torch.from_numpy(self.clf.targets(labels, self.part.path))

    def batches(self, rng: np.random.Generator, start: int, device: torch.device):
        """The epoch's batches from number `start` on, as InMemory.batches gives them; the order from `rng`
        through the shuffle buffer. Batches before `start` (a resumed epoch) are read, not featurized."""
        size = self.batch_size
        docs = documents(self.part, self.data, self.clf.task)
        if self.shuffle:
            docs = shuffled(docs, self.data.shuffle_buffer, rng)
        skip = start * size
        for chunk in chunked(docs, max(1, BLOCK // size) * size):  # whole batches: featurized together
            if skip >= len(chunk):
                skip -= len(chunk)
                continue
            batches = [chunk[i:i + size] for i in range(skip, len(chunk), size)]
            skip = 0
            mine = [distributed.part(batch) for batch in batches]
            enc, y = self._encode([row for part in mine for row in part])
            bounds = np.cumsum([0] + [len(part) for part in mine])
            for batch, lo, hi in zip(batches, bounds[:-1], bounds[1:]):
                yield len(batch), to_docs(enc.slice(lo, hi)).to(device), y[lo:hi].to(device)

    def outputs(self, model: torch.nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """Every document's outputs and targets, on the CPU and the same on every rank (each scores its part
        of every block)."""
        outs, ys = [], []
        for chunk in chunked(documents(self.part, self.data, self.clf.task), BLOCK):
            enc, y = self._encode(distributed.part(chunk))
            outs.append(predict_logits(model, enc))
            ys.append(y)
        if not outs:
            raise DataError(f"{self.part.path}: the {self.part.name} split has no documents")
        return distributed.gather(torch.cat(outs)), distributed.gather(torch.cat(ys))


def evaluate(clf, split: str = "test", file: str | None = None, **data) -> dict:
    """Metrics of a streamed run (see Classifier.evaluate) on its `split`, or on a labeled `file` (read as
    the run's data, or as `data` keys say), a block at a time."""
    cfg = dataclasses.replace(clf.config.data, **data)
    if file:
        part = Part("file", file)
    else:
        found = parts(cfg)
        if split not in found:
            raise DataError(f"the run's data has no {split} split; give --file")
        part = found[split]
    out, y = Stream(part, cfg, clf).outputs(clf.model)
    return clf.evaluate_outputs(out, y)
