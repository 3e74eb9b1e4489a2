import numpy as np
import pytest
import torch
from torch import nn

from doccat.config import ModelConfig, TrainConfig
from doccat.inputs import batches, to_docs
from doccat.text import Encoded
from doccat.loss import Outputs
from doccat.model import BagClassifier
from doccat.train import Hooks, InMemory, Trainer, build_optimizer, build_scheduler, clip_grad_norm


def _enc(docs):
    lengths = [len(d) for d in docs]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.array([i for d in docs for i in d], dtype=np.int64)
    counts = np.arange(1, len(ids) + 1, dtype=np.float32)
    return Encoded(ids, offsets, counts, counts / 10)


def test_batch_gathers_the_chosen_documents():
    enc = _enc([[1, 2], [], [3, 4, 5], [6]])
    docs = to_docs(enc, np.array([2, 0, 1, 3]))
    assert docs.ids.tolist() == [3, 4, 5, 1, 2, 6]
    assert docs.offsets.tolist() == [0, 3, 5, 5, 6]
    assert docs.weights.tolist() == pytest.approx([0.3, 0.4, 0.5, 0.1, 0.2, 0.6])  # each id's weight travels with it


def test_batches_cover_every_document_once_and_shuffle_by_seed():
    enc = _enc([[i] for i in range(10)])
    seen = np.concatenate([idx for idx, _ in batches(enc, 3, np.random.default_rng(0))])
    assert sorted(seen.tolist()) == list(range(10)) and seen.tolist() != list(range(10))
    again = np.concatenate([idx for idx, _ in batches(enc, 3, np.random.default_rng(0))])
    assert seen.tolist() == again.tolist()
    assert [len(idx) for idx, _ in batches(enc, 0)] == [10]  # 0: the full batch
    assert np.concatenate([idx for idx, _ in batches(enc, 3)]).tolist() == list(range(10))  # no generator: in order


def test_step_scheduler_multiplies_lr_by_gamma_each_epoch():
    opt = build_optimizer(TrainConfig(optimizer="sgd", lr=5.0), nn.Linear(1, 1))
    sched, per_batch = build_scheduler(TrainConfig(scheduler="step", gamma=0.1, epochs=3), opt, 10)
    assert not per_batch
    lrs = []
    for _ in range(3):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == pytest.approx([5.0, 0.5, 0.05])


def test_linear_schedule_warms_up_then_decays_to_zero():
    opt = build_optimizer(TrainConfig(optimizer="sgd", lr=1.0), nn.Linear(1, 1))
    sched, per_batch = build_scheduler(TrainConfig(scheduler="linear", warmup_epochs=1, epochs=2), opt, 4)
    assert per_batch
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[:4] == pytest.approx([0.25, 0.5, 0.75, 1.0])
    assert lrs[4:] == pytest.approx([1.0, 0.75, 0.5, 0.25])


@pytest.mark.parametrize("sparse", [False, True])
def test_clip_grad_norm_bounds_the_norm(sparse):
    bag = nn.EmbeddingBag(50, 4, mode="mean", sparse=sparse)
    head = nn.Linear(4, 2)
    params = list(bag.parameters()) + list(head.parameters())
    (head(bag(torch.tensor([1, 2, 3, 1]), torch.tensor([0, 2]))) * 100).sum().backward()  # a plain bag
    before = clip_grad_norm(params, 0.1)
    assert before > 0.1
    after = np.sqrt(sum(float((p.grad.coalesce()._values() if p.grad.is_sparse else p.grad).pow(2).sum())
                        for p in params))
    assert after == pytest.approx(0.1, rel=1e-4)


@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "adagrad", "rmsprop", "lbfgs"])
def test_each_optimizer_learns_a_separable_task(optimizer):
    docs = [[1, 2], [1, 3], [4, 5], [4, 6]] * 10
    y = np.array([0, 0, 1, 1] * 10)
    enc = _enc(docs)
    lr = {"sgd": 2.0, "adam": 0.05, "adamw": 0.05, "adagrad": 0.5, "rmsprop": 0.01, "lbfgs": 1.0}[optimizer]
    cfg = TrainConfig(optimizer=optimizer, lr=lr, epochs=5, batch_size=0 if optimizer == "lbfgs" else 4,
                      scheduler="none", patience=0, momentum=0.9 if optimizer == "sgd" else 0.0, weight_decay=0.0)
    model = BagClassifier(ModelConfig(embed_dim=8, init="xavier"), 10, 2, sparse=optimizer in ("sgd", "adagrad"))
    history = _fit(model, enc, y, cfg).run.history
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert max(r["val_score"] for r in history) == 1.0


def _fit(model, enc, y, cfg, progress=None) -> Trainer:
    """Train on the documents `enc`, validated on themselves; the trainer keeps the history and batch rows."""
    trainer = Trainer(model, Outputs(), cfg, hooks=Hooks(lambda *a: None, progress))
    trainer.fit(InMemory(enc, y, cfg.batch_size, cfg.shuffle), InMemory(enc, y))
    return trainer


def test_batch_log_and_progress_bar(capsys, monkeypatch):
    import functools
    import sys
    train_module = sys.modules["doccat.train"]  # `doccat.train` the attribute is the function
    monkeypatch.setattr(train_module, "tqdm", functools.partial(train_module.tqdm, mininterval=0))  # draw every batch
    docs = [[1, 2], [1, 3], [4, 5], [4, 6]] * 10
    y = np.array([0, 0, 1, 1] * 10)
    enc = _enc(docs)
    cfg = TrainConfig(optimizer="adagrad", lr=0.5, epochs=2, batch_size=8, scheduler="none", patience=0, weight_decay=0)
    rows = _fit(BagClassifier(ModelConfig(embed_dim=8), 10, 2, sparse=True), enc, y, cfg, progress=True).run.batches
    assert [r["step"] for r in rows] == list(range(1, 11)) and [r["epoch"] for r in rows] == [1] * 5 + [2] * 5
    assert all(r["grad_norm"] > 0 and r["lr"] == 0.5 for r in rows)  # recorded though clipping is off
    bar = capsys.readouterr().err
    assert "epoch 2/2" in bar and "doc/s" in bar and "loss" in bar and "acc" in bar and "lr 0.5" in bar
    _fit(BagClassifier(ModelConfig(embed_dim=8), 10, 2, sparse=True), enc, y, cfg)
    assert capsys.readouterr().err == ""  # stderr is not a terminal here: no bar by default
