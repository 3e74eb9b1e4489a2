"""Processes and devices: data-parallel training under torchrun, and where tensors live.

`torchrun --nproc-per-node N -m doccat train ...` starts N processes (ranks) with RANK, WORLD_SIZE,
LOCAL_RANK, MASTER_ADDR and MASTER_PORT in their environment; `setup` joins them into one process
group (gloo for CPU tensors, NCCL for CUDA ones). Every rank runs the same program on the same data
and the same seed, so all of them draw the same data order; each then takes its part of every
batch (`part`), the model is wrapped in DistributedDataParallel (`wrap`), which averages the ranks'
gradients during backward, and the numbers that decide anything (a step's loss, the validation
outputs) are reduced here so that every rank takes the same decisions. Only rank 0 writes.

In a single process (no WORLD_SIZE above 1) every function here is the identity or a no-op.
"""
from __future__ import annotations

import atexit
import os

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from .config import ConfigError


def setup() -> None:
    """Join the process group torchrun describes in the environment; nothing when there is none."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return
    # collectives on CPU tensors (the step's loss, validation outputs, checkpoint bytes) go over gloo;
    # DDP's gradients over NCCL when the model is on a GPU
    dist.init_process_group("cpu:gloo,cuda:nccl" if torch.cuda.is_available() else "gloo")
    atexit.register(dist.destroy_process_group)


def world() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def rank() -> int:
    return dist.get_rank() if dist.is_initialized() else 0


def is_main() -> bool:
    """Rank 0: the one process that logs and writes files."""
    return rank() == 0


def main_only(log):
    """`log` on rank 0; a function that says nothing on the others."""
    return log if is_main() else (lambda *args, **kwargs: None)


def device(name: str = "auto") -> torch.device:
    """The torch device for "cpu", "cuda" (or "cuda:N") or "auto" (a GPU when there is one). Under torchrun
    each rank of a machine takes its own GPU, number LOCAL_RANK."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device {name!r}: no CUDA GPU is available here; use --device cpu or auto")
    if name == "cuda":
        name = f"cuda:{os.environ.get('LOCAL_RANK', '0') if world() > 1 else torch.cuda.current_device()}"
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"device {name!r}: expected cpu, cuda, cuda:N or auto") from None
    if dev.type == "cuda":
        torch.cuda.set_device(dev)  # NCCL and the CSR kernels work on the current device
    return dev


def wrap(model: nn.Module) -> nn.Module:
    """The module that `fit` runs forward and backward through: DDP's wrapper when there are several
    ranks (it shares `model`'s parameters and averages their gradients in backward), else `model`."""
    if world() == 1:
        return model
    # no buffers to sync: the bag's nb scale (its only one) is computed alike on every rank
    return nn.parallel.DistributedDataParallel(model, device_ids=None, broadcast_buffers=False)


def part(batch):
    """This rank's documents of a batch (array or list): every world()-th, from its rank on. Every rank
    slices the same batch, so their parts are disjoint and together the whole batch."""
    return batch if world() == 1 else batch[rank()::world()]


def block(n: int) -> tuple[int, int]:
    """This rank's contiguous block [start, stop) of n documents; rank by rank they are in order."""
    return n * rank() // world(), n * (rank() + 1) // world()


def all_sum(value: float) -> float:
    """The sum of `value` over all ranks (in float64)."""
    if world() == 1:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return t.item()


def mean(part_mean: torch.Tensor, mass: float, total: float) -> torch.Tensor:
    """A batch's mean over all ranks, from this rank's mean `part_mean` over its `mass` (documents, or
    their class weights) of the batch's `total`; a detached scalar, the same on every rank."""
    if world() == 1:
        return part_mean
    t = part_mean.detach().to("cpu", torch.float64).reshape(1) * mass
    dist.all_reduce(t)
    return (t / total).to(part_mean.dtype).reshape(())


def gather(rows: torch.Tensor) -> torch.Tensor:
    """Every rank's rows, concatenated in rank order, on every rank (CPU tensors; any row counts)."""
    if world() == 1:
        return rows
    counts = [torch.zeros(1, dtype=torch.int64) for _ in range(world())]
    dist.all_gather(counts, torch.tensor([len(rows)]))
    most = max(int(c) for c in counts)
    padded = torch.zeros((most, *rows.shape[1:]), dtype=rows.dtype)
    padded[:len(rows)] = rows
    out = [torch.empty_like(padded) for _ in range(world())]
    dist.all_gather(out, padded)
    return torch.cat([o[:int(c)] for o, c in zip(out, counts)])


def broadcast_bytes(data: bytes | None) -> bytes:
    """Rank 0's `data` on every rank (the others pass None): a checkpoint or a JSON file only rank 0 reads."""
    if world() == 1:
        return data
    size = torch.tensor([len(data) if is_main() else 0], dtype=torch.int64)
    dist.broadcast(size, 0)
    if not int(size):
        return b""
    buf = torch.frombuffer(bytearray(data), dtype=torch.uint8) if is_main() else \
        torch.empty(int(size), dtype=torch.uint8)
    dist.broadcast(buf, 0)
    return buf.numpy().tobytes()


def barrier() -> None:
    """Wait until every rank is here (nothing in one process)."""
    if dist.is_initialized():
        dist.barrier()


def agree(flag: bool) -> bool:
    """Rank 0's `flag` on every rank: a decision all ranks must take together."""
    if world() == 1:
        return flag
    t = torch.tensor([flag], dtype=torch.uint8)
    dist.broadcast(t, 0)
    return bool(t)


def check_same(digest: str, what: str) -> None:
    """Raise on every rank unless `digest` (hex) is the same on all of them."""
    if world() == 1:
        return
    mine = torch.from_numpy(np.frombuffer(bytes.fromhex(digest), dtype=np.uint8).copy())
    digests = [torch.empty_like(mine) for _ in range(world())]
    dist.all_gather(digests, mine)
    differ = [r for r, d in enumerate(digests) if not torch.equal(d, digests[0])]
    if differ:
        from .data import DataError
        raise DataError(f"{what} differ between ranks (rank 0 and rank(s) {', '.join(map(str, differ))}): every "
                        "process must read the same files with the same config; check the paths on each machine")
