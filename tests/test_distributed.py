"""Data-parallel training with torchrun (2 processes, gloo, loopback) against one process; --device."""
import csv
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import doccat
from doccat import distributed
from doccat.config import ConfigError

from conftest import make_corpus, write_csv

QUIET = dict(log=lambda *a: None)
MINI_BATCH = ["--optimizer", "adagrad", "--lr", "0.5", "--batch-size", "32", "--weight-decay", "0"]


def noisy_corpus(tmp_path):
    """train.csv and test.csv where a fifth of the labels are wrong: no model is perfect, so accuracies can differ."""
    def flip(texts, labels, seed):
        rng = random.Random(seed)
        names = sorted(set(labels))
        return texts, [rng.choice(names) if rng.random() < 0.2 else y for y in labels]
    train = write_csv(tmp_path / "train.csv", *flip(*make_corpus(300, seed=1, signal=2, noise=6), 1))
    test = write_csv(tmp_path / "test.csv", *flip(*make_corpus(200, seed=2, signal=2, noise=6), 2))
    return train, test


def torchrun(*args, cwd, procs=2, **kw):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(procs),
           "-m", "doccat", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=cwd, timeout=300, **kw)


def _history(run: Path):
    with open(run / "history.csv") as f:
        return [{k: float(v) for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def test_two_processes_train_the_model_one_process_trains_and_only_rank_0_writes(tmp_path):
    train, test = noisy_corpus(tmp_path)
    # L-BFGS, the full-batch optimizer whose gradients DDP all-reduces (the default, liblinear, solves on each rank)
    one = doccat.train(train=str(train), test=str(test), out=tmp_path / "one", optimizer="lbfgs", **QUIET)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    done = torchrun("train", "--train", train, "--test", test, "--out", tmp_path / "two", "--checkpoint-every", "1",
                    "--optimizer", "lbfgs", cwd=cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    two = doccat.load(tmp_path / "two")
    assert abs(two.metrics_["test"]["accuracy"] - one.metrics_["test"]["accuracy"]) <= 0.005
    assert 0.6 < one.metrics_["test"]["accuracy"] < 0.95  # the noise leaves room for the two to differ
    # only rank 0 wrote: the same run directory as one process, nothing else anywhere, one summary, one log
    assert sorted(os.listdir(tmp_path / "two")) == sorted(os.listdir(tmp_path / "one"))
    assert sorted(os.listdir(tmp_path)) == ["cwd", "one", "test.csv", "train.csv", "two"] and not os.listdir(cwd)
    assert json.loads(done.stdout)["test_accuracy"] == two.metrics_["test"]["accuracy"]
    assert done.stderr.count("kept epoch") == 1 and done.stderr.count("epoch   1 |") == 1
    assert two.metrics_["sizes"] == one.metrics_["sizes"]


@pytest.mark.slow
def test_mini_batches_over_two_processes_take_the_single_process_steps(tmp_path):
    train, test = noisy_corpus(tmp_path)
    for name, run in (("one", lambda *a, **kw: subprocess.run([sys.executable, "-m", "doccat", *map(str, a)],
                                                              capture_output=True, text=True, **kw)),
                      ("two", torchrun)):
        done = run("train", "--train", train, "--test", test, "--out", tmp_path / name, "--epochs", "4",
                   *MINI_BATCH, cwd=tmp_path)
        assert done.returncode == 0, done.stderr[-3000:]
    # --batch-size is the global batch: each of the two processes computes half of it, DDP sums the halves
    for a, b in zip(_history(tmp_path / "one"), _history(tmp_path / "two")):
        assert a.keys() == b.keys() and all(np.isclose(a[k], b[k], rtol=1e-4, atol=1e-6) for k in a)
    one, two = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert all(torch.allclose(one[k], two[k], rtol=1e-3, atol=1e-4) for k in one)


@pytest.mark.slow
def test_a_killed_distributed_run_resumes_to_the_uninterrupted_result(tmp_path):
    train, test = noisy_corpus(tmp_path)
    args = ["train", "--train", train, "--test", test, "--epochs", "30", "--patience", "0", *MINI_BATCH,
            "--hidden", "16", "--embed-dim", "16", "--dropout", "0.3"]  # dropout: the RNG of each rank is restored
    whole = torchrun(*args, "--out", tmp_path / "whole", cwd=tmp_path)
    assert whole.returncode == 0, whole.stderr[-3000:]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2", "-m", "doccat",
           *map(str, args), "--out", tmp_path / "cut", "--checkpoint-minutes", "0.0005"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = tmp_path / "cut.partial" / "checkpoint.safetensors"
    deadline = time.monotonic() + 120
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    # the ranks run in sessions of their own: kill them (as a crash of the machine would), then torchrun
    for pid in Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split():
        os.kill(int(pid), signal.SIGKILL)
    proc.kill()
    proc.wait()
    assert checkpoint.exists() and not (tmp_path / "cut").exists()
    resumed = torchrun("train", "--resume", tmp_path / "cut", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from the checkpoint" in resumed.stderr
    assert _history(tmp_path / "cut") == _history(tmp_path / "whole")
    a, b = load_file(tmp_path / "cut" / "model.safetensors"), load_file(tmp_path / "whole" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not (tmp_path / "cut.partial").exists()  # finished: the checkpoints are gone


@pytest.mark.slow
def test_streaming_over_two_processes_matches_one(tmp_path):
    train, test = noisy_corpus(tmp_path)
    args = ["train", "--train", train, "--test", test, "--streaming", "true", "--shuffle-buffer", "100",
            "--epochs", "3", *MINI_BATCH]
    one = subprocess.run([sys.executable, "-m", "doccat", *map(str, args), "--out", tmp_path / "one"],
                         capture_output=True, text=True, cwd=tmp_path)
    two = torchrun(*args, "--out", tmp_path / "two", cwd=tmp_path)
    assert one.returncode == 0 and two.returncode == 0, two.stderr[-3000:]
    a, b = json.loads(one.stdout), json.loads(two.stdout)
    assert abs(a["test_accuracy"] - b["test_accuracy"]) <= 0.005
    for x, y in zip(_history(tmp_path / "one"), _history(tmp_path / "two")):
        assert all(np.isclose(x[k], y[k], rtol=1e-4, atol=1e-6) for k in x)


def test_one_process_needs_no_process_group():
    assert distributed.world() == 1 and distributed.rank() == 0 and distributed.is_main()
    batch = np.arange(10)
    assert distributed.part(batch) is batch and distributed.block(10) == (0, 10)
    rows = torch.ones(3, 2)
    assert distributed.gather(rows) is rows and distributed.all_sum(2.5) == 2.5
    assert distributed.broadcast_bytes(b"x") == b"x" and distributed.agree(True)


def test_device_cpu_auto_and_a_missing_gpu(tmp_path, corpus_files, capsys):
    from doccat.cli import main
    assert distributed.device("cpu") == torch.device("cpu")
    assert distributed.device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        distributed.device("cuda")
    train, test = corpus_files
    assert main(["train", "--train", str(train), "--device", "cuda", "--out", str(tmp_path / "r")]) == 2
    assert "no CUDA GPU" in capsys.readouterr().err


def test_device_flags_of_evaluate_and_predict(small_run, capsys):
    from doccat.cli import main
    assert main(["evaluate", str(small_run), "--file", str(small_run.parent / "test.csv"), "--device", "cpu"]) == 0
    assert main(["predict", str(small_run), "goal match team", "--device", "auto"]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["labels"] == ["sports"]
    assert doccat.load(small_run, device="cpu").model.bag.weight.device.type == "cpu"
