"""Nothing lost when a run dies: checkpoints, --resume, divergence, and the in-progress directory."""
import csv
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

import doccat
from doccat.checkpoint import Checkpoints, read_checkpoint
from doccat.classifier import resume
from doccat.config import TrainingError

from conftest import make_corpus, train_killed_at_checkpoint, write_csv

QUIET = dict(log=lambda *a: None)


def doccat_cli(*args):
    return subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True)


def _same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def _drop_seconds(rows):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in rows]


def _history(run):
    with open(run / "history.csv") as f:
        return _drop_seconds(csv.DictReader(f))


@pytest.mark.parametrize("opts", [
    dict(optimizer="adagrad", scheduler="linear", warmup_epochs=0.5),
    dict(optimizer="sgd", momentum=0.9, nesterov=True, scheduler="plateau", lr=0.2),
    dict(optimizer="adam", scheduler="cosine", lr=0.05, hidden=[8], dropout=0.3),
    dict(optimizer="adamw", weight_decay=0.01, scheduler="step", step_when="val_drop", lr=0.05),
    dict(optimizer="lbfgs", batch_size=0, embed_dim=0, checkpoint_minutes=0.0, checkpoint_every=1),  # dies at epoch 12
])
def test_interrupted_run_resumes_to_the_same_result(tmp_path, monkeypatch, opts):
    texts, labels = make_corpus(40, signal=1, noise=6)
    kw = dict(epochs=4, embed_dim=8, buckets=300, batch_size=16, patience=0, tol=0.0, checkpoint_minutes=1e-9)
    kw = {**kw, **opts, "epochs": 16 if opts["optimizer"] == "lbfgs" else 4}
    whole = doccat.train(texts, labels, **kw, **QUIET)  # no `out`: no checkpoints at all
    train_killed_at_checkpoint(monkeypatch, 12, texts, labels, out=tmp_path / "cut", **kw, **QUIET)  # mid-epoch 2
    assert not (tmp_path / "cut").exists() and (tmp_path / "cut.partial" / "checkpoint.safetensors").is_file()
    _, meta = read_checkpoint(tmp_path / "cut.partial" / "checkpoint.safetensors")
    if kw["batch_size"]:
        assert meta["progress"]["epoch"] == 2 and meta["progress"]["batch"] > 0  # mid-epoch
    else:
        assert meta["progress"]["epoch"] == 12 and meta["progress"]["batch"] == 0  # between epochs
    resumed = resume(tmp_path / "cut", texts, labels, **QUIET)
    assert _same_weights(whole.model.state_dict(), resumed.model.state_dict())
    assert resumed.metrics_["valid"] == whole.metrics_["valid"]
    assert _drop_seconds(resumed.history_) == _drop_seconds(whole.history_)
    assert os.listdir(tmp_path) == ["cut"]  # the .partial directory is gone


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted_run(tmp_path):
    train = write_csv(tmp_path / "train.csv", *make_corpus(600, seed=1, signal=1, noise=6))
    test = write_csv(tmp_path / "test.csv", *make_corpus(50, seed=2, signal=1, noise=6))
    args = ["train", "--train", train, "--test", test, "--epochs", 3, "--embed-dim", 8, "--buckets", 1000,
            "--optimizer", "adagrad", "--lr", 0.5, "--batch-size", 16, "--patience", 0, "--threads", 1, "--checkpoint-minutes", 0.0002, "--quiet"]
    assert doccat_cli(*args, "--out", tmp_path / "whole").returncode == 0
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "doccat", *map(str, args), "--out", killed],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt, deadline = killed.with_name("killed.partial") / "checkpoint.safetensors", time.monotonic() + 120
    try:
        while time.monotonic() < deadline and proc.poll() is None:  # wait for a checkpoint inside epoch 2
            if ckpt.exists():
                progress = read_checkpoint(ckpt)[1]["progress"]
                if progress["epoch"] == 2 and progress["batch"] > 0:
                    break
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed mid-epoch"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not killed.exists()
    assert {p.name for p in ckpt.parent.iterdir()} <= {"RUNNING", "run.json", "checkpoint.safetensors"} | {
        p.name for p in ckpt.parent.glob(".checkpoint.safetensors.tmp-*")}  # at most a write cut short
    out = doccat_cli("train", "--resume", killed)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["run_dir"] == str(killed)
    whole_m, killed_m = (json.loads((d / "metrics.json").read_text()) for d in (tmp_path / "whole", killed))
    assert killed_m["valid"] == whole_m["valid"] and killed_m["test"] == whole_m["test"]
    assert killed_m["peak_memory_mib"] > 0
    assert _same_weights(load_file(killed / "model.safetensors"), load_file(tmp_path / "whole" / "model.safetensors"))
    assert _history(killed) == _history(tmp_path / "whole")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["killed", "test.csv", "train.csv", "whole"]
    listed = json.loads((killed / "manifest.json").read_text())["files"]
    # no temp/checkpoint files: the manifest's, and the model card it leaves out
    assert sorted(p.name for p in killed.iterdir()) == sorted([*listed, "manifest.json", "README.md"])


def test_nan_loss_stops_with_a_clear_error_and_keeps_the_last_good_checkpoint(tmp_path, corpus_files):
    # epoch 1 trains normally; the step scheduler then multiplies lr by 1e30 and the loss blows up
    out = doccat_cli("train", "--train", corpus_files[0], "--epochs", 3, "--embed-dim", 8, "--buckets", 100,
                     "--optimizer", "sgd", "--batch-size", 16, "--scheduler", "step", "--gamma", 1e30,
                     "--checkpoint-every", 1, "--out", tmp_path / "r", "--quiet")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "epoch 2, batch" in out.stderr and "learning rate" in out.stderr and "--clip-norm" in out.stderr
    assert "r.partial" in out.stderr  # says where the last good checkpoint is
    tensors, meta = read_checkpoint(tmp_path / "r.partial" / "checkpoint.safetensors")
    assert meta["progress"]["epoch"] == 2 and meta["progress"]["batch"] == 0  # the state after epoch 1
    assert all(torch.isfinite(v).all() for k, v in tensors.items() if k.startswith("model."))
    assert not (tmp_path / "r").exists()


def test_nan_before_any_checkpoint_leaves_nothing_behind(tmp_path):
    texts, labels = make_corpus(20)
    with pytest.raises(TrainingError, match="epoch 1, batch 1"):
        doccat.train(texts, labels, out=tmp_path / "r", optimizer="sgd", lr=1e30, embed_dim=8, buckets=50,
                     init_range=1e30, **QUIET)
    assert list(tmp_path.iterdir()) == []


def test_a_directory_in_use_is_refused(tmp_path, corpus_files):
    texts, labels = make_corpus(20)
    first = Checkpoints.start(tmp_path / "r", {}, overwrite=False)
    with pytest.raises(doccat.artifacts.ArtifactError, match="--resume"):
        doccat.train(texts, labels, out=tmp_path / "r", **QUIET)
    with pytest.raises(doccat.artifacts.ArtifactError, match="another doccat process is training"):
        Checkpoints.start(tmp_path / "r", {}, overwrite=True)  # even --overwrite waits for a live run
    with pytest.raises(doccat.artifacts.ArtifactError, match="another doccat process is training"):
        Checkpoints.reopen(tmp_path / "r")
    first.abandon()
    assert not (tmp_path / "r.partial").exists()


def test_resume_takes_no_other_options_and_needs_an_unfinished_run(tmp_path, corpus_files):
    out = doccat_cli("train", "--resume", tmp_path / "r", "--lr", 0.1)
    assert out.returncode == 2 and "give no other options" in out.stderr
    out = doccat_cli("train", "--resume", tmp_path / "r")
    assert out.returncode == 2 and "no unfinished run to resume" in out.stderr and "Traceback" not in out.stderr


def test_pickle_payload_as_checkpoint_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    partial = Checkpoints.start(tmp_path / "r", {}, overwrite=False)
    (partial.dir / "checkpoint.safetensors").write_bytes(_pickle_payload(marker))
    partial.abandon()
    with pytest.raises(doccat.artifacts.ArtifactError, match="not a doccat checkpoint"):
        read_checkpoint(tmp_path / "r.partial" / "checkpoint.safetensors")
    assert not marker.exists()


def _pickle_payload(marker):
    import pickle

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    return pickle.dumps(Evil())


def test_checkpoint_config_fields_are_validated():
    with pytest.raises(doccat.ConfigError, match="checkpoint_minutes"):
        doccat.config.from_dict({"train": {"checkpoint_minutes": -1}})
