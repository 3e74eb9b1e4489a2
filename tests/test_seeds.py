"""Several runs, one per seed: per-seed results, their mean and standard deviation, the CLI."""
import json
import statistics

import pytest

import doccat
from doccat import cli
from doccat.config import ConfigError
from doccat.seeds import mean_std, seed_list

from conftest import make_corpus, write_csv

# a hard corpus (one class word per text) and few epochs, so runs differ by seed
BASE = dict(epochs=2, lr=0.1, embed_dim=16, buckets=1000, min_df=1, optimizer="adagrad", batch_size=16,
            weight_decay=0.0, valid_fraction=0.25)


@pytest.fixture(scope="module")
def hard_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("hard")
    train = write_csv(root / "train.csv", *make_corpus(60, seed=1, signal=1, noise=6))
    test = write_csv(root / "test.csv", *make_corpus(30, seed=2, signal=1, noise=6))
    return str(train), str(test)


@pytest.mark.parametrize("spec, seeds", [("1,2,3", [1, 2, 3]), ("3", [0, 1, 2]), (3, [0, 1, 2]), ("7,", [7]),
                                         ([5, 9], [5, 9]), (" 4 , 2 ", [4, 2])])
def test_seed_list_takes_a_count_or_a_list(spec, seeds):
    assert seed_list(spec) == seeds


@pytest.mark.parametrize("spec", ["0", "a,b", "", [1, 1], [], [1.5], True])
def test_seed_list_refuses_nonsense(spec):
    with pytest.raises(ConfigError, match="seeds"):
        seed_list(spec)


def test_mean_and_sample_std():
    rows = [{"seed": s, "run_dir": None, "kept_epoch": 1, "valid_accuracy": a, "train_seconds": t}
            for s, a, t in [(0, 0.5, 1.0), (1, 0.7, 2.0), (2, 0.9, 6.0)]]
    mean, std = mean_std(rows)
    assert mean == pytest.approx({"valid_accuracy": 0.7, "train_seconds": 3.0})
    assert std["valid_accuracy"] == pytest.approx(0.2)  # sqrt(((-0.2)^2 + 0 + 0.2^2) / (3 - 1))
    assert std["train_seconds"] == pytest.approx(statistics.stdev([1.0, 2.0, 6.0]))
    assert mean_std(rows[:1])[1] == {"valid_accuracy": 0.0, "train_seconds": 0.0}


def test_train_seeds_runs_differ_and_are_summed_up(hard_files):
    train, test = hard_files
    summary = doccat.train_seeds([1, 2, 3], train=train, test=test, log=lambda *a: None, **BASE)
    runs = summary["runs"]
    assert summary["seeds"] == [1, 2, 3] and [r["seed"] for r in runs] == [1, 2, 3]
    assert len({r["test_accuracy"] for r in runs}) > 1  # the seed changes the result
    assert "note" not in summary  # a mini-batch network: its spread is the seed's
    for key in ("test_accuracy", "valid_macro_f1", "train_seconds"):
        values = [r[key] for r in runs]
        assert summary["mean"][key] == pytest.approx(statistics.fmean(values))
        assert summary["std"][key] == pytest.approx(statistics.stdev(values))


def test_same_seed_same_result(hard_files):
    train, _ = hard_files
    a, b = (doccat.train_seeds("5,", train=train, log=lambda *a: None, **BASE)["runs"][0] for _ in range(2))
    assert a["valid_accuracy"] == b["valid_accuracy"] and "test_accuracy" not in a  # no test split given


def test_cli_train_seeds(hard_files, tmp_path, capsys):
    train, test = hard_files
    flags = ["--train", train, "--test", test, "--epochs", "1", "--embed-dim", "8", "--buckets", "500",
             "--optimizer", "adagrad", "--batch-size", "16", "--weight-decay", "0", "--min-df", "1"]
    assert cli.main(["train", "--seeds", "2", *flags, "--out", str(tmp_path / "s"), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["seeds"] == [0, 1] and summary["out"] == str(tmp_path / "s")
    assert set(summary["mean"]) == {"train_seconds", "valid_accuracy", "valid_macro_f1", "test_accuracy",
                                    "test_macro_f1"}
    assert json.loads((tmp_path / "s" / "seeds.json").read_text()) == {k: v for k, v in summary.items() if k != "out"}
    for r in summary["runs"]:  # each seed's run is a normal run directory, with its seed in its config
        clf = doccat.load(r["run_dir"])
        assert clf.config.train.seed == r["seed"] and clf.metrics_["test"]["accuracy"] == r["test_accuracy"]
    assert [r["run_dir"] for r in summary["runs"]] == [str(tmp_path / "s" / f"seed-{s}") for s in (0, 1)]
    # a taken folder is refused before any training; --seed with --seeds is ambiguous
    assert cli.main(["train", "--seeds", "0,1", *flags, "--out", str(tmp_path / "s"), "--quiet"]) == 2
    assert "s: already exists" in capsys.readouterr().err
    assert cli.main(["train", "--seeds", "2", "--seed", "4", *flags, "--out", str(tmp_path / "t")]) == 2
    assert "either seed" in capsys.readouterr().err


def test_seeds_of_the_deterministic_default_say_why_their_spread_is_near_zero(hard_files):
    train, _ = hard_files
    summary = doccat.train_seeds(2, train=train, log=lambda *a: None, buckets=1000)
    assert "does not depend on the seed" in summary["note"] and "liblinear" in summary["note"]
