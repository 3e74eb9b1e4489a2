"""The classifier networks: plain nn.Modules, a batch in, logits out.

    BagClassifier      a bag of weighted feature ids (Docs) -> MLP
    EncoderClassifier  a pretrained sentence encoder's embedding (Batch) -> MLP, the bag beside it
                       (model.bag): linear, its class scores added, or embed_dim wide, concatenated
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .config import ModelConfig
from .inputs import Batch, Docs, Features, batches
from .text import Encoded
from .recipe import init_scheme

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "hardtanh": nn.Hardtanh, "gelu": nn.GELU}


class _SparseMatmul(torch.autograd.Function):
    """(B, D) = X @ (W * S) for the CSR batch X and an optional fixed scale S (else 1); backward
    dW = (X^T @ dY) * S, a dense gradient, scaled in place.

    Both products run in the sparse BLAS on all cores. PyTorch's own backward for these (and
    EmbeddingBag's dense backward) re-sorts the batch's ids on every call, 30-80x slower here.
    """

    @staticmethod
    def forward(ctx, weight: torch.Tensor, docs: Docs, scale: torch.Tensor | None = None) -> torch.Tensor:
        ctx.docs, ctx.num_features, ctx.scale = docs, weight.shape[0], scale
        return docs.csr(weight.shape[0]) @ (weight if scale is None else weight * scale)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        dw = ctx.docs.csr_t(ctx.num_features) @ grad
        return (dw if ctx.scale is None else dw.mul_(ctx.scale)), None, None


def freeze_bag(bag: nn.EmbeddingBag, cfg: ModelConfig) -> int:
    """freeze_embeddings: the bag stays as initialized (e.g. word vectors), bit for bit. For good, it is
    left out of the optimizer (no state, no weight decay); with unfreeze_after N it is in the optimizer
    from the start but has no gradient (so no step) until `set_epoch` passes N. Returns N."""
    if cfg.freeze_embeddings and not cfg.unfreeze_after:
        bag.weight.requires_grad_(False)
    return cfg.unfreeze_after if cfg.freeze_embeddings else 0


def set_bag_epoch(model: nn.Module, epoch: int) -> None:
    """A model's `set_epoch`, which `fit` calls before each epoch (1, 2, ...): the bag's gradient is off
    until epoch `model.unfreeze_after` has passed (see `freeze_bag`)."""
    if model.unfreeze_after:
        model.bag.weight.requires_grad_(epoch > model.unfreeze_after)


class BagClassifier(nn.Module):
    """EmbeddingBag -> [Linear -> activation -> dropout]* -> Linear.

    The bag is the weighted sum of the document's feature vectors (the weights come with the batch:
    TF-IDF or mean, see text.Featurizer). With embed_dim 0 the bag's vectors are the class scores
    themselves: a linear model on those features.

    sparse=True gives the bag sparse gradients (only the rows a batch touches), for SGD and Adagrad
    on small batches; otherwise its gradient is dense, computed by a sparse matrix product.
    """

    def __init__(self, cfg: ModelConfig, num_features: int, num_classes: int, sparse: bool = False,
                 device: str | None = None):
        super().__init__()
        linear = cfg.embed_dim == 0
        weight = torch.empty(num_features, num_classes if linear else cfg.embed_dim, device=device)
        if device != "meta":  # EmbeddingBag's own init (init "default"); normal_ on meta imports torch._dynamo
            nn.init.normal_(weight)
        self.bag = nn.EmbeddingBag.from_pretrained(weight, freeze=False, mode="sum", sparse=sparse)
        self.hidden, width = mlp(cfg, cfg.embed_dim, device)
        self.head = Bias(num_classes, device) if linear else nn.Linear(width, num_classes, device=device)
        init_weights(self, init_scheme(cfg), cfg.init_range)
        self.unfreeze_after = freeze_bag(self.bag, cfg)
        # model.nb: while training, the linear bag's weights are used as weight * scale (see `nb_scale`);
        # not in the state dict (training recomputes it, `fold_scale` removes it) nor synced by DDP (equal on all ranks)
        self.register_buffer("scale", None, persistent=False)

    def forward(self, docs: Docs) -> torch.Tensor:
        bag = embed_bag(self.bag, docs) if self.scale is None else bag_matmul(self.bag.weight, docs, self.scale)
        return self.head(self.hidden(bag))  # (B, num_classes)

    @torch.no_grad()
    def fold_scale(self) -> None:
        """Multiply the scale into the weights: the same model, a plain linear bag again."""
        if self.scale is not None:
            self.bag.weight.mul_(self.scale)
            self.scale = None

    set_epoch = set_bag_epoch


def nb_scale(enc: Encoded, y: np.ndarray, num_features: int, num_outputs: int, power: float,
             alpha: float = 1.0) -> torch.Tensor:
    """(num_features, num_outputs) |r| ** power, r each feature's log-count ratio for each output's class
    (NBSVM, Wang & Manning 2012): log((a + df_in) / sum) - log((a + df_out) / sum), from the training
    documents `enc` in which the feature occurs (df), in the class and out of it. `y`: class ids (n,), or
    label indicators (n, L) (multilabel). One output for two classes: the second class's."""
    doc = np.repeat(np.arange(len(enc)), np.diff(enc.offsets))  # the document of each (document, feature)
    if y.ndim == 1:  # one pass: (feature, class) keys
        classes = max(num_outputs, 2)
        df_in = np.bincount(enc.ids.astype(np.int64) * classes + y[doc], minlength=num_features * classes)
        df_in = df_in.reshape(-1, classes)[:, 1:] if num_outputs == 1 else df_in.reshape(-1, classes)
    else:
        df_in = np.stack([np.bincount(enc.ids, weights=y[doc, k], minlength=num_features) for k in range(y.shape[1])], 1)
    # float32, in place: the (features, outputs) arrays are as large as the model
    p = df_in.astype(np.float32) + np.float32(alpha)
    q = np.bincount(enc.ids, minlength=num_features).astype(np.float32)[:, None] + np.float32(2 * alpha) - p
    shift = np.log(q.sum(0, dtype=np.float64)) - np.log(p.sum(0, dtype=np.float64))
    r = np.log(p, out=p)
    r -= np.log(q, out=q)
    r += shift.astype(np.float32)
    return torch.from_numpy(np.power(np.abs(r, out=r), np.float32(power), out=r))


def mlp(cfg: ModelConfig, width: int, device: str | None = None) -> tuple[nn.Sequential, int]:
    """The hidden layers [Linear -> activation -> dropout]* on inputs of `width`, and their output width."""
    layers = []
    for size in cfg.hidden:
        layers += [nn.Linear(width, size, device=device), ACTIVATIONS[cfg.activation](), nn.Dropout(cfg.dropout)]
        width = size
    return nn.Sequential(*layers), width


def embed_bag(bag: nn.EmbeddingBag, docs: Docs) -> torch.Tensor:
    """(B, D): each document's weighted sum of its features' rows."""
    if bag.sparse and torch.is_grad_enabled():  # predictions take one path: equal after reloading
        return bag(docs.ids, docs.offsets[:-1], per_sample_weights=docs.weights)
    return bag_matmul(bag.weight, docs)


def bag_matmul(weight: torch.Tensor, docs: Docs, scale: torch.Tensor | None = None) -> torch.Tensor:
    """The bag of `docs` over the rows of `weight` (times `scale`), (B, D), with a fast dense gradient for `weight`."""
    return _SparseMatmul.apply(weight, docs, scale)


class Bias(nn.Module):
    """The head of a linear model: the bag already gives one score per class; add a bias."""

    def __init__(self, num_classes: int, device: str | None = None):
        super().__init__()
        self.out_features = num_classes
        self.bias = nn.Parameter(torch.zeros(num_classes, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bias


def init_weights(model: nn.Module, scheme: str, init_range: float = 0.5) -> None:
    """Initialize embedding and linear weights by `scheme` (model.init, resolved: see doccat.recipe); biases
    start at zero. "vectors" draws as "uniform" does: the word vectors' loader then rescales the draw."""
    if scheme == "default":  # PyTorch's own per-layer defaults
        return
    if scheme not in ("uniform", "vectors", "xavier", "kaiming", "normal", "zeros"):
        raise ValueError(f"init {scheme!r}: not a scheme (\"auto\" is decided by doccat.recipe.resolve)")
    for module in model.modules():
        if not isinstance(module, (nn.Linear, nn.EmbeddingBag)):
            continue
        w = module.weight
        if scheme in ("uniform", "vectors"):  # the classic tutorial: U(-r, r)
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


class EncoderClassifier(nn.Module):
    """A sentence encoder's embedding -> [Linear -> activation -> dropout]* -> Linear, beside the n-gram
    bag (model.bag): embed_dim 0, the default recipe's linear bag, whose class scores are added to the
    output (one linear model on the TF-IDF features and the embedding together when there is no hidden
    layer); embed_dim > 0, a bag of that width concatenated with the embedding before the MLP.

    `encoder` (doccat.encoder.Encoder) gives the embedding of each document (H = encoder.dim). Frozen
    (model.encoder_mode "frozen"), its embeddings come with the batch, computed once and cached; the
    model holds no encoder weights. Fine-tuned ("finetune"), `self.encoder` is its EncoderModule, a
    submodule trained (its top encoder_layers) and saved with the rest; the batch holds the texts.
    Contrastive, the EncoderModule is saved too, but tuned before the head trains (doccat.encoder.
    tune_on_pairs) and frozen while it does: the embeddings come with the batch, as frozen's do.

    The transformer runs on its own device (train.device); the bag and the MLP stay on the CPU, where
    doccat's sparse products are fast: only the (B, H) embeddings cross over.
    """

    def __init__(self, cfg: ModelConfig, num_features: int, num_classes: int, encoder, sparse: bool = False):
        super().__init__()
        self.wide = cfg.bag and cfg.embed_dim == 0  # the bag's output: class scores, added to the head's
        self.bag = nn.EmbeddingBag(num_features, num_classes if self.wide else cfg.embed_dim, mode="sum",
                                   sparse=sparse) if cfg.bag else None
        self.hidden, width = mlp(cfg, (cfg.embed_dim if cfg.bag else 0) + encoder.dim)
        self.head = nn.Linear(width, num_classes)
        init_weights(nn.ModuleList([m for m in (self.bag, self.hidden, self.head) if m is not None]),
                     init_scheme(cfg), cfg.init_range)  # never the pretrained encoder's own weights
        self.unfreeze_after = freeze_bag(self.bag, cfg) if self.bag is not None else 0
        self.encoder = None
        if cfg.encoder_mode in ("finetune", "contrastive"):  # a submodule: trained, and saved in model.safetensors
            encoder.module.freeze_below_top(cfg.encoder_layers if cfg.encoder_mode == "finetune" else 0)
            self.encoder = encoder.module
        self._encoder = encoder  # its tokenizer; not a submodule

    def forward(self, x: Batch) -> torch.Tensor:
        device = self.head.weight.device
        bag = None if self.bag is None else embed_bag(self.bag, x.docs).to(device)
        parts = [bag] if bag is not None and not self.wide else []
        out = self.head(self.hidden(torch.cat(parts + [self.embed(x).to(device)], 1)))  # (B, num_classes)
        return out + bag if self.wide else out

    def embed(self, x: Batch) -> torch.Tensor:
        """(B, H): the encoder's embeddings of the batch's documents."""
        if x.emb is not None:
            return x.emb
        if torch.is_grad_enabled():  # fine-tuning: through the transformer, with its graph
            return self.encoder(**self._encoder.tokenize(x.texts))
        return torch.from_numpy(self._encoder.encode(x.texts))  # predictions: batched by length, no graph

    set_epoch = set_bag_epoch


def build_model(cfg: ModelConfig, num_features: int, num_classes: int, sparse: bool = False,
                encoder=None) -> nn.Module:
    """The network the config describes: a BagClassifier, or with `encoder` (model.encoder set) an
    EncoderClassifier."""
    if encoder is None:
        return BagClassifier(cfg, num_features, num_classes, sparse)
    return EncoderClassifier(cfg, num_features, num_classes, encoder, sparse)


def encoder_features(encoder, cfg: ModelConfig, bag: Encoded, texts: list[str], cache: bool = False) -> Features:
    """EncoderClassifier's inputs for `texts` (with their bag encoded by the Featurizer). A frozen encoder
    embeds them here, through the disk cache when `cache` (corpora: the next epoch and the next run
    read them back), else directly (a few texts to predict are not worth a cache file). The cache is
    keyed by the encoder's files: the weights a contrastive stage tuned are never cached."""
    bag = bag if cfg.bag else None
    if cfg.encoder_mode == "finetune":
        return Features(bag, texts=list(texts))
    if cache and cfg.encoder_mode != "contrastive":
        return Features(bag, emb=encoder.encode_cached(list(texts), cfg.encoder_cache))
    return Features(bag, emb=encoder.encode(list(texts)))


@torch.no_grad()
def predict_logits(model: nn.Module, enc: Encoded | list[Docs], batch_size: int = 8192) -> torch.Tensor:
    """The model's outputs for `enc`, (n, outputs), on the CPU whatever the model's device."""
    model.eval()
    device = next(model.parameters()).device
    docs = enc if isinstance(enc, list) else [d for _, d in batches(enc, batch_size)]
    out = [model(d.to(device)).cpu() for d in docs]
    return torch.cat(out) if out else torch.zeros(0, model.head.out_features)
