"""Untrusted run directories are refused, never executed; resource limits bound pathological input."""
import hashlib
import json
import pickle

import numpy as np
import pytest

import doccat
from doccat.artifacts import ArtifactError
from doccat.text import Featurizer, Vocab, truncate

from conftest import make_corpus, python_probe


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


def _edit(run, name: str, edit) -> None:
    """Change a file of the run and re-hash it in the manifest, as someone who means harm would."""
    path = run / name
    value = edit(json.loads(path.read_text()))
    path.write_text(json.dumps(value))
    _set_manifest(run, **{name: hashlib.sha256(path.read_bytes()).hexdigest()})


def _set(section, key, value):
    def edit(config):
        config[section][key] = value
        return config
    return edit


@pytest.mark.parametrize("name,edit,message", [
    ("config.json", _set("model", "embed_dim", 2_000_000), "model.embed_dim must be <= 65,536"),
    ("config.json", _set("model", "embed_dim", 60_000), "weights do not fit the config: bag.weight: ("),
    ("config.json", _set("model", "hidden", [40_000, 40_000]), "weights do not fit the config"),
    ("config.json", _set("model", "buckets", 3), "the featurizer's columns do not fit config.json"),
    ("config.json", _set("model", "ngrams", 5000), "model.ngrams must be in [1, 10]"),
    ("vocab.json", lambda vocab: {w: i for i, w in enumerate(vocab)}, "vocab.json: expected a JSON list of strings"),
    ("labels.json", lambda labels: [True, False] + labels[2:], "labels.json: expected a JSON list of class names"),
])
def test_an_edited_and_rehashed_run_is_refused_before_it_costs_memory(saved_run, tmp_path, name, edit, message):
    run = _copy(saved_run, tmp_path)
    _edit(run, name, edit)
    # in a fresh process, after one load of the intact run (the imports a first load does, ~1 s, are not the
    # refusal's): its peak memory is then this load's, and the time the refusal's
    python_probe(f"""
import resource, time, doccat
from doccat.artifacts import ArtifactError
doccat.load({str(saved_run)!r})
before, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, time.perf_counter()
try:
    doccat.load({str(run)!r})
except ArtifactError as e:
    assert {message!r} in str(e), str(e)
else:
    raise AssertionError("loaded")
seconds, grown = time.perf_counter() - t0, (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
assert seconds < 1.0 and grown < 50, (seconds, grown)
""")


def test_nan_weights_and_a_symlinked_manifest_are_refused(saved_run, tmp_path):
    from safetensors.torch import load, save
    run = _copy(saved_run, tmp_path)
    state = load((run / "model.safetensors").read_bytes())
    state["bag.weight"][0, 0] = float("nan")
    (run / "model.safetensors").write_bytes(save(state))
    _set_manifest(run, **{"model.safetensors": hashlib.sha256((run / "model.safetensors").read_bytes()).hexdigest()})
    with pytest.raises(ArtifactError, match="bag.weight hold NaN or infinite values"):
        doccat.load(run)
    (tmp_path / "x").mkdir()
    other = _copy(saved_run, tmp_path / "x")
    (tmp_path / "elsewhere.json").write_bytes((other / "manifest.json").read_bytes())
    (other / "manifest.json").unlink()
    (other / "manifest.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(ArtifactError, match="manifest.json: is a symbolic link"):
        doccat.load(other)
