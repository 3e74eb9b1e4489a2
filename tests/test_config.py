"""Typed config: defaults, nested merges, key/type/choice checking, TOML load and round trip."""
from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from doccat.config import (Config, ConfigError, DataConfig, ModelConfig, TrainConfig, load, merge, nest,
                           reference, to_toml)

TUTORIAL = Path(__file__).parents[1] / "configs" / "tutorial.toml"


def test_defaults_build():
    cfg = Config()
    assert isinstance(cfg.data, DataConfig)
    assert isinstance(cfg.model, ModelConfig)
    assert isinstance(cfg.train, TrainConfig)
    assert cfg.model.embed_dim == 0 and cfg.model.weighting == "tfidf"  # the linear TF-IDF default
    assert cfg.model.ngrams == 2 and cfg.model.hidden == []
    assert cfg.train.optimizer == "auto" and cfg.train.batch_size == 0 and cfg.train.lr == 1.0  # full batch (recipe.resolve)
    assert cfg.train.loss == "auto" and cfg.train.weight_decay is None and cfg.model.min_df == 2  # by the loss
    assert cfg.data.text_columns == ["text"] and cfg.data.format == "auto"
    # merge with nothing is still valid and equal
    assert merge(Config(), {}) == cfg
    # mutable defaults are not shared between instances
    assert Config().model.hidden is not Config().model.hidden


def test_merge_applies_nested_overrides_and_leaves_the_original_alone():
    base = Config()
    cfg = merge(base, {"model": {"embed_dim": 32, "hidden": [8, 4]}, "train": {"lr": 0.05, "optimizer": "adam"},
                       "data": {"text_columns": ["title", "body"], "header": False}})
    assert cfg.model.embed_dim == 32 and cfg.model.hidden == [8, 4]
    assert cfg.train.lr == 0.05 and cfg.train.optimizer == "adam"
    assert cfg.data.text_columns == ["title", "body"] and cfg.data.header is False
    # untouched keys keep their defaults
    assert cfg.model.ngrams == 2 and cfg.train.epochs == Config().train.epochs and cfg.data.format == "auto"
    # the input config is not modified
    assert base == Config()
    # merging again on top of the result stacks
    cfg2 = merge(cfg, {"model": {"embed_dim": 16}})
    assert cfg2.model.embed_dim == 16 and cfg2.model.hidden == [8, 4] and cfg2.train.lr == 0.05


def test_unknown_section_raises_naming_it():
    with pytest.raises(ConfigError, match="bogus"):
        merge(Config(), {"bogus": {"x": 1}})


def test_unknown_key_raises_naming_it():
    with pytest.raises(ConfigError, match=r"train\.learning_rate"):
        merge(Config(), {"train": {"learning_rate": 0.1}})
    with pytest.raises(ConfigError, match="embed_size"):
        merge(Config(), {"model": {"embed_size": 10}})


@pytest.mark.parametrize("section,key,value", [
    ("train", "lr", "fast"),
    ("model", "hidden", "x"),
    ("model", "hidden", [8, "x"]),
    ("model", "embed_dim", 1.5),
    ("model", "embed_dim", "64"),
    ("train", "epochs", True),  # a bool is not an int
    ("train", "nesterov", 1),
    ("data", "header", "yes"),
    ("train", "lr", None),
])
def test_wrong_types_raise(section, key, value):
    with pytest.raises(ConfigError, match=key):
        merge(Config(), {section: {key: value}})


def test_ints_accepted_for_floats():
    cfg = merge(Config(), {"train": {"lr": 5, "gamma": 1}, "model": {"dropout": 0}, "data": {"valid_fraction": 0}})
    assert cfg.train.lr == 5.0 and isinstance(cfg.train.lr, float)
    assert isinstance(cfg.train.gamma, float) and isinstance(cfg.model.dropout, float)
    assert isinstance(cfg.data.valid_fraction, float)


def test_optional_fields_accept_none_and_values():
    cfg = merge(Config(), {"model": {"max_vocab": 1000}, "data": {"test_fraction": 0.2}})
    assert cfg.model.max_vocab == 1000 and cfg.data.test_fraction == 0.2
    cfg = merge(cfg, {"model": {"max_vocab": None}})
    assert cfg.model.max_vocab is None


@pytest.mark.parametrize("section,key,value,allowed", [
    ("train", "optimizer", "lion", ["adagrad", "adam", "adamw", "auto", "lbfgs", "liblinear", "rmsprop", "sgd"]),
    ("model", "activation", "swish", ["gelu", "hardtanh", "relu", "sigmoid", "tanh"]),
    ("model", "init", "orthogonal", ["default", "kaiming", "normal", "uniform", "xavier"]),
    ("train", "scheduler", "exp", ["cosine", "linear", "none", "plateau", "step"]),
    ("data", "format", "xml", ["csv", "fasttext", "folder", "jsonl", "tsv"]),
])
def test_invalid_choice_raises_listing_allowed(section, key, value, allowed):
    with pytest.raises(ConfigError) as e:
        merge(Config(), {section: {key: value}})
    msg = str(e.value)
    assert value in msg and key in msg
    for a in allowed:
        assert a in msg


@pytest.mark.parametrize("override", [
    {"model": {"embed_dim": -1}}, {"model": {"embed_dim": 0, "hidden": [8]}},
    {"model": {"dropout": 1.0}}, {"train": {"lr": 0}},
    {"data": {"valid_fraction": 1.0}}, {"model": {"hidden": [8, 0]}},
    {"model": {"bag": False}}, {"model": {"bag": False, "encoder": "x", "embed_dim": 8}},
])
def test_out_of_range_values_raise(override):
    with pytest.raises(ConfigError):
        merge(Config(), override)


def test_load_toml_with_flag_overrides_winning(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text('[model]\nembed_dim = 32\nngrams = 3\n\n[train]\nlr = 0.25\nepochs = 4\n'
                    '\n[data]\ntrain = "a.csv"\n')
    cfg = load(path)
    assert cfg.model.embed_dim == 32 and cfg.model.ngrams == 3
    assert cfg.train.lr == 0.25 and cfg.train.epochs == 4 and cfg.data.train == "a.csv"
    cfg = load(path, {"train": {"lr": 1.0}, "model": {"hidden": [5]}})
    assert cfg.train.lr == 1.0  # the flag wins over the file
    assert cfg.train.epochs == 4 and cfg.model.embed_dim == 32  # the rest of the file stays
    assert cfg.model.hidden == [5]


def test_load_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match="nope.toml"):
        load(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nembed_dim = ")
    with pytest.raises(ConfigError, match="bad.toml"):
        load(bad)
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[train]\nspeed = 3\n")
    with pytest.raises(ConfigError, match=r"unknown\.toml.*train\.speed"):
        load(unknown)


@pytest.mark.parametrize("overrides", [
    {},
    {"data": {"train": r"C:\data\my \"quoted\" train.csv", "test_fraction": 0.2, "header": True,
              "text_columns": ["1", "2"], "label_column": "0"},
     "model": {"embed_dim": 32, "hidden": [16, 8], "max_vocab": 5000, "dropout": 0.25, "init": "xavier"},
     "train": {"lr": 5, "nesterov": True, "momentum": 0.9, "threads": 2, "optimizer": "sgd", "scheduler": "step"}},
])
def test_to_toml_round_trips(tmp_path, overrides):
    cfg = merge(Config(), overrides)
    path = tmp_path / "round.toml"
    path.write_text(to_toml(cfg))
    back = load(path)
    assert back == cfg


def test_tutorial_round_trips(tmp_path):
    cfg = load(TUTORIAL)
    path = tmp_path / "t.toml"
    path.write_text(to_toml(cfg))
    assert load(path) == cfg


def test_nest():
    assert nest({"lr": 0.1, "dataset": "x"}) == {"train": {"lr": 0.1}, "data": {"dataset": "x"}}
    assert nest({"embed_dim": 8, "hidden": [4]}) == {"model": {"embed_dim": 8, "hidden": [4]}}
    assert nest({}) == {}
    with pytest.raises(ConfigError, match="nonsense"):
        nest({"nonsense": 1})
    # nest's output is accepted by merge
    cfg = merge(Config(), nest({"lr": 0.1, "dataset": "x", "embed_dim": 8}))
    assert cfg.train.lr == 0.1 and cfg.data.dataset == "x" and cfg.model.embed_dim == 8


def test_tutorial_config_loads_with_tutorial_values():
    cfg = load(TUTORIAL)
    assert cfg.model.embed_dim == 64
    assert cfg.model.ngrams == 1
    assert cfg.model.hidden == []
    assert cfg.model.init == "uniform" and cfg.model.init_range == 0.5
    assert cfg.train.optimizer == "sgd"
    assert cfg.train.lr == 5.0
    assert cfg.train.scheduler == "step"
    assert cfg.train.gamma == pytest.approx(0.1)
    assert cfg.train.clip_norm == pytest.approx(0.1)
    assert cfg.train.batch_size == 64 and cfg.train.weight_decay == 0 and cfg.model.min_df == 1
    assert cfg.train.epochs == 10


def readme_reference() -> str:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    start = readme.index("<!-- the configuration reference:")
    start = readme.index("\n", start) + 1
    return readme[start:readme.index("<!-- end of the configuration reference -->")]


def test_the_readme_configuration_reference_is_the_fields_documentation():
    assert readme_reference() == reference(), (
        "README.md's configuration reference is out of date: rewrite the part between its markers with "
        "python -c 'import doccat.config as c; print(c.reference(), end=\"\")'")


@pytest.mark.parametrize("cls", [DataConfig, ModelConfig, TrainConfig])
def test_every_key_is_documented_with_its_allowed_values(cls):
    for f in dataclasses.fields(cls):
        doc = f.metadata["doc"]
        assert len(doc) > 20, f"{f.name}: document it beside its field"
        missing = [c for c in f.metadata["choices"] if c not in doc]
        assert not missing, f"{f.name}: its doc does not say what {missing} mean"
