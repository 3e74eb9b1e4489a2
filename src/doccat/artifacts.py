"""A run directory: everything needed to reuse a model, nothing pickled, every file checksummed.

    config.json  model.safetensors  vocab.json  labels.json  metrics.json  history.csv  manifest.json
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import uuid
from pathlib import Path

import torch
from safetensors.torch import load as load_safetensors
from safetensors.torch import save as save_safetensors


class ArtifactError(ValueError):
    """A run directory that is missing, incomplete or altered."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def _history_csv(history: list[dict]) -> bytes:
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    return buf.getvalue().encode()


def write_run(out: Path, config: dict, state: dict[str, torch.Tensor], vocab: list[str], labels: list[str],
              metrics: dict, history: list[dict], overwrite: bool = False) -> Path:
    """Write the run directory atomically: into a temporary sibling, then renamed into place."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ArtifactError(f"{out}: already exists; choose another directory or pass --overwrite")
    files = {
        "config.json": _json(config),
        "model.safetensors": save_safetensors({k: v.contiguous() for k, v in state.items()}),
        "vocab.json": _json(vocab),
        "labels.json": _json(labels),
        "metrics.json": _json(metrics),
        "history.csv": _history_csv(history),
    }
    files["manifest.json"] = _json({"files": {name: _sha256(data) for name, data in files.items()}})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    for name, data in files.items():
        with open(tmp / name, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    if out.exists():  # --overwrite: swap the old directory out only once the new one is complete
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    else:
        os.replace(tmp, out)
    return out


def read_run(path: Path) -> dict:
    """Read and verify a run directory; returns its parts. Refuses altered or missing files."""
    path = Path(path)
    if not (path / "manifest.json").is_file():
        raise ArtifactError(f"{path}: not a doccat run directory (no manifest.json)")
    manifest = json.loads((path / "manifest.json").read_text())["files"]
    data = {}
    for name, digest in manifest.items():
        if Path(name).name != name:  # names only: nothing may point outside the run directory
            raise ArtifactError(f"{path}/manifest.json: file name {name!r} is not a plain name")
        file = path / name
        if not file.is_file():
            raise ArtifactError(f"{file}: missing from the run directory")
        data[name] = file.read_bytes()
        if _sha256(data[name]) != digest:
            raise ArtifactError(f"{file}: checksum does not match manifest.json; the file was altered "
                                "or truncated, refusing to load it")
    for needed in ("config.json", "model.safetensors", "vocab.json", "labels.json"):
        if needed not in data:
            raise ArtifactError(f"{path}: manifest.json does not list {needed}")
    return {
        "config": json.loads(data["config.json"]),
        "state": load_safetensors(data["model.safetensors"]),
        "vocab": json.loads(data["vocab.json"]),
        "labels": json.loads(data["labels.json"]),
        "metrics": json.loads(data.get("metrics.json", b"{}")),
    }
