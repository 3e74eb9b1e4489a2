"""The training loop: shuffled mini-batches, optimizer, scheduler, clipping, early stopping."""
from __future__ import annotations

import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .config import TrainConfig
from .text import Encoded

SPARSE_OPTIMIZERS = {"sgd", "adagrad"}  # the torch optimizers that take sparse gradients


def uses_sparse_grads(cfg: TrainConfig) -> bool:
    """Sparse embedding gradients touch only the rows a batch uses: far faster for big tables."""
    return cfg.optimizer in SPARSE_OPTIMIZERS and cfg.weight_decay == 0


def batch(enc: Encoded, idx: np.ndarray) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Model input for documents `idx`: ids (N,), offsets (B,), counts (N,)."""
    starts = enc.offsets[idx]
    lengths = enc.offsets[idx + 1] - starts
    offsets = np.zeros(len(idx), dtype=np.int64)
    np.cumsum(lengths[:-1], out=offsets[1:])
    gather = np.repeat(starts - offsets, lengths) + np.arange(lengths.sum())
    return torch.from_numpy(enc.ids[gather]), torch.from_numpy(offsets), torch.from_numpy(enc.counts[gather])


def batches(enc: Encoded, batch_size: int, rng: np.random.Generator | None = None):
    """Yield (idx, ids, offsets, counts); shuffled when a generator is given."""
    order = rng.permutation(len(enc)) if rng is not None else np.arange(len(enc))
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        yield (idx, *batch(enc, idx))


@torch.no_grad()
def predict_logits(model: nn.Module, enc: Encoded, batch_size: int = 4096) -> torch.Tensor:
    model.eval()
    out = [model(*inputs) for _, *inputs in batches(enc, batch_size)]
    return torch.cat(out) if out else torch.zeros(0, model.head.out_features)


def evaluate_loss_acc(model: nn.Module, enc: Encoded, y: torch.Tensor) -> tuple[float, float]:
    logits = predict_logits(model, enc)
    return F.cross_entropy(logits, y).item(), (logits.argmax(1) == y).float().mean().item()


def build_optimizer(cfg: TrainConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay)
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adagrad": torch.optim.Adagrad}
    return kinds[cfg.optimizer](params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def build_scheduler(cfg: TrainConfig, opt, steps_per_epoch: int):
    """Returns (scheduler or None, whether it steps every batch rather than every epoch)."""
    total = cfg.epochs * steps_per_epoch
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), False
    if cfg.scheduler == "plateau":  # on validation accuracy
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max", factor=cfg.gamma, patience=cfg.plateau_patience), False
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1)), True
    if cfg.scheduler == "linear":
        def factor(step):
            return (step + 1) / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))
        return torch.optim.lr_scheduler.LambdaLR(opt, factor), True
    return None, False


def clip_grad_norm(params: list[nn.Parameter], max_norm: float) -> float:
    """clip_grad_norm_ that also takes sparse gradients; returns the norm before clipping."""
    grads = [p.grad.coalesce() if p.grad.is_sparse else p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float((g._values() if g.is_sparse else g).pow(2).sum()) for g in grads))
    if total > max_norm:
        for p in params:
            if p.grad is not None:
                p.grad.mul_(max_norm / (total + 1e-6))
    return total


def fit(model: nn.Module, train: Encoded, y_train: np.ndarray, valid: Encoded, y_valid: np.ndarray,
        cfg: TrainConfig, log=print) -> list[dict]:
    """Train `model` in place; it ends with the weights of the best validation epoch.

    Returns the per-epoch history (epoch, train_loss, val_loss, val_accuracy, lr, seconds).
    """
    torch.manual_seed(cfg.seed)
    torch.sparse.check_sparse_tensor_invariants.disable()  # explicit, so Adagrad doesn't warn about it
    rng = np.random.default_rng(cfg.seed)
    y_train_t, y_valid_t = torch.from_numpy(y_train), torch.from_numpy(y_valid)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = build_optimizer(cfg, params)
    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    scheduler, per_batch = build_scheduler(cfg, opt, steps_per_epoch)
    history, best_acc, best_state, bad_epochs, last_acc = [], -1.0, None, 0, 0.0
    for epoch in range(1, cfg.epochs + 1):
        t0, model_loss_sum, seen = time.perf_counter(), 0.0, 0
        lr = opt.param_groups[0]["lr"]
        model.train()
        for idx, *inputs in batches(train, cfg.batch_size, rng):
            loss = F.cross_entropy(model(*inputs), y_train_t[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.clip_norm:
                clip_grad_norm(params, cfg.clip_norm)
            opt.step()
            if per_batch:
                scheduler.step()
            model_loss_sum += loss.item() * len(idx)
            seen += len(idx)
        val_loss, val_acc = evaluate_loss_acc(model, valid, y_valid_t)
        if cfg.scheduler == "plateau":
            scheduler.step(val_acc)
        elif cfg.scheduler == "step" and cfg.step_when == "val_drop":
            if history and val_acc < last_acc:  # the classic tutorial decays only when accuracy drops
                scheduler.step()
            else:
                last_acc = val_acc
        elif scheduler is not None and not per_batch:
            scheduler.step()
        row = {"epoch": epoch, "train_loss": model_loss_sum / max(seen, 1), "val_loss": val_loss,
               "val_accuracy": val_acc, "lr": lr, "seconds": time.perf_counter() - t0}
        history.append(row)
        log(f"epoch {epoch:3d} | train loss {row['train_loss']:.4f} | val loss {val_loss:.4f} "
            f"| val acc {val_acc:.4f} | lr {lr:.3g} | {row['seconds']:.1f}s")
        if val_acc > best_acc:
            best_acc, bad_epochs = val_acc, 0
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        else:
            bad_epochs += 1
            if cfg.patience and bad_epochs >= cfg.patience:
                log(f"early stop: no better validation accuracy for {bad_epochs} epochs")
                break
    model.load_state_dict(best_state)
    best = max(history, key=lambda r: r["val_accuracy"])
    log(f"kept epoch {best['epoch']} (best val acc {best['val_accuracy']:.4f})")
    return history
