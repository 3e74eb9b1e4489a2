"""A run directory: everything needed to reuse a model, nothing pickled, every file checksummed.

    config.json  model.safetensors  vocab.json  labels.json  metrics.json  history.csv  manifest.json
    (+ batches.csv and the plots' PNGs, passed as `extra` files)
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


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once: a temp file in the same directory, fsync, rename."""
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)  # make the rename itself durable
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def rows_csv(history: list[dict]) -> bytes:
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    return buf.getvalue().encode()


def write_run(out: Path, config: dict, state: dict[str, torch.Tensor], vocab: list[str], labels: list[str],
              metrics: dict, history: list[dict], overwrite: bool = False,
              extra: dict[str, bytes] | None = None) -> Path:
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
        "history.csv": rows_csv(history),
        **(extra or {}),  # e.g. batches.csv, plots: checksummed like the rest
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
    """Read and verify a run directory; returns its parts. Refuses altered or missing files.

    Nothing is unpickled: weights are safetensors, the rest JSON, each checked against the manifest.
    """
    path = Path(path)
    if not (path / "manifest.json").is_file():
        if path.with_name(path.name + ".partial").is_dir():
            raise ArtifactError(f"{path}: the run has not finished (it is training, or was killed: "
                                f"continue it with `doccat train --resume {path}`)")
        raise ArtifactError(f"{path}: not a doccat run directory (no manifest.json)")
    manifest = _parse_json(path / "manifest.json", (path / "manifest.json").read_bytes())
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ArtifactError(f"{path}/manifest.json: no \"files\" table")
    data = {}
    for name, digest in files.items():
        # names only: nothing may point outside the run directory
        if Path(name).name != name or name in (".", "..") or "\\" in name:
            raise ArtifactError(f"{path}/manifest.json: file name {name!r} is not a plain name")
        file = path / name
        if file.is_symlink():  # a link could make us read any file on the machine
            raise ArtifactError(f"{file}: is a symbolic link; a run directory holds plain files only")
        if not file.is_file():
            raise ArtifactError(f"{file}: missing from the run directory")
        data[name] = file.read_bytes()
        if _sha256(data[name]) != digest:
            raise ArtifactError(f"{file}: checksum does not match manifest.json; the file was altered "
                                "or truncated, refusing to load it")
    for needed in ("config.json", "model.safetensors", "vocab.json", "labels.json"):
        if needed not in data:
            raise ArtifactError(f"{path}: manifest.json does not list {needed}")
    try:
        state = load_safetensors(data["model.safetensors"])
    except Exception as e:  # safetensors raises its own error type for a malformed header
        raise ArtifactError(f"{path}/model.safetensors: not a safetensors file ({type(e).__name__}: {e}); "
                            "refusing to load it") from None
    return {
        "config": _parse_json(path / "config.json", data["config.json"]),
        "state": state,
        "vocab": _parse_json(path / "vocab.json", data["vocab.json"]),
        "labels": _parse_json(path / "labels.json", data["labels.json"]),
        "metrics": _parse_json(path / "metrics.json", data.get("metrics.json", b"{}")),
        # the pretrained encoder the run was trained with (doccat.encoder.Encoder.identity), if any
        "encoder": _parse_json(path / "encoder.json", data["encoder.json"]) if "encoder.json" in data else None,
    }


def _parse_json(file: Path, data: bytes):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{file}: not valid JSON ({e})") from None
