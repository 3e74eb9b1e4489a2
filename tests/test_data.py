"""Readers for every supported format, seeded stratified splitting, and load_splits (files and registry)."""
from __future__ import annotations

import gzip
import json
from collections import Counter

import numpy as np
import pytest

from doccat.config import DataConfig
from doccat.data import DataError, load_splits, readers, registry
from doccat.data.split import stratified_split

from conftest import make_corpus

DATA_DIR = registry.default_data_dir()  # $DOCCAT_DATA_DIR, else ../shared/datasets beside the checkout
needs_real = lambda name: pytest.mark.skipif(  # noqa: E731
    not DATA_DIR.joinpath(name).is_dir(), reason=f"real {name} not in {DATA_DIR}")


# ----------------------------------------------------------------------------------------- readers

def test_csv_with_header_and_named_columns(tmp_path):
    p = tmp_path / "d.csv"
    p.write_text("id,body,category,title\n1,hot pizza,food, Pizza \n2,fast car,auto,Car\n")
    texts, labels = readers.read(p, label_column="category", text_columns=["title", "body"])
    assert labels == ["food", "auto"]
    assert texts == [" Pizza  hot pizza", "Car fast car"]


def test_csv_headerless_index_columns_ag_news_style(tmp_path):
    p = tmp_path / "ag.csv"
    p.write_text('"3","Wall St. Bears","Short-sellers, Wall Street\'s dwindling band"\n'
                 '"1","Title two","Desc two"\n')
    texts, labels = readers.read(p, "csv", label_column="0", text_columns=["1", "2"])
    assert labels == ["3", "1"]
    assert texts == ["Wall St. Bears Short-sellers, Wall Street's dwindling band", "Title two Desc two"]
    # the first row is data, not a header
    assert len(texts) == 2


def test_csv_quoted_commas_and_newlines(tmp_path):
    p = tmp_path / "q.csv"
    p.write_bytes(b'label,text\r\npos,"good, very good"\r\nneg,"line one\nline two, ""quoted"""\r\n'
                  b'pos,plain\r\n')
    texts, labels = readers.read(p)
    assert labels == ["pos", "neg", "pos"]
    assert texts == ["good, very good", 'line one\nline two, "quoted"', "plain"]


def test_csv_blank_lines_skipped_and_short_rows_error(tmp_path):
    p = tmp_path / "s.csv"
    p.write_text("label,text\na,x\n\nb,y\n")
    assert readers.read(p) == (["x", "y"], ["a", "b"])
    p.write_text("label,text\na,x\nb\n")
    with pytest.raises(DataError, match=r"s\.csv:3"):
        readers.read(p)


def test_tsv_with_header(tmp_path):
    p = tmp_path / "d.tsv"
    p.write_text('sentence\tlabel\nit \'s a "charming" film\t1\nnot good , really\t0\n')
    texts, labels = readers.read(p, label_column="label", text_columns=["sentence"])
    assert labels == ["1", "0"]
    assert texts == ['it \'s a "charming" film', "not good , really"]


@pytest.mark.parametrize("gz", [False, True])
def test_jsonl_custom_keys(tmp_path, gz):
    rows = [{"y": "sci", "t": "stars", "b": "and planets", "extra": 1}, {"y": 7, "t": "cats", "b": "dogs"}]
    data = "\n".join(json.dumps(r) for r in rows) + "\n\n"
    p = tmp_path / ("d.jsonl.gz" if gz else "d.jsonl")
    if gz:
        with gzip.open(p, "wt") as f:
            f.write(data)
    else:
        p.write_text(data)
    texts, labels = readers.read(p, label_column="y", text_columns=["t", "b"])
    assert labels == ["sci", "7"]  # ints become strings
    assert texts == ["stars and planets", "cats dogs"]


def test_labels_as_ints_become_strings(tmp_path):
    p = tmp_path / "d.jsonl"
    p.write_text('{"label": 1, "text": "a"}\n{"label": 0, "text": "b"}\n')
    texts, labels = readers.read(p)
    assert labels == ["1", "0"] and all(isinstance(x, str) for x in labels)


def test_fasttext_format(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text("__label__sports the match was great\n\n__label__tech __label__sci new  chip\n")
    texts, labels = readers.read(p)
    assert labels == ["sports", "tech"]  # the first label is kept
    assert texts == ["the match was great", "new chip"]
    p.write_text("__label__a ok\nno label here\n")
    with pytest.raises(DataError, match=r"d\.txt:2"):
        readers.read(p, "fasttext")


def test_folder_format(tmp_path):
    root = tmp_path / "corpus"
    for cls, docs in {"neg": ["bad film", "awful"], "pos": ["great film"]}.items():
        (root / cls).mkdir(parents=True)
        for i, d in enumerate(docs):
            (root / cls / f"{i:02d}.txt").write_text(d)
    texts, labels = readers.read(root)  # format guessed from the directory
    assert labels == ["neg", "neg", "pos"]
    assert texts == ["bad film", "awful", "great film"]
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="empty"):
        readers.read(empty, "folder")


def test_utf8_bom_is_dropped(tmp_path):
    p = tmp_path / "bom.csv"
    p.write_bytes("label,text\nä,café\n".encode("utf-8-sig"))
    texts, labels = readers.read(p)  # finds the "label" column: the BOM is not part of its name
    assert labels == ["ä"] and texts == ["café"]
    j = tmp_path / "bom.jsonl"
    j.write_bytes('{"label": "x", "text": "y"}\n'.encode("utf-8-sig"))
    assert readers.read(j) == (["y"], ["x"])
    ft = tmp_path / "bom.txt"
    ft.write_bytes("__label__a text\n".encode("utf-8-sig"))
    assert readers.read(ft) == (["text"], ["a"])


def test_error_missing_file(tmp_path):
    with pytest.raises(DataError, match="nothere.csv"):
        readers.read(tmp_path / "nothere.csv")


def test_error_directory_where_file_expected(tmp_path):
    d = tmp_path / "adir.csv"
    d.mkdir()
    with pytest.raises(DataError, match="adir.csv"):
        readers.read(d, "csv")


def test_error_missing_column(tmp_path):
    p = tmp_path / "cols.csv"
    p.write_text("label,body\na,b\n")
    with pytest.raises(DataError, match=r"cols\.csv.*'text'"):
        readers.read(p)
    j = tmp_path / "keys.jsonl"
    j.write_text('{"label": "a", "text": "x"}\n{"label": "b"}\n')
    with pytest.raises(DataError, match=r"keys\.jsonl:2.*'text'"):
        readers.read(j)


def test_error_bad_json_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"label": "a", "text": "ok"}\n\n{"label": "b", "text": oops}\n')
    with pytest.raises(DataError) as e:
        readers.read(p)
    assert "bad.jsonl" in str(e.value)
    assert ":3" in str(e.value)


def test_unknown_extension(tmp_path):
    p = tmp_path / "d.xyz"
    p.write_text("x")
    with pytest.raises(DataError, match="format"):
        readers.read(p)


# ------------------------------------------------------------------------------- stratified_split

LABELS = ["a"] * 50 + ["b"] * 30 + ["c"] * 10 + ["d"] * 2 + ["e"] * 1


def test_stratified_split_seeded():
    k1, c1 = stratified_split(LABELS, 0.2, seed=3)
    k2, c2 = stratified_split(LABELS, 0.2, seed=3)
    np.testing.assert_array_equal(k1, k2)
    np.testing.assert_array_equal(c1, c2)
    _, c3 = stratified_split(LABELS, 0.2, seed=4)
    assert c1.tolist() != c3.tolist()


def test_stratified_split_partition_and_proportions():
    kept, carved = stratified_split(LABELS, 0.2, seed=0)
    assert set(kept.tolist()).isdisjoint(carved.tolist())
    assert sorted(kept.tolist() + carved.tolist()) == list(range(len(LABELS)))
    got = Counter(LABELS[i] for i in carved)
    assert got["a"] == 10 and got["b"] == 6 and got["c"] == 2
    # every class with >= 2 examples is on both sides
    kept_classes = {LABELS[i] for i in kept}
    for cls, n in Counter(LABELS).items():
        if n >= 2:
            assert cls in got and cls in kept_classes
    assert got["d"] == 1  # 0.2 * 2 rounds to 0, but both sides get one


def test_stratified_split_tiny_fraction_still_gives_one_per_class():
    kept, carved = stratified_split(LABELS, 0.01, seed=0)
    assert Counter(LABELS[i] for i in carved) == {"a": 1, "b": 1, "c": 1, "d": 1}
    kept, carved = stratified_split(LABELS, 0.99, seed=0)
    assert Counter(LABELS[i] for i in kept) == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert Counter(LABELS[i] for i in carved)["e"] == 1  # a single example follows round(fraction)


# ------------------------------------------------------------------------------------ load_splits

def _write_csv(path, rows):
    import csv
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label", "text"])
        w.writerows(rows)
    return path


def test_load_splits_files_carves_valid_from_train(tmp_path):
    train_rows = [(lab, f"train doc {lab} number {i}") for lab in ("10", "2", "1") for i in range(20)]
    test_rows = [(lab, f"test doc {lab} number {i}") for lab in ("2", "10", "1") for i in range(5)]
    train = _write_csv(tmp_path / "train.csv", train_rows)
    test = _write_csv(tmp_path / "test.csv", test_rows)
    s = load_splits(DataConfig(train=str(train), test=str(test), format="csv", valid_fraction=0.25))
    assert s.classes == ["1", "2", "10"]  # numeric labels sorted numerically
    assert set(s.train.texts).isdisjoint(s.valid.texts)
    assert sorted(s.train.texts + s.valid.texts) == sorted(t for _, t in train_rows)
    # pairs stay together
    assert set(zip(s.train.labels, s.train.texts)) | set(zip(s.valid.labels, s.valid.texts)) == \
        {(lab, t) for lab, t in train_rows}
    assert Counter(s.valid.labels) == {"1": 5, "2": 5, "10": 5}
    # the test file is untouched, in file order
    assert s.test.texts == [t for _, t in test_rows] and s.test.labels == [lab for lab, _ in test_rows]
    assert s.summary() == {"train": 45, "valid": 15, "test": 15}
    # seeded: the same config gives the same split
    s2 = load_splits(DataConfig(train=str(train), test=str(test), format="csv", valid_fraction=0.25))
    assert s2.valid.texts == s.valid.texts


def test_load_splits_files_alphabetical_classes_and_test_fraction(tmp_path):
    rows = [(lab, f"{lab} text {i}") for lab in ("zeta", "alpha", "mid") for i in range(20)]
    train = _write_csv(tmp_path / "all.csv", rows)
    s = load_splits(DataConfig(train=str(train), test_fraction=0.2, valid_fraction=0.1))
    assert s.classes == ["alpha", "mid", "zeta"]
    assert len(s.test) == 12 and Counter(s.test.labels) == {"alpha": 4, "mid": 4, "zeta": 4}
    all_texts = s.train.texts + s.valid.texts + s.test.texts
    assert len(all_texts) == len(set(all_texts)) == 60


def test_load_splits_given_valid_file_is_used(tmp_path):
    train = _write_csv(tmp_path / "tr.csv", [("a", "x1"), ("b", "x2"), ("a", "x3"), ("b", "x4")])
    valid = _write_csv(tmp_path / "va.csv", [("a", "v1"), ("b", "v2")])
    s = load_splits(DataConfig(train=str(train), valid=str(valid)))
    assert s.valid.texts == ["v1", "v2"] and len(s.train) == 4 and s.test is None


def test_load_splits_no_train(tmp_path):
    with pytest.raises(DataError, match="train"):
        load_splits(DataConfig(test=str(tmp_path / "t.csv")))


def test_registry_checksum_mismatch(tmp_path, monkeypatch):
    from doccat.data import download

    def no_network(*a, **k):
        raise AssertionError("tried to download")

    monkeypatch.setattr(download, "fetch", no_network)
    folder = tmp_path / "trec"
    folder.mkdir()
    (folder / "train_5500.label").write_text("NUM:dist How far is it ?\nLOC:city Where is Paris ?\n")
    (folder / "TREC_10.label").write_text("HUM:ind Who was he ?\n")
    with pytest.raises(DataError, match="checksum") as e:
        load_splits(DataConfig(dataset="trec", data_dir=str(tmp_path)))
    assert "train_5500.label" in str(e.value) or "TREC_10.label" in str(e.value)


def test_registry_unknown_dataset():
    with pytest.raises(DataError, match="no_such_set"):
        load_splits(DataConfig(dataset="no_such_set"))


@needs_real("trec")
def test_real_trec():
    s = load_splits(DataConfig(dataset="trec", data_dir=str(DATA_DIR)))
    assert s.classes == ["ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"]
    assert len(s.train) + len(s.valid) == 5452
    assert len(s.test) == 500
    assert 0.08 * 5452 < len(s.valid) < 0.12 * 5452
    assert set(s.train.labels) == set(s.valid.labels) == set(s.test.labels) == set(s.classes)
    assert all(t and not t.startswith(("NUM", "LOC")) for t in s.test.texts[:50])


@needs_real("movie_review_polarity")
def test_real_movie_review_polarity():
    s = load_splits(DataConfig(dataset="movie_review_polarity", data_dir=str(DATA_DIR)))
    assert s.classes == ["neg", "pos"]
    assert len(s.train) + len(s.valid) + len(s.test) == 10662
    assert abs(len(s.test) - 1066) <= 2
    assert Counter(s.test.labels)["neg"] == Counter(s.test.labels)["pos"]
    # valid is then carved (10%) from what is left of train
    assert abs(len(s.valid) - 0.1 * (10662 - len(s.test))) <= 2 and set(s.valid.labels) == {"neg", "pos"}


def test_in_memory_texts_get_the_checks_and_splits_files_get():
    from doccat.config import DataConfig
    from doccat.data import from_memory
    texts, labels = make_corpus(30)
    with pytest.raises(DataError, match="at least 2 classes"):
        from_memory(DataConfig(), texts, ["sports"] * len(texts))
    with pytest.raises(DataError, match="90 texts but 89 labels"):
        from_memory(DataConfig(), texts, labels[:-1])
    splits = from_memory(DataConfig(test_fraction=0.2), texts, labels)
    assert splits.test is not None and len(splits.test) == 18 and len(splits.train) + len(splits.valid) == 72
    numbers = from_memory(DataConfig(), texts, [{"sports": 10, "business": 9, "science": 100}[x] for x in labels])
    assert numbers.classes == ["9", "10", "100"]  # numeric labels in numeric order, as files' are


QUOTED_ROWS = [["category", "headline", "text"], ["sports", "Cup\tfinal", 'He said "go"\nand\tthey went'],
               ["health", "plain", "one line"]]


def test_tsv_quoted_as_csv_quotes_it_is_read_and_plain_tsv_still_is(tmp_path):
    import csv
    p = tmp_path / "q.tsv"
    with open(p, "w", newline="", encoding="utf-8") as f:
        csv.writer(f, delimiter="\t").writerows(QUOTED_ROWS)  # as pandas' to_csv(sep="\t") writes it
    texts, labels = readers.read(p, label_column="category", text_columns=["headline", "text"])
    assert labels == ["sports", "health"] and texts[0] == 'Cup\tfinal He said "go"\nand\tthey went'
    plain = tmp_path / "plain.tsv"  # GLUE style: quotes are text, every tab a column
    plain.write_text('label\ttext\n1\t"a quote" begins it\n0\tit \'s a "charming" film\n')
    assert readers.read(plain) == (['"a quote" begins it', 'it \'s a "charming" film'], ["1", "0"])
    with pytest.raises(DataError, match="give --quotechar '\"'"):  # told the fix that works
        readers.read(p, label_column="category", text_columns=["headline", "text"], quotechar="")


def test_masakhanews_reads_as_its_readme_counts_it():
    from doccat.data.registry import default_data_dir
    root = default_data_dir() / "masakhanews"
    if not root.is_dir():
        pytest.skip("needs ../shared/datasets")
    counts = {"xho": (1032, 147, 297), "pcm": (1060, 152, 305)}
    for lang, want in counts.items():
        splits = load_splits(DataConfig(dataset=f"masakhanews_{lang}"))
        assert (len(splits.train), len(splits.valid), len(splits.test)) == want
        direct = readers.read(root / lang / "train.tsv", label_column="category", text_columns=["headline", "text"])
        assert direct == (splits.train.texts, splits.train.labels)  # the --train form reads the same


def test_excel_csv_semicolons_bom_crlf(tmp_path, logged):
    p = tmp_path / "excel.csv"
    p.write_bytes("\ufefflabel;text\r\nsports;match won\r\nbusiness;\"shares; fell\"\r\n".encode("utf-8"))
    assert readers.read(p) == (["match won", "shares; fell"], ["sports", "business"])
    assert "separated by ';'" in logged()  # the choice is said
    q = tmp_path / "news.csv"  # ';' between fields, "'" around them, as some archives export them
    q.write_text("label;text\nsports;'the match; won'\nbusiness;'it''s up'\n")
    assert readers.read(q, delimiter=";", quotechar="'") == (["the match; won", "it's up"], ["sports", "business"])


def test_utf16_and_utf32_files_are_decoded_by_their_byte_order_mark(tmp_path):
    for codec in ("utf-16", "utf-32"):
        p = tmp_path / f"{codec}.csv"
        p.write_bytes("label,text\nsports,größer Sieg\n".encode(codec))  # the codec writes its BOM
        assert readers.read(p) == (["größer Sieg"], ["sports"]), codec


def test_binary_files_are_named_not_decoded(tmp_path):
    import zipfile
    with zipfile.ZipFile(tmp_path / "book.csv", "w") as z:  # an .xlsx renamed .csv
        z.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(DataError, match="ZIP archive.*export it as CSV"):
        readers.read(tmp_path / "book.csv")
