"""Untrusted run directories are refused, never executed; resource limits bound pathological input."""
import hashlib
import json
import pickle

import numpy as np
import pytest

import doccat
from doccat.artifacts import ArtifactError
from doccat.text import Featurizer, Vocab, truncate

from conftest import make_corpus


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    texts, labels = make_corpus(20)
    run = tmp_path_factory.mktemp("runs") / "r"
    doccat.train(texts, labels, out=run, epochs=1, embed_dim=4, buckets=50, log=lambda *a: None)
    return run


def _copy(run, tmp_path):
    out = tmp_path / "copy"
    out.mkdir()
    for f in run.iterdir():
        (out / f.name).write_bytes(f.read_bytes())
    return out


def _set_manifest(run, **entries):
    manifest = json.loads((run / "manifest.json").read_text())
    manifest["files"].update(entries)
    (run / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("name", ["model.safetensors", "vocab.json"])
def test_one_changed_byte_is_refused(saved_run, tmp_path, name):
    run = _copy(saved_run, tmp_path)
    data = bytearray((run / name).read_bytes())
    data[len(data) // 2] ^= 1
    (run / name).write_bytes(bytes(data))
    with pytest.raises(ArtifactError, match=f"{name}: checksum does not match manifest.json"):
        doccat.load(run)


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling this would create the marker file
        return (open, (self.marker, "w"))


def test_pickle_payload_as_weights_is_refused_without_running(saved_run, tmp_path):
    run, marker = _copy(saved_run, tmp_path), tmp_path / "pwned"
    payload = pickle.dumps(Payload(marker))
    (run / "model.safetensors").write_bytes(payload)
    _set_manifest(run, **{"model.safetensors": hashlib.sha256(payload).hexdigest()})  # only the format stops it
    with pytest.raises(ArtifactError, match="model.safetensors: not a safetensors file"):
        doccat.load(run)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../x", "/etc/passwd", "..", "sub/model.safetensors"])
def test_manifest_paths_cannot_leave_the_run_directory(saved_run, tmp_path, name):
    run = _copy(saved_run, tmp_path)
    (tmp_path / "x").write_text("outside")
    _set_manifest(run, **{name: hashlib.sha256(b"outside").hexdigest()})
    with pytest.raises(ArtifactError, match="is not a plain name"):
        doccat.load(run)


def test_a_symlinked_file_is_refused(saved_run, tmp_path):
    run = _copy(saved_run, tmp_path)
    (tmp_path / "v.json").write_bytes((run / "vocab.json").read_bytes())
    (run / "vocab.json").unlink()
    (run / "vocab.json").symlink_to(tmp_path / "v.json")
    with pytest.raises(ArtifactError, match="symbolic link"):
        doccat.load(run)


def test_documents_are_truncated_to_max_tokens():
    ids, lengths = truncate(np.arange(10), np.array([6, 0, 1, 3]), 2)
    assert ids.tolist() == [0, 1, 6, 7, 8] and lengths.tolist() == [2, 0, 1, 2]
    vocab = Vocab(["<unk>", "a", "b", "c", "d"])
    cut = Featurizer(vocab, ngrams=2, buckets=100, max_tokens=3, weighting="mean").encode(["a b c d d d", "d"])
    short = Featurizer(vocab, ngrams=2, buckets=100, weighting="mean").encode(["a b c", "d"])
    assert cut.ids.tolist() == short.ids.tolist() and cut.offsets.tolist() == short.offsets.tolist()


def test_resource_limits_have_sane_defaults_and_are_validated():
    cfg = doccat.Config()
    assert cfg.model.max_tokens == 10_000 and cfg.model.max_vocab == 2_000_000
    with pytest.raises(doccat.ConfigError, match="model.buckets must be <= 67,108,864"):
        doccat.config.from_dict({"model": {"buckets": 2**27}})
    with pytest.raises(doccat.ConfigError, match="model.max_tokens must be >= 1"):
        doccat.config.from_dict({"model": {"max_tokens": 0}})


def test_peak_memory_is_reported(saved_run):
    assert json.loads((saved_run / "metrics.json").read_text())["peak_memory_mib"] > 0
