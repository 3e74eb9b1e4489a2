"""Raw text -> tokens -> vocabulary ids and hashed n-gram ids, for a whole corpus at once.

The hot path never loops over tokens in Python: a corpus is joined into one string, normalized
with C-level string methods, split once, mapped to ids with `map(dict.get)`, and n-grams are
hashed with numpy over the flat id array.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import repeat

import numpy as np

UNK = "<unk>"
_SEP = "\x00"  # document separator inside the joined corpus; stripped from user text first

# torchtext's basic_english: lowercase, then these substitutions, then split on whitespace.
_REPLACEMENTS = [
    ("<br />", " "), ("'", " '  "), ('"', ""), (".", " . "), (",", " , "), ("(", " ( "),
    (")", " ) "), ("!", " ! "), ("?", " ? "), (";", " "), (":", " "),
]


def _normalize(text: str) -> str:
    text = text.lower()
    for old, new in _REPLACEMENTS:
        text = text.replace(old, new)
    return text


def tokenize(text: str) -> list[str]:
    """Split one text the way torchtext's `basic_english` does."""
    return _normalize(text.replace(_SEP, " ")).split()


def tokenize_corpus(texts: list[str]) -> list[str]:
    """All tokens of all texts in one list, with a separator token between texts."""
    joined = f" {_SEP} ".join(texts)
    if joined.count(_SEP) != max(len(texts) - 1, 0):  # rare: a text holds the separator itself
        joined = f" {_SEP} ".join(t.replace(_SEP, " ") for t in texts)
    return _normalize(joined).split()


def count_tokens(texts: list[str]) -> np.ndarray:
    """Tokens per text, (D,), without building a vocabulary."""
    return Vocab([]).encode(texts)[1]


@dataclass
class Vocab:
    """Token strings in id order; id 0 is `<unk>`. Build it from the training split only."""

    itos: list[str]

    def __post_init__(self):
        self.stoi = {t: i for i, t in enumerate(self.itos)}
        self._ids = {**self.stoi, _SEP: -1}

    def __len__(self) -> int:
        return len(self.itos)

    @classmethod
    def build(cls, tokens: list[str], min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        counts = Counter(tokens)
        counts.pop(UNK, None)
        counts.pop(_SEP, None)
        # most frequent first, ties broken alphabetically (two stable sorts) so it is deterministic
        kept = sorted(t for t, c in counts.items() if c >= min_freq)
        kept.sort(key=counts.__getitem__, reverse=True)
        return cls([UNK] + kept[: max_size - 1 if max_size else None])

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of all texts back to back (T,), and tokens per text (D,)."""
        return self.lookup(tokenize_corpus(texts), len(texts))

    def lookup(self, tokens: list[str], num_texts: int) -> tuple[np.ndarray, np.ndarray]:
        """Ids of `tokenize_corpus` output: (T,) ids without separators, (D,) tokens per text."""
        ids = np.fromiter(map(self._ids.get, tokens, repeat(0)), dtype=np.int64, count=len(tokens))
        is_sep = ids == -1
        bounds = np.concatenate([[-1], np.flatnonzero(is_sep), [len(ids)]])
        lengths = np.diff(bounds) - 1 if num_texts else np.zeros(0, dtype=np.int64)
        return ids[~is_sep], lengths


def truncate(ids: np.ndarray, lengths: np.ndarray, max_tokens: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first `max_tokens` ids of each document (flat ids (T,), lengths (D,)), without a loop."""
    if max_tokens is None or not len(lengths) or lengths.max() <= max_tokens:
        return ids, lengths
    position = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # within its document
    return ids[position < max_tokens], np.minimum(lengths, max_tokens)


def hash_ngrams(ids: np.ndarray, lengths: np.ndarray, n: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every word n-gram (2..n) of each document into [0, buckets).

    ids: (T,) token ids of all documents back to back; lengths: (D,) tokens per document.
    Returns (ngram_ids, doc_index), both (G,), in document order.
    """
    doc = np.repeat(np.arange(len(lengths)), lengths)
    out_ids, out_doc = [], []
    # ids + 1 so that <unk> (id 0) still changes the hash: (unk, a, b) must differ from (a, b)
    word = ids.astype(np.uint64) + np.uint64(1)
    h = word
    for k in range(2, n + 1):
        if len(ids) < k:
            break
        # h[i] = hash of ids[i : i+k]; uint64 arithmetic wraps, as fastText's hashing does
        h = h[:-1] * np.uint64(116049371) + word[k - 1:]
        same_doc = doc[: len(h)] == doc[k - 1:]
        out_ids.append((h[same_doc] % np.uint64(buckets)).astype(np.int64))
        out_doc.append(doc[: len(h)][same_doc])
    if not out_ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_ids), np.concatenate(out_doc)


@dataclass
class Encoded:
    """A corpus as an EmbeddingBag input, each document's distinct features with their counts.

    ids (N,) and counts (N,) of all documents back to back; offsets (D+1,) where each starts.
    """

    ids: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1


def idf(enc: Encoded, num_features: int) -> np.ndarray:
    """Smoothed inverse document frequency, log((1 + D) / (1 + df)) + 1, as scikit-learn's."""
    df = np.bincount(enc.ids, minlength=num_features)  # ids are distinct within a document
    return (np.log((1 + len(enc)) / (1 + df)) + 1).astype(np.float32)


class Featurizer:
    """Texts -> Encoded features: vocabulary ids, then hashed n-gram ids after them."""

    def __init__(self, vocab: Vocab, ngrams: int = 2, buckets: int = 500_000, max_tokens: int | None = None):
        self.vocab, self.ngrams, self.buckets = vocab, ngrams, buckets
        self.max_tokens = max_tokens  # bounds the work and memory a pathologically long document costs

    @classmethod
    def fit(cls, texts: list[str], ngrams=2, buckets=500_000, min_freq=1, max_vocab=None) -> "Featurizer":
        return cls.fit_encode(texts, ngrams, buckets, min_freq, max_vocab)[0]

    @classmethod
    def fit_encode(cls, texts: list[str], ngrams=2, buckets=500_000, min_freq=1, max_vocab=None, max_tokens=None):
        """Build the vocabulary from `texts` and encode them, tokenizing once: (featurizer, encoded)."""
        tokens = tokenize_corpus(texts)
        featurizer = cls(Vocab.build(tokens, min_freq, max_vocab), ngrams, buckets, max_tokens)
        return featurizer, featurizer._encode_ids(*featurizer.vocab.lookup(tokens, len(texts)))

    @property
    def num_features(self) -> int:
        return len(self.vocab) + (self.buckets if self.ngrams > 1 else 0)

    def encode(self, texts: list[str]) -> Encoded:
        return self._encode_ids(*self.vocab.encode(texts))

    def _encode_ids(self, ids: np.ndarray, lengths: np.ndarray) -> Encoded:
        ids, lengths = truncate(ids, lengths, self.max_tokens)
        doc = np.repeat(np.arange(len(lengths)), lengths)
        if self.ngrams > 1 and self.buckets > 0:
            gram_ids, gram_doc = hash_ngrams(ids, lengths, self.ngrams, self.buckets)
            ids, doc = np.concatenate([ids, gram_ids + len(self.vocab)]), np.concatenate([doc, gram_doc])
        # one sort of (document, feature) keys groups each document's features and finds repeats
        key = doc * self.num_features + ids
        key.sort()
        first = np.ones(len(key), dtype=bool)
        first[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(first)
        counts = np.diff(np.append(starts, len(key))).astype(np.float32)
        doc, ids = np.divmod(key[starts], self.num_features)
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(np.bincount(doc, minlength=len(lengths)), out=offsets[1:])
        return Encoded(ids, offsets, counts)
