"""`explain`: the path of one text through the model; exact contributions for linear models (they sum with the
bias to the logit), leave-one-out for networks; regression and multilabel labelled as such."""
import copy
import json
import math
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest
import torch

import doccat
from conftest import FAST, make_corpus
from doccat.explain import contributions, explain, format_text, is_exact, scores
from doccat.model import predict_logits
from doccat.text import hash_ngrams

QUIET = {"log": lambda *a: None}
TEXTS = ["the coach says the team will win the match goal goal", "bank shares and stock market profit today zzqx",
         "nasa space research the team", "Goal team zzqx", "a b"]


@pytest.fixture(scope="module")
def corpus():
    return make_corpus(40, seed=3)


@pytest.fixture(scope="module")
def clf():
    texts, labels = make_corpus(60, seed=3)
    return doccat.train(texts, labels, ngrams=2, **{**FAST, "buckets": 100_000})  # an embedding bag, no hidden layer


def exact_scores(clf, text: str) -> np.ndarray:
    """(S,) the scores explain decomposes, from the model itself run in float64 (its own float32 rounding
    reaches 1e-5 on logits near 15): the reference the contributions must add up to."""
    model = copy.deepcopy(clf.model).double()
    enc = clf.featurizer.encode([text])
    enc.weights = enc.weights.astype(np.float64)
    return scores(clf, predict_logits(model, enc))[0]


def model_scores(clf, text: str) -> np.ndarray:
    """(S,) the same from the model as it predicts (float32)."""
    return scores(clf, torch.from_numpy(clf.decision_function(text)))[0]


def trained(corpus, kind: str):
    texts, labels = corpus
    if kind == "binary":  # one output, the logits (0, z)
        two = [(t, y) for t, y in zip(texts, labels) if y != "science"]
        return doccat.train([t for t, _ in two], [y for _, y in two], **QUIET)
    if kind == "multilabel":  # a second label for the texts that say "today"
        return doccat.train(texts, [[y] + (["news"] if "today" in t.split() else []) for t, y in zip(texts, labels)],
                            task="multilabel", **QUIET)
    if kind == "regression":
        return doccat.train(texts, [{"sports": 1.0, "business": 5.0, "science": 9.0}[y] + i % 3 * 0.5
                                    for i, y in enumerate(labels)], task="regression", **QUIET)
    kw = {"default": {}, "words 1-3-grams": {"ngrams": 3, "char_ngrams": []},
          "chars 2-4": {"char_ngrams": [2, 4]}, "cross_entropy": {"loss": "cross_entropy"},
          "embedding bag": {k: v for k, v in FAST.items() if k != "log"},
          "mean weighting": {"weighting": "mean", "loss": "cross_entropy"}}[kind]
    return doccat.train(texts, labels, **kw, **QUIET)


KINDS = ["default", "words 1-3-grams", "chars 2-4", "cross_entropy", "embedding bag", "mean weighting", "binary",
         "multilabel", "regression"]


@pytest.fixture(scope="module", params=KINDS)
def linear(request, corpus):
    return trained(corpus, request.param)


@pytest.fixture(scope="module")
def texts(corpus):
    """Unseen texts (unknown words, repeated words, no features at all) and two training texts (whose word
    bigrams are in the bag)."""
    return TEXTS + corpus[0][:2]


def test_contributions_plus_bias_are_the_logit_for_every_class(linear, texts):
    assert is_exact(linear)
    for text in texts:
        feats, bias = contributions(linear, linear.featurizer.encode([text]))
        assert feats.shape[1] == len(bias) == len(exact_scores(linear, text))
        assert feats.sum(0) + bias == pytest.approx(exact_scores(linear, text), abs=1e-5, rel=0)
        assert feats.sum(0) + bias == pytest.approx(model_scores(linear, text), abs=1e-5, rel=1e-6)
        e = explain(linear, text, top=10 ** 6)  # every feature listed: the rest is nothing
        total = {"value": e["value"]} if linear.task == "regression" else e["logits"]
        for c in e["outputs"]:
            summed = sum(x["contributions"][c] for x in e["features"]) + e["bias"][c]
            assert summed == pytest.approx(total[c], abs=1e-5, rel=1e-6), (text, c)
            assert e["rest"]["features"][c] == 0.0


def test_the_default_recipe_has_word_bigrams_and_character_ngrams_in_the_bag(corpus):
    clf = trained(corpus, "default")
    m = clf.config.model
    assert m.ngrams == 2 and m.char_ngrams == [3, 5] and clf.outputs_.kind == "squared_hinge"
    e = explain(clf, corpus[0][0], top=10 ** 6)  # a training text: its bigrams are in the bag
    kinds = {"char" if x["id"] >= clf.featurizer.char_base else "ngram" if x["id"] >= len(clf.featurizer.vocab)
             else "word" for x in e["features"]}
    assert kinds == {"word", "ngram", "char"}


def test_word_contributions_add_up_to_the_features_total(linear, texts):
    for text in texts:
        e = explain(linear, text, top=10 ** 6)
        for c in e["outputs"]:
            words = sum(w["contributions"][c] for w in e["words"])
            assert words == pytest.approx(sum(x["contributions"][c] for x in e["features"]), abs=1e-9)
        short = explain(linear, text, top=2)  # listed + the rest, bias: the score, words and features alike
        for part in ("words", "features"):
            listed = sum(x["contribution"] for x in short[part])
            assert listed + short["score"][f"other_{part}"] + short["score"]["bias"] == pytest.approx(
                short["score"]["total"], abs=1e-5)


def test_a_word_gets_its_unigram_half_of_each_bigram_and_its_character_ngrams(corpus):
    texts, labels = corpus
    clf = doccat.train(texts, labels, char_ngrams=[3, 3], **QUIET)
    f = clf.featurizer
    # two words whose bigram is in the bag (min_df 2), as "first second first"
    pairs = [(a, b) for t in texts for a, b in zip(t.split(), t.split()[1:])]
    first, second = next((a, b) for a, b in pairs if f.column(len(f.vocab) + int(
        hash_ngrams(f.vocab.lookup(pa.array([a, b], pa.large_string())), np.array([2]), 2, f.buckets)[0][0])) >= 0)
    e = explain(clf, f"{first} {second} {first}", top=10 ** 6)
    c = e["explained"]

    def feature(name, chars=False):  # (contribution, count) of the feature named `name`
        found = [x for x in e["features"] if name in x["feature"].split(" / ") and (x["id"] >= f.char_base) == chars
                 and (chars or (x["id"] < len(f.vocab)) == (" " not in name))]
        return (found[0]["contributions"][c], found[0]["count"]) if found else (0.0, 1)
    marked = f"<{first}>"
    grams = [marked[i:i + 3] for i in range(len(marked) - 2)]
    # the first word: its unigram, half of each bigram it is in, and of each of its char n-grams the share its
    # 2 occurrences make of the n-gram's count (another word may have it too)
    expected = feature(first)[0] + 0.5 * feature(f"{first} {second}")[0] + 0.5 * feature(f"{second} {first}")[0]
    for g in set(grams):
        value, count = feature(g, chars=True)
        expected += value * 2 * grams.count(g) / count
    words = {w["word"]: w["contributions"][c] for w in e["words"]}
    assert words[first] == pytest.approx(expected, abs=1e-9)
    assert feature(f"{first} {second}")[0] != 0 and feature(grams[1], chars=True)[0] != 0  # the rule is exercised
    assert sum(words.values()) == pytest.approx(sum(x["contributions"][c] for x in e["features"]), abs=1e-9)


def test_shares_count_each_feature_as_the_bag_does(linear, texts):
    from doccat.explain import Attribution
    from doccat.text import tokenize
    f = linear.featurizer
    for text in texts:
        tokens = tokenize(text)
        enc = f.encode([text])
        a = Attribution(tokens, f.vocab.lookup(tokens) if tokens else np.zeros(0, np.int64),
                        sorted(set(tokens), key=tokens.index), enc)
        raw, _, share = a.occurrences(f)
        col = f.column(raw)
        counts = np.bincount(np.searchsorted(enc.ids, col[col >= 0]), weights=share[col >= 0], minlength=len(enc.ids))
        assert counts == pytest.approx(enc.counts)  # the occurrences found are the bag's counts
        if len(enc.ids):
            assert np.asarray(a.shares(f).sum(0)).ravel() == pytest.approx(1.0)


def test_regression_shows_the_predicted_value_and_no_probabilities(corpus):
    clf = trained(corpus, "regression")
    e = explain(clf, "goal bank the team")
    assert e["value"] == pytest.approx(clf.predict("goal bank the team")[0].value, abs=1e-5)
    assert e["outputs"] == ["value"] and not {"probs", "logits", "label", "prob"} & set(e)
    assert e["score"]["of"] == "value" and e["score"]["total"] == pytest.approx(e["value"])
    text = format_text(e)
    assert f"predicted value: {e['value']:.4f}" in text and "= value" in text
    assert "argmax" not in text and "prob" not in text
    clf.target_range_ = (e["value"] + 1.0, e["value"] + 2.0)  # a range the value lies below: predict clips it
    clipped = explain(clf, "goal bank the team")
    assert clipped["value"] == pytest.approx(e["value"]) and clipped["prediction"] == clf.predict("goal bank the team")[0].value
    assert f"predicted {clipped['prediction']:.4f}: clipped to the training targets' range" in format_text(clipped)


def test_multilabel_marks_each_label_by_its_own_probability_against_the_threshold(corpus):
    clf = trained(corpus, "multilabel")
    text = "goal team match today"
    e = explain(clf, text)
    probs = clf.predict_proba(text)[0]
    assert [e["probs"][c] for c in clf.class_names] == pytest.approx(probs, abs=1e-6)
    assert probs == pytest.approx(1 / (1 + np.exp(-np.array([e["logits"][c] for c in clf.class_names]))), abs=1e-6)
    assert e["threshold"] == 0.5 and set(e["labels"]) == {"sports", "news"} == set(clf.predict(text)[0].labels)
    lines = format_text(e).splitlines()
    marked = [line.split()[0] for line in lines if "predicted (>= 0.5)" in line]
    assert sorted(marked) == ["news", "sports"] and "argmax" not in format_text(e)
    assert "predicted labels: " in format_text(e)


def test_two_classes_rank_by_the_chosen_class_log_odds(corpus):
    clf = trained(corpus, "binary")
    assert clf.model.head.out_features == 1  # one score z: the logits (0, scale * z)
    for text, label in (("bank shares stock market", "business"), ("goal team match coach", "sports")):
        e = explain(clf, text)
        assert e["label"] == label and e["score"]["of"] == f"log-odds {label}"
        other = next(c for c in e["outputs"] if c != label)
        assert e["score"]["total"] == pytest.approx(e["logits"][label] - e["logits"][other], abs=1e-6)
        assert 1 / (1 + math.exp(-e["score"]["total"])) == pytest.approx(e["prob"], abs=1e-6)
        top = e["words"][0]
        assert top["word"] in text.split() and top["contribution"] > 0  # not the first class's constant 0
        assert top["contribution"] == pytest.approx(top["contributions"][label] - top["contributions"][other])


def test_path_through_the_model(clf):
    e = clf.explain("Goal team zzqx")
    vocab = clf.featurizer.vocab
    assert [t["token"] for t in e["tokens"]] == ["goal", "team", "zzqx"]
    assert [t["id"] for t in e["tokens"]] == [vocab.stoi["goal"], vocab.stoi["team"], 0]
    assert [t["unknown"] for t in e["tokens"]] == [False, False, True]
    assert [g["ngram"] for g in e["ngrams"]] == ["goal team", "team zzqx"]
    assert all(g["id"] == len(vocab) + g["bucket"] and 0 <= g["bucket"] < clf.featurizer.buckets
               for g in e["ngrams"])
    probs = clf.predict_proba("Goal team zzqx")[0]
    assert [e["probs"][c] for c in clf.classes_] == pytest.approx(probs, abs=1e-6)
    logits = np.array([e["logits"][c] for c in clf.classes_])
    assert np.exp(logits) / np.exp(logits).sum() == pytest.approx(probs, abs=1e-5)  # softmax of the logits
    assert e["label"] == "sports" == clf.classes_[int(probs.argmax())]
    # an embedding bag with no hidden layer is linear in its bag: decomposed exactly
    assert e["method"] == "exact" and "exact contribution to the logit of 'sports'" in e["measure"]
    # every feature the bag holds is listed once: the words and n-grams seen in training ("zzqx", <unk>,
    # never was, so it adds nothing; with 1,000 buckets, "team zzqx" likely shares a seen n-gram's bucket)
    assert [t["in_model"] for t in e["tokens"]] == [True, True, False]
    held = {vocab.stoi["goal"], vocab.stoi["team"]} | {g["id"] for g in e["ngrams"] if g["in_model"]}
    assert sorted(f["id"] for f in e["features"]) == sorted(held)
    assert {w["word"]: w["contribution"] for w in e["words"]}["zzqx"] == pytest.approx(
        sum(x["contribution"] for x in e["features"] if x["feature"] == "team zzqx") / 2, abs=1e-9)


@pytest.fixture(scope="module")
def network():
    texts, labels = make_corpus(60, seed=3)
    return doccat.train(texts, labels, ngrams=2, hidden=[16], **FAST)


def log_odds(clf, text: str, label: str) -> float:
    """log(p / (1 - p)) of `label`, from the logits (the probabilities are too near 1 in float32)."""
    z = clf.decision_function(text)[0].astype(np.float64)
    i = clf.classes_.index(label)
    return float(z[i] - np.log(np.exp(np.delete(z, i)).sum()))


@pytest.mark.parametrize("text, label", [("the coach says the team will win the match", "sports"),
                                         ("bank shares and stock market profit today", "business")])
def test_a_network_is_explained_by_leave_one_out_on_log_odds(network, text, label):
    assert not is_exact(network)
    e = explain(network, text, top=3)
    assert e["method"] == "leave-one-out" and "log-odds" in e["measure"] and "bias" not in e
    assert e["label"] == label
    top = e["words"][0]
    assert top["word"] not in {"the", "says", "will", "and", "today"}  # a class word, not noise
    without = " ".join(w for w in text.split() if w != top["word"])
    assert log_odds(network, without, label) < log_odds(network, text, label)
    assert log_odds(network, text, label) - log_odds(network, without, label) == pytest.approx(top["drop"], abs=1e-4)
    assert [w["drop"] for w in e["words"]] == sorted((w["drop"] for w in e["words"]), reverse=True)
    assert "words (every occurrence left out):" in format_text(e)


def test_leave_one_out_in_small_chunks_gives_the_same_drops(network, monkeypatch):
    import doccat.explain as module
    text = "the coach says the team will win the match bank"
    whole = explain(network, text, top=100)
    monkeypatch.setattr(module, "CHUNK_IDS", 1)  # one variant per batch: the bound on memory, at its tightest
    chunked = explain(network, text, top=100)
    for part, key in (("words", "word"), ("features", "id")):
        assert {x[key]: x["drop"] for x in chunked[part]} == pytest.approx({x[key]: x["drop"] for x in whole[part]},
                                                                           abs=1e-5)


def test_empty_and_all_unknown_texts(clf, network):
    for model in (clf, network):
        for text in ("", "qqq zzz"):
            e = model.explain(text)
            assert sum(e["probs"].values()) == pytest.approx(1, abs=1e-5)
            assert "argmax" in format_text(e)
    e = clf.explain("")
    assert e["words"] == e["features"] == [] and e["score"]["bias"] == pytest.approx(e["score"]["total"], abs=1e-5)


def test_explain_cli_text_and_json_show_the_same_numbers(small_run):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "doccat", "explain", str(small_run), "stock bank market", *args],
                              capture_output=True, text=True, check=True).stdout
    e, text = json.loads(run("--json")), run()
    assert e["label"] == "business" and e["words"][0]["word"] in {"stock", "bank", "market"}
    assert text == format_text(e)
    table = text.split(e["measure"])[1].splitlines()
    for w in e["words"]:
        row = next(line for line in table if line.startswith(f"  {w['word']} "))
        assert row.split()[1:] == [f"{w['contribution']:+.4f}"] + [f"{w['contributions'][c]:+.4f}"
                                                                    for c in sorted(e["probs"], key=e["probs"].get,
                                                                                    reverse=True)[1:3]]
    assert f"= logit {e['logits']['business']:.4f}" in " ".join(text.split())


def test_the_default_linear_svm_on_two_classes_shows_logits_whose_softmax_is_its_probabilities(corpus):
    clf = trained(corpus, "binary")
    assert clf.model.head.out_features == 1 and clf.outputs_.kind == "squared_hinge"  # one score, calibrated
    e = explain(clf, "goal for the team")
    logits = np.array([e["logits"][c] for c in clf.classes_])
    assert logits[0] == 0.0  # the one score z stands for the logits (0, scale * z)
    probs = clf.predict_proba("goal for the team")[0]
    assert np.exp(logits) / np.exp(logits).sum() == pytest.approx(probs, abs=1e-6)


def test_character_ngrams_are_named_and_ranked():
    texts, labels = make_corpus(60, seed=3)
    clf = doccat.train(texts, labels, char_ngrams=[3, 4], **QUIET)  # the linear default, explicit chars
    e = explain(clf, "Goal zzqx", top=100)
    f = clf.featurizer
    assert [g["ngram"] for g in e["char_ngrams"]] == ["<go", "goa", "oal", "al>", "<goa", "goal", "oal>",
                                                     "<zz", "zzq", "zqx", "qx>", "<zzq", "zzqx", "zqx>"]
    assert all(g["id"] == f.char_base + g["bucket"] for g in e["char_ngrams"])
    seen = {g["id"] for g in e["char_ngrams"] if g["in_model"]}
    assert {g["id"] for g in e["char_ngrams"][:7]} <= seen  # "goal" is a training word: all its n-grams were seen
    # the bag holds the word and the seen n-grams, and each feature is named by what it is
    names = {x["id"]: x["feature"] for x in e["features"]}
    assert set(names) == {f.vocab.stoi["goal"]} | seen
    assert names[e["char_ngrams"][1]["id"]].split(" / ")[0] == "goa"
    assert "character n-grams" in format_text(e)
