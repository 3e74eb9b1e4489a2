"""What the model reads: the containers a batch of documents travels in, and how batches are cut.

    texts --text.Featurizer--> text.Encoded (numpy: each document's distinct feature ids, counts, weights)
          --to_docs / batches--> Docs (torch: a CSR batch for the bag)        -> model.BagClassifier
    texts + Encoded --model.encoder_features--> Features (the bag's Encoded + a pretrained encoder's
          embeddings or texts) --to_docs / batches--> Batch                   -> model.EncoderClassifier
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

from .text import Encoded


@dataclass(eq=False)
class Docs:
    """A batch of B documents for the bag: a sparse (B, num_features) matrix in CSR form.

    ids, weights: (N,) each document's distinct feature ids and their weights, back to back;
    offsets: (B+1,) where each document starts. The CSR matrix and its transpose (which the backward
    pass needs) are made once per batch and kept, so a batch reused every epoch (full batch) pays once.
    """

    ids: torch.Tensor
    offsets: torch.Tensor
    weights: torch.Tensor
    _cache: dict = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def csr(self, num_features: int) -> torch.Tensor:
        if ("csr", num_features) not in self._cache:
            self._cache["csr", num_features] = _csr(self.offsets, self.ids, self.weights, (len(self), num_features))
        return self._cache["csr", num_features]

    def csr_t(self, num_features: int) -> torch.Tensor:
        """The (num_features, B) transpose in CSR form, sorted by one radix-friendly key sort (on the CPU)."""
        if ("csr_t", num_features) not in self._cache:
            ids = self.ids.cpu().numpy()
            key = np.sort((ids.astype(np.int64) << 32) | np.arange(len(ids)))  # feature, then position
            pos = key & 0xFFFFFFFF
            row = np.repeat(np.arange(len(self), dtype=np.int32), np.diff(self.offsets.cpu().numpy()))[pos]
            offsets = np.zeros(num_features + 1, dtype=np.int64)
            np.cumsum(np.bincount(ids, minlength=num_features), out=offsets[1:])
            device = self.ids.device
            self._cache["csr_t", num_features] = _csr(
                torch.from_numpy(offsets).to(device), torch.from_numpy(row).to(device),
                self.weights[torch.from_numpy(pos).to(device)], (num_features, len(self)))
        return self._cache["csr_t", num_features]

    @classmethod
    def from_encoded(cls, enc: Encoded) -> "Docs":
        """The Featurizer's encoded documents as a batch (sharing their memory)."""
        return cls(torch.from_numpy(enc.ids), torch.from_numpy(enc.offsets), torch.from_numpy(enc.weights))

    def to(self, device: torch.device) -> "Docs":
        """The batch on `device` (itself when it is there already, its cached CSR forms kept)."""
        if self.ids.device == torch.device(device):
            return self
        return Docs(self.ids.to(device), self.offsets.to(device), self.weights.to(device))


def _csr(offsets, ids, values, size) -> torch.Tensor:
    # int32 indices halve the memory the products stream through: twice as fast as int64 here.
    # The invariants hold by construction; checking them would cost a pass over the batch.
    dtype = torch.int32 if max(len(ids), *size) < 2**31 else torch.int64
    with warnings.catch_warnings():  # CSR tensors are "beta" in torch; the two products used here are long stable
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
        return torch.sparse_csr_tensor(offsets.to(dtype), ids.to(dtype), values, size=size, check_invariants=False)


@dataclass(eq=False)
class Batch:
    """A batch for EncoderClassifier: the bag's Docs (None without a bag), and the encoder's part:
    embeddings (B, H) computed by a frozen encoder, or the texts a fine-tuned encoder reads."""

    docs: Docs | None
    emb: torch.Tensor | None = None
    texts: list[str] | None = None

    def to(self, device: torch.device) -> "Batch":
        return Batch(None if self.docs is None else self.docs.to(device),
                     None if self.emb is None else self.emb.to(device), self.texts)


@dataclass(eq=False)
class Features:
    """EncoderClassifier's inputs for N documents, which `fit` batches as it does an Encoded:
    bag (the Featurizer's, None without a bag), and emb (N, H) float32 or texts (N)."""

    bag: Encoded | None
    emb: np.ndarray | None = None
    texts: list[str] | None = None

    def __len__(self) -> int:
        return len(self.emb) if self.emb is not None else len(self.texts)

    def take(self, idx: np.ndarray) -> "Features":
        return Features(None if self.bag is None else self.bag.take(idx),
                        None if self.emb is None else self.emb[idx],
                        None if self.texts is None else [self.texts[i] for i in idx])

    def slice(self, start: int, stop: int) -> "Features":
        return Features(None if self.bag is None else self.bag.slice(start, stop),
                        None if self.emb is None else self.emb[start:stop],
                        None if self.texts is None else self.texts[start:stop])

    def batch(self) -> Batch:
        docs = None if self.bag is None else Docs.from_encoded(self.bag)
        return Batch(docs, None if self.emb is None else torch.from_numpy(self.emb), self.texts)

    def parts(self) -> list:
        """What identifies these documents (train's fingerprint hashes it): arrays, and texts as bytes."""
        return (([] if self.bag is None else self.bag.parts()) + ([] if self.emb is None else [self.emb])
                + [text.encode("utf-8", "surrogatepass") + b"\0" for text in self.texts or ()])


def to_docs(enc: Encoded | Features, idx: np.ndarray | None = None) -> Docs:
    """The model's input for documents `idx` (all when None)."""
    part = enc if idx is None else enc.take(idx)
    if isinstance(part, Features):  # a model with a pretrained encoder (model.EncoderClassifier)
        return part.batch()
    return Docs.from_encoded(part)


def batches(enc: Encoded, batch_size: int, rng: np.random.Generator | None = None):
    """Yield (idx, docs); shuffled when a generator is given. batch_size 0: all documents at once."""
    size = batch_size or max(len(enc), 1)
    if rng is None:  # in order: each batch is a view of the data, nothing copied
        for start in range(0, len(enc), size):
            stop = min(start + size, len(enc))
            yield np.arange(start, stop), to_docs(enc.slice(start, stop))
        return
    order = rng.permutation(len(enc))
    for start in range(0, len(order), size):
        idx = order[start:start + size]
        yield idx, to_docs(enc, idx)
