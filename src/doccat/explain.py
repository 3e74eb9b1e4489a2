"""One prediction taken apart: tokens and n-grams with their ids, logits, softmax, and which
words or n-grams pushed the text toward the class it got.

Only features seen in training are in the model ("in_model"): an unknown word or an n-gram no
training text had adds nothing to the bag.

Influence is measured by leave-one-out, which needs no assumption about the network:
  - a word: remove every occurrence of it from the text (and so the n-grams it is part of), re-run,
    and see how much the chosen class's probability drops;
  - a feature (one token id or one hashed n-gram): remove just it from the document's bag.
A positive drop means the word or feature argued for the chosen class. All variants run as one batch.

With a pretrained encoder (model.encoder), a word's variant is also what the encoder reads: the text's
tokens re-joined by spaces without the word, compared with all of them re-joined (so the drop is the
word's, not the re-joining's). An encoder-only model (bag false) has no bag: no features are ranked.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch

from .inputs import Features
from .model import predict_logits
from .inputs import Encoded
from .text import UNK, hash_ngrams, tokenize, truncate


def explain(clf, text: str, top: int = 10) -> dict:
    """The path of `text` through `clf` and the `top` most influential words and features.

    Returns a JSON-ready dict: tokens (with id and whether unknown), ngrams (with id and bucket),
    logits, probs (by class), label (the argmax), and words / features ranked by `drop`, the
    chosen class's probability minus its probability without that word or feature.
    """
    f = clf.featurizer
    tokens = tokenize(text)
    ids = np.array([f.vocab.stoi.get(t, 0) for t in tokens], dtype=np.int64)
    ids, _ = truncate(ids, np.array([len(ids)]), f.max_tokens)  # what the model sees
    tokens = tokens[: len(ids)]
    ngrams = _ngrams(f, tokens, ids)
    char_ngrams = _char_ngrams(f, tokens)

    words = sorted(set(tokens), key=tokens.index)  # distinct, in order of first appearance
    # with an encoder: its embeddings of the text, of its tokens re-joined, and of each word's variant
    emb = None if clf.encoder_ is None else clf.encoder_.encode(
        [text, " ".join(tokens)] + [" ".join(t for t in tokens if t != w) for w in words])
    enc = f.encode_tokens(tokens, np.array([len(tokens)]))
    out = predict_logits(clf.model, _inputs(clf, enc, emb, 0, 1))
    logits = (clf.outputs_.logits(out) if clf.task == "classify" else out)[0]  # classify: softmax gives probs
    probs = _as_probs(clf, out)[0]
    names_out = clf.class_names if clf.task != "regression" else ["value"]
    chosen = int(probs.argmax())  # regression: the one output, the predicted value
    p = float(probs[chosen])

    word_drop = _word_drops(clf, tokens, words, enc, emb, chosen, p)
    feats = enc.ids  # the columns of the document's bag: its distinct features seen in training, (F,)
    feat_drop = _feature_drops(clf, enc, emb, chosen, p)
    names = _feature_names(tokens, ids, ngrams + char_ngrams)
    raw = f.columns_[feats]

    return {
        "text": text,
        "encoder": None if clf.encoder_ is None else clf.encoder_.name,
        "tokens": [{"token": t, "id": int(i), "unknown": bool(i == 0), "in_model": bool(f.column(i) >= 0)}
                   for t, i in zip(tokens, ids)],
        "ngrams": ngrams,
        "char_ngrams": char_ngrams,
        "logits": {c: round(float(v), 6) for c, v in zip(names_out, logits)},
        "probs": {c: round(float(v), 6) for c, v in zip(names_out, probs)},
        "label": names_out[chosen],
        "prob": round(p, 6),
        "words": _ranked([{"word": w, "unknown": f.vocab.stoi.get(w, 0) == 0} for w in words], word_drop, top),
        "features": _ranked([{"feature": names[int(i)], "id": int(i), "count": int(c)}
                             for i, c in zip(raw, enc.counts)], feat_drop, top),
    }


CHUNK_IDS = 1 << 20  # feature ids per batch of leave-one-out variants (a few MB of arrays at a time)


def _word_drops(clf, tokens: list[str], words: list[str], enc: Encoded, emb, chosen: int, p: float) -> np.ndarray:
    """Per distinct word: the chosen output's probability minus what it is with every occurrence of the word left out."""
    if not words:
        return np.zeros(0)
    p_words = p if emb is None else float(_probs(clf, _inputs(clf, enc, emb, 1, 2))[0, chosen])
    step, probs = max(1, CHUNK_IDS // (8 * len(tokens))), []  # a token makes up to ~8 features (chars)
    for start in range(0, len(words), step):
        keep = [[t for t in tokens if t != w] for w in words[start:start + step]]
        variants = clf.featurizer.encode_tokens([t for k in keep for t in k],
                                                np.array([len(k) for k in keep], dtype=np.int64))
        probs.append(_probs(clf, _inputs(clf, variants, emb, 2 + start, 2 + start + len(keep)))[:, chosen])
    return p_words - np.concatenate(probs)


def _feature_drops(clf, enc: Encoded, emb, chosen: int, p: float) -> np.ndarray:
    """Per feature of the document's bag: the same, the bag renormalized without the feature."""
    feats = enc.ids
    if not len(feats) or not clf.config.model.bag:  # no bag, no features
        return np.zeros(0)
    F, probs = len(feats), []
    step = max(1, CHUNK_IDS // F)  # F bags of F - 1 features, `step` bags at a time: memory stays bounded
    for start in range(0, F, step):
        left_out = np.arange(start, min(start + step, F))
        rest = (np.arange(F - 1)[None, :] + (np.arange(F - 1)[None, :] >= left_out[:, None])).ravel()
        variants = Encoded(feats[rest], np.arange(len(left_out) + 1, dtype=np.int64) * (F - 1), enc.counts[rest])
        variants.weights = clf.featurizer.weigh(variants)
        probs.append(_probs(clf, _inputs(clf, variants, None if emb is None else emb[[0] * len(left_out)]))[:, chosen])
    return p - np.concatenate(probs)


def _feature_names(tokens: list[str], ids: np.ndarray, ngrams: list[dict]) -> dict[int, str]:
    """By raw feature id (a vocabulary id, or vocabulary size + bucket): the word or n-gram(s) it stands for."""
    names = {0: UNK}
    for tok, i in zip(tokens, ids):
        names.setdefault(int(i), tok)
    for g in ngrams:  # two n-grams may share a hash bucket: name both
        names[g["id"]] = g["ngram"] if g["id"] not in names or names[g["id"]] == g["ngram"] else \
            f"{names[g['id']]} / {g['ngram']}"
    return names


def _ngrams(f, tokens: list[str], ids: np.ndarray) -> list[dict]:
    """The hashed n-grams of one document, in the order `hash_ngrams` makes them (n = 2, 3, ...)."""
    if f.ngrams < 2 or f.buckets == 0:
        return []
    buckets, _ = hash_ngrams(ids, np.array([len(ids)]), f.ngrams, f.buckets)
    spans = [(i, n) for n in range(2, f.ngrams + 1) for i in range(len(tokens) - n + 1)]
    return [{"ngram": " ".join(tokens[i:i + n]), "id": int(len(f.vocab) + b), "bucket": int(b),
             "in_model": bool(f.column(len(f.vocab) + b) >= 0)} for (i, n), b in zip(spans, buckets)]


def _char_ngrams(f, tokens: list[str]) -> list[dict]:
    """The character n-grams of one document's distinct words, "<" and ">" marking a word's ends,
    in the order `Featurizer.char_ids` gives them (by word, then n, then position)."""
    if not f.chars:
        return []
    words = sorted(set(tokens), key=tokens.index)
    low, high = f.chars
    names = []
    for w in words:
        marked = ["<", *w, ">"]
        names += ["".join(marked[i:i + n]) for n in range(low, high + 1) for i in range(len(marked) - n + 1)
                  if n > 1 or 0 < i < len(marked) - 1]  # a lone mark is no n-gram
    ids, _ = f.char_ids(pa.array(words, pa.large_string()))
    return [{"ngram": g, "id": int(i), "bucket": int(i - f.char_base), "in_model": bool(f.column(i) >= 0)}
            for g, i in zip(names, ids)]


def _inputs(clf, enc: Encoded, emb: np.ndarray | None, start: int = 0, stop: int | None = None):
    """The model's input: the bag's `enc`; with an encoder, beside the embeddings emb[start:stop]."""
    if emb is None:
        return enc
    return Features(enc if clf.config.model.bag else None, emb=emb[start:stop])


@torch.no_grad()
def _probs(clf, enc) -> np.ndarray:
    """(B, outputs): class or label probabilities; regression: (B, 1) predicted values."""
    return _as_probs(clf, predict_logits(clf.model, enc))


def _as_probs(clf, out: torch.Tensor) -> np.ndarray:
    """`_probs` from the model's outputs `out`."""
    p = clf.outputs_.proba(out).numpy()
    if clf.task == "regression":
        mean, std = clf.target_
        return (p * std + mean)[:, None]
    return p


def _ranked(items: list[dict], drop: np.ndarray, top: int) -> list[dict]:
    order = np.argsort(-drop, kind="stable")[:top]
    return [{**items[i], "drop": round(float(drop[i]), 6)} for i in order]


def _ngram_line(grams: list[dict], most: int = 40) -> str:
    return "  " + " | ".join(f"{g['ngram']}[{g['id']}{'' if g['in_model'] else ' unseen'}]" for g in grams[:most]) \
        + (" ..." if len(grams) > most else "")


def format_text(e: dict) -> str:
    """A readable version of `explain`'s result, for the terminal."""
    lines = [f"text: {e['text']}", "", "tokens (id; ? = unknown, counted as <unk> id 0):"]
    if e["encoder"]:
        lines[1:1] = [f"encoder: {e['encoder']} (a word's drop: the tokens re-joined, with and without it)"]
    lines.append("  " + " ".join(f"{t['token']}[{t['id']}{'?' if t['unknown'] else ''}]" for t in e["tokens"]))
    if e["ngrams"]:
        lines += ["n-grams (id = vocabulary size + bucket; unseen = no training text had it: not in the model):"]
        lines.append(_ngram_line(e["ngrams"]))
    if e["char_ngrams"]:
        lines += ["character n-grams (id = vocabulary size + word n-gram buckets + bucket):",
                  _ngram_line(e["char_ngrams"])]
    lines += ["", f"{'class':20s} {'logit':>10s} {'prob':>8s}"]
    for c in sorted(e["probs"], key=e["probs"].get, reverse=True):
        lines.append(f"{c[:20]:20s} {e['logits'][c]:10.4f} {e['probs'][c]:8.4f}" + ("  <- argmax" if c == e["label"]
                                                                                     else ""))
    lines += ["", f"words that pushed it most toward {e['label']!r} (drop in its probability without the word):"]
    lines += [f"  {w['drop']:+.4f}  {w['word']}{'  (unknown)' if w['unknown'] else ''}" for w in e["words"]]
    lines += ["features (one token or n-gram removed from the bag):"]
    lines += [f"  {x['drop']:+.4f}  {x['feature']}  [{x['id']}]" for x in e["features"]]
    return "\n".join(lines) + "\n"

