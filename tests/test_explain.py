"""`explain`: the path of one text through the model, and leave-one-out influence of its words."""
import json
import subprocess
import sys

import numpy as np
import pytest

import doccat
from conftest import FAST, make_corpus
from doccat.explain import explain, format_text


@pytest.fixture(scope="module")
def clf():
    texts, labels = make_corpus(60, seed=3)
    return doccat.train(texts, labels, ngrams=2, **{**FAST, "buckets": 100_000})  # few shared buckets


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
    # every feature the bag holds is listed once: the words and n-grams seen in training ("zzqx", <unk>,
    # never was, so it adds nothing; with 1,000 buckets, "team zzqx" likely shares a seen n-gram's bucket)
    assert [t["in_model"] for t in e["tokens"]] == [True, True, False]
    held = {vocab.stoi["goal"], vocab.stoi["team"]} | {g["id"] for g in e["ngrams"] if g["in_model"]}
    assert sorted(f["id"] for f in e["features"]) == sorted(held)


@pytest.mark.parametrize("text, label", [("the coach says the team will win the match", "sports"),
                                         ("bank shares and stock market profit today", "business")])
def test_removing_the_top_word_lowers_its_class_probability(clf, text, label):
    e = explain(clf, text, top=3)
    assert e["label"] == label
    top = e["words"][0]
    assert top["word"] not in {"the", "says", "will", "and", "today"}  # a class word, not noise
    without = " ".join(w for w in text.split() if w != top["word"])
    p_without = clf.predict_proba(without)[0][clf.classes_.index(label)]
    assert p_without < e["prob"]
    assert e["prob"] - p_without == pytest.approx(top["drop"], abs=1e-5)  # the drop it reported
    assert [w["drop"] for w in e["words"]] == sorted((w["drop"] for w in e["words"]), reverse=True)


def test_empty_and_all_unknown_texts(clf):
    for text in ("", "qqq zzz"):
        e = clf.explain(text)
        assert sum(e["probs"].values()) == pytest.approx(1, abs=1e-5)
        assert "argmax" in format_text(e)


def test_explain_cli(small_run):
    out = subprocess.run([sys.executable, "-m", "doccat", "explain", str(small_run), "stock bank market", "--json"],
                         capture_output=True, text=True, check=True).stdout
    e = json.loads(out)
    assert e["label"] == "business" and e["words"][0]["word"] in {"stock", "bank", "market"}
    assert "<- argmax" in format_text(e) and "business" in format_text(e)


def test_the_default_linear_svm_on_two_classes_shows_logits_whose_softmax_is_its_probabilities():
    texts, labels = make_corpus(40, seed=1)
    two = [(t, y) for t, y in zip(texts, labels) if y != "science"]
    clf = doccat.train([t for t, _ in two], [y for _, y in two], log=lambda *a: None)
    assert clf.model.head.out_features == 1 and clf.outputs_.kind == "squared_hinge"  # one score, calibrated
    e = explain(clf, "goal for the team")
    logits = np.array([e["logits"][c] for c in clf.classes_])
    assert logits[0] == 0.0  # the one score z stands for the logits (0, scale * z)
    probs = clf.predict_proba("goal for the team")[0]
    assert np.exp(logits) / np.exp(logits).sum() == pytest.approx(probs, abs=1e-6)


def test_character_ngrams_are_named_and_ranked():
    texts, labels = make_corpus(60, seed=3)
    clf = doccat.train(texts, labels, char_ngrams=[3, 4], log=lambda *a: None)  # the linear default, explicit chars
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
