"""The classifier network: a plain nn.Module, a batch of weighted feature ids in, logits out."""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from .config import ModelConfig

# CSR tensors are "beta" in torch; the two products used here are long stable
warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "hardtanh": nn.Hardtanh, "gelu": nn.GELU}


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

    def to(self, device: torch.device) -> "Docs":
        """The batch on `device` (itself when it is there already, its cached CSR forms kept)."""
        if self.ids.device == torch.device(device):
            return self
        return Docs(self.ids.to(device), self.offsets.to(device), self.weights.to(device))


def _csr(offsets, ids, values, size) -> torch.Tensor:
    # int32 indices halve the memory the products stream through: twice as fast as int64 here.
    # The invariants hold by construction; checking them would cost a pass over the batch.
    dtype = torch.int32 if max(len(ids), *size) < 2**31 else torch.int64
    return torch.sparse_csr_tensor(offsets.to(dtype), ids.to(dtype), values, size=size, check_invariants=False)


class _SparseMatmul(torch.autograd.Function):
    """(B, D) = X @ W for the CSR batch X; backward dW = X^T @ dY, a dense gradient.

    Both products run in the sparse BLAS on all cores. PyTorch's own backward for these (and
    EmbeddingBag's dense backward) re-sorts the batch's ids on every call, 30-80x slower here.
    """

    @staticmethod
    def forward(ctx, weight: torch.Tensor, docs: Docs) -> torch.Tensor:
        ctx.docs, ctx.num_features = docs, weight.shape[0]
        return docs.csr(weight.shape[0]) @ weight

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return ctx.docs.csr_t(ctx.num_features) @ grad, None


class BagClassifier(nn.Module):
    """EmbeddingBag -> [Linear -> activation -> dropout]* -> Linear.

    The bag is the weighted sum of the document's feature vectors (the weights come with the batch:
    TF-IDF or mean, see text.Featurizer). With embed_dim 0 the bag's vectors are the class scores
    themselves: a linear model on those features.

    sparse=True gives the bag sparse gradients (only the rows a batch touches), for SGD and Adagrad
    on small batches; otherwise its gradient is dense, computed by a sparse matrix product.
    """

    def __init__(self, cfg: ModelConfig, num_features: int, num_classes: int, sparse: bool = False):
        super().__init__()
        linear = cfg.embed_dim == 0
        self.bag = nn.EmbeddingBag(num_features, num_classes if linear else cfg.embed_dim, mode="sum", sparse=sparse)
        layers, width = [], cfg.embed_dim
        for size in cfg.hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[cfg.activation](), nn.Dropout(cfg.dropout)]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.head = Bias(num_classes) if linear else nn.Linear(width, num_classes)
        # a linear model starts at zero, as logistic regression does; an embedding needs symmetry broken
        init = cfg.init if cfg.init != "auto" else ("zeros" if linear else "uniform")
        init_weights(self, init, cfg.init_range)

    def forward(self, docs: Docs) -> torch.Tensor:
        if self.bag.sparse and torch.is_grad_enabled():  # predictions take one path: equal after reloading
            x = self.bag(docs.ids, docs.offsets[:-1], per_sample_weights=docs.weights)
        else:
            x = bag_matmul(self.bag.weight, docs)
        return self.head(self.hidden(x))  # (B, num_classes)


def bag_matmul(weight: torch.Tensor, docs: Docs) -> torch.Tensor:
    """The bag of `docs` over the rows of `weight`, (B, D), with a fast dense gradient for `weight`."""
    return _SparseMatmul.apply(weight, docs)


class Bias(nn.Module):
    """The head of a linear model: the bag already gives one score per class; add a bias."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.out_features = num_classes
        self.bias = nn.Parameter(torch.zeros(num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


def init_weights(model: nn.Module, scheme: str, init_range: float = 0.5) -> None:
    """Initialize embedding and linear weights by `scheme`; biases start at zero."""
    if scheme == "default":  # PyTorch's own per-layer defaults
        return
    for module in model.modules():
        if not isinstance(module, (nn.Linear, nn.EmbeddingBag)):
            continue
        w = module.weight
        if scheme == "uniform":  # the classic tutorial: U(-r, r)
            nn.init.uniform_(w, -init_range, init_range)
        elif scheme == "xavier":
            nn.init.xavier_uniform_(w)
        elif scheme == "kaiming":
            nn.init.kaiming_uniform_(w, nonlinearity="relu")
        elif scheme == "normal":
            nn.init.normal_(w, 0.0, init_range)
        elif scheme == "zeros":  # where a linear model starts, as logistic regression does
            nn.init.zeros_(w)
        if getattr(module, "bias", None) is not None:
            nn.init.zeros_(module.bias)
