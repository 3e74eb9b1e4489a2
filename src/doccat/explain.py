"""One prediction taken apart: tokens and n-grams with their ids, the model's scores, and which words and
features made them.

Only features seen in training are in the model ("in_model"): an unknown word or an n-gram no
training text had adds nothing to the bag.

What is measured ("method"):
  - "exact", for a model linear in its bag: the default recipe (embed_dim 0, no hidden layer, no encoder),
    and an embedding bag with no hidden layer (two linear maps, one matrix). A feature's contribution to an
    output is its weight in the document's bag (TF-IDF or mean, normalized) times its row of the model
    (the bag's row, NB scale folded in; with an embedding, times the head), in the units of the score
    shown: classify the logits (the linear SVM's scores times its calibration scale; two classes with
    one output: the second class's logit, the first's being 0), multilabel each label's logit (its
    log-odds), regression the predicted value (the standardized output times the training std). The
    contributions of all the bag's features plus the bias are the score, exactly.
    A word's contribution is the sum of what its features bring, each feature split evenly among its
    occurrences in the text and an occurrence of a word n-gram split evenly among its n tokens: its
    unigram, its share of every word n-gram it is in, and its character n-grams. So the words'
    contributions add up to the features' total, by construction.
  - "leave-one-out", where no exact decomposition exists (hidden layers, a pretrained encoder): a word,
    every occurrence removed from the text (and so the n-grams it is part of); a feature, removed from
    the document's bag (renormalized). The "drop" is how much the explained output's measure falls
    without it: classify the log-odds log(p / (1 - p)) of the chosen class, multilabel the label's logit,
    regression the predicted value (log-odds, not probabilities: they do not saturate near 1). All
    variants run in bounded batches.

With a pretrained encoder (model.encoder), a word's variant is also what the encoder reads: the text's
tokens re-joined by spaces without the word, compared with all of them re-joined (so the drop is the
word's, not the re-joining's). An encoder-only model (bag false) has no bag: no features are ranked.
"""
from __future__ import annotations

import numpy as np
import pyarrow as pa
import torch
from scipy import sparse

from .inputs import Features
from .text import Encoded
from .model import BagClassifier, predict_logits
from .text import UNK, hash_ngrams, tokenize, truncate


def explain(clf, text: str, top: int = 10) -> dict:
    """The path of `text` through `clf` and the `top` most influential words and features.

    Returns a JSON-ready dict: tokens (with id and whether unknown), ngrams and char_ngrams (with id
    and bucket), the outputs (see `outputs_view`), "method" ("exact" or "leave-one-out", see the module)
    and "measure" (what the numbers are), and words / features ranked by their effect on the explained
    output ("explained"): "contribution" (exact, with "contributions" to every output, and "bias" and
    "rest", the sums of the unlisted words and features, beside them) or "drop" (leave-one-out).
    """
    f = clf.featurizer
    tokens = tokenize(text)
    ids = np.array([f.vocab.stoi.get(t, 0) for t in tokens], dtype=np.int64)
    ids, _ = truncate(ids, np.array([len(ids)]), f.max_tokens)  # what the model sees
    tokens = tokens[: len(ids)]
    ngrams, char_ngrams = _ngrams(f, tokens, ids), _char_ngrams(f, tokens)
    words = sorted(set(tokens), key=tokens.index)  # distinct, in order of first appearance
    # with an encoder: its embeddings of the text, of its tokens re-joined, and of each word's variant
    emb = None if clf.encoder_ is None else clf.encoder_.encode(
        [text, " ".join(tokens)] + [" ".join(t for t in tokens if t != w) for w in words])
    enc = f.encode_tokens(tokens, np.array([len(tokens)]))
    out = predict_logits(clf.model, _inputs(clf, enc, emb, 0, 1))
    view = outputs_view(clf, out)
    names = _feature_names(tokens, ids, ngrams + char_ngrams)
    word_items = [{"word": w, "unknown": f.vocab.stoi.get(w, 0) == 0} for w in words]
    feat_items = [{"feature": names[int(i)], "id": int(i), "count": int(c)}
                  for i, c in zip(f.columns_[enc.ids], enc.counts)]
    chosen, a = view["outputs"].index(view["explained"]), Attribution(tokens, ids, words, enc)
    if is_exact(clf):
        ranked = _exact(clf, a, view, chosen, top, (word_items, feat_items))
    else:
        ranked = _leave_one_out(clf, a, emb, view, chosen, top, (word_items, feat_items))
    return {"text": text, "task": clf.task, "encoder": None if clf.encoder_ is None else clf.encoder_.name,
            "tokens": [{"token": t, "id": int(i), "unknown": bool(i == 0), "in_model": bool(f.column(i) >= 0)}
                       for t, i in zip(tokens, ids)],
            "ngrams": ngrams, "char_ngrams": char_ngrams, **view, **ranked}


def is_exact(clf) -> bool:
    """Whether the model's outputs are linear in its bag, so that `explain` decomposes them exactly: a bag
    model with no hidden layer (recipe.is_linear's default recipe, or an embedding bag and a linear head)."""
    return isinstance(clf.model, BagClassifier) and not clf.config.model.hidden


def scores(clf, out: torch.Tensor) -> np.ndarray:
    """(B, S) what `explain` shows and decomposes, from the model's outputs `out` (B, outputs): classify the
    logits whose softmax are the probabilities, multilabel the labels' logits, regression the value (S = 1)."""
    if clf.task == "classify":
        return clf.outputs_.logits(out.double()).numpy()
    if clf.task == "multilabel":
        return out.double().numpy()
    mean, std = clf.target_
    return out.double().numpy() * std + mean


def outputs_view(clf, out: torch.Tensor) -> dict:
    """The outputs of one text, labelled for its task. classify: logits, probs, label (the argmax) and prob;
    multilabel: logits, probs (a sigmoid per label), threshold, labels (those at or above it, most probable
    first), and label / prob the most probable one; regression: value (and output, the standardized value
    the network gives). "outputs" names the scores, "explained" the one the words are ranked for."""
    s = scores(clf, out)[0]
    if clf.task == "regression":  # prediction: what predict answers, the value clipped to the training range
        low, high = clf.target_range_ if clf.config.model.clip_predictions and clf.target_range_ else (-np.inf, np.inf)
        return {"outputs": ["value"], "explained": "value", "value": float(s[0]), "output": float(out[0, 0]),
                "prediction": float(np.clip(s[0], low, high)), "range": [float(low), float(high)]}
    names = clf.class_names
    probs = clf.outputs_.proba(out)[0].double().numpy()
    chosen = int(probs.argmax())
    view = {"outputs": names, "explained": names[chosen], "logits": dict(zip(names, map(float, s))),
            "probs": {c: round(float(p), 6) for c, p in zip(names, probs)}, "label": names[chosen],
            "prob": round(float(probs[chosen]), 6)}
    if clf.task == "multilabel":
        t = clf.outputs_.threshold
        view |= {"threshold": t, "labels": [names[i] for i in np.argsort(-probs, kind="stable") if probs[i] >= t]}
    return view


class Attribution:
    """One text as `explain` takes it apart: its tokens (as the model sees them, truncated) and their
    vocabulary ids, its distinct words, and its bag `enc` (one document)."""

    def __init__(self, tokens: list[str], ids: np.ndarray, words: list[str], enc: Encoded):
        self.tokens, self.ids, self.words, self.enc = tokens, ids, words, enc

    def occurrences(self, f) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every feature occurrence of the text, as (raw feature id, word index, share) triples (O,): a token's
        unigram (share 1), each of the n tokens of a word n-gram (1/n each), each character n-gram of each
        occurrence of a word (1). A feature's shares sum to its count in the bag."""
        index = {w: i for i, w in enumerate(self.words)}
        at = np.array([index[t] for t in self.tokens], dtype=np.int64)  # word of each token, (T,)
        raw, word, share = [self.ids], [at], [np.ones(len(at))]
        if f.ngrams > 1 and f.buckets > 0:  # hash_ngrams gives the n-grams by n, then by position
            buckets, _ = hash_ngrams(self.ids, np.array([len(self.ids)]), f.ngrams, f.buckets)
            done = 0
            for n in range(2, min(f.ngrams, len(at)) + 1):
                windows = np.arange(len(at) - n + 1)[:, None] + np.arange(n)  # (G_n, n) token positions
                raw.append(np.repeat(len(f.vocab) + buckets[done:done + len(windows)], n))
                word.append(at[windows].ravel())
                share.append(np.full(windows.size, 1.0 / n))
                done += len(windows)
        if f.chars and self.words:
            grams, offsets = f.char_ids(pa.array(self.words, pa.large_string()))
            per_word = np.diff(offsets)
            raw.append(grams)
            word.append(np.repeat(np.arange(len(self.words)), per_word))
            share.append(np.repeat(np.bincount(at, minlength=len(self.words)).astype(np.float64), per_word))
        return np.concatenate(raw).astype(np.int64), np.concatenate(word), np.concatenate(share)

    def shares(self, f) -> sparse.csr_matrix:
        """(W, F) the share of each of the bag's F features that each distinct word brings: every column sums
        to 1 (a feature in the bag comes from the text's words), split as `occurrences` counts them."""
        raw, word, share = self.occurrences(f)
        col = f.column(raw)
        keep = col >= 0  # features training never saw are not in the bag
        order = np.argsort(self.enc.ids, kind="stable")
        where = order[np.searchsorted(self.enc.ids, col[keep], sorter=order)]  # position in the bag, (O',)
        m = sparse.csr_matrix((share[keep], (word[keep], where)), shape=(len(self.words), len(self.enc.ids)))
        totals = np.asarray(m.sum(0)).ravel()
        return m @ sparse.diags(1.0 / np.where(totals > 0, totals, 1.0))


def contributions(clf, enc: Encoded) -> tuple[np.ndarray, np.ndarray]:
    """For a model `is_exact` holds for and one document's bag `enc`: ((F, S) each feature's contribution to
    each score of `scores`, (S,) the bias), in float64; their sum over features plus the bias is the score."""
    m = clf.model
    cols = torch.from_numpy(np.asarray(enc.ids, dtype=np.int64))
    rows = m.bag.weight.detach()[cols].cpu().double()  # (F, D)
    if m.scale is not None:  # still training: NB's scale not yet folded into the weights
        rows = rows * m.scale.detach()[cols].cpu().double()
    bias = m.head.bias.detach().cpu().double()
    if isinstance(m.head, torch.nn.Linear):  # an embedding: the head maps it to the outputs
        rows = rows @ m.head.weight.detach().cpu().double().T  # (F, outputs)
    parts = rows * torch.from_numpy(np.asarray(enc.weights, dtype=np.float64))[:, None]
    if clf.task == "classify":  # logits: linear in the outputs, no constant
        return clf.outputs_.logits(parts).numpy(), clf.outputs_.logits(bias[None])[0].numpy()
    if clf.task == "multilabel":
        return parts.numpy(), bias.numpy()
    return parts.numpy() * clf.target_[1], scores(clf, bias[None])[0]  # value = std x output + mean


def _exact(clf, a: Attribution, view: dict, chosen: int, top: int, items: tuple[list, list]) -> dict:
    """explain's words and features for a linear model: exact contributions (see the module)."""
    names = view["outputs"]
    feats, bias = contributions(clf, a.enc)  # (F, S), (S,)
    words = a.shares(clf.featurizer) @ feats if len(a.words) else np.zeros((0, len(names)))  # (W, S)
    pick = _explained_column(clf, chosen, len(names))  # (S,): the explained score is scores @ pick
    feat_items = [{**x, "weight": float(w)} for x, w in zip(items[1], a.enc.weights)]
    ranked_words, rest_words = _ranked_parts(items[0], words, pick, top, names)
    ranked_feats, rest_feats = _ranked_parts(feat_items, feats, pick, top, names)
    # the scores in float64, as the sum they are: the model's float32 pass rounds them (~1e-6 relative)
    total = feats.sum(0) + bias
    exact = {"value": float(total[0])} if clf.task == "regression" else {"logits": dict(zip(names, map(float, total)))}
    score = {"of": _score_name(clf, view["explained"]), "total": float(total @ pick),
             "bias": float(bias @ pick), "other_words": float(np.array(list(rest_words.values())) @ pick),
             "other_features": float(np.array(list(rest_feats.values())) @ pick)}
    return {**exact, "method": "exact", "measure": _measure(clf, "exact", view["explained"]), "score": score,
            "bias": dict(zip(names, map(float, bias))), "words": ranked_words, "features": ranked_feats,
            "rest": {"words": rest_words, "features": rest_feats}}


def _explained_column(clf, chosen: int, outputs: int) -> np.ndarray:
    """(S,) the weights of the scores in the explained one: the chosen output's; with two classes the chosen
    class's log-odds, its logit minus the other's (of one output's logits (0, z), the first is 0 whatever
    the text: its own contributions would all be 0)."""
    pick = np.zeros(outputs)
    pick[chosen] = 1.0
    if clf.task == "classify" and outputs == 2:
        pick[1 - chosen] = -1.0
    return pick


def _score_name(clf, explained: str) -> str:
    if clf.task == "regression":
        return "value"
    return f"log-odds {explained}" if clf.task == "classify" and len(clf.classes_) == 2 else f"logit {explained}"


def _ranked_parts(items: list[dict], parts: np.ndarray, pick: np.ndarray, top: int, names: list[str]) -> tuple:
    """The `top` items by contribution to the explained score (parts @ pick), each with its contributions to
    every output, and the sum of the others' by output."""
    explained = parts @ pick
    order = np.argsort(-explained, kind="stable")
    listed = [{**items[i], "contribution": float(explained[i]),
               "contributions": dict(zip(names, map(float, parts[i])))} for i in order[:top]]
    return listed, dict(zip(names, map(float, parts[order[top:]].sum(0))))


def _measure(clf, method: str, explained: str) -> str:
    """In words, what the numbers of `explain` are."""
    of = "" if clf.task == "regression" else f" of {explained!r}"
    if method == "exact":
        unit = {"classify": "logit" + (" (the linear SVM's score x its calibration scale "
                                       f"{clf.outputs_.scale:.4g})" if clf.outputs_.kind == "squared_hinge" else ""),
                "multilabel": "logit (log-odds)", "regression": "predicted value"}[clf.task]
        if clf.task == "classify" and len(clf.classes_) == 2:
            unit = f"log-odds (its logit minus the other class's; a logit: {unit})"
        return (f"exact contribution to the {unit}{of}: a feature's bag weight x its row of the model; "
                "a word: the features it brings (an n-gram split evenly among its words); with the bias they sum "
                "to the score")
    unit = {"classify": "log-odds", "multilabel": "logit (log-odds)", "regression": "predicted value"}[clf.task]
    return (f"leave-one-out (no exact decomposition for this model): the drop in the {unit}{of} "
            "without the word (all its occurrences) or the feature")


CHUNK_IDS = 1 << 20  # feature ids per batch of leave-one-out variants (a few MB of arrays at a time)


def _leave_one_out(clf, a: Attribution, emb, view: dict, chosen: int, top: int, items: tuple[list, list]) -> dict:
    """explain's words and features for a network: leave-one-out drops (see the module)."""
    base = float(_measured(clf, predict_logits(clf.model, _inputs(clf, a.enc, emb, 0, 1)), chosen)[0])
    word_drop = _word_drops(clf, a, emb, chosen, base)
    feat_drop = _feature_drops(clf, a.enc, emb, chosen, base)
    return {"method": "leave-one-out", "measure": _measure(clf, "leave-one-out", view["explained"]),
            "words": _ranked(items[0], word_drop, top), "features": _ranked(items[1], feat_drop, top)}


def _measured(clf, out: torch.Tensor, chosen: int) -> np.ndarray:
    """(B,) what leave-one-out compares: classify the chosen class's log-odds, z_c - logsumexp(z_other) of the
    logits z; multilabel the label's logit; regression the value."""
    s = torch.from_numpy(scores(clf, out))
    if clf.task != "classify":
        return s[:, chosen].numpy()
    others = torch.cat([s[:, :chosen], s[:, chosen + 1:]], 1)
    return (s[:, chosen] - torch.logsumexp(others, 1)).numpy()


def _word_drops(clf, a: Attribution, emb, chosen: int, base: float) -> np.ndarray:
    """Per distinct word: the measure minus what it is with every occurrence of the word left out."""
    tokens, words = a.tokens, a.words
    if not words:
        return np.zeros(0)
    if emb is not None:  # the baseline: the tokens re-joined, as each variant is
        base = float(_measured(clf, predict_logits(clf.model, _inputs(clf, a.enc, emb, 1, 2)), chosen)[0])
    step, measured = max(1, CHUNK_IDS // (8 * len(tokens))), []  # a token makes up to ~8 features (chars)
    for start in range(0, len(words), step):
        keep = [[t for t in tokens if t != w] for w in words[start:start + step]]
        variants = clf.featurizer.encode_tokens([t for k in keep for t in k],
                                                np.array([len(k) for k in keep], dtype=np.int64))
        out = predict_logits(clf.model, _inputs(clf, variants, emb, 2 + start, 2 + start + len(keep)))
        measured.append(_measured(clf, out, chosen))
    return base - np.concatenate(measured)


def _feature_drops(clf, enc: Encoded, emb, chosen: int, base: float) -> np.ndarray:
    """Per feature of the document's bag: the same, the bag renormalized without the feature."""
    feats = enc.ids
    if not len(feats) or not clf.config.model.bag:  # no bag, no features
        return np.zeros(0)
    F, measured = len(feats), []
    step = max(1, CHUNK_IDS // F)  # F bags of F - 1 features, `step` bags at a time: memory stays bounded
    for start in range(0, F, step):
        left_out = np.arange(start, min(start + step, F))
        rest = (np.arange(F - 1)[None, :] + (np.arange(F - 1)[None, :] >= left_out[:, None])).ravel()
        variants = Encoded(feats[rest], np.arange(len(left_out) + 1, dtype=np.int64) * (F - 1), enc.counts[rest])
        variants.weights = clf.featurizer.weigh(variants)
        out = predict_logits(clf.model, _inputs(clf, variants, None if emb is None else emb[[0] * len(left_out)]))
        measured.append(_measured(clf, out, chosen))
    return base - np.concatenate(measured)


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


def _ranked(items: list[dict], drop: np.ndarray, top: int) -> list[dict]:
    order = np.argsort(-drop, kind="stable")[:top]
    return [{**items[i], "drop": round(float(drop[i]), 6)} for i in order]


def _ngram_line(grams: list[dict], most: int = 40) -> str:
    return "  " + " | ".join(f"{g['ngram']}[{g['id']}{'' if g['in_model'] else ' unseen'}]" for g in grams[:most]) \
        + (" ..." if len(grams) > most else "")


def format_text(e: dict) -> str:
    """A readable version of `explain`'s result, for the terminal: the same numbers as its JSON."""
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
    lines += ["", *_output_lines(e), "", e["measure"] + ":"]
    lines += _exact_lines(e) if e["method"] == "exact" else _drop_lines(e)
    return "\n".join(lines) + "\n"


MOST_LABELS = 15  # multilabel: the most probable labels listed (Reuters has 90)


def _output_lines(e: dict) -> list[str]:
    """The scores: regression the value; classify each class's logit and probability, the argmax marked;
    multilabel each label's, those at or above the threshold marked as predicted."""
    if e["task"] == "regression":
        clipped = (f"; predicted {e['prediction']:.4f}: clipped to the training targets' range "
                   f"[{e['range'][0]:g}, {e['range'][1]:g}]") if e["prediction"] != e["value"] else ""
        return [f"predicted value: {e['value']:.4f} (the network's standardized output {e['output']:.4f}, "
                f"times the training targets' std, plus their mean{clipped})"]
    head = "class" if e["task"] == "classify" else "label"
    order = sorted(e["probs"], key=e["probs"].get, reverse=True)
    if e["task"] == "classify":
        marks = {e["label"]: "  <- argmax"}
    else:
        marks = {c: f"  predicted (>= {e['threshold']:g})" for c in e["labels"]}
        order, more = order[:max(MOST_LABELS, len(e["labels"]))], len(order) - max(MOST_LABELS, len(e["labels"]))
    lines = [f"{head:20s} {'logit':>10s} {'prob':>8s}"]
    lines += [f"{c[:20]:20s} {e['logits'][c]:10.4f} {e['probs'][c]:8.4f}{marks.get(c, '')}" for c in order]
    if e["task"] == "multilabel":
        lines += [f"  ({more} more labels, each below the threshold)"] if more > 0 else []
        lines += [f"predicted labels: {', '.join(e['labels']) or '(none)'}"]
    return lines


def _others(e: dict) -> list[str]:
    """The outputs whose logits are printed beside the explained score: the next two most probable
    (none for two classes, whose log-odds is the explained score, nor for regression)."""
    if e["task"] == "regression" or (e["task"] == "classify" and len(e["outputs"]) == 2):
        return []
    return [c for c in sorted(e["probs"], key=e["probs"].get, reverse=True) if c != e["explained"]][:2]


def _exact_lines(e: dict) -> list[str]:
    """Words and features with their contributions to the explained score (and to the next classes' logits),
    then the unlisted ones' total, the bias and their sum: the score."""
    others, sc = _others(e), e["score"]
    total = {c: e["logits"][c] for c in others}

    def row(name: str, first: float, values: dict, pad: str = "", sign: str = "+") -> str:
        return f"  {name[:30]:30s}{pad} {first:{sign}14.4f}" + "".join(f" {values[c]:{sign}11.4f}" for c in others)
    header = f" {sc['of'][:14]:>14s}" + "".join(f" {c[:11]:>11s}" for c in others)
    lines = [f"  (columns: the {sc['of']}" + (f", then the logits of {', '.join(others)}" if others else "") + ")",
             f"  {'word':30s}{header}"]
    lines += [row(w["word"] + ("  (unknown)" if w["unknown"] else ""), w["contribution"], w["contributions"])
              for w in e["words"]]
    lines += [row("(the other words)", sc["other_words"], e["rest"]["words"]), row("bias", sc["bias"], e["bias"]),
              row("= " + sc["of"].split()[0], sc["total"], total, sign="")]
    lines += ["", f"  {'feature [id]':30s} {'weight':>8s}{header}"]
    lines += [row(f"{x['feature']} [{x['id']}]", x["contribution"], x["contributions"], f" {x['weight']:8.4f}")
              for x in e["features"]]
    pad = " " * 9
    lines += [row("(the other features)", sc["other_features"], e["rest"]["features"], pad),
              row("bias", sc["bias"], e["bias"], pad), row("= " + sc["of"].split()[0], sc["total"], total, pad, "")]
    return lines


def _drop_lines(e: dict) -> list[str]:
    lines = ["words (every occurrence left out):"]
    lines += [f"  {w['drop']:+.4f}  {w['word']}{'  (unknown)' if w['unknown'] else ''}" for w in e["words"]]
    lines += ["features (one left out of the bag):"]
    lines += [f"  {x['drop']:+.4f}  {x['feature']}  [{x['id']}]" for x in e["features"]]
    return lines
