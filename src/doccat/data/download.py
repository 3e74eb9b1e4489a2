"""Fetch registry files that are not on disk: download, verify, convert into the local layout."""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
import zipfile
from contextlib import contextmanager
from pathlib import Path

from .readers import DataError
from .registry import DatasetSpec, Source, digest

LOG = logging.getLogger(__name__)


def fetch(spec: DatasetSpec, folder: Path, missing: list[str]) -> None:
    """Download the sources that provide the `missing` files of `spec` and write those files into `folder`."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    todo: dict[str, Source] = {}
    for name in missing:  # one download per source, even when it provides several missing files
        key = next((k for k in spec.sources if name in k.split()), None)
        if key is None:
            raise DataError(f"{folder / name}: not found, and {spec.name} has no download source for it; "
                            + _by_hand(folder, [name]))
        todo[key] = spec.sources[key]
        if todo[key].unpack not in UNPACK:
            raise DataError(f"{spec.name}: unknown unpack kind {todo[key].unpack!r} (known: {', '.join(UNPACK)})")
    for key, source in todo.items():
        names = key.split()
        archive = _download(source, folder, names)
        try:
            UNPACK[source.unpack](archive, folder, names, spec)
        except (LookupError, tarfile.TarError, zipfile.BadZipFile, UnicodeDecodeError, EOFError, OSError) as e:
            raise DataError(f"{source.url}: not the archive expected ({e}); {_by_hand(folder, names)}") from None
        finally:
            archive.unlink(missing_ok=True)


def _by_hand(folder: Path, names: list[str]) -> str:
    return (f"place {', '.join(names)} in {folder} by hand, or point --data-dir / DOCCAT_DATA_DIR "
            f"at a data dir whose {folder.name}/ folder has them")


def _download(source: Source, folder: Path, names: list[str]) -> Path:
    """Stream the URL into a temp file in `folder` and check its published checksum; return the temp file."""
    LOG.info(f"downloading {source.url} -> {folder}")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".download-")
    tmp = Path(tmp)
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(source.url, timeout=60) as resp:
            shutil.copyfileobj(resp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
    except OSError as e:  # URLError, HTTPError, timeouts and a full disk all land here
        tmp.unlink(missing_ok=True)
        raise DataError(f"could not download {source.url}: {e}; {_by_hand(folder, names)}") from None
    if not source.checksum:
        LOG.warning(f"no checksum is published for {source.url}; the download could not be verified")
        return tmp
    algo, _, want = source.checksum.partition(":")
    got = digest(tmp, algo)
    if got != want.lower():
        tmp.unlink()
        raise DataError(f"{source.url}: {algo} of the download is {got}, expected {want}; the download is "
                        f"damaged or the file changed upstream; {_by_hand(folder, names)}")
    return tmp


@contextmanager
def _atomic(path: Path):
    """Write beside `path`, then rename: a crash or an error never leaves a half-written file under its name."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _expect(path: Path, sha: str, spec: DatasetSpec) -> None:
    if sha != spec.files[path.name]:
        raise DataError(f"{path.name}: the download holds a version with sha256 {sha}, not the registry's "
                        f"{spec.files[path.name]} (a known variant?); {_by_hand(path.parent, [path.name])}")


def _copy(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    (name,) = names
    _expect(folder / name, digest(archive), spec)
    os.replace(archive, folder / name)  # already fsynced by _download


def _extract(archive: Path, folder: Path, names: list[str], spec: DatasetSpec, prefix: str) -> None:
    """Copy members `prefix + name` out byte for byte; all are checked before any is written."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as z:
            blobs = {n: z.read(prefix + n) for n in names}
    else:
        with tarfile.open(archive) as t:
            members = {m.name.removeprefix("./"): m for m in t if m.isfile()}
            blobs = {n: t.extractfile(members[prefix + n]).read() for n in names}
    _write_checked(folder, blobs, spec)


def _write_checked(folder: Path, blobs: dict[str, bytes], spec: DatasetSpec) -> None:
    """Write files only once all of them match the registry's sha256, so no half set is left on disk."""
    for n, data in blobs.items():
        _expect(folder / n, hashlib.sha256(data).hexdigest(), spec)
    for n, data in blobs.items():
        with _atomic(folder / n) as f:
            f.write(data)


def _write_jsonl_gz(path: Path, rows: list[dict], gnu_gzip: bool = False) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode("utf-8")
    with _atomic(path) as f:
        # the registry's 20news files were made by `gzip -n -9`, whose bytes zlib does not reproduce;
        # the IMDb ones by Python's gzip with the file name in the header, as below
        if gnu_gzip and shutil.which("gzip"):
            f.write(subprocess.run(["gzip", "-n", "-9"], input=data, capture_output=True, check=True).stdout)
        else:
            with gzip.GzipFile(filename="" if gnu_gzip else path.name, mode="wb", fileobj=f, mtime=0) as g:
                g.write(data)


def _newsgroups(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    posts: dict[str, list[tuple[str, str, str]]] = {"train": [], "test": []}
    with tarfile.open(archive) as t:
        for m in t:
            parts = m.name.split("/")
            if m.isfile() and len(parts) >= 3 and parts[-3] in ("20news-bydate-train", "20news-bydate-test"):
                # the posts are 8-bit bytes of unknown encodings: latin-1 keeps every byte
                text = t.extractfile(m).read().decode("latin-1")
                posts[parts[-3].rsplit("-", 1)[1]].append((parts[-2], parts[-1], text))
    if not all(posts.values()):
        raise LookupError("no 20news-bydate-{train,test}/<group>/<id> files in it")
    label_id = {g: i for i, g in enumerate(sorted({p[0] for rows in posts.values() for p in rows}))}
    for split, rows in posts.items():
        rows.sort(key=lambda p: (p[0], int(p[1])))
        _write_jsonl_gz(folder / f"20news-bydate-{split}.jsonl.gz",
                        [{"label": g, "label_id": label_id[g], "id": i, "text": text} for g, i, text in rows],
                        gnu_gzip=True)


_IMDB = re.compile(r"(?:^|/)aclImdb/(train|test)/(neg|pos)/(\d+)_(\d+)\.txt$")


def _imdb(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    reviews: dict[str, list[dict]] = {"train": [], "test": []}
    with tarfile.open(archive) as t:
        for m in t:
            hit = _IMDB.search(m.name)
            if hit and m.isfile():
                split, label, i, rating = hit.groups()
                reviews[split].append({"label": label, "id": int(i), "rating": int(rating),
                                       "text": t.extractfile(m).read().decode("utf-8")})
    if not all(reviews.values()):
        raise LookupError("no aclImdb/{train,test}/{neg,pos}/<id>_<rating>.txt files in it")
    for split, rows in reviews.items():
        rows.sort(key=lambda r: (r["label"], r["id"]))  # "neg" sorts before "pos"
        _write_jsonl_gz(folder / f"aclImdb_{split}.jsonl.gz", rows)


def _glue_zip(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    _extract(archive, folder, names, spec, "SST-2/")


def _zip(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    _extract(archive, folder, names, spec, "")


def _polarity(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    _extract(archive, folder, names, spec, "rt-polaritydata/")


def _reuters(archive: Path, folder: Path, names: list[str], spec: DatasetSpec) -> None:
    """UCI's reuters21578.tar.gz: the reut2-NNN.sgm files, found by base name wherever they sit in it."""
    with tarfile.open(archive) as t:
        members = {m.name.rsplit("/", 1)[-1]: m for m in t if m.isfile() and m.name.endswith(".sgm")}
        blobs = {n: t.extractfile(members[n]).read() for n in names}  # a missing one: KeyError
    _write_checked(folder, blobs, spec)


UNPACK = {
    "copy": _copy,
    "newsgroups_tarball": _newsgroups,
    "imdb_tarball": _imdb,
    "glue_zip": _glue_zip,
    "zip": _zip,
    "polarity_tarball": _polarity,
    "reuters_tarball": _reuters,
}
