"""doccat tune: trials on the validation split only, pruning, the best config as a file, the trials table."""
import csv
import json
import sys

import pytest
import torch

import doccat
from doccat import classifier, cli, recipe
from doccat.config import ConfigError, ModelConfig, TrainConfig
from doccat.tune import SPACES, base_values, load_space, trial_config

tune_mod = sys.modules["doccat.tune"]  # the module; `doccat.tune` is the function

from conftest import make_corpus, write_csv

# a hard corpus (one class word per text): validation scores between chance and 1, so trials differ;
# one thread: tiny batches run several times faster on a busy machine (restored after the module)
BASE = dict(epochs=4, embed_dim=16, buckets=1000, min_df=1, optimizer="adagrad", batch_size=16, weight_decay=0.0,
            valid_fraction=0.25, threads=1)
# half of this range is far too small a rate to learn anything in 4 epochs: those trials get pruned
SPACE = {"lr": {"low": 1e-7, "high": 1.0, "log": True}}
TRIALS = 12


class Sealed:
    """Stands in for the test split: any look at it raises, until the final training opens it."""

    def __init__(self, split):
        self.split, self.open = split, False

    def __getattr__(self, name):
        if not self.__dict__.get("open"):
            raise AssertionError(f"the test split was read during the search ({name})")
        return getattr(self.split, name)

    def __len__(self):
        return len(self.__getattr__("texts"))


@pytest.fixture(scope="module", autouse=True)
def torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def search(tmp_path_factory):
    """One seeded search on the hard corpus, its test split sealed; every training call recorded."""
    root = tmp_path_factory.mktemp("tune")
    train = write_csv(root / "train.csv", *make_corpus(60, seed=1, signal=1, noise=6))
    test = write_csv(root / "test.csv", *make_corpus(30, seed=2, signal=1, noise=6))
    calls = []  # per training: whether it was given a test split, and whether it scored one
    real_load, real_fit = tune_mod.load_splits, classifier.fit_data

    def load_sealed(cfg):
        splits = real_load(cfg)
        splits.test = Sealed(splits.test)
        return splits

    def train_recorded(splits, *args, **kwargs):
        call = {"given_test": splits.test is not None, "scored_test": False}
        calls.append(call)
        if splits.test is not None:
            splits.test.open = True
        clf = real_fit(splits, *args, **kwargs)  # a pruned trial raises here
        call["scored_test"] = "test" in clf.metrics_
        return clf

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(tune_mod, "load_splits", load_sealed)
        mp.setattr(classifier, "fit_data", train_recorded)
        result = doccat.tune(train=str(train), test=str(test), out=root / "out", trials=TRIALS, space=SPACE,
                             seed=0, log=lambda *a: None, **BASE)
    return result, root / "out", calls


def test_the_test_split_is_scored_once_at_the_end(search):
    result, _, calls = search
    # every trial got the splits without test and scored none; only the last training, the best config's, did
    searched = [c for c in calls[:-1] if c["scored_test"] or c["given_test"]]
    assert not searched and calls[-1] == {"given_test": True, "scored_test": True}
    assert all(r["state"] != "fail" for r in result.trials)  # no trial tripped over the sealed test split
    assert "test_accuracy" in result.summary["final"] and result.classifier.metrics_["test"]["n"] == 90


def test_bad_trials_are_pruned_and_every_trial_is_in_the_table(search):
    result, out, calls = search
    with open(out / "trials.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [int(r["trial"]) for r in table] == list(range(1, TRIALS + 1)) == [r["trial"] for r in result.trials]
    assert set(table[0]) == {"trial", "state", "valid_accuracy", "epochs", "seconds", "lr", "error"}
    pruned = [r for r in table if r["state"] == "pruned"]
    assert pruned and all(float(r["lr"]) < 1e-2 and int(r["epochs"]) < BASE["epochs"] for r in pruned)
    assert result.summary["pruned"] == len(pruned) and result.summary["complete"] == TRIALS - len(pruned)
    assert len(calls) == TRIALS + 1
    best = max((r for r in result.trials if r["state"] == "complete"), key=lambda r: r["valid_accuracy"])
    assert result.summary["best_trial"] == best["trial"] and result.summary["valid_accuracy"] == best["valid_accuracy"]
    assert json.loads((out / "tune.json").read_text())["best_params"] == {"lr": best["lr"]}


def test_the_best_config_file_reproduces_the_best_trial(search, tmp_path, capsys):
    result, out, _ = search
    assert result.config.train.lr == result.summary["best_params"]["lr"]
    assert cli.main(["train", "--config", str(out / "best.toml"), "--out", str(tmp_path / "again"), "--quiet"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["valid_accuracy"] == pytest.approx(result.summary["valid_accuracy"], abs=1e-9)
    assert again["test_accuracy"] == pytest.approx(result.summary["final"]["test_accuracy"], abs=1e-9)
    assert (out / "best" / "model.safetensors").exists()


def test_the_first_trial_is_the_base_config_when_the_space_holds_it(search):
    result, _, _ = search
    assert result.trials[0]["lr"] == 1.0  # the default lr, inside SPACE
    resolved = doccat.Config(model=ModelConfig(nb=0.5), train=TrainConfig(weight_decay=1e-4))  # as tune resolves the default's None
    assert base_values(resolved, SPACES["linear"]) == {"weight_decay": 1e-4, "ngrams": 2, "min_df": 2, "weighting": "tfidf",
                                                       "nb": 0.5}
    assert base_values(doccat.Config(), SPACES["linear"]) is None  # None (by the loss) lies in no range
    assert base_values(doccat.Config(), SPACES["network"]) is None  # the default recipe is no mini-batch network
    net = doccat.Config(model=ModelConfig(embed_dim=64, hidden=[64, 64]))
    assert base_values(net, {"hidden": {"choices": [0, 64]}}) is None  # two layers: not in a one-layer space
    assert base_values(net, {"embed_dim": {"low": 16, "high": 64}}) == {"embed_dim": 64}


def test_a_seeded_search_is_reproducible(search):
    result, out, _ = search
    again = doccat.tune(config=str(out / "best.toml"), lr=1.0, trials=4, space=SPACE, seed=0, log=lambda *a: None)
    first = [(r["lr"], r["state"], r["valid_accuracy"]) for r in result.trials[:4]]
    assert [(r["lr"], r["state"], r["valid_accuracy"]) for r in again.trials] == first


@pytest.mark.parametrize("space, message", [
    ({"learning_rate": {"low": 0.1, "high": 1}}, "unknown config key"),
    ({"dataset": {"choices": ["trec"]}}, "cannot be searched"),
    ({"seed": {"choices": [1, 2]}}, "cannot be searched"),
    ({"lr": {"low": 0.0, "high": 1.0, "log": True}}, "low > 0"),
    ({"lr": {"low": 1.0, "high": 0.1}}, "low < high"),
    ({"lr": {"low": 0.1}}, "low and high"),
    ({"lr": {"choices": []}}, "non-empty"),
    ({"lr": {"choices": [0.1], "low": 0.1}}, "alone"),
    ({"epochs": {"low": 1.5, "high": 4}}, "not a int"),
    ({"optimizer": {"low": 1, "high": 2}}, "numeric key"),
    ({"optimizer": {"choices": ["adam", "adamax"]}}, "'adamax' is not one of"),
    ({"lr": {"between": [0.1, 1]}}, "expected a table"),
    ({}, "got none"),
])
def test_bad_spaces_are_clear_errors(space, message):
    with pytest.raises(ConfigError, match=message):
        load_space(space)


def test_space_files_and_the_default_space(tmp_path):
    toml = tmp_path / "space.toml"
    toml.write_text('[lr]\nlow = 0.001\nhigh = 1.0\nlog = true\n[hidden]\nchoices = [0, 32]\n')
    (tmp_path / "space.json").write_text(json.dumps({"ngrams": {"low": 1, "high": 3}}))
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="got none"):
        load_space(tmp_path / "list.json")
    assert load_space(toml)["hidden"] == {"choices": [0, 32]}
    assert load_space(tmp_path / "space.json") == {"ngrams": {"low": 1, "high": 3}}
    assert load_space(None) is SPACES["network"] and load_space("linear") is SPACES["linear"]
    with pytest.raises(ConfigError, match="not found"):
        load_space(tmp_path / "nope.toml")
    # hidden draws one layer size (0: none); integer keys draw integers
    optuna = pytest.importorskip("optuna")
    cfg = trial_config(doccat.Config(), optuna.trial.FixedTrial({"lr": 0.01, "hidden": 32, "embed_dim": 8}),
                       {**load_space(toml), "embed_dim": {"choices": [8]}})
    assert cfg.model.hidden == [32] and cfg.train.lr == 0.01
    # every combination of a named space is a valid config on the default one: its extremes at least
    for space in SPACES.values():
        for pick in (0, -1):
            params = {k: s["choices"][pick] if "choices" in s else (s["low"], s["high"])[pick]
                      for k, s in space.items()}
            trial_config(doccat.Config(), optuna.trial.FixedTrial(params), load_space(space))


def test_cli_tune_and_its_errors(tmp_path, capsys, monkeypatch):
    train = write_csv(tmp_path / "train.csv", *make_corpus(20, seed=1))
    space = tmp_path / "space.toml"
    space.write_text("[lr]\nchoices = [0.5]\n")
    flags = ["--train", str(train), "--epochs", "1", "--embed-dim", "8", "--buckets", "500", "--min-df", "1",
             "--optimizer", "adagrad", "--batch-size", "16", "--weight-decay", "0", "--quiet"]
    assert cli.main(["tune", "--trials", "2", "--space", str(space), "--out", str(tmp_path / "t"), *flags]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trials"] == 2 and summary["best_config"] == str(tmp_path / "t" / "best.toml")
    assert "test_accuracy" not in summary["final"]  # no test split given: nothing to score
    # a taken folder, a bad space file, a space that makes every trial invalid, no Optuna: exit 2
    assert cli.main(["tune", "--trials", "1", "--out", str(tmp_path / "t"), *flags]) == 2
    space.write_text("[lr\n")
    assert cli.main(["tune", "--space", str(space), "--out", str(tmp_path / "u"), *flags]) == 2
    space.write_text("[hidden]\nchoices = [16]\n")  # hidden layers need an embedding: embed_dim 0 is linear
    capsys.readouterr()
    assert cli.main(["tune", "--trials", "2", "--space", str(space), "--out", str(tmp_path / "v"), *flags,
                     "--embed-dim", "0"]) == 0  # the base config, outside the space, is trial 1 and completes
    rows = list(csv.DictReader(open(tmp_path / "v" / "trials.csv")))
    assert [r["state"] for r in rows] == ["complete", "fail"] and rows[0]["hidden"] == "0"
    assert rows[1]["error"].startswith("model.hidden") and json.loads(capsys.readouterr().out)["best_is_base"]
    assert cli.main(["tune", "--trials", "2", "--space", str(space), "--out", str(tmp_path / "x"), *flags,
                     "--embed-dim", "0", "--optimizer", "sgd", "--lr", "1e30"]) == 2  # the base diverges too
    assert "no trial completed" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "optuna", None)
    assert cli.main(["tune", "--out", str(tmp_path / "w"), *flags]) == 2
    assert "pip install -e '.[tune]'" in capsys.readouterr().err


def test_the_default_weight_decay_is_resolved_so_the_first_trial_is_the_default(tmp_path):
    train = write_csv(tmp_path / "train.csv", *make_corpus(30, seed=1))
    space = {"weight_decay": {"low": 1e-8, "high": 1.0, "log": True}}
    result = doccat.tune(train=str(train), trials=1, space=space, log=lambda *a: None)
    n_train = result.classifier.metrics_["sizes"]["train"]  # the default recipe (a linear SVM): 1 / training docs
    assert result.trials[0]["weight_decay"] == result.config.train.weight_decay == pytest.approx(1 / (recipe.AUTO_C * n_train))


def test_the_first_trial_is_the_base_config_whatever_the_space(tmp_path):
    """The default recipe (a linear SVM) lies outside the default space (mini-batch networks): trial 1 trains it as
    it is, so the search never ends below not searching on validation."""
    train = write_csv(tmp_path / "train.csv", *make_corpus(30, seed=1, signal=1, noise=6))
    result = doccat.tune(train=str(train), trials=3, seed=0, log=lambda *a: None)  # space: network
    untuned = doccat.train(train=str(train), log=lambda *a: None)
    first = result.trials[0]
    assert (first["state"], first["optimizer"], first["embed_dim"], first["hidden"]) == ("complete", "auto", 0, 0)
    assert first["valid_accuracy"] == untuned.metrics_["valid"]["accuracy"]
    assert result.summary["valid_accuracy"] >= first["valid_accuracy"]
    if result.summary["best_is_base"]:  # then best.toml is the base config, and its final run the untuned one
        assert result.summary["best_params"] == {} and result.config.model.embed_dim == 0
        assert result.classifier.metrics_["valid"] == untuned.metrics_["valid"]
