"""FEATURES.md's test vectors are what doccat's featurizer produces, and the hashes it specifies are reproducible
from its text alone (a pure-Python version of them here)."""
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from doccat.text import Featurizer, Vocab, split_tokens

SPEC = Path(__file__).resolve().parents[1] / "FEATURES.md"
MASK = (1 << 64) - 1


def vectors() -> dict:
    blocks = re.findall(r"```json\n(.*?)\n```", SPEC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) == 1, "FEATURES.md should hold one json block: the test vectors"
    return json.loads(blocks[0])


def featurizer(cfg: dict) -> Featurizer:
    return Featurizer(Vocab(cfg["vocab"]), cfg["ngrams"], cfg["buckets"], cfg["max_tokens"], cfg["weighting"],
                      chars=tuple(cfg["char_ngrams"]))


def spec_hash(symbols: list[int], buckets: int) -> int:
    """The hash and bucket FEATURES.md describes, from its words only."""
    h = symbols[0]
    for s in symbols[1:]:
        h = (h * 116049371 + s) & MASK
    h = (h * 0x9E3779B97F4A7C15) & MASK
    return ((h >> 32) * buckets) >> 32


def spec_char_ids(word: str, low: int, high: int, base: int, buckets: int) -> list[int]:
    seq = [1] + [int.from_bytes(c.encode("utf-8"), "little") + 2 for c in word] + [1]
    return [base + spec_hash(seq[i:i + n], buckets) for n in range(low, high + 1) for i in range(len(seq) - n + 1)]


def spec_word_ngram_ids(ids: list[int], ngrams: int, vocab_size: int, buckets: int) -> set[int]:
    w = [i + 1 for i in ids]
    return {vocab_size + spec_hash(w[i:i + k], buckets) for k in range(2, ngrams + 1) for i in range(len(w) - k + 1)}


@pytest.mark.parametrize("doc", vectors()["documents"], ids=lambda d: d["text"][:20])
def test_documents(doc):
    cfg = vectors()["config"]
    f = featurizer(cfg)
    tokens, lengths = split_tokens([doc["text"]])
    assert tokens.to_pylist() == doc["tokens"] and lengths.tolist() == [len(doc["tokens"])]
    assert f.vocab.lookup(tokens).tolist() == doc["word_ids"]
    enc = f.encode([doc["text"]])
    assert enc.ids.tolist() == doc["features"]
    assert enc.counts.tolist() == doc["counts"]
    np.testing.assert_allclose(enc.weights, doc["weights"], rtol=1e-5)


@pytest.mark.parametrize("doc", vectors()["documents"], ids=lambda d: d["text"][:20])
def test_spec_reproduces_the_ids(doc):
    """Every raw id of a document, from FEATURES.md's description: words, hashed word n-grams, character n-grams."""
    cfg = vectors()["config"]
    v, b, (low, high) = len(cfg["vocab"]), cfg["buckets"], cfg["char_ngrams"]
    words = set(doc["word_ids"]) | spec_word_ngram_ids(doc["word_ids"], cfg["ngrams"], v, b)
    chars = [i for t in doc["tokens"] for i in spec_char_ids(t, low, high, v + b, b)]
    assert sorted(words) + sorted(set(chars)) == doc["features"]
    assert [chars.count(i) for i in sorted(set(chars))] == doc["counts"][len(words):]
    # mean weighting: count / (its block's total x the blocks that have features)
    blocks = [doc["counts"][:len(words)], doc["counts"][len(words):]]
    m = sum(1 for blk in blocks if blk)
    np.testing.assert_allclose([c / (sum(blk) * m) for blk in blocks for c in blk], doc["weights"], rtol=1e-5)


def test_char_words():
    cfg = vectors()["config"]
    f = featurizer(cfg)
    v, b, (low, high) = len(cfg["vocab"]), cfg["buckets"], cfg["char_ngrams"]
    for item in vectors()["char_words"]:
        ids, _ = f.char_ids(pa.array([item["word"]], pa.large_string()))
        assert ids.tolist() == item["char_ids"] == spec_char_ids(item["word"], low, high, v + b, b)


def test_layout():
    cfg = vectors()["config"]
    f = featurizer(cfg)
    assert f.char_base == len(cfg["vocab"]) + cfg["buckets"]
    assert f.raw_features == f.char_base + cfg["buckets"]
