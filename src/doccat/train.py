"""The training loop: shuffled mini-batches, optimizer, scheduler, clipping, early stopping."""
from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import os
import resource
import sys
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from . import distributed
from .artifacts import ArtifactError
from .checkpoint import Checkpoints, flatten_optimizer, unflatten_optimizer
from .config import TrainConfig, TrainingError
from .loss import DEFAULT_THRESHOLD, SCORES, Outputs
from .inputs import Features, batches, to_docs
from .text import Encoded
from .model import predict_logits

LOG = logging.getLogger(__name__)

SPARSE_OPTIMIZERS = {"sgd", "adagrad"}  # the torch optimizers that take sparse gradients
# An L-BFGS epoch is this many of its iterations: each step re-evaluates the objective where the last
# one ended, so one iteration per step would cost two passes over the data instead of about one.
LBFGS_ITERATIONS = 4
# Past gradient pairs L-BFGS keeps: each is two copies of the model, and every iteration reads them all;
# 5 converged to the same validation scores as 10 on the benchmark corpora, 20-40 % faster on wide models
LBFGS_HISTORY = 5


def uses_sparse_grads(cfg: TrainConfig) -> bool:
    """Sparse bag gradients touch only the rows a mini-batch uses: faster for small batches. (Not under
    DDP on GPUs: NCCL can't all-reduce sparse tensors; gloo, on CPUs, can.)"""
    nccl = distributed.world() > 1 and distributed.device(cfg.device).type == "cuda"
    return cfg.optimizer in SPARSE_OPTIMIZERS and cfg.weight_decay == 0 and cfg.batch_size != 0 and not nccl


class InMemory:
    """Encoded documents and their targets, as `fit` takes them: shuffled batches of `batch_size` (0: all
    at once) to train on, or outputs to score. Under DDP every rank holds all of them and takes its part."""

    def __init__(self, enc: Encoded, y: np.ndarray, batch_size: int = 0, shuffle: bool = True):
        self.enc, self.y, self.batch_size, self.shuffle = enc, torch.from_numpy(y), batch_size, shuffle
        self.size = len(enc)  # documents per epoch, over all ranks
        self._cache = {}  # the full batch and the scoring batches: made (and transposed) once, used every epoch

    def batches(self, rng: np.random.Generator, start: int, device: torch.device):
        """The epoch's batches from number `start` on: (documents in the batch over all ranks, this rank's
        Docs and targets on `device`). Draws the order from `rng` (all ranks draw the same)."""
        if self.batch_size == 0:
            if "full" not in self._cache:
                mine = distributed.part(np.arange(self.size))
                self._cache["full"] = (self.size, to_docs(self.enc, None if distributed.world() == 1 else mine)
                                       .to(device), self.y[mine].to(device))
            yield from [self._cache["full"]][start:]
            return
        order = rng.permutation(self.size) if self.shuffle else np.arange(self.size)
        for begin in range(start * self.batch_size, self.size, self.batch_size):
            mine = distributed.part(order[begin:begin + self.batch_size])
            yield min(self.batch_size, self.size - begin), to_docs(self.enc, mine).to(device), self.y[mine].to(device)

    def outputs(self, model: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
        """Every document's outputs and targets, on the CPU and the same on every rank (each scores a block)."""
        if "score" not in self._cache:
            start, stop = distributed.block(self.size)
            self._cache["score"] = [d for _, d in batches(self.enc.slice(start, stop), 8192)]
        return distributed.gather(predict_logits(model, self._cache["score"])), self.y

    def digest(self) -> str:
        return _fingerprint(self.enc, self.y.numpy())


def build_optimizer(cfg: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    """Weight decay applies to weight matrices and the bag, never to biases (as nanoGPT does). A
    fine-tuned pretrained encoder's weights learn at their own, smaller rate: cfg.encoder_lr."""
    params = [p for p in model.parameters() if p.requires_grad]
    encoder = {id(p) for p in model.encoder.parameters()} if getattr(model, "encoder", None) is not None else set()
    groups = []
    for pretrained in (False, True):
        mine = [p for p in params if (id(p) in encoder) == pretrained]
        lr = {"lr": cfg.encoder_lr} if pretrained else {}
        groups += [{"params": [p for p in mine if p.dim() >= 2], "weight_decay": cfg.weight_decay, **lr},
                   {"params": [p for p in mine if p.dim() < 2], "weight_decay": 0.0, **lr}]
    groups = groups[:2] + [g for g in groups[2:] if g["params"]]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov)
    if cfg.optimizer == "lbfgs":  # no weight_decay of its own: the L2 penalty goes into its objective
        return torch.optim.LBFGS(params, lr=cfg.lr, max_iter=LBFGS_ITERATIONS, max_eval=25 * LBFGS_ITERATIONS,
                                 history_size=LBFGS_HISTORY, line_search_fn="strong_wolfe")
    kinds = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "adagrad": torch.optim.Adagrad,
             "rmsprop": torch.optim.RMSprop}
    return kinds[cfg.optimizer](groups, lr=cfg.lr)


@torch.no_grad()
def add_l2_penalty(model: nn.Module, weight_decay: float) -> float:
    """Adds the gradient of 0.5 * wd * |W|^2 over the weight matrices (what weight decay adds) to their
    .grad, and returns that penalty: outside autograd, it costs no temporary the size of the model."""
    penalty = 0.0
    for p in model.parameters():
        if weight_decay and p.requires_grad and p.dim() >= 2:
            penalty += 0.5 * weight_decay * torch.dot(p.view(-1), p.view(-1)).item()
            if p.grad is None:
                p.grad = weight_decay * p.detach().clone()
            else:
                p.grad.add_(p, alpha=weight_decay)
    return penalty


def build_scheduler(cfg: TrainConfig, opt, steps_per_epoch: int):
    """Returns (scheduler or None, whether it steps every batch rather than every epoch)."""
    total = cfg.epochs * steps_per_epoch
    warmup = int(cfg.warmup_epochs * steps_per_epoch)
    if cfg.scheduler == "step":
        return torch.optim.lr_scheduler.StepLR(opt, cfg.step_size, cfg.gamma), False
    if cfg.scheduler == "plateau":  # on the validation score
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            opt, mode="max", factor=cfg.gamma, patience=cfg.plateau_patience), False
    if cfg.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(total, 1)), True
    if cfg.scheduler == "linear":
        def factor(step):
            return (step + 1) / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))
        return torch.optim.lr_scheduler.LambdaLR(opt, factor), True
    return None, False


def clip_grad_norm(params: list[nn.Parameter], max_norm: float, max_value: float = math.inf) -> float:
    """clip_grad_norm_ (and clip_grad_value_) that also take sparse gradients; returns the norm before clipping."""
    for p in params:  # coalesced in place: the norm needs it, and the optimizer then needn't redo it
        if p.grad is not None and p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    grads = [p.grad for p in params if p.grad is not None]
    total = math.sqrt(sum(float((g._values() if g.is_sparse else g).pow(2).sum()) for g in grads))
    if max_value < math.inf:  # each element to [-v, v]
        for g in grads:
            (g._values() if g.is_sparse else g).clamp_(-max_value, max_value)
    if total > max_norm:
        for g in grads:
            g.mul_(max_norm / (total + 1e-6))
    return total


def best_key(row: dict) -> tuple[float, float]:
    """Epochs rank by validation score (accuracy, micro-F1 or R^2); of equal ones, the lower loss wins."""
    return row["val_score"], -row["val_loss"]


def kept_epoch(history: list[dict], keep: str) -> dict:
    """The history row of the epoch whose weights training keeps (train.keep: "last" or "best")."""
    return history[-1] if keep == "last" else max(history, key=best_key)


@dataclass
class Progress:
    """Where a run stands, in plain data: what a checkpoint holds besides tensors."""

    order_rng: dict  # numpy generator state at the start of `epoch`: redraws that epoch's data order
    epoch: int = 1  # the epoch under way
    batch: int = 0  # batches of it done
    epoch_lr: float = 0.0  # the learning rate the epoch started with
    loss_sum: float = 0.0  # training loss summed over the epoch's documents so far
    seen: int = 0
    history: list = field(default_factory=list)
    batches: list = field(default_factory=list)  # per batch: step, epoch, loss, grad_norm, lr
    best: list = field(default_factory=lambda: [-math.inf, -math.inf])  # (val score, -val loss) of the best epoch
    best_score: float = -math.inf  # patience counts epochs since the validation score last rose
    objective: float = math.inf  # the full-batch objective where the last step started (loss + L2 penalty)
    last_objective: float = math.inf  # ... and where the epoch before started
    bad_epochs: int = 0
    last_score: float = 0.0
    stopped: bool = False


@dataclass
class Hooks:
    """Where a run reports, besides what it returns."""

    log: Callable = LOG.info  # one line per epoch and event (logging's doccat.train, INFO)
    progress: bool | None = None  # a live bar on stderr; None: only at a terminal, unless DOCCAT_QUIET is set
    on_epoch: Callable | None = None  # called with each epoch's history row; raising in it stops training


class Trainer:
    """Trains a model in place, on its device: shuffled batches for epochs, validation after each, early
    stopping, checkpoints (`checkpoints`: saved every cfg.checkpoint_every epochs and checkpoint_minutes
    minutes, and continued from when one is there: same data order and RNG, same result).

    `fit(train, valid)` takes InMemory data or streams (doccat.data.stream.Stream): anything with `size`,
    `batches(rng, start, device)`, `outputs(model)` and `digest()`. Under torchrun every rank calls it with the
    same data and trains on its part of each batch (see doccat.distributed). The model ends with its last
    weights, or with cfg.keep "best" those of the best validation epoch; `run` holds the history (per epoch:
    epoch, train_loss, val_loss, val_score, lr, seconds) and the per-batch rows (step, epoch, loss, grad_norm, lr).
    """

    def __init__(self, model: nn.Module, outputs: Outputs, cfg: TrainConfig, checkpoints: Checkpoints | None = None,
                 hooks: Hooks | None = None):
        torch.manual_seed(cfg.seed)
        torch.sparse.check_sparse_tensor_invariants.disable()  # explicit, so Adagrad doesn't warn about it
        self.model, self.outputs, self.cfg, self.checkpoints, self.hooks = model, outputs, cfg, checkpoints, hooks or Hooks()
        self.device = next(model.parameters()).device
        self.rng = np.random.default_rng(cfg.seed)
        if cfg.optimizer == "auto":  # a config not resolved (doccat.recipe): the loop's one full-batch optimizer
            cfg = self.cfg = dataclasses.replace(cfg, optimizer="lbfgs")
        self.opt = build_optimizer(cfg, model)
        self.step = (FullBatchStep if cfg.optimizer == "lbfgs" else Step)(self)
        self.run, self.best_state, self.data_id = Progress(order_rng=self.rng.bit_generator.state), None, None

    def fit(self, train, valid) -> list[dict]:
        self.start(train, valid)
        last_save = time.monotonic()
        while self.run.epoch <= self.cfg.epochs and not self.run.stopped:
            t0 = time.perf_counter()
            last_save = self.epoch(train, last_save)
            self.validate(valid, time.perf_counter() - t0)
            self.next_epoch()
        self.finish(valid)
        return self.run.history

    def start(self, train, valid) -> None:
        """The schedule for this data, and where the run starts: from the checkpoint when there is one.
        Under torchrun, checks that every rank holds the same data."""
        cfg = self.cfg
        self.scheduler, self.per_batch = build_scheduler(cfg, self.opt, math.ceil(train.size / (cfg.batch_size or max(train.size, 1))))
        if self.checkpoints or distributed.world() > 1:
            self.data_id = hashlib.sha256((train.digest() + valid.digest()).encode()).hexdigest()
        if distributed.world() > 1:
            distributed.check_same(self.data_id, "the training and validation data")
        if self.checkpoints is not None and self.checkpoints.exists():
            self.restore()
            self.hooks.log(f"resumed from the checkpoint at epoch {self.run.epoch}, batch {self.run.batch}")

    def epoch(self, train, last_save: float) -> float:
        """The rest of the epoch under way: a step per batch, a checkpoint when one is due. Returns when the last was saved."""
        run, cfg = self.run, self.cfg
        if run.batch == 0:
            run.epoch_lr = self.opt.param_groups[0]["lr"]
        self.rng.bit_generator.state = run.order_rng
        if hasattr(self.model, "set_epoch"):  # e.g. word vectors frozen for the first epochs (model.unfreeze_after)
            self.model.set_epoch(run.epoch)
        self.model.train()
        bar = _Bar(train.size, run, cfg, self.outputs, self.hooks.progress)
        for n, docs, y in train.batches(self.rng, run.batch, self.device):
            self.batch(n, docs, y, bar)
            due = bool(cfg.checkpoint_minutes) and time.monotonic() - last_save >= 60 * cfg.checkpoint_minutes
            if self.checkpoints and distributed.agree(due):  # rank 0's clock decides: saving gathers from every rank
                self.save()
                last_save = time.monotonic()
        bar.close()
        return last_save

    def batch(self, n: int, docs, y: torch.Tensor, bar: "_Bar") -> None:
        """One optimizer step on a batch of `n` documents (over all ranks), recorded."""
        run = self.run
        lr = self.opt.param_groups[0]["lr"]  # the rate this step uses, before a per-batch scheduler moves it
        first = self.step(docs, y)
        if self.per_batch:
            self.scheduler.step()
        run.objective = first["objective"]
        run.loss_sum, run.seen, run.batch = run.loss_sum + first["loss"] * n, run.seen + n, run.batch + 1
        run.batches.append({"step": len(run.batches) + 1, "epoch": run.epoch, "loss": first["loss"],
                            "grad_norm": first["norm"], "lr": lr})
        bar.update(n, first["logits"], y, lr)

    def validate(self, valid, seconds: float) -> None:
        """Score the validation split, step epoch-wise schedulers, record the epoch, keep the best weights."""
        run = self.run
        out, y = valid.outputs(self.model)  # the same on every rank
        val_loss, val_score = self.outputs(out, y).item(), self.outputs.score(out, y)
        self.schedule(val_score)
        row = {"epoch": run.epoch, "train_loss": run.loss_sum / max(run.seen, 1), "val_loss": val_loss,
               "val_score": val_score, "lr": run.epoch_lr, "seconds": seconds}
        run.history.append(row)
        self.hooks.log(f"epoch {run.epoch:3d} | train loss {row['train_loss']:.4f} | val loss {val_loss:.4f} "
                       f"| val {SCORES[self.outputs.task]} {val_score:.4f} | lr {run.epoch_lr:.3g} | {seconds:.1f}s")
        if list(best_key(row)) > run.best:  # the weights kept: best score, then lowest loss
            run.best = list(best_key(row))
            self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.stop_early(val_score)
        if self.hooks.on_epoch is not None:
            self.hooks.on_epoch(row)

    def schedule(self, val_score: float) -> None:
        cfg, run = self.cfg, self.run
        if cfg.scheduler == "plateau":
            self.scheduler.step(val_score)
        elif cfg.scheduler == "step" and cfg.step_when == "val_drop":
            if run.history and val_score < run.last_score:  # the classic tutorial decays only when accuracy drops
                self.scheduler.step()
            else:
                run.last_score = val_score
        elif self.scheduler is not None and not self.per_batch:
            self.scheduler.step()

    def stop_early(self, val_score: float) -> None:
        """Patience on the validation score; for a full batch, convergence of the training objective."""
        cfg, run = self.cfg, self.run
        run.bad_epochs = 0 if val_score > run.best_score else run.bad_epochs + 1
        run.best_score = max(run.best_score, val_score)
        if cfg.patience and run.bad_epochs >= cfg.patience:
            self.hooks.log(f"early stop: no better validation {SCORES[self.outputs.task]} for {run.bad_epochs} epochs")
            run.stopped = True
        elif cfg.batch_size == 0 and run.last_objective - run.objective < cfg.tol * abs(run.last_objective):
            self.hooks.log(f"converged: the training objective fell by less than {cfg.tol:g} of itself in epoch "
                           f"{run.epoch - 1}")
            run.stopped = True
        run.last_objective = run.objective

    def next_epoch(self) -> None:
        run = self.run
        run.epoch, run.batch, run.loss_sum, run.seen = run.epoch + 1, 0, 0.0, 0
        run.order_rng = self.rng.bit_generator.state
        if self.checkpoints and self.cfg.checkpoint_every and (run.epoch - 1) % self.cfg.checkpoint_every == 0:
            self.save()

    def finish(self, valid) -> None:
        """The weights kept; squared_hinge's scores made probabilities, and multilabel's threshold chosen (unless
        given), on held-out documents."""
        if self.cfg.keep == "best":
            self.model.load_state_dict(self.best_state)
        if self.outputs.kind == "squared_hinge":
            self.outputs.calibrate(*valid.outputs(self.model))
        if self.outputs.threshold_on_valid:
            out, y = valid.outputs(self.model)
            fixed = self.outputs.score(out, y)
            self.outputs.tune_threshold(out, y)
            self.hooks.log(f"threshold {self.outputs.threshold:.4g} chosen on the validation split: micro-F1 "
                           f"{self.outputs.score(out, y):.4f} (at {DEFAULT_THRESHOLD}: {fixed:.4f})")
        kept = kept_epoch(self.run.history, self.cfg.keep)
        self.hooks.log(f"kept epoch {kept['epoch']} ({self.cfg.keep}; val {SCORES[self.outputs.task]} "
                       f"{kept['val_score']:.4f}); peak memory {peak_memory_mib():.0f} MiB")

    def save(self) -> None:
        """Everything needed to continue exactly: weights, optimizer, scheduler, RNG (each rank's), progress.
        Every rank calls it (the RNG states are gathered); rank 0 writes."""
        optim_tensors, optim_meta = flatten_optimizer(self.opt.state_dict())
        tensors = {**{f"model.{k}": v for k, v in self.model.state_dict().items()},
                   **{f"best.{k}": v for k, v in (self.best_state or {}).items()},
                   **optim_tensors, **_rng_states()}
        scheduler = self.scheduler.state_dict() if self.scheduler is not None else None
        self.checkpoints.save(tensors, {"progress": dataclasses.asdict(self.run), "optimizer": optim_meta,
                                        "data": self.data_id, "scheduler": scheduler, "world_size": distributed.world()})

    def restore(self) -> None:
        """The checkpoint into the model, optimizer, scheduler, torch's RNG and the progress."""
        tensors, meta = self.checkpoints.load()
        _check_resumable(self.checkpoints, meta, self.data_id)
        part = {name: {k.split(".", 1)[1]: v for k, v in tensors.items() if k.startswith(name + ".")}
                for name in ("model", "best")}
        self.model.load_state_dict(part["model"])
        self.opt.load_state_dict(unflatten_optimizer(tensors, meta["optimizer"]))
        if self.scheduler is not None:
            self.scheduler.load_state_dict(meta["scheduler"])
        for name, set_state in (("rng.torch", torch.set_rng_state), ("rng.cuda", torch.cuda.set_rng_state)):
            if name in tensors:
                # clone: a row of the (ranks, state) tensor is a view, and set_state reads from its storage's start
                set_state(tensors[name][distributed.rank()].clone() if distributed.world() > 1 else tensors[name])
        self.run, self.best_state = Progress(**meta["progress"]), part["best"] or None


def _check_resumable(checkpoints: Checkpoints, meta: dict, data_id: str) -> None:
    if meta["data"] != data_id:
        raise ArtifactError(f"{checkpoints.dir}: the training data changed since the checkpoint; "
                            "the run cannot be continued on other data")
    if meta.get("world_size", 1) != distributed.world():
        raise ArtifactError(f"{checkpoints.dir}: the run was checkpointed with {meta.get('world_size', 1)} "
                            f"process(es), not {distributed.world()}: resume it with torchrun --nproc-per-node "
                            "(times --nnodes) as it was started")


class Step:
    """One optimizer step on a batch (this rank's part of it): forward through the model (DDP's wrapper under
    torchrun), loss, backward, clipping, step. Returns the loss, objective, logits and gradient norm at the
    weights the step started from."""

    def __init__(self, trainer: Trainer):
        self.trainer, self.net = trainer, distributed.wrap(trainer.model)
        self.outputs = trainer.outputs.to(trainer.device)  # its class weights on the model's device

    def __call__(self, docs, y: torch.Tensor) -> dict:
        first, mass = {}, self.outputs.mass(y)
        total = distributed.all_sum(mass)  # the batch's over all ranks

        def closure():  # every optimizer takes a closure; L-BFGS calls it again for its line search
            objective, value, logits, norm = self.evaluate(docs, y, mass, total)
            if not first:
                first.update(loss=value, objective=objective.item(), logits=logits, norm=norm)
            return objective

        self.trainer.opt.step(closure)
        return first

    def evaluate(self, docs, y: torch.Tensor, mass: float, total: float) -> tuple:
        """(objective, loss, logits, gradient norm) at the current weights, gradients in .grad."""
        trainer = self.trainer
        trainer.opt.zero_grad(set_to_none=True)
        logits = self.net(docs)
        part = self.outputs(logits, y) if len(y) else logits.sum() * 0.0  # a rank may get no document
        batch_loss = distributed.mean(part, mass, total)  # the whole batch's: every rank decides alike
        if not math.isfinite(value := batch_loss.item()):  # before the step, so the weights stay good
            raise _diverged(trainer.run, value, trainer.opt, trainer.checkpoints)
        # DDP averages the ranks' gradients: weighing each part by its share of the batch makes that the
        # gradient of the batch's mean loss, as in one process
        (part * (mass * distributed.world() / total if total else 0.0)).backward()
        penalty = self.penalty()
        # the norm is recorded for the plots whether or not it is clipped (inf: never clipped)
        cfg = trainer.cfg
        norm = clip_grad_norm(self.params(), cfg.clip_norm or math.inf, cfg.clip_value or math.inf)
        return batch_loss + penalty, value, logits, norm

    def params(self) -> list[nn.Parameter]:
        return [p for p in self.trainer.model.parameters() if p.requires_grad]

    def penalty(self) -> float:
        """What the objective adds to the loss: nothing here (the optimizer applies weight decay itself)."""
        return 0.0


class FullBatchStep(Step):
    """L-BFGS on the full batch: the L2 penalty is part of the objective its line search minimizes, and the
    first evaluation of each step, at the weights the last one ended on, is read back (_LastEvaluation)."""

    def __init__(self, trainer: Trainer):
        super().__init__(trainer)
        deterministic = not any(isinstance(m, nn.Dropout) and m.p > 0 for m in trainer.model.modules())
        self.memo = _LastEvaluation() if deterministic and not trainer.cfg.batch_size else None

    def evaluate(self, docs, y: torch.Tensor, mass: float, total: float) -> tuple:
        params = self.params()
        if self.memo is not None and (kept := self.memo.recall(docs, params)) is not None:
            return kept
        objective, value, logits, norm = super().evaluate(docs, y, mass, total)
        if self.memo is not None:
            self.memo.keep(docs, params, (objective.detach(), value, logits, norm))
        return objective, value, logits, norm

    def penalty(self) -> float:
        return add_l2_penalty(self.trainer.model, self.trainer.cfg.weight_decay)


class _LastEvaluation:
    """L-BFGS starts every step by evaluating the weights its previous step's line search ended on,
    which that search evaluated last: for the same full batch through a network without dropout, the
    objective and gradient are read back instead of computed again (one evaluation in six, about)."""

    def __init__(self):
        self.docs, self.param_ids, self.weights, self.grads, self.result = None, [], [], [], None

    def recall(self, docs, params: list[nn.Parameter]):
        """The kept result if `params` hold the very weights it was computed at (their .grad restored)."""
        if self.docs is not docs or list(map(id, params)) != self.param_ids or \
                not all(torch.equal(p, w) for p, w in zip(params, self.weights)):
            return None
        for p, g in zip(params, self.grads):
            p.grad = None if g is None else g.clone()
        return self.result

    def keep(self, docs, params: list[nn.Parameter], result) -> None:
        """After an evaluation: its weights (copied), gradients (the next evaluation makes new ones) and result."""
        if list(map(id, params)) != self.param_ids:  # first call, or other parameters train (unfreeze_after)
            self.param_ids, self.weights = list(map(id, params)), [torch.empty_like(p) for p in params]
        for w, p in zip(self.weights, params):
            w.copy_(p.detach())
        self.docs, self.grads, self.result = docs, [p.grad for p in params], result


class _Bar:
    """One epoch's live progress bar (when shown): documents done (docs/s, ETA), loss, score, rate."""

    def __init__(self, total: int, run: Progress, cfg: TrainConfig, loss: Outputs, show: bool | None):
        self.run, self.outputs, self.score_sum = run, loss, 0.0  # the epoch's running training score
        self.tqdm = _progress_bar(total, run, cfg, show)

    def update(self, n: int, logits: torch.Tensor, y: torch.Tensor, lr: float) -> None:
        bar, run = self.tqdm, self.run
        if bar.disable:
            return
        self.score_sum += self.outputs.score(logits.detach().cpu(), y.cpu()) * len(y) * distributed.world()
        bar.update(n)
        bar.set_postfix_str(f"batch {run.batch} | loss {run.loss_sum / run.seen:.4f} | {SCORES[self.outputs.task]} "
                            f"{self.score_sum / max(bar.n - bar.initial, 1):.4f} | lr {lr:.3g}", refresh=False)

    def close(self) -> None:
        self.tqdm.close()


def _progress_bar(total: int, run: Progress, cfg: TrainConfig, show: bool | None) -> tqdm:
    """One epoch's bar: documents done (docs/s, ETA), loss, score, learning rate."""
    if show is None:  # a live bar is for a person at a terminal; logs and `--quiet` stay clean
        show = sys.stderr.isatty() and not os.environ.get("DOCCAT_QUIET")
    return tqdm(total=total, initial=run.seen, desc=f"epoch {run.epoch}/{cfg.epochs}", unit="doc",
                unit_scale=True, leave=False, file=sys.stderr, disable=not show, dynamic_ncols=True)


def _diverged(run: Progress, value: float, opt, checkpoints: Checkpoints | None) -> TrainingError:
    kept = (f"the last checkpoint is kept in {checkpoints.dir}" if checkpoints is not None and checkpoints.exists()
            else "no checkpoint was written before it")
    return TrainingError(
        f"the training loss became {value} at epoch {run.epoch}, batch {run.batch + 1}; "
        f"the learning rate ({opt.param_groups[0]['lr']:.3g}) is likely too high: try a smaller --lr, "
        f"or clip the gradients with --clip-norm (e.g. 1.0); {kept}")


def _rng_states() -> dict[str, torch.Tensor]:
    """torch's RNG states (dropout draws from them): one row per rank under DDP."""
    states = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["rng.cuda"] = torch.cuda.get_rng_state()
    if distributed.world() == 1:
        return states
    return {k: distributed.gather(v.unsqueeze(0)) for k, v in states.items()}


def _fingerprint(*arrays) -> str:
    """A digest of the encoded data, so a run is never continued on different data."""
    h = hashlib.sha256()
    for a in arrays:
        for part in a.parts() if isinstance(a, (Encoded, Features)) else [a]:
            h.update(part if isinstance(part, bytes) else np.ascontiguousarray(part).tobytes())
    return h.hexdigest()


def peak_memory_mib() -> float:
    """This process's peak resident memory so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10
