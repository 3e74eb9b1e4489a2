"""A run directory: everything needed to reuse a model, nothing pickled, every file checksummed.

    config.json  model.safetensors  vocab.json  labels.json  metrics.json  history.csv  manifest.json
    (+ batches.csv and the plots' PNGs, passed as `extra` files)
    README.md, the model card (doccat.card): written with the rest, but outside the manifest
"""
from __future__ import annotations

import csv
import ctypes
import errno
import glob
import hashlib
import io
import json
import os
import shutil
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors


class ArtifactError(ValueError):
    """A run directory that is missing, incomplete or altered."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _json(obj) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def write_atomic(path: Path, data: bytes) -> None:
    """Replace `path` with `data` all at once: a temp file in the same directory, fsync, rename."""
    if path.is_dir():  # else the rename's error would name the temporary file
        raise IsADirectoryError(errno.EISDIR, "Is a directory", str(path))
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:  # a full disk, an interrupt: `path` is untouched, and no half-written temp is left
        tmp.unlink(missing_ok=True)
        raise _with_path(e, path)
    _fsync_dir(path.parent)  # make the rename itself durable


def rows_csv(history: list[dict]) -> bytes:
    buf = io.StringIO()
    if history:
        writer = csv.DictWriter(buf, fieldnames=list(history[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(history)
    return buf.getvalue().encode()


# what doccat itself puts in a run directory beside the files its manifest lists: a model card is meant
# to be edited (before publishing the run, say), and an edit must not make `load` refuse the weights
UNLISTED = {"report.html", "README.md"}


def is_run(path: Path) -> bool:
    """Whether `path` is a doccat run directory: a real directory with a manifest.json that lists
    every file in it (report.html aside). Only such a directory may be replaced by --overwrite."""
    return _foreign(Path(path)) is None


def _foreign(path: Path) -> str | None:
    """Why `path` is not a doccat run directory, or None when it is one."""
    manifest = path / "manifest.json"
    if path.is_symlink() or not path.is_dir():
        return "is not a directory" if not path.is_symlink() else "is a symbolic link"
    if manifest.is_symlink() or not manifest.is_file():
        return "has no manifest.json (it is not a doccat run directory)"
    try:
        files = json.loads(manifest.read_bytes()).get("files")
    except (OSError, ValueError, AttributeError):
        files = None
    if not isinstance(files, dict):
        return "has a manifest.json that is not a doccat manifest"
    for entry in path.iterdir():
        if entry.name not in files and entry.name not in UNLISTED | {"manifest.json"}:
            return f"holds {entry.name!r}, which is not part of a doccat run"
        if entry.is_symlink() or not entry.is_file():
            return f"holds {entry.name!r}, which is not a plain file"
    return None


def claim(out: Path, overwrite: bool) -> Path:
    """Check that a run may be written to `out`: nothing there, or (with `overwrite`) a doccat run
    directory, which is then replaced. Anything else is refused and left untouched. Leftovers of a
    write that was killed are cleaned first (see `recover`)."""
    out = Path(out)
    if not out.name or out.name in (".", ".."):
        raise ArtifactError(f"{str(out) or repr(str(out))}: not a directory name a run can be written to; "
                            "give --out a new directory, e.g. runs/my-run")
    for parent in out.absolute().parents:
        if parent.exists() and not parent.is_dir():
            raise ArtifactError(f"{out}: {parent} is a file, not a directory; choose another --out")
    recover(out)
    if not os.path.lexists(out):
        return out
    if Path.cwd().resolve().is_relative_to(out.resolve()):
        raise ArtifactError(f"{out}: is the current directory or holds it; choose another --out")
    if not overwrite:
        raise ArtifactError(f"{out}: already exists; choose another directory or pass --overwrite "
                            "(overwrite=True from Python)")
    why = None if _empty_dir(out) else _foreign(out)
    if why is not None:
        raise ArtifactError(f"{out}: {why}; --overwrite replaces only a doccat run directory, so it was left "
                            "untouched: choose another --out (or move it away yourself)")
    return out


def claim_folder(out: Path, overwrite: bool, ours: set[str]) -> None:
    """Check that a command that writes several files and runs into the folder `out` may use it: new,
    or (with `overwrite`) holding only the names in `ours` (and their temporary copies)."""
    out = Path(out)
    if not os.path.lexists(out) or _empty_dir(out):
        return
    if not overwrite:
        raise ArtifactError(f"{out}: already exists; choose another directory or pass --overwrite "
                            "(overwrite=True from Python)")
    if out.is_symlink() or not out.is_dir():
        foreign = [out.name]
    else:
        foreign = [e.name for e in out.iterdir()
                   if e.name not in ours and not any(e.name.startswith(f".{name}.") for name in ours)]
    if foreign:
        raise ArtifactError(f"{out}: holds {', '.join(map(repr, sorted(foreign)[:3]))}, which doccat did not write "
                            "there; --overwrite left it untouched: choose another --out (or move it away yourself)")


def recover(out: Path) -> None:
    """Finish or undo a write of `out` that was killed, and remove its leftovers.

    A run is written into `.NAME.tmp-*` beside `out` and swapped in at once; the old run, if any, is
    then in `.NAME.old-*` until it is removed. Killed between the two renames of a system without an
    atomic exchange, `out` is missing: the new run is put in place if it is complete, else the old one
    goes back. Only directories holding nothing but a run's files are touched.
    """
    out = Path(out)
    debris = {kind: sorted((p for p in out.parent.glob(f".{glob.escape(out.name)}.{kind}-*") if plain_files_only(p)),
                          key=lambda p: p.stat().st_mtime)
              for kind in ("tmp", "old")}
    if not os.path.lexists(out):
        complete = [p for p in debris["tmp"] if (p / "manifest.json").is_file()]
        if debris["old"] and complete:
            os.replace(complete[-1], out)
        elif debris["old"]:
            os.replace(debris["old"][-1], out)
    for leftover in debris["tmp"] + debris["old"]:
        if leftover.exists():
            shutil.rmtree(leftover)


def _empty_dir(path: Path) -> bool:
    return path.is_dir() and not path.is_symlink() and not any(path.iterdir())


def plain_files_only(path: Path, allowed=lambda name: True) -> bool:
    """Whether `path` is a real directory holding only plain files (no links, no folders) whose names are
    `allowed`: what doccat's own temporary, old and in-progress copies of a run are."""
    return (path.is_dir() and not path.is_symlink()
            and all(e.is_file() and not e.is_symlink() and allowed(e.name) for e in path.iterdir()))


def _exchange(a: Path, b: Path) -> bool:
    """Swap two paths in one atomic step (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    if ctypes.get_errno() in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):  # the file system can't
        return False
    err = ctypes.get_errno()
    raise OSError(err, os.strerror(err), str(b))


@dataclass
class RunFiles:
    """What a run directory holds: the parts `write_run` writes (`read_run` returns them as a dict)."""

    config: dict
    state: dict  # every learned tensor (torch tensors on the CPU, or numpy arrays), saved as safetensors
    vocab: list[str]
    labels: list
    metrics: dict
    history: list[dict]
    extra: dict[str, bytes] = field(default_factory=dict)  # e.g. batches.csv, plots: checksummed like the rest
    unlisted: dict[str, bytes] = field(default_factory=dict)  # names of UNLISTED (README.md): not checksummed

    def files(self) -> dict[str, bytes]:
        return {"config.json": _json(self.config),
                "model.safetensors": save_safetensors({k: np.asarray(v, order="C") for k, v in self.state.items()}),
                "vocab.json": _json(self.vocab), "labels.json": _json(self.labels), "metrics.json": _json(self.metrics),
                "history.csv": rows_csv(self.history), **self.extra}


def _with_path(e: BaseException, path: Path) -> BaseException:
    """A write's OSError names no file (a full disk is found by write() or fsync()): name the one meant."""
    if isinstance(e, OSError) and e.filename is None:
        return OSError(e.errno, e.strerror, str(path))
    return e


def write_run(out: Path, run: RunFiles, overwrite: bool = False) -> Path:
    """Write the run directory atomically: into a temporary sibling, then swapped into place.

    At every instant `out` holds either the old run (with `overwrite`) or the new one, complete."""
    out = claim(Path(out), overwrite)
    if set(run.unlisted) - UNLISTED:
        raise ValueError(f"not files a run keeps outside its manifest: {sorted(set(run.unlisted) - UNLISTED)}")
    files = run.files()
    files["manifest.json"] = _json({"files": {name: _sha256(data) for name, data in files.items()}})
    files = run.unlisted | files  # manifest.json still last
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        for name, data in files.items():  # manifest.json last: a temporary copy with one is complete
            with open(tmp / name, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    except BaseException as e:  # a full disk: the old run (if any) is untouched and the partial copy goes
        shutil.rmtree(tmp, ignore_errors=True)
        raise _with_path(e, out)
    if not os.path.lexists(out):
        os.replace(tmp, out)
    elif _exchange(tmp, out):  # the old run is now at `tmp`
        shutil.rmtree(tmp)
    else:  # two renames; `recover` repairs a kill between them
        old = out.parent / f".{out.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old)
    _fsync_dir(out.parent)
    return out


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_run(path: Path) -> dict:
    """Read and verify a run directory; returns its parts. Refuses altered or missing files.

    Nothing is unpickled: weights are safetensors, the rest JSON, each checked against the manifest.
    """
    path = Path(path)
    if not os.path.lexists(path):
        recover(path)  # a write killed mid-swap: the complete run goes back in place
    if not (path / "manifest.json").is_file():
        if path.with_name(path.name + ".partial").is_dir():
            raise ArtifactError(f"{path}: the run has not finished (it is training, or was killed: "
                                f"continue it with `doccat train --resume {path}`)")
        raise ArtifactError(f"{path}: not a doccat run directory (no manifest.json)")
    data = {}
    for name, digest in _manifest_files(path).items():
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
    bad = [name for name, t in state.items() if t.dtype.kind == "f" and not np.isfinite(t).all()]
    if bad:
        raise ArtifactError(f"{path}/model.safetensors: {', '.join(bad[:3])} hold NaN or infinite values; "
                            "refusing to serve them (train the run again)")
    return {
        "config": _parse_json(path / "config.json", data["config.json"]),
        "state": state,
        "vocab": _typed(path / "vocab.json", data["vocab.json"], (str,), "strings (the vocabulary in id order)"),
        "labels": _typed(path / "labels.json", data["labels.json"], (str, int), "class names (strings or integers)"),
        "metrics": _parse_json(path / "metrics.json", data.get("metrics.json", b"{}")),
        # the pretrained encoder the run was trained with (doccat.encoder.Encoder.identity), if any
        "encoder": _parse_json(path / "encoder.json", data["encoder.json"]) if "encoder.json" in data else None,
    }


def _manifest_files(path: Path) -> dict:
    """manifest.json's {file name: sha256}: a plain file inside the run, with a "files" table."""
    if (path / "manifest.json").is_symlink():
        raise ArtifactError(f"{path}/manifest.json: is a symbolic link; a run directory holds plain files only")
    manifest = _parse_json(path / "manifest.json", (path / "manifest.json").read_bytes())
    files = manifest.get("files") if isinstance(manifest, dict) else None
    if not isinstance(files, dict):
        raise ArtifactError(f"{path}/manifest.json: no \"files\" table")
    return files


def _typed(file: Path, data: bytes, kinds: tuple, what: str) -> list:
    """A JSON list of `kinds` (never booleans), or an error naming the file."""
    value = _parse_json(file, data)
    # by type, not isinstance: JSON's values are of its types exactly, and bool (an int) is not among `kinds`;
    # a vocabulary of a million words is checked in milliseconds
    if not isinstance(value, list) or not set(map(type, value)) <= set(kinds):
        raise ArtifactError(f"{file}: expected a JSON list of {what}")
    return value


def _parse_json(file: Path, data: bytes):
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ArtifactError(f"{file}: not valid JSON ({e})") from None


# A compressed run's tensors (doccat.compress writes them; every reader of a run expands them)
INT8, SCALE, VOCAB_SIZE = "bag.weight.int8", "bag.weight.scale", "featurizer.vocab_size"


def expand(path, state: dict, vocab: list[str]) -> tuple[dict, list[str]]:
    """A compressed run's tensors and vocabulary as an uncompressed run holds them (float32 weights, int64
    columns, the full-length vocabulary); an uncompressed run's are returned as they are."""
    state = dict(state)
    if INT8 in state:
        if SCALE not in state or state[SCALE].shape != state[INT8].shape[1:]:
            raise ArtifactError(f"{path}: model.safetensors' {INT8} has no per-class {SCALE} of its "
                                          "width (the files were edited): compress the run again")
        state["bag.weight"] = state.pop(INT8).astype(np.float32) * state.pop(SCALE).astype(np.float32)
    state = {k: v.astype(np.float32) if v.dtype == np.float16 else v for k, v in state.items()}
    if "featurizer.columns" in state:
        state["featurizer.columns"] = state["featurizer.columns"].astype(np.int64)
    if VOCAB_SIZE in state:
        vocab = full_vocab(path, vocab, state.pop(VOCAB_SIZE), state.get("featurizer.columns"))
    return state, vocab


def full_vocab(path, words: list[str], size: np.ndarray, columns: np.ndarray | None) -> list[str]:
    """The vocabulary with every kept word at its id; the pruned ids hold names no token can have (a space in
    them), so that their words read as <unk>."""
    ok = size.ndim == 0 and size.dtype.kind in "iu" and columns is not None and columns.ndim == 1
    ids = word_ids(columns, int(size)) if ok else None
    if ids is None or len(ids) != len(words) or (len(columns) and int(columns.min()) < 0):
        raise ArtifactError(f"{path}: the compact vocabulary does not fit the featurizer's columns and "
                                      f"{VOCAB_SIZE} (the files were edited): compress the run again")
    full = [f" pruned {i}" for i in range(int(size))]
    for i, word in zip(ids.tolist(), words):
        full[i] = word
    return full


def word_ids(columns: np.ndarray, vocab_size: int) -> np.ndarray:
    """The ids of the words a compact vocabulary holds: <unk> (0) and those of the word columns, increasing."""
    columns = columns.astype(np.int64)
    return np.union1d([0], columns[columns < vocab_size])
