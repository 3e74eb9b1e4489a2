"""Parquet, Arrow IPC / Feather and Hugging Face save_to_disk folders, read through pyarrow (doccat.data.readers)."""
import json

import pyarrow as pa
import pyarrow.feather as feather
import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import pytest

import doccat
from doccat.data import DataError, readers

from conftest import make_corpus

NAMES = ["sports", "business", "science"]


def _table(n=20):
    texts, labels = make_corpus(n)
    return texts, labels, pa.table({"label": labels, "title": [t.split()[0] for t in texts], "text": texts})


def test_parquet_arrow_and_feather_read_as_csv_does(tmp_path):
    texts, labels, table = _table()
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=7)  # several row groups, read one at a time
    with ipc.new_file(tmp_path / "d.arrow", table.schema) as w:
        w.write_table(table, max_chunksize=9)
    feather.write_feather(table, tmp_path / "d.feather")
    for name in ("d.parquet", "d.arrow", "d.feather"):
        assert readers.read(tmp_path / name) == (texts, labels), name
    two = readers.read(tmp_path / "d.parquet", text_columns=["title", "text"])[0]
    assert two[0] == f"{texts[0].split()[0]} {texts[0]}"
    clf = doccat.train(train=str(tmp_path / "d.parquet"), epochs=2, buckets=300, log=lambda *a: None)
    assert clf.metrics_["sizes"]["train"] + clf.metrics_["sizes"]["valid"] == len(texts)


def test_integer_labels_with_class_label_names_keep_their_names(tmp_path):
    texts, labels, _ = _table()
    ids = pa.array([NAMES.index(x) for x in labels], pa.int64())
    features = {"text": {"dtype": "string", "_type": "Value"}, "label": {"names": NAMES, "_type": "ClassLabel"}}
    meta = {b"huggingface": json.dumps({"info": {"features": features}}).encode()}
    table = pa.table({"text": texts, "label": ids}).replace_schema_metadata(meta)
    pq.write_table(table, tmp_path / "hf.parquet")
    assert readers.read(tmp_path / "hf.parquet") == (texts, labels)
    pq.write_table(table.replace_schema_metadata(None), tmp_path / "plain.parquet")  # no names: the numbers
    assert readers.read(tmp_path / "plain.parquet")[1] == [str(NAMES.index(x)) for x in labels]


def test_a_save_to_disk_folder_is_read_not_taken_for_a_folder_per_class(tmp_path):
    datasets = pytest.importorskip("datasets")
    texts, labels, _ = _table()
    ds = datasets.Dataset.from_dict({"text": texts, "label": [NAMES.index(x) for x in labels]})
    ds.cast_column("label", datasets.ClassLabel(names=NAMES)).save_to_disk(str(tmp_path / "saved"))
    assert readers.guess_format(tmp_path / "saved") == "hf"
    assert readers.read(tmp_path / "saved") == (texts, labels)
    assert list(readers.rows(tmp_path / "saved", "hf"))[:2] == list(zip(texts, labels))[:2]


def test_bad_columnar_rows_and_columns_are_named(tmp_path):
    pq.write_table(pa.table({"label": ["a", None, "b"], "text": ["x", "y", ""]}), tmp_path / "b.parquet")
    with pytest.raises(DataError, match=r"b\.parquet:row 2: the label \(label\) is null"):
        readers.read(tmp_path / "b.parquet")
    assert readers.read(tmp_path / "b.parquet", on_bad_row="skip") == (["x"], ["a"])
    with pytest.raises(DataError, match=r"no column named 'body' \(columns: \['label', 'text'\]\)"):
        readers.read(tmp_path / "b.parquet", text_columns=["body"])
    (tmp_path / "x.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match="not a readable parquet file"):
        readers.read(tmp_path / "x.parquet")


def test_a_parquet_file_streams_a_row_group_at_a_time(tmp_path):
    texts, labels, table = _table(40)
    pq.write_table(table, tmp_path / "d.parquet", row_group_size=16)
    assert pq.ParquetFile(tmp_path / "d.parquet").num_row_groups == 8
    clf = doccat.train(train=str(tmp_path / "d.parquet"), streaming=True, optimizer="adagrad", lr=0.5, batch_size=16,
                       epochs=2, weight_decay=0.0, buckets=500, log=lambda *a: None)
    assert sum(clf.metrics_["sizes"].values()) == len(texts) and clf.metrics_["valid"]["accuracy"] > 0.5
