"""Multi-label and regression data: readers, config keys, load_splits, random splits, and the two
registry corpora (Reuters-21578 ModApte R90, IMDb ratings), on tiny files and on the real ones."""
from __future__ import annotations

import json
import time
from collections import Counter

import numpy as np
import pytest

from doccat.config import ConfigError, DataConfig, from_dict
from doccat.data import DataError, load_splits, readers, registry
from doccat.data.split import random_split

DATA_DIR = registry.default_data_dir()  # $DOCCAT_DATA_DIR, else ../shared/datasets beside the checkout
needs_real = lambda name: pytest.mark.skipif(  # noqa: E731
    not DATA_DIR.joinpath(name).is_dir(), reason=f"real {name} not in {DATA_DIR}")


# --------------------------------------------------------------------------- multi-label readers

def test_csv_label_sep_sorted_deduplicated(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text('label,text\n"sports,news",match report\n"news, sports,news,",again\ntech,chips\n')
    texts, labels = readers.read(p, task="multilabel", label_sep=",")
    assert labels == [["news", "sports"], ["news", "sports"], ["tech"]]
    assert texts == ["match report", "again", "chips"]


def test_tsv_label_sep_and_no_sep_keeps_the_field_whole(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text("text\tlabel\nfirst doc\ta|b\nsecond doc\tb\n")
    assert readers.read(p, task="multilabel", label_sep="|")[1] == [["a", "b"], ["b"]]
    assert readers.read(p, task="multilabel")[1] == [["a|b"], ["b"]]  # no separator: one label per field


def test_jsonl_list_labels_and_empty_list(tmp_path):
    p = tmp_path / "d.jsonl"
    rows = [{"label": ["b", "a", "b"], "text": "x"}, {"label": [], "text": "no label"},
            {"label": "c;a", "text": "a string with a separator"}, {"label": [3, "x"], "text": "ints too"}]
    p.write_text("".join(json.dumps(r) + "\n" for r in rows))
    texts, labels = readers.read(p, task="multilabel", label_sep=";")
    assert labels == [["a", "b"], [], ["a", "c"], ["3", "x"]]
    assert texts[1] == "no label"


@pytest.mark.parametrize("label, why", [
    ('[{"a": 1}]', "a label list must hold strings"),
    ('["a", " "]', "empty label in the list"),
    ('{"a": 1}', "a JSON object"),
    ('""', "empty label"),
])
def test_jsonl_bad_multilabel_names_file_and_line(tmp_path, label, why):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"label": ["a"], "text": "ok"}\n' + f'{{"label": {label}, "text": "x"}}\n')
    with pytest.raises(DataError, match=rf"bad\.jsonl:2: .*{why}"):
        readers.read(p, task="multilabel")


def test_jsonl_list_label_in_classify_is_a_clear_error(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"label": ["a", "b"], "text": "x"}\n')
    with pytest.raises(DataError, match=r"d\.jsonl:1: the label is a JSON list.*--task multilabel"):
        readers.read(p)


def test_fasttext_multilabel_keeps_every_label(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text("__label__tech __label__sci new  chip __label__tech\n__label__sports goal\n")
    texts, labels = readers.read(p, task="multilabel")
    assert labels == [["sci", "tech"], ["sports"]]
    assert texts == ["new chip", "goal"]
    assert readers.read(p)[1] == ["tech", "sports"]  # classify keeps the first
    p.write_text("__label__a __label__ x\n")
    with pytest.raises(DataError, match=r"d\.txt:1: empty label"):
        readers.read(p, task="multilabel")


def test_folder_multilabel_is_one_label_per_file(tmp_path):
    for cls in ("neg", "pos"):
        (tmp_path / "c" / cls).mkdir(parents=True)
        (tmp_path / "c" / cls / "1.txt").write_text(f"a {cls} text")
    assert readers.read(tmp_path / "c", task="multilabel")[1] == [["neg"], ["pos"]]


# ---------------------------------------------------------------------------- regression readers

def test_regression_csv_and_jsonl_targets(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("rating,text\n7,good\n 3.5 ,meh\n-2e1,awful\n")
    texts, labels = readers.read(p, label_column="rating", task="regression")
    assert labels == [7.0, 3.5, -20.0] and all(isinstance(x, float) for x in labels)
    j = tmp_path / "r.jsonl"
    j.write_text('{"y": 1, "text": "a"}\n{"y": 2.25, "text": "b"}\n{"y": "4", "text": "c"}\n')
    assert readers.read(j, label_column="y", task="regression")[1] == [1.0, 2.25, 4.0]
    ft = tmp_path / "r.txt"
    ft.write_text("__label__3.5 some words\n")
    assert readers.read(ft, task="regression") == (["some words"], [3.5])


@pytest.mark.parametrize("value", ["abc", "nan", "inf", "-Infinity", "1,5"])
def test_regression_bad_number_names_file_line_and_value(tmp_path, value):
    p = tmp_path / "r.csv"
    p.write_text(f'rating,text\n7,good\n"{value}",bad one\n')
    with pytest.raises(DataError) as e:
        readers.read(p, label_column="rating", task="regression")
    msg = str(e.value)
    assert msg.startswith(f"{p}:3: target {value!r} is not a finite number")
    assert "--on-bad-row skip" in msg


@pytest.mark.parametrize("value", ["true", "NaN", "Infinity", "[1]", "1" + "0" * 400])
def test_regression_bad_json_number(tmp_path, value):
    p = tmp_path / "r.jsonl"
    p.write_text('{"label": 1, "text": "a"}\n' + f'{{"label": {value}, "text": "b"}}\n')
    with pytest.raises(DataError, match=r"r\.jsonl:2: target .* is not a finite number"):
        readers.read(p, task="regression")


def test_regression_empty_target_and_skip_policy(tmp_path, logged):
    p = tmp_path / "r.csv"
    p.write_text("label,text\n1,a\n,b\nx,c\n2,d\n")
    with pytest.raises(DataError, match=r"r\.csv:3: empty target"):
        readers.read(p, task="regression")
    assert readers.read(p, task="regression", on_bad_row="skip") == (["a", "d"], [1.0, 2.0])
    assert "dropped 2 bad row(s) of 4 (--on-bad-row skip), line(s) 3, 4" in logged()
    readers.read(p, task="regression", on_bad_row="warn")
    assert "r.csv:4: target 'x' is not a finite number" in logged()


def test_unknown_task_in_reader(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("label,text\na,b\n")
    with pytest.raises(DataError, match="task: 'multiclass' is not one of"):
        readers.read(p, task="multiclass")


# ---------------------------------------------------------------------------------- config keys

def test_config_task_and_label_sep():
    cfg = from_dict({"data": {"task": "multilabel", "label_sep": ","}})
    assert (cfg.data.task, cfg.data.label_sep) == ("multilabel", ",")
    assert (DataConfig().task, DataConfig().label_sep) == ("auto", None)
    with pytest.raises(ConfigError, match="data.task: 'multiclass' is not one of auto, classify, multilabel"):
        from_dict({"data": {"task": "multiclass"}})
    with pytest.raises(ConfigError, match='data.label_sep .*needs task = "multilabel"'):
        from_dict({"data": {"label_sep": ","}})
    with pytest.raises(ConfigError, match="data.label_sep must not be empty"):
        from_dict({"data": {"task": "multilabel", "label_sep": ""}})
    with pytest.raises(ConfigError, match="unknown key data.labels_sep"):
        from_dict({"data": {"labels_sep": ","}})


# ---------------------------------------------------------------------------------- load_splits

def _write(path, rows, header="label,text"):
    path.write_text(header + "\n" + "".join(f'"{lab}","{text}"\n' for lab, text in rows))
    return str(path)


def test_load_splits_multilabel_files(tmp_path, logged):
    rows = [(",".join(["a", "b", "c"][: 1 + i % 3]), f"doc {i}") for i in range(40)] + [("z,a", "doc z")]
    train = _write(tmp_path / "train.csv", rows)
    test = _write(tmp_path / "test.csv", [("a,new", "t1"), ("new,other", "t2"), ("b", "t3")])
    cfg = DataConfig(train=train, test=test, task="multilabel", label_sep=",", valid_fraction=0.25)
    s = load_splits(cfg)
    assert s.task == "multilabel" and s.classes == ["a", "b", "c", "z"]
    # labels train lacks are dropped from the test split, with a note; a document may end with none
    assert s.test.labels == [["a"], [], ["b"]]
    err = logged()
    assert "test.csv: dropped 2 label(s) of the test split that never occur in the training data" in err
    assert "'new', 'other'; 3 occurrence(s)" in err
    # the valid split is carved at random (no class to stratify on): seeded, disjoint, pairs kept
    assert len(s.valid) == round(0.25 * 41) and len(s.train) + len(s.valid) == 41
    assert set(s.train.texts).isdisjoint(s.valid.texts)
    assert set(zip(s.valid.texts, map(tuple, s.valid.labels))) <= {(t, tuple(sorted(lab.split(","))))
                                                                   for lab, t in rows}
    assert load_splits(cfg).valid.texts == s.valid.texts
    assert load_splits(DataConfig(**{**vars(cfg), "split_seed": 1})).valid.texts != s.valid.texts


def test_load_splits_multilabel_without_labels_is_an_error(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"label": [], "text": "x"}\n{"label": [], "text": "y"}\n')
    with pytest.raises(DataError, match="no training document has a label"):
        load_splits(DataConfig(train=str(p), task="multilabel"))


def test_load_splits_regression_files(tmp_path):
    rows = [(str(i % 10 + 0.5), f"doc {i}") for i in range(50)]
    train = _write(tmp_path / "train.csv", rows)
    s = load_splits(DataConfig(train=train, task="regression", test_fraction=0.2, valid_fraction=0.1))
    assert s.task == "regression" and s.classes == []
    assert (len(s.train), len(s.valid), len(s.test)) == (36, 4, 10)
    assert all(isinstance(y, float) for y in s.train.labels + s.valid.labels + s.test.labels)
    everything = set(zip(s.train.texts + s.valid.texts + s.test.texts, s.train.labels + s.valid.labels +
                         s.test.labels))
    assert everything == {(t, float(y)) for y, t in rows}  # a partition; pairs kept together
    constant = _write(tmp_path / "c.csv", [("3", f"doc {i}") for i in range(5)])
    with pytest.raises(DataError, match="every training target is 3.0; regression needs targets that vary"):
        load_splits(DataConfig(train=constant, task="regression"))


def test_load_splits_classify_is_unchanged_by_default(tmp_path):
    train = _write(tmp_path / "t.csv", [("a", "x1"), ("b", "x2"), ("a", "x3"), ("b", "x4")])
    s = load_splits(DataConfig(train=train, valid_fraction=0.5))
    assert s.task == "classify" and s.classes == ["a", "b"] and sorted(s.valid.labels) == ["a", "b"]


def test_registry_task_must_fit(tmp_path):
    with pytest.raises(DataError, match="reuters21578 is a multilabel dataset; task 'classify' does not fit"):
        load_splits(DataConfig(dataset="reuters21578", task="classify", data_dir=str(tmp_path)))
    with pytest.raises(DataError, match="imdb_rating is a regression dataset"):
        load_splits(DataConfig(dataset="imdb_rating", task="multilabel", data_dir=str(tmp_path)))


# --------------------------------------------------------------------------------- random_split

def test_random_split_seeded_partition():
    kept, carved = random_split(100, 0.2, seed=3)
    assert len(carved) == 20 and sorted(kept.tolist() + carved.tolist()) == list(range(100))
    assert np.array_equal(carved, random_split(100, 0.2, seed=3)[1])
    assert not np.array_equal(carved, random_split(100, 0.2, seed=4)[1])
    assert [len(c) for _, c in (random_split(2, 0.01, 0), random_split(2, 0.99, 0), random_split(1, 0.5, 0))] \
        == [1, 1, 0]


# ----------------------------------------------------------------------------- Reuters-21578 SGML

def _story(newid, split, topics_attr, topics, inner):
    d = "".join(f"<D>{t}</D>" for t in topics)
    return (f'<REUTERS TOPICS="{topics_attr}" LEWISSPLIT="{split}" CGISPLIT="TRAINING-SET" OLDID="1" '
            f'NEWID="{newid}">\n<DATE>26-FEB-1987</DATE>\n<TOPICS>{d}</TOPICS>\n<PLACES><D>usa</D></PLACES>\n'
            f"{inner}\n</REUTERS>\n")


def _text(title, body):
    return f"<TEXT>&#2;\n<TITLE>{title}</TITLE>\n<DATELINE> X, Feb 26 - </DATELINE><BODY>{body}</BODY></TEXT>"


TINY_SGM = ('<!DOCTYPE lewis SYSTEM "lewis.dtd">\n'
            + _story(1, "TRAIN", "YES", ["grain", "corn", "corn"], _text("CORN &amp; GRAIN", "Prices &lt;up&gt;.\nReuter\n&#3;"))
            + _story(2, "TRAIN", "YES", ["trainonly"], _text("ONLY IN TRAIN", "x"))
            + _story(3, "TRAIN", "NO", [], _text("NO TOPICS", "y"))
            + _story(4, "TEST", "YES", ["corn", "testonly"], '<TEXT TYPE="UNPROC">&#2;\nRAW TABLE\n 1 vs 2\n</TEXT>')
            + _story(5, "NOT-USED", "YES", ["grain"], _text("NOT USED", "z"))
            + _story(6, "TEST", "YES", ["grain"], '<TEXT TYPE="BRIEF">&#2;\n<TITLE>BRIEF ONE</TITLE>\n</TEXT>')
            + _story(7, "TRAIN", "BYPASS", ["grain"], _text("BYPASS", "w")))


def test_read_reuters_sgm(tmp_path):
    p = tmp_path / "reut2-000.sgm"
    p.write_bytes(TINY_SGM.replace("Prices", "Pr\xe9ces").encode("latin-1"))  # 8-bit text
    stories = readers.read_reuters_sgm(p)
    assert [s["newid"] for s in stories] == [str(i) for i in range(1, 8)]
    assert stories[0] == {"newid": "1", "lewissplit": "TRAIN", "topics_attr": "YES",
                          "topics": ["grain", "corn", "corn"], "text": "CORN & GRAIN\nPr\xe9ces <up>.\nReuter"}
    assert stories[3]["text"] == "RAW TABLE\n 1 vs 2"  # no TITLE/BODY: the whole TEXT
    assert stories[5]["text"] == "BRIEF ONE"
    (tmp_path / "empty.sgm").write_text("nothing here\n")
    with pytest.raises(DataError, match="empty.sgm: no <REUTERS> story"):
        readers.read_reuters_sgm(tmp_path / "empty.sgm")


def test_modapte_keeps_topics_of_both_splits(tmp_path):
    p = tmp_path / "reut2-000.sgm"
    p.write_text(TINY_SGM, encoding="latin-1")
    stories = readers.read_reuters_sgm(p)
    # R90 here: grain and corn (in train and test); trainonly/testonly dropped, and with them story 2;
    # TOPICS="NO", "BYPASS" and NOT-USED stories are not ModApte
    assert registry.modapte(stories, "train") == (["CORN & GRAIN\nPrices <up>.\nReuter"], [["corn", "grain"]])
    assert registry.modapte(stories, "test") == (["RAW TABLE\n 1 vs 2", "BRIEF ONE"], [["corn"], ["grain"]])


def test_registry_entries():
    reuters, rating = registry.get("reuters21578"), registry.get("imdb_rating")
    assert (reuters.task, rating.task, registry.get("imdb").task) == ("multilabel", "regression", "classify")
    assert sorted(reuters.files) == [f"reut2-{i:03d}.sgm" for i in range(22)]
    assert all(len(sha) == 64 for sha in reuters.files.values())
    (key, source), = reuters.sources.items()
    assert sorted(key.split()) == sorted(reuters.files) and source.unpack == "reuters_tarball"
    assert source.url == "https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz"
    assert rating.files == registry.get("imdb").files and rating.sources == registry.get("imdb").sources


# --------------------------------------------------------------------------------- real corpora

@needs_real("reuters21578")
def test_real_reuters_modapte_r90():
    start = time.perf_counter()
    s = load_splits(DataConfig(dataset="reuters21578", data_dir=str(DATA_DIR)))
    assert time.perf_counter() - start < 10  # both splits parse all 22 files; ~1.5 s here
    assert s.task == "multilabel" and len(s.classes) == 90 and s.classes == sorted(s.classes)
    # 7,770 train stories with an R90 topic (the ApteMod distribution has 7,769), 3,019 test
    assert len(s.train) + len(s.valid) == 7770 and len(s.test) == 3019
    assert abs(len(s.valid) - 777) <= 1
    test_counts = Counter(t for labels in s.test.labels for t in labels)
    assert sum(test_counts.values()) == 3744 and test_counts["earn"] == 1087 and test_counts["acq"] == 719
    assert all(labels and labels == sorted(set(labels)) for labels in s.train.labels + s.test.labels)
    assert set(test_counts) <= set(s.classes)
    assert s.test.texts[0].startswith("ASIAN EXPORTERS FEAR DAMAGE FROM U.S.-JAPAN RIFT\nMounting trade")
    assert not any("&lt;" in t or "&#" in t or "\x03" in t for t in s.train.texts + s.test.texts)


@needs_real("imdb")
def test_real_imdb_rating():
    s = load_splits(DataConfig(dataset="imdb_rating", data_dir=str(DATA_DIR)))
    assert s.task == "regression" and s.classes == []
    assert len(s.train) + len(s.valid) == 25000 and len(s.test) == 25000 and len(s.valid) == 2500
    assert set(s.train.labels + s.valid.labels + s.test.labels) == {1.0, 2.0, 3.0, 4.0, 7.0, 8.0, 9.0, 10.0}
    # the folder README's counts of the test split
    assert Counter(s.test.labels) == {1.0: 5022, 2.0: 2302, 3.0: 2541, 4.0: 2635,
                                      7.0: 2307, 8.0: 2850, 9.0: 2344, 10.0: 4999}
    assert Counter(s.train.labels + s.valid.labels)[10.0] == 4732
