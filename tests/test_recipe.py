"""The recipe: every "auto" decided in one function, from the data's statistics, whatever the data came from."""
import dataclasses

import pytest

import doccat
from doccat import recipe
from doccat.config import Config, ConfigError, ModelConfig, TrainConfig, from_dict
from doccat.data import from_memory, load_splits
from doccat.data.stream import Corpus
from doccat.data.summary import Stats
from doccat.text import Tokens

from conftest import make_corpus, write_csv

SMALL = Stats("classify", ["a", "b", "c"], documents=200, tokens=5_000, class_counts=[50, 50, 100])
LARGE = dataclasses.replace(SMALL, tokens=recipe.AUTO_CHAR_TOKENS + 1)


def _auto_left(cfg: Config) -> list[str]:
    flat = {f"{s}.{k}": v for s, section in doccat.config.to_dict(cfg).items() for k, v in section.items()}
    keys = ("data.task", "model.init", "model.char_ngrams", "model.nb", "train.loss", "train.weight_decay",
            "train.optimizer", "train.patience")
    return [k for k in keys if flat[k] in ("auto", None)]


def test_the_default_recipe_resolved():
    cfg = recipe.resolve(Config(), SMALL)
    assert _auto_left(cfg) == []
    m, t = cfg.model, cfg.train
    assert (m.char_ngrams, m.nb, m.init, t.loss, cfg.data.task) == ([3, 5], 0.5, "zeros", "squared_hinge", "classify")
    assert t.weight_decay == pytest.approx(1 / (recipe.AUTO_C * 200)) and t.optimizer == "liblinear"  # C = 2
    assert t.patience == 0  # one solve: nothing to stop
    assert recipe.resolve(Config(), LARGE).model.char_ngrams == []  # a large corpus: words only


def test_a_network_resolves_to_a_network_s_defaults():
    net = from_dict({"model": {"embed_dim": 16, "hidden": [8]}, "train": {"optimizer": "adam", "batch_size": 32}})
    cfg = recipe.resolve(net, SMALL)
    assert (cfg.model.char_ngrams, cfg.model.nb, cfg.model.init) == ([], 0.0, "uniform")
    assert (cfg.train.loss, cfg.train.weight_decay) == ("cross_entropy", recipe.AUTO_WEIGHT_DECAY)
    assert cfg.train.patience == recipe.AUTO_PATIENCE  # mini-batches stop when validation stops improving
    vectors = dataclasses.replace(net, model=dataclasses.replace(net.model, vectors="v.vec"))
    assert recipe.resolve(vectors, SMALL).model.init == "vectors"


def test_the_loss_by_task_and_model():
    def loss(task, classes, **model):
        stats = Stats(task, classes, 100, 1000, [50] * len(classes) if task != "regression" else [], 0.0, 1.0)
        return recipe.resolve(from_dict({"model": model}), stats).train.loss
    assert loss("classify", ["a", "b", "c"]) == "squared_hinge"  # the default recipe: a linear SVM
    assert loss("classify", ["a", "b", "c"], embed_dim=8) == "cross_entropy"
    assert loss("multilabel", ["a", "b"]) == "bce" and loss("regression", []) == "mse"


def test_explicit_values_are_kept_and_resolving_twice_changes_nothing():
    given = from_dict({"model": {"char_ngrams": [2, 4], "nb": 0.0, "init": "xavier"},
                       "train": {"loss": "cross_entropy", "weight_decay": 1e-4}})
    cfg = recipe.resolve(given, SMALL)
    assert (cfg.model.char_ngrams, cfg.model.nb, cfg.model.init) == ([2, 4], 0.0, "xavier")
    assert (cfg.train.loss, cfg.train.weight_decay) == ("cross_entropy", 1e-4)
    once = recipe.resolve(Config(), SMALL)
    assert recipe.resolve(once, SMALL) == once == recipe.resolve(once, None)


def test_patience_is_on_for_mini_batches_only_and_an_explicit_one_is_kept():
    def patience(**train):
        return recipe.resolve(from_dict({"model": {"embed_dim": 8}, "train": train}), SMALL).train.patience
    assert patience(optimizer="adam", batch_size=32) == patience(optimizer="sgd", batch_size=1) == recipe.AUTO_PATIENCE
    assert patience() == 0  # full-batch L-BFGS stops on tol instead
    assert patience(optimizer="adam", batch_size=32, patience=0) == 0  # off: every epoch runs
    assert patience(patience=2) == 2
    saved = dataclasses.replace(recipe.resolve(Config(), SMALL), train=dataclasses.replace(
        recipe.resolve(Config(), SMALL).train, patience=None, batch_size=64, optimizer="adam"))
    assert recipe.resolve(saved, None).train.patience == recipe.AUTO_PATIENCE  # needs no data


def test_a_saved_config_must_already_be_resolved():
    with pytest.raises(ConfigError, match="model.char_ngrams, model.nb, train.loss, train.weight_decay"):
        recipe.resolve(dataclasses.replace(Config(), data=dataclasses.replace(Config().data, task="classify")), None)


def test_bad_combinations_are_refused_where_they_are_resolved():
    with pytest.raises(ConfigError, match="label_smoothing"):
        recipe.resolve(from_dict({"train": {"label_smoothing": 0.1}}), SMALL)
    with pytest.raises(ConfigError, match="regression"):
        recipe.resolve(from_dict({"model": {"nb": 0.5}}), Stats("regression", [], 100, 1000, [], 3.0, 1.0))


def test_files_memory_and_stream_measure_the_same_statistics(tmp_path):
    from doccat.classifier import resolve_config
    texts, labels = make_corpus(40, seed=3)
    train = write_csv(tmp_path / "train.csv", texts, labels)
    valid = write_csv(tmp_path / "valid.csv", *make_corpus(10, seed=4))
    cfg = resolve_config(None, dict(train=str(train), valid=str(valid)))
    files = load_splits(cfg.data)
    memory = from_memory(dataclasses.replace(cfg.data, train=None, valid=None), texts, labels)
    stream = Corpus(resolve_config(cfg, dict(streaming=True, batch_size=8, optimizer="adam")),
                    log=lambda *a: None).stats
    from_files = Stats.of(files, Tokens.of(files.train.texts).count)
    assert stream == from_files  # the streamed training split is the whole file, as it is from files
    assert memory.classes == files.classes and Stats.of(memory, 1).documents == len(memory.train)


def test_the_saved_config_is_the_resolved_one(tmp_path):
    texts, labels = make_corpus(30)
    clf = doccat.train(texts, labels, out=tmp_path / "run", epochs=2, buckets=200, log=lambda *a: None)
    assert _auto_left(clf.config) == [] and doccat.load(tmp_path / "run").config == clf.config


def test_the_config_docs_state_what_auto_resolves_to():
    """The docs beside the fields (--help, the README's reference) say the recipe's numbers, not stale ones."""
    docs = {f.name: f.metadata["doc"] for cls in (ModelConfig, TrainConfig) for f in dataclasses.fields(cls)}
    assert f"{recipe.AUTO_CHAR_TOKENS:,} tokens" in docs["char_ngrams"]
    assert ",".join(map(str, recipe.AUTO_CHARS)) in docs["char_ngrams"]
    assert f"auto (unset): {recipe.AUTO_NB}" in docs["nb"]
    assert f"auto (unset): {recipe.AUTO_PATIENCE} for mini-batches" in docs["patience"]
    assert f"1 / ({recipe.AUTO_C:g} x training documents)" in docs["weight_decay"]
    assert f"C = {recipe.AUTO_C:g}" in docs["weight_decay"] and f"else {recipe.AUTO_WEIGHT_DECAY:g}".replace("e-0", "e-") in docs["weight_decay"]


@pytest.mark.parametrize("overrides, message", [
    ({"model": {"embed_dim": 32, "dropout": 0.5}}, "model.dropout applies after hidden layers, and there are none"),
    ({"model": {"embed_dim": 32, "activation": "tanh"}}, "model.activation tanh is the hidden layers' activation"),
    ({"train": {"optimizer": "adam", "batch_size": 64, "momentum": 0.9}}, "train.momentum is SGD's: with optimizer adam"),
    ({"train": {"momentum": 0.9}}, "train.momentum is SGD's: with optimizer auto"),
    ({"model": {"embed_dim": 32, "nb": 0.5}}, "model.nb scales a linear model's weights"),
])
def test_a_setting_that_would_change_nothing_is_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(overrides)


def _resolved(**sections) -> Config:
    return recipe.resolve(from_dict(sections), SMALL)


@pytest.mark.parametrize("sections, message", [
    ({"train": {"lr": 0.5}}, "train.lr 0.5 is not used: the optimizer is liblinear"),
    ({"train": {"scheduler": "cosine"}}, "train.scheduler cosine is not used: the optimizer is liblinear"),
    ({"train": {"step_size": 3, "optimizer": "adam", "batch_size": 8}},
     "train.step_size 3 is not used: it belongs to scheduler step, and the scheduler is none"),
    ({"train": {"warmup_epochs": 1.0, "optimizer": "adam", "batch_size": 8, "scheduler": "cosine"}},
     "train.warmup_epochs 1 is not used: it belongs to scheduler linear"),
    ({"model": {"encoder_mode": "finetune"}, "train": {"optimizer": "adam", "batch_size": 8}},
     "model.encoder_mode finetune is not used: there is no encoder"),
    ({"model": {"init": "zeros", "embed_dim": 16, "hidden": [8]}}, "model.init zeros with an embedding or hidden layers"),
    ({"train": {"shuffle": False, "optimizer": "lbfgs"}}, "train.shuffle false is not used: full batch"),
])
def test_a_setting_the_resolved_recipe_leaves_unused_is_named(sections, message):
    notes = recipe.unused(_resolved(**sections))
    assert any(message in n for n in notes), notes


def test_the_default_recipe_leaves_nothing_unused_and_says_what_it_decided():
    cfg = from_dict({})
    resolved = recipe.resolve(cfg, SMALL)
    assert recipe.unused(resolved) == []
    lines = recipe.decisions(cfg, resolved, SMALL)
    assert "recipe: train.optimizer auto -> liblinear (it solves this linear SVM exactly)" in lines
    assert "recipe: model.char_ngrams auto -> 3,5 (a linear model on 5,000 training tokens, at most 1,000,000)" in lines
    assert len(lines) == 9  # every auto key: task, char_ngrams, nb, init, loss, weight_decay, class_weights,
    # patience, optimizer


def test_a_loss_that_switches_the_weight_decay_says_so():
    """--loss squared_hinge on a network: the weight decay becomes 1 / (C x documents), not 3e-6; the log says so."""
    cfg = from_dict({"model": {"embed_dim": 16}, "train": {"loss": "squared_hinge"}})
    lines = recipe.decisions(cfg, recipe.resolve(cfg, SMALL), SMALL)
    assert "recipe: train.weight_decay auto -> 0.0025 (1 / (2 x 200 training documents), for squared_hinge)" in lines
    assert any(line.startswith("recipe: train.optimizer auto -> lbfgs (liblinear needs a linear model") for line in lines)


# model.recipe: the few-label recipe and the automatic choice (doccat.recipe.named_recipe, candidates, pick)

def test_fewlabel_is_an_encoder_alone_tuned_on_pairs_with_its_weight_decay_unless_given():
    from doccat.recipe import FEW_C, FEW_ENCODER, FEW_MODE, named_recipe
    cfg = named_recipe(Config(model=ModelConfig(recipe="fewlabel")))
    assert (cfg.model.encoder, cfg.model.bag) == (FEW_ENCODER, False)
    stats = Stats("classify", ["a", "b"], 32, 320, [16, 16])
    assert recipe.resolve(Config(model=ModelConfig(recipe="fewlabel")), stats).model.encoder_mode == FEW_MODE
    frozen = Config(model=ModelConfig(recipe="fewlabel", encoder_mode="frozen"))  # a mode given is kept
    assert recipe.resolve(frozen, stats).model.encoder_mode == "frozen"
    tags = Stats("multilabel", ["a", "b"], 32, 320, [16, 16])  # no classes to pair by: frozen
    assert recipe.resolve(Config(model=ModelConfig(recipe="fewlabel")), tags).model.encoder_mode == "frozen"
    assert recipe.resolve(Config(model=ModelConfig(encoder="x")), stats).model.encoder_mode == "frozen"  # not fewlabel
    with pytest.raises(ConfigError, match="contrastive pairs documents of one class"):
        recipe.resolve(Config(model=ModelConfig(encoder="x", encoder_mode="contrastive")), tags)
    assert recipe.resolve(Config(model=ModelConfig(recipe="fewlabel")), stats).train.weight_decay == 1 / (FEW_C * 32)
    given = Config(model=ModelConfig(recipe="fewlabel", encoder="/models/mine"), train=TrainConfig(weight_decay=0.5))
    assert recipe.resolve(given, stats).model.encoder == "/models/mine"
    assert recipe.resolve(given, stats).train.weight_decay == 0.5
    plain = Config()
    assert named_recipe(plain) is plain


def test_auto_is_decided_on_data_not_in_a_saved_config():
    with pytest.raises(ConfigError, match="model.recipe auto"):
        recipe.resolve(Config(model=ModelConfig(recipe="auto")), None)


def test_auto_trains_fewlabel_only_on_small_splits_and_keeps_it_unless_the_bag_validates_clearly_better():
    from doccat.recipe import AUTO_FEW_PER_CLASS, candidates, pick
    assert candidates(AUTO_FEW_PER_CLASS * 4, 4)[0] == ["bag", "fewlabel"]
    names, why = candidates(AUTO_FEW_PER_CLASS * 4 + 4, 4)
    assert names == ["bag"] and "more than 100" in why
    assert pick({"bag": 0.95, "fewlabel": 0.60}, "x", 56)[0] == "bag"  # better by 0.35: ~4 standard errors
    assert pick({"bag": 0.56, "fewlabel": 0.44}, "x", 16)[0] == "fewlabel"  # by 0.12 on 16: under 1 standard error
    assert pick({"bag": 0.80, "fewlabel": 0.79}, "x", 100_000)[0] == "bag"  # many documents: a small gap is real
    chosen, why = pick({"bag": 0.75, "fewlabel": 0.75}, "40 training documents", 40)
    assert chosen == "fewlabel" and why.startswith("40 training documents; validation on 40 documents: bag 0.7500, "
                                                   "fewlabel 0.7500 (the bag is not better")
    assert pick({"bag": 0.5}, "x", 10)[0] == "bag"  # fewlabel could not be trained
