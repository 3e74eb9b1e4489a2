"""Tiny corpora made by the tests themselves: each class has its own words, plus shared noise."""
from __future__ import annotations

import csv
import logging
import random
from pathlib import Path

import pytest

CLASS_WORDS = {
    "sports": "goal match team coach season league score player win referee".split(),
    "business": "market stock shares profit bank merger revenue investor trade economy".split(),
    "science": "space nasa research study cells planet physics telescope gene climate".split(),
}
NOISE = "the a of to in and on for with today new says report".split()


def make_corpus(n_per_class: int, seed: int = 0, signal: int = 3, noise: int = 5):
    """(texts, labels), shuffled; each text has `signal` class words among `noise` common words."""
    rng = random.Random(seed)
    rows = []
    for label, words in CLASS_WORDS.items():
        for i in range(n_per_class):
            text = rng.sample(words, signal) + rng.sample(NOISE, noise)
            rng.shuffle(text)
            rows.append((" ".join(text) + f" doc{seed}x{label}x{i}", label))
    rng.shuffle(rows)
    return [t for t, _ in rows], [lab for _, lab in rows]


def python_probe(code: str) -> None:
    """Run `code` in a fresh interpreter (a process of its own: imports not yet done); it asserts what it checks."""
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def write_csv(path, texts, labels):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(zip(labels, texts))
    return path


def train_killed_at_checkpoint(monkeypatch, n: int, *args, **kw) -> list[int]:
    """Run doccat.train(*args, **kw), killed (KeyboardInterrupt) as it writes its n-th checkpoint, the
    first n - 1 written; returns the epochs of those n save calls."""
    import doccat
    from doccat.checkpoint import Checkpoints
    real_save, saves = Checkpoints.save, []

    def save_then_die(self, tensors, meta):
        saves.append(meta["progress"]["epoch"])
        if len(saves) == n:
            raise KeyboardInterrupt
        real_save(self, tensors, meta)

    monkeypatch.setattr(Checkpoints, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        doccat.train(*args, **kw)
    monkeypatch.setattr(Checkpoints, "save", real_save)
    return saves


@pytest.fixture
def corpus_files(tmp_path):
    """train.csv and test.csv with disjoint documents."""
    train = write_csv(tmp_path / "train.csv", *make_corpus(60, seed=1))
    test = write_csv(tmp_path / "test.csv", *make_corpus(20, seed=2))
    return train, test


# a small embedding bag trained by mini-batch Adagrad: quick, and it exercises the batch machinery
FAST = dict(epochs=3, embed_dim=16, buckets=1000, min_df=1, optimizer="adagrad", lr=0.5, batch_size=64,
            scheduler="linear", weight_decay=0.0, log=lambda *a: None)


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """A run directory trained once per test session on the tiny corpus, with its test split on disk."""
    import doccat
    root = tmp_path_factory.mktemp("small_run")
    train = write_csv(root / "train.csv", *make_corpus(60, seed=1))
    test = write_csv(root / "test.csv", *make_corpus(20, seed=2))
    doccat.train(train=str(train), test=str(test), out=root / "run", **FAST)
    return root / "run"


CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def browser():
    """Debian's headless chromium driven by Playwright (never its own browser download); skips without it."""
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium at /usr/bin/chromium")
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    with sync_playwright() as p:
        # without the networking flags chromium keeps calling home, which this closed network refuses
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync"])
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def logged(caplog):
    """What the library logged (the "doccat" loggers, INFO and up), a line per record as the CLI prints it."""
    caplog.set_level(logging.INFO, logger="doccat")

    def text() -> str:
        lines = [("" if r.levelno < logging.WARNING else f"doccat: {r.levelname.lower()}: ") + r.getMessage()
                 for r in caplog.records if r.name.startswith("doccat")]
        caplog.clear()
        return "\n".join(lines)
    return text
