"""The classifier network: a plain nn.Module, feature ids in, logits out."""
from __future__ import annotations

import torch
from torch import nn

from .config import ModelConfig

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "hardtanh": nn.Hardtanh, "gelu": nn.GELU}


class BagClassifier(nn.Module):
    """EmbeddingBag -> [Linear -> activation -> dropout]* -> Linear.

    The bag is a weighted sum of feature vectors: "mean" weighs each feature by its share of the
    document's tokens and n-grams; "tfidf" by (1 + log count) * idf, L2-normalized per document,
    which makes the bag followed by the head a linear model on TF-IDF features.

    With embed_dim 0 the bag's vectors are the class scores themselves: a linear model.
    """

    def __init__(self, cfg: ModelConfig, num_features: int, num_classes: int, sparse: bool = False):
        super().__init__()
        self.weighting = cfg.weighting
        linear = cfg.embed_dim == 0
        self.bag = nn.EmbeddingBag(num_features, num_classes if linear else cfg.embed_dim, mode="sum", sparse=sparse)
        if cfg.weighting == "tfidf":  # learned from the training split, saved with the weights
            self.register_buffer("idf", torch.ones(num_features))
        layers, width = [], cfg.embed_dim
        for size in cfg.hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[cfg.activation](), nn.Dropout(cfg.dropout)]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.head = Bias(num_classes) if linear else nn.Linear(width, num_classes)
        # a linear model starts at zero, as logistic regression does; an embedding needs symmetry broken
        init = cfg.init if cfg.init != "auto" else ("zeros" if linear else "uniform")
        init_weights(self, init, cfg.init_range)

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        # ids, counts: (N,) distinct feature ids of B documents back to back and how often each
        # occurs in its document; offsets: (B,) where each document starts
        doc = torch.repeat_interleave(torch.arange(len(offsets)), torch.diff(offsets, append=offsets.new_tensor([len(ids)])))
        if self.weighting == "tfidf":
            w = (1 + torch.log(counts)) * self.idf[ids]
            norm = torch.zeros(len(offsets)).index_add_(0, doc, w * w).sqrt_()
        else:
            w = counts
            norm = torch.zeros(len(offsets)).index_add_(0, doc, w)
        w = w / norm.clamp_min(1e-12)[doc]
        return self.head(self.hidden(self.bag(ids, offsets, per_sample_weights=w)))  # (B, num_classes)


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
