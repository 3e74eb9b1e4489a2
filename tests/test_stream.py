"""Streaming mode: the same documents as the in-memory readers, a seeded shuffle buffer, the same
featurizer, and memory that does not grow with the corpus."""
import csv
import gzip
import json
import os
import random
import subprocess
import sys
from collections import Counter

import numpy as np
import pytest

import doccat
from doccat import recipe
from doccat.config import ConfigError, DataConfig
from doccat.data import DataError, readers
from doccat.data.stream import Corpus, Part, _TokenCounts, documents, parts, shuffled
from doccat.text import Featurizer

from conftest import make_corpus, write_csv

MINI = dict(optimizer="adagrad", lr=0.5, batch_size=32, weight_decay=0.0, epochs=3, embed_dim=0, min_df=1,
            buckets=1000, checkpoint_minutes=0.0, log=lambda *a: None)


def _files(tmp_path, texts, labels):
    """The corpus as CSV (with a quoted line break), TSV, JSONL.gz and fastText files."""
    texts = list(texts)
    texts[3] = 'a "quoted" text,\nover two lines'
    write_csv(tmp_path / "c.csv", texts, labels)
    with open(tmp_path / "c.tsv", "w") as f:
        f.write("label\ttext\n" + "".join(f"{y}\t{t}\n" for t, y in zip(texts, labels) if "\n" not in t))
    with gzip.open(tmp_path / "c.jsonl.gz", "wt") as f:
        f.writelines(json.dumps({"label": y, "text": t}) + "\n" for t, y in zip(texts, labels))
    with open(tmp_path / "c.txt", "w") as f:
        f.write("".join(f"__label__{y} {' '.join(t.split())}\n" for t, y in zip(texts, labels)))
    return [tmp_path / name for name in ("c.csv", "c.tsv", "c.jsonl.gz", "c.txt")]


def test_streamed_documents_are_those_the_in_memory_reader_gives(tmp_path):
    texts, labels = make_corpus(300, seed=3)
    for path in _files(tmp_path, texts, labels):
        streamed = list(documents(Part("train", str(path)), DataConfig(), "classify"))
        assert streamed == list(zip(*readers.read(path))), path.name
        assert len(streamed) >= 899


def test_streaming_reports_bad_rows_as_the_reader_does(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('label,text\nsports,goal\nsports,"unclosed\nbusiness,\n')
    with pytest.raises(DataError, match=r"bad.csv:3: .*malformed CSV"):
        list(documents(Part("train", str(path)), DataConfig(), "classify"))
    with pytest.raises(DataError, match=r"bad.csv:3"):
        readers.read(path)
    kept = list(documents(Part("train", str(path)), DataConfig(on_bad_row="skip"), "classify"))
    assert kept == list(zip(*readers.read(path, on_bad_row="skip")))


@pytest.mark.parametrize("size", [1, 7, 64, 1000, 5000])
def test_shuffle_buffer_covers_every_document_once_in_a_seeded_order(size):
    items = list(range(3000))
    once = list(shuffled(iter(items), size, np.random.default_rng(5)))
    assert sorted(once) == items  # each exactly once per epoch
    assert once == list(shuffled(iter(items), size, np.random.default_rng(5)))  # seeded
    if size > 1:
        assert once != items and once != list(shuffled(iter(items), size, np.random.default_rng(6)))
    if size >= len(items):  # everything fits: a uniform permutation, first items anywhere
        assert np.mean(once[:300]) > 1000


def test_a_small_buffer_only_moves_documents_locally_a_large_one_anywhere():
    items = list(range(20_000))
    small = np.array(list(shuffled(iter(items), 100, np.random.default_rng(0))))
    large = np.array(list(shuffled(iter(items), 50_000, np.random.default_rng(0))))
    # an item comes out after the buffer has seen it: never before its position minus the buffer size
    assert (np.arange(len(small)) >= small - 100).all()
    assert abs(np.corrcoef(large, items)[0, 1]) < 0.05


def test_carved_splits_partition_the_training_file(tmp_path):
    texts, labels = make_corpus(400, seed=4)
    train = write_csv(tmp_path / "t.csv", texts, labels)
    cfg = DataConfig(train=str(train), valid_fraction=0.1, test_fraction=0.2, split_seed=3)
    got = {name: [t for t, _ in documents(part, cfg, "classify")] for name, part in parts(cfg).items()}
    assert sorted(got["train"] + got["valid"] + got["test"]) == sorted(texts)
    assert len(set(got["train"]) & set(got["valid"])) == len(set(got["train"]) & set(got["test"])) == 0
    assert abs(len(got["test"]) - 240) < 45 and abs(len(got["valid"]) - 96) < 30
    other = {name: [t for t, _ in documents(part, DataConfig(**{**cfg.__dict__, "split_seed": 4}), "classify")]
             for name, part in parts(cfg).items()}
    assert other["test"] != got["test"]


def test_the_streamed_featurizer_equals_the_in_memory_one(tmp_path):
    texts, labels = make_corpus(200, seed=5)
    valid = make_corpus(20, seed=6)
    cfg = doccat.classifier.resolve_config(None, dict(train=str(write_csv(tmp_path / "t.csv", texts, labels)),
                                                      valid=str(write_csv(tmp_path / "v.csv", *valid)),
                                                      streaming=True, batch_size=16, optimizer="adagrad"))
    corpus = Corpus(cfg, log=lambda *a: None)
    streamed = corpus.fit_featurizer(doccat.recipe.resolve(cfg, corpus.stats).model)
    m = cfg.model
    assert streamed.chars == (3, 5)  # the default recipe's character n-grams: a linear model on a small corpus
    memory = Featurizer.fit(texts, ngrams=m.ngrams, buckets=m.buckets, min_freq=m.min_freq, max_vocab=m.max_vocab,
                            max_tokens=m.max_tokens, weighting=m.weighting, min_df=m.min_df, chars=(3, 5))
    assert streamed.vocab.itos == memory.vocab.itos
    assert np.array_equal(streamed.columns_, memory.columns_) and np.array_equal(streamed.idf_, memory.idf_)


def test_token_counts_stay_within_their_cap_and_keep_the_frequent_tokens():
    import pyarrow as pa
    rng = random.Random(0)
    counts = _TokenCounts(cap=500)
    frequent = [f"w{i}" for i in range(50)]
    for _ in range(20):  # frequent words, and a flood of words seen once
        block = frequent * 5 + [f"rare{rng.random()}" for _ in range(300)]
        counts.add([pa.array(block, pa.large_string())])
        assert len(counts.table) <= 500
    kept = dict(zip(counts.table["token"].to_pylist(), counts.table["count"].to_pylist()))
    assert all(kept[w] == 100 for w in frequent)


def test_streamed_training_evaluates_and_reloads_like_an_in_memory_run(tmp_path, corpus_files, capsys):
    from doccat.cli import main
    from doccat.report import write_report
    train, test = corpus_files
    clf = doccat.train(train=str(train), test=str(test), streaming=True, out=tmp_path / "run", **MINI)
    assert clf.metrics_["test"]["accuracy"] > 0.9 and clf.metrics_["sizes"]["test"] == 60
    assert clf.metrics_["data"]["train"]["per_class"].keys() == {"business", "science", "sports"}
    again = doccat.load(tmp_path / "run")
    assert again.evaluate(*readers.read(test)) == clf.metrics_["test"]
    capsys.readouterr()
    assert main(["evaluate", str(tmp_path / "run")]) == 0  # streamed: the run's test file, a block at a time
    assert json.loads(capsys.readouterr().out)["accuracy"] == clf.metrics_["test"]["accuracy"]
    assert write_report(tmp_path / "run", None).is_file()  # the data summary of a streamed run fits the report


def test_streamed_and_in_memory_training_agree(tmp_path, corpus_files):
    train, test = corpus_files
    valid = write_csv(tmp_path / "valid.csv", *make_corpus(10, seed=7))
    kw = dict(train=str(train), valid=str(valid), test=str(test), **{**MINI, "shuffle": False})
    streamed, memory = doccat.train(streaming=True, **kw), doccat.train(**kw)
    # in file order with the same featurizer: the same batches, the same steps
    assert streamed.metrics_["test"]["accuracy"] == memory.metrics_["test"]["accuracy"]
    assert [round(r["train_loss"], 5) for r in streamed.history_] == [round(r["train_loss"], 5) for r in memory.history_]


def test_a_streamed_regression_clips_to_its_training_targets_range(tmp_path):
    rng = random.Random(0)
    counts = [rng.randint(0, 4) for _ in range(200)]
    texts, values = [" ".join(["great"] * n + ["the", "film"]) for n in counts], [2.0 * n - 1 for n in counts]
    train = write_csv(tmp_path / "t.csv", texts[:160], values[:160])
    valid = write_csv(tmp_path / "v.csv", texts[160:], values[160:])
    kw = dict(train=str(train), valid=str(valid), task="regression", **{**MINI, "loss": "mse"})
    streamed, memory = doccat.train(streaming=True, **kw), doccat.train(**kw)
    # the range predictions are clipped to: the first pass's, as the in-memory split's
    assert streamed.target_range_ == memory.target_range_ == (min(values[:160]), max(values[:160]))


def test_the_default_weight_decay_counts_the_streamed_training_docs(tmp_path, corpus_files):
    train, _ = corpus_files
    kw = dict(train=str(train), **{**MINI, "weight_decay": None, "epochs": 1})
    streamed, memory = doccat.train(streaming=True, **kw), doccat.train(**kw)
    assert streamed.config.train.loss == "squared_hinge"  # a linear model: the default recipe's loss
    for clf in (streamed, memory):  # (each carves its own validation split)
        assert clf.config.train.weight_decay == pytest.approx(1 / (recipe.AUTO_C * clf.metrics_["sizes"]["train"]))


def test_streaming_is_for_mini_batches_and_files(tmp_path, corpus_files, capsys):
    from doccat.cli import main
    train, _ = corpus_files
    with pytest.raises(ConfigError, match="data.streaming .* --batch-size"):
        doccat.train(train=str(train), streaming=True, log=lambda *a: None)  # the default: full-batch L-BFGS
    with pytest.raises(DataError, match="streaming reads files"):
        doccat.train(dataset="trec", streaming=True, **MINI)
    assert main(["train", "--train", str(train), "--streaming", "true", "--out", str(tmp_path / "r")]) == 2
    assert "mini-batch recipe" in capsys.readouterr().err


def test_streamed_resume_mid_epoch_equals_an_uninterrupted_run(tmp_path, monkeypatch, corpus_files):
    from doccat.checkpoint import Checkpoints
    from doccat.classifier import resume
    train, test = corpus_files
    kw = dict(train=str(train), test=str(test), streaming=True, shuffle_buffer=50,
              **{**MINI, "batch_size": 16, "checkpoint_minutes": 1e-9})
    whole = doccat.train(**kw)
    saves, real_save = [], Checkpoints.save

    def save_then_die(self, tensors, meta):
        saves.append(meta)
        if len(saves) == 14:  # mid-epoch 2: 11 batches an epoch
            raise KeyboardInterrupt
        real_save(self, tensors, meta)
    monkeypatch.setattr(Checkpoints, "save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        doccat.train(out=tmp_path / "cut", **kw)
    monkeypatch.setattr(Checkpoints, "save", real_save)
    resumed = resume(tmp_path / "cut", log=lambda *a: None)
    assert [{k: v for k, v in r.items() if k != "seconds"} for r in resumed.history_] == \
        [{k: v for k, v in r.items() if k != "seconds"} for r in whole.history_]
    assert resumed.metrics_["test"] == whole.metrics_["test"]


def _peak_rss_mib(tmp_path, train: str) -> float:
    """Peak memory of a streamed training run in a fresh process."""
    code = ("import resource, doccat; doccat.train(train=%r, streaming=True, optimizer='adagrad', lr=0.5, "
            "batch_size=512, weight_decay=0.0, epochs=1, buckets=100_000, shuffle_buffer=2000, log=lambda *a: None);"
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)") % train
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=True)
    return float(out.stdout.split()[-1])


@pytest.mark.slow
def test_memory_stays_flat_as_the_streamed_corpus_grows(tmp_path):
    rng = np.random.default_rng(0)
    words = np.array([f"w{i}" for i in range(20_000)])

    def corpus(path, n):  # documents of 40 Zipf-distributed words: about 150 bytes each
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["label", "text"])
            for start in range(0, n, 10_000):
                ids = np.minimum(rng.zipf(1.3, (10_000, 40)), len(words)) - 1
                w.writerows((("a", "b")[row[0] % 2], " ".join(words[row])) for row in ids)
        return os.path.getsize(path) / 2**20

    # the small corpus is 10 blocks: enough for every pool and cache to reach its working size
    small, large = corpus(tmp_path / "small.csv", 80_000), corpus(tmp_path / "large.csv", 400_000)
    assert large > 55  # MB
    grown = _peak_rss_mib(tmp_path, str(tmp_path / "large.csv")) - _peak_rss_mib(tmp_path, str(tmp_path / "small.csv"))
    assert grown < 0.1 * (large - small), f"peak memory grew by {grown:.0f} MiB for {large - small:.0f} MB more data"


def test_count_of_labels_and_summary_of_a_streamed_corpus(tmp_path):
    texts, labels = make_corpus(50, seed=8)
    cfg = doccat.classifier.resolve_config(None, dict(train=str(write_csv(tmp_path / "t.csv", texts, labels)),
                                                      streaming=True, batch_size=8, optimizer="adagrad"))
    corpus = Corpus(cfg, log=lambda *a: None)
    summary = corpus.summary()
    assert sum(summary["train"]["per_class"].values()) + sum(summary["valid"]["per_class"].values()) == 150
    assert Counter(labels) == Counter(summary["train"]["per_class"]) + Counter(summary["valid"]["per_class"])
    assert summary["train"]["length_tokens"]["min"] >= 9
