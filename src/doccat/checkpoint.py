"""Checkpoints of a run in progress, so that a killed run loses at most a few minutes.

While `train(..., out=RUN)` runs, its in-progress directory is the sibling `RUN.partial/`:

    RUNNING                 a lock file, held (flock) by the training process while it lives
    run.json                the config and options of the run, written once at the start
    checkpoint.safetensors  the latest checkpoint: every tensor, plus the rest as JSON metadata

`RUN` itself is written only at the end, atomically (artifacts.write_run), and `RUN.partial/`
is then removed. Every file here is replaced by an atomic rename, so the directory only ever
holds complete files. Nothing is pickled: tensors go through safetensors, everything else is
JSON inside the safetensors header, so tensors and metadata are one file and one rename.

Under torchrun only rank 0 touches the directory; the other ranks get what it reads (run.json, the
checkpoint) broadcast, so a resumed multi-machine run needs the files on rank 0's machine only.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors, save as save_safetensors

from . import distributed
from .artifacts import ArtifactError, claim, plain_files_only, write_atomic

FORMAT = "doccat-checkpoint-1"
CHECKPOINT = "checkpoint.safetensors"


def partial_dir(out: str | Path) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial")


def run_dir(path: str | Path) -> Path:
    """The run directory a user means: `RUN` given as `RUN` or as `RUN.partial`."""
    path = Path(path)
    return path.with_name(path.name.removesuffix(".partial")) if path.name.endswith(".partial") else path


class Checkpoints:
    """The in-progress directory of one run, locked by this process until `finish`."""

    def __init__(self, out: Path, lock):
        self.out, self.dir, self._lock = out, partial_dir(out), lock

    @staticmethod
    def check(out: str | Path, overwrite: bool = False) -> None:
        """Refuse an existing run or an unfinished one in `out` unless `overwrite`; refuse anything
        there that is not doccat's (a run directory, an in-progress directory) even with it."""
        out = claim(Path(out), overwrite)
        partial = partial_dir(out)
        if os.path.lexists(partial) and not overwrite:
            raise ArtifactError(f"{partial}: holds an unfinished run; continue it with `doccat train --resume "
                                f"{out}` or start over with --overwrite (overwrite=True from Python)")
        if os.path.lexists(partial) and not _is_partial(partial):
            raise ArtifactError(f"{partial}: is not a doccat in-progress directory (it holds other files); "
                                "--overwrite left it untouched: choose another --out (or move it away yourself)")

    @classmethod
    def start(cls, out: str | Path, config: dict, overwrite: bool = False) -> "Checkpoints":
        """Claim `out` for a new run: creates and locks `<out>.partial/` with the run's config."""
        out = Path(out)
        partial = partial_dir(out)
        if not distributed.is_main():
            return cls(out, None)
        cls.check(out, overwrite)
        if partial.exists():  # --overwrite
            _lock(partial).close()  # refuses while another process is still training there
            shutil.rmtree(partial)
        partial.parent.mkdir(parents=True, exist_ok=True)
        try:
            partial.mkdir()  # atomic: of two runs started at once, one gets it
        except FileExistsError:
            raise ArtifactError(f"{partial}: another run just started there") from None
        ckpt = cls(out, _lock(partial))
        write_atomic(partial / "run.json", _json({"config": config, "overwrite": overwrite}))
        return ckpt

    @classmethod
    def reopen(cls, out: str | Path) -> tuple["Checkpoints", dict]:
        """Claim a killed run's directory again: (checkpoints, its run.json)."""
        out = run_dir(out)
        partial = partial_dir(out)
        if not distributed.is_main():
            return cls(out, None), json.loads(distributed.broadcast_bytes(None))
        if not (partial / "run.json").is_file():
            raise ArtifactError(f"{out}: no unfinished run to resume (no {partial.name}/run.json)")
        ckpt = cls(out, _lock(partial))
        for stale in partial.glob(".*.tmp-*"):  # a write the kill interrupted; never renamed into place
            stale.unlink()
        try:
            run = json.loads((partial / "run.json").read_text())
        except (ValueError, UnicodeDecodeError) as e:
            raise ArtifactError(f"{partial}/run.json: not valid JSON ({e})") from None
        if run.get("overwrite") is not True and out.exists():
            raise ArtifactError(f"{out}: already exists; the run to resume would replace it")
        distributed.broadcast_bytes(json.dumps(run).encode())
        return ckpt, run

    def exists(self) -> bool:
        """Whether there is a checkpoint to continue from (rank 0's answer, on every rank)."""
        return distributed.agree(distributed.is_main() and (self.dir / CHECKPOINT).is_file())

    def save(self, tensors: dict[str, torch.Tensor], meta: dict) -> None:
        if not distributed.is_main():
            return
        meta = {"format": FORMAT, **meta}
        data = save_safetensors({k: v.detach().cpu().contiguous() for k, v in tensors.items()},
                                metadata={"doccat": json.dumps(meta)})
        write_atomic(self.dir / CHECKPOINT, data)

    def load(self) -> tuple[dict[str, torch.Tensor], dict]:
        path = self.dir / CHECKPOINT
        data = path.read_bytes() if distributed.is_main() else None
        return _parse_checkpoint(distributed.broadcast_bytes(data), path)

    def abandon(self) -> None:
        """Training failed: keep the directory if it holds a checkpoint (resumable), else remove it."""
        if not distributed.is_main():
            return
        if not (self.dir / CHECKPOINT).is_file():
            shutil.rmtree(self.dir, ignore_errors=True)
        self._lock.close()

    def finish(self) -> None:
        """The final run directory is written: the checkpoints are no longer needed."""
        if not distributed.is_main():
            return
        shutil.rmtree(self.dir)
        self._lock.close()


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, metadata) of a checkpoint file; refuses anything that is not one (never unpickles)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise ArtifactError(f"{path}: can't read the checkpoint: {e.strerror or e}") from None
    return _parse_checkpoint(data, path)


def _parse_checkpoint(data: bytes, path: Path) -> tuple[dict[str, torch.Tensor], dict]:
    try:
        size = int.from_bytes(data[:8], "little")  # safetensors: an 8-byte header size, the JSON header, data
        meta = json.loads(json.loads(data[8:8 + size])["__metadata__"]["doccat"])
        tensors = load_safetensors(data)
    except Exception as e:  # safetensors raises its own error type for a malformed header
        raise ArtifactError(f"{path}: not a doccat checkpoint ({type(e).__name__}: {e}); "
                            "refusing to load it") from None
    if meta.get("format") != FORMAT:
        raise ArtifactError(f"{path}: unknown checkpoint format {meta.get('format')!r}")
    return tensors, meta


def flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    """An optimizer state_dict as tensors ("optim.<param>.<key>") plus the rest as JSON."""
    tensors, rest = {}, {}
    for pid, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor) and value.is_sparse:  # SGD momentum with sparse gradients
                # saved as they are, uncoalesced too: coalescing would reorder float sums
                tensors[f"optim.{pid}.{key}.indices"] = value._indices()
                tensors[f"optim.{pid}.{key}.values"] = value._values()
                rest.setdefault(str(pid), {})[key] = {"sparse_size": list(value.shape),
                                                      "coalesced": value.is_coalesced()}
            elif isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{key}"] = value
            elif isinstance(value, (list, tuple)) and any(isinstance(v, torch.Tensor) for v in value):
                # L-BFGS keeps its history of steps and gradient changes as lists of tensors (with None gaps)
                tensors.update({f"optim.{pid}.{key}.list.{i}": v for i, v in enumerate(value) if v is not None})
                rest.setdefault(str(pid), {})[key] = {"tensor_list": len(value)}
            else:
                rest.setdefault(str(pid), {})[key] = value
    return tensors, {"other": rest, "param_groups": state["param_groups"]}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict = {int(pid): dict(slots) for pid, slots in meta["other"].items()}
    for name, value in tensors.items():
        if name.startswith("optim.") and not name.endswith((".indices", ".values")) and ".list." not in name:
            _, pid, key = name.split(".", 2)
            state.setdefault(int(pid), {})[key] = value
    for pid, slots in state.items():
        for key, value in slots.items():
            if isinstance(value, dict) and "tensor_list" in value:
                slots[key] = [tensors.get(f"optim.{pid}.{key}.list.{i}") for i in range(value["tensor_list"])]
            elif isinstance(value, dict) and "sparse_size" in value:
                slots[key] = torch.sparse_coo_tensor(
                    tensors[f"optim.{pid}.{key}.indices"], tensors[f"optim.{pid}.{key}.values"],
                    value["sparse_size"], is_coalesced=value["coalesced"])
    return {"state": state, "param_groups": meta["param_groups"]}


def _is_partial(path: Path) -> bool:
    """Whether `path` holds only what a run in progress writes (see the module's docstring)."""
    return plain_files_only(path, lambda name: name in ("RUNNING", "run.json", CHECKPOINT)
                            or name.startswith((".run.json.tmp-", f".{CHECKPOINT}.tmp-")))


def _lock(partial: Path):
    """Hold an exclusive lock on partial/RUNNING; the OS drops it when the process dies."""
    f = open(partial / "RUNNING", "a")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise ArtifactError(f"{partial}: another doccat process is training there right now") from None
    return f


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2) + "\n").encode()
