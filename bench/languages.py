"""doccat on corpora in other languages and scripts, beside scikit-learn on the same splits (issue 20).

    DOCCAT_DATA_DIR=../shared/datasets .venv/bin/python bench/languages.py [--corpora masakhanews_xho,...]

For each registry corpus (the nine MasakhaNEWS languages, the three Chinese review corpora): doccat's
default recipe, doccat without character n-grams (--char-ngrams ''), and scikit-learn's TF-IDF word(1,2) +
char_wb(1,4) n-grams (min_df 2, sublinear) in a FeatureUnion + LinearSVC (C = 1), trained on doccat's own
training split (its validation split held out, as doccat holds it out) and scored on the test split.
Accuracy and macro-F1 in %, training seconds (featurizing + fitting; doccat's as its metrics.json says).
Writes bench/LANGUAGES.md. Needs the bench extra (scikit-learn).
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import doccat
from doccat.config import DataConfig
from doccat.data import load_splits
from doccat.data.registry import MASAKHANEWS

ROOT = Path(__file__).resolve().parents[1]
CORPORA = [f"masakhanews_{lang}" for lang in MASAKHANEWS] + ["online_shopping_10_cats", "chnsenticorp", "waimai_10k"]


def sklearn_word_char(train_texts, train_labels, test_texts):
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.svm import LinearSVC
    t0 = time.perf_counter()
    union = FeatureUnion([("word", TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)),
                          ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True))])
    model = make_pipeline(union, LinearSVC(C=1.0)).fit(train_texts, train_labels)
    return model.predict(test_texts), time.perf_counter() - t0


def scores(truth, predicted) -> dict:
    from sklearn.metrics import accuracy_score, f1_score
    return {"accuracy": 100 * accuracy_score(truth, predicted), "macro_f1": 100 * f1_score(truth, predicted, average="macro")}


def run(corpus: str) -> dict:
    splits = load_splits(DataConfig(dataset=corpus))
    row = {"corpus": corpus, "train": len(splits.train), "test": len(splits.test), "classes": len(splits.classes)}
    for name, overrides in (("doccat", {}), ("doccat_no_chars", {"char_ngrams": []})):
        clf = doccat.train(dataset=corpus, log=lambda *a: None, progress=False, **overrides)
        m = clf.metrics_["test"]
        row[name] = {"accuracy": 100 * m["accuracy"], "macro_f1": 100 * m["macro_f1"],
                     "seconds": clf.metrics_["train_seconds"]}
    predicted, seconds = sklearn_word_char(splits.train.texts, splits.train.labels, splits.test.texts)
    row["sklearn"] = {**scores(splits.test.labels, predicted), "seconds": seconds}
    return row


def write(rows: list[dict], seconds: float) -> None:
    head = ("| corpus | train docs | classes | doccat acc | doccat macro-F1 | doccat s | no chars acc | no chars "
            "macro-F1 | no chars s | sklearn w+c acc | sklearn w+c macro-F1 | sklearn w+c s |")
    lines = ["# doccat on other languages and scripts (bench/languages.py)", "",
             f"One run, {time.strftime('%Y-%m-%d %H:%M')}, {seconds:.0f} s in all; load average at the start "
             f"{os.getloadavg()[0]:.2f} (2 cores). Test split scores in %; training seconds (featurize + fit).",
             "The Chinese corpora carve a seeded 20 % test split; MasakhaNEWS uses its own train/dev/test.", "",
             head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        d, n, s = r["doccat"], r["doccat_no_chars"], r["sklearn"]
        lines.append(f"| {r['corpus']} | {r['train']:,} | {r['classes']} | {d['accuracy']:.2f} | {d['macro_f1']:.2f} | "
                     f"{d['seconds']:.2f} | {n['accuracy']:.2f} | {n['macro_f1']:.2f} | {n['seconds']:.2f} | "
                     f"{s['accuracy']:.2f} | {s['macro_f1']:.2f} | {s['seconds']:.2f} |")
    (ROOT / "bench" / "LANGUAGES.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpora", default=",".join(CORPORA))
    args = parser.parse_args()
    t0 = time.perf_counter()
    rows = []
    for corpus in args.corpora.split(","):
        rows.append(run(corpus))
        print(corpus, rows[-1], flush=True)
    write(rows, time.perf_counter() - t0)


if __name__ == "__main__":
    main()
