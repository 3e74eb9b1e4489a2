"""Property-based tests (hypothesis) of the readers and the tokenizer.

Round trips: rows written the way each format is written (csv.writer; tab-joined fields; json.dumps
per line; `__label__x text` lines; one file per text) read back unchanged. Each generator keeps to
what its format can hold, as noted beside it; every format shares two limits of the readers
themselves: a text has at least one non-whitespace character (an empty text is a bad row) and a
label has no surrounding whitespace (labels are stripped) and is not empty. Text is any Unicode
that UTF-8 can encode (lone surrogates can't be written to a file).

Never crashes: arbitrary bytes in any format give rows or a DataError, nothing else.
"""
from __future__ import annotations

import csv
import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from doccat.data import DataError, readers
from doccat.text import Featurizer, Vocab, tokenize

SETTINGS = settings(max_examples=150, deadline=None)

char = st.characters(codec="utf-8")  # every code point but the surrogates
text = st.text(char, min_size=1).filter(lambda t: t.strip())
label = st.text(char, min_size=1).map(str.strip).filter(bool)
# TSV quotes nothing, so a field can't hold the tab or a line break
tsv_char = st.characters(codec="utf-8", exclude_characters="\t\n\r")
# fastText splits lines on whitespace and joins the words with one space: a text is words (no
# whitespace in them, as str.split sees it) joined by single spaces, and no word is a label
word = st.text(st.characters(codec="utf-8").filter(lambda c: not c.isspace()), min_size=1)
ft_word = word.filter(lambda w: not w.startswith("__label__"))


def rows(text_st=text, label_st=label):
    return st.lists(st.tuples(label_st, text_st), min_size=1, max_size=8)


def roundtrip(write, data, **read_args):
    with tempfile.TemporaryDirectory() as d:
        path = write(Path(d), data)
        return readers.read(path, **read_args)


def expected(data):
    return [t for _, t in data], [lab for lab, _ in data]


def write_csv(d, data):
    with open(d / "d.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)  # excel dialect: quotes what needs it, \r\n line ends
        w.writerow(["label", "text"])
        w.writerows(data)
    return d / "d.csv"


def write_tsv(d, data):
    (d / "d.tsv").write_text("text\tlabel\n" + "".join(f"{t}\t{lab}\n" for lab, t in data),
                             encoding="utf-8", newline="")
    return d / "d.tsv"


def write_jsonl(d, data):
    (d / "d.jsonl").write_text("".join(json.dumps({"label": lab, "text": t}, ensure_ascii=False) + "\n"
                                       for lab, t in data), encoding="utf-8", newline="")
    return d / "d.jsonl"


def write_fasttext(d, data):
    (d / "d.txt").write_text("".join(f"__label__{lab} {t}\n" for lab, t in data), encoding="utf-8", newline="")
    return d / "d.txt"


def write_folder(d, data):
    for i, (lab, t) in enumerate(data):
        (d / "root" / lab).mkdir(parents=True, exist_ok=True)
        (d / "root" / lab / f"{i:03d}.txt").write_bytes(t.encode())
    return d / "root"


@SETTINGS
@given(rows())
def test_csv_roundtrip(data):
    assert roundtrip(write_csv, data) == expected(data)


@SETTINGS
@given(rows(st.text(tsv_char, min_size=1).filter(str.strip), st.text(tsv_char, min_size=1).map(str.strip).filter(bool)))
def test_tsv_roundtrip(data):
    assert roundtrip(write_tsv, data) == expected(data)


@SETTINGS
@given(rows())
def test_jsonl_roundtrip(data):
    assert roundtrip(write_jsonl, data) == expected(data)


@SETTINGS
@given(rows(st.lists(ft_word, min_size=1, max_size=6).map(" ".join), word))
def test_fasttext_roundtrip(data):
    assert roundtrip(write_fasttext, data) == expected(data)


# the folder format: the label is a folder name (a few fixed ones here); a text can't start with
# U+FEFF, which is read as a byte-order mark and dropped
@SETTINGS
@given(rows(text.filter(lambda t: not t.startswith("\ufeff")), st.sampled_from(["neg", "pos", "x y", "ünï"])))
def test_folder_roundtrip(data):
    got = roundtrip(write_folder, data)
    order = sorted(range(len(data)), key=lambda i: data[i][0])  # read back class by class
    assert got == expected([data[i] for i in order])


@SETTINGS
@given(st.binary(max_size=300), st.sampled_from(["csv", "tsv", "jsonl", "fasttext"]), st.booleans(),
       st.sampled_from(["error", "skip", "warn"]))
def test_arbitrary_bytes_never_crash(data, fmt, gzipped, policy):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / ("d.gz" if gzipped else "d")
        path.write_bytes(data)
        try:
            texts, labels = readers.read(path, fmt, on_bad_row=policy)
        except DataError as e:
            assert str(path) in str(e)
        else:
            assert len(texts) == len(labels) > 0
            assert all(t.strip() for t in texts) and all(labels)


@SETTINGS
@given(st.text(char, max_size=200), st.sampled_from(["csv", "tsv", "jsonl", "fasttext"]))
def test_arbitrary_text_never_crashes(content, fmt):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "d"
        path.write_text(content, encoding="utf-8", newline="")
        try:
            texts, labels = readers.read(path, fmt, on_bad_row="skip")
        except DataError:
            pass
        else:
            assert len(texts) == len(labels) > 0


# ---------------------------------------------------------------------------------------- tokenizer

any_text = st.text(st.characters(), max_size=200)  # surrogates too: tokenizing never encodes


@SETTINGS
@given(any_text)
def test_tokenize_never_crashes_and_gives_clean_tokens(t):
    tokens = tokenize(t)
    assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)
    assert tokens == tokenize(t)


@SETTINGS
@given(st.lists(any_text, max_size=6))
def test_encoding_a_corpus_agrees_with_tokenize(texts):
    vocab = Vocab.build([tok for t in texts for tok in tokenize(t)])
    ids, lengths = vocab.encode(texts)
    assert lengths.tolist() == [len(tokenize(t)) for t in texts]
    assert [vocab.itos[i] for i in ids] == [tok for t in texts for tok in tokenize(t)]


@SETTINGS
@given(st.lists(any_text, min_size=1, max_size=6), st.lists(any_text, max_size=6))
def test_featurizer_encodes_any_text(train, other):
    f = Featurizer.fit(train, ngrams=2, buckets=50)
    enc = f.encode(other)
    assert len(enc) == len(other)
    assert enc.ids.size == 0 or (0 <= enc.ids.min() and enc.ids.max() < f.num_features)
