"""fetch() against a local HTTP server serving tiny fake archives: no test touches the internet."""
from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import socket
import tarfile
import threading
import zipfile
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from doccat.config import DataConfig
from doccat.data import DataError, load_splits, readers, registry
from doccat.data.download import fetch
from doccat.data.registry import DatasetSpec, Source


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def server(tmp_path_factory):
    """(folder served, base URL) of an HTTP server on 127.0.0.1; the folder is not under tmp_path."""
    root = tmp_path_factory.mktemp("www")
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_tar(path: Path, members: dict[str, bytes]) -> bytes:
    with tarfile.open(path, "w:gz") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    return path.read_bytes()


def make_spec(files: dict[str, bytes], key: str, source: Source, **kw) -> DatasetSpec:
    return DatasetSpec(name="tiny", description="test", folder="tiny",
                       files={n: sha256(d) for n, d in files.items()}, splits={"train": tuple(files)},
                       read=lambda folder, split: ([], []), sources={key: source}, **kw)


def jsonl_gz(path: Path) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).decode("utf-8").splitlines()]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_copy_downloads_and_checks_md5_and_registry_sha(server, tmp_path, logged):
    root, url = server
    data = b"1,hello world\n2,good bye\n"
    (root / "train.csv").write_bytes(data)
    spec = make_spec({"train.csv": data}, "train.csv",
                     Source(f"{url}/train.csv", "md5:" + hashlib.md5(data).hexdigest()))
    folder = tmp_path / "data" / "tiny"  # does not exist yet: fetch creates it
    fetch(spec, folder, ["train.csv"])
    assert (folder / "train.csv").read_bytes() == data
    assert leftovers(folder) == ["train.csv"]  # no temp files left over
    assert f"downloading {url}/train.csv -> {folder}" in logged()


def test_newsgroups_tarball_to_sorted_jsonl(server, tmp_path):
    root, url = server
    posts = {  # ids 9 and 10 check the numeric sort; \xff checks the latin-1 decoding
        "20news-bydate-train/comp.graphics/10": b"From: b\n\ncube\n",
        "20news-bydate-train/comp.graphics/9": b"From: a\n\nsphere\xff\n",
        "20news-bydate-train/alt.atheism/51060": b"god?\r\n",
        "20news-bydate-train/alt.atheism/49960": b"FAQ",
        "20news-bydate-test/alt.atheism/53068": b"bible quiz",
        "20news-bydate-test/alt.atheism/100": b"early",
        "20news-bydate-test/comp.graphics/38758": b"pixels",
        "20news-bydate-test/comp.graphics/38757": b"",
    }
    archive = make_tar(root / "20news-bydate.tar.gz", posts)
    names = ["20news-bydate-train.jsonl.gz", "20news-bydate-test.jsonl.gz"]
    spec = make_spec(dict.fromkeys(names, b""), " ".join(names),
                     Source(f"{url}/20news-bydate.tar.gz", "sha256:" + sha256(archive), "newsgroups_tarball"))
    folder = tmp_path / "tiny"
    fetch(spec, folder, names[:1])  # one file missing still writes both splits from the one download
    assert jsonl_gz(folder / names[0]) == [
        {"label": "alt.atheism", "label_id": 0, "id": "49960", "text": "FAQ"},
        {"label": "alt.atheism", "label_id": 0, "id": "51060", "text": "god?\r\n"},
        {"label": "comp.graphics", "label_id": 1, "id": "9", "text": "From: a\n\nsphere\u00ff\n"},
        {"label": "comp.graphics", "label_id": 1, "id": "10", "text": "From: b\n\ncube\n"},
    ]
    assert jsonl_gz(folder / names[1]) == [
        {"label": "alt.atheism", "label_id": 0, "id": "100", "text": "early"},
        {"label": "alt.atheism", "label_id": 0, "id": "53068", "text": "bible quiz"},
        {"label": "comp.graphics", "label_id": 1, "id": "38757", "text": ""},
        {"label": "comp.graphics", "label_id": 1, "id": "38758", "text": "pixels"},
    ]
    first = gzip.decompress((folder / names[0]).read_bytes()).splitlines()[0]
    assert first == b'{"label": "alt.atheism", "label_id": 0, "id": "49960", "text": "FAQ"}'
    assert leftovers(folder) == sorted(names)


def test_imdb_tarball_to_jsonl_neg_then_pos(server, tmp_path):
    root, url = server
    reviews = {
        "aclImdb/train/pos/3_9.txt": "Bromwell High<br />ok",
        "aclImdb/train/neg/10_2.txt": "bad",
        "aclImdb/train/neg/2_1.txt": "caf\u00e9 awful",
        "aclImdb/train/unsup/0_0.txt": "ignored",
        "aclImdb/train/urls_pos.txt": "ignored",
        "aclImdb/train/labeledBow.feat": "ignored",
        "aclImdb/README": "ignored",
        "aclImdb/test/neg/0_4.txt": "meh",
        "aclImdb/test/pos/1_10.txt": "great",
    }
    archive = make_tar(root / "aclImdb_v1.tar.gz", {k: v.encode() for k, v in reviews.items()})
    names = ["aclImdb_train.jsonl.gz", "aclImdb_test.jsonl.gz"]
    spec = make_spec(dict.fromkeys(names, b""), " ".join(names),
                     Source(f"{url}/aclImdb_v1.tar.gz", "md5:" + hashlib.md5(archive).hexdigest(), "imdb_tarball"))
    fetch(spec, tmp_path, names)
    assert jsonl_gz(tmp_path / names[0]) == [
        {"label": "neg", "id": 2, "rating": 1, "text": "caf\u00e9 awful"},
        {"label": "neg", "id": 10, "rating": 2, "text": "bad"},
        {"label": "pos", "id": 3, "rating": 9, "text": "Bromwell High<br />ok"},
    ]
    assert jsonl_gz(tmp_path / names[1]) == [
        {"label": "neg", "id": 0, "rating": 4, "text": "meh"},
        {"label": "pos", "id": 1, "rating": 10, "text": "great"},
    ]
    raw = (tmp_path / names[0]).read_bytes()
    assert raw[4:8] == b"\0\0\0\0"  # gzip mtime 0: the same input gives the same bytes
    assert "caf\u00e9".encode() in gzip.decompress(raw)  # UTF-8 as is, not \u escapes


def test_glue_zip_extracts_byte_for_byte_and_warns_unverified(server, tmp_path, logged):
    root, url = server
    train, dev = b"sentence\tlabel\nhide new secretions \t0\n", b"sentence\tlabel\nit 's charming \t1\n"
    with zipfile.ZipFile(root / "SST-2.zip", "w") as z:
        z.writestr("SST-2/train.tsv", train)
        z.writestr("SST-2/dev.tsv", dev)
        z.writestr("SST-2/test.tsv", b"index\tsentence\n0\tx\n")
    spec = make_spec({"train.tsv": train, "dev.tsv": dev}, "train.tsv dev.tsv",
                     Source(f"{url}/SST-2.zip", "", "glue_zip"))
    fetch(spec, tmp_path, ["train.tsv", "dev.tsv"])
    assert (tmp_path / "train.tsv").read_bytes() == train
    assert (tmp_path / "dev.tsv").read_bytes() == dev
    assert leftovers(tmp_path) == ["dev.tsv", "train.tsv"]  # test.tsv is not wanted
    assert "could not be verified" in logged()


def test_polarity_tarball_extracts_and_rejects_a_variant(server, tmp_path):
    root, url = server
    pos, neg = b"a gem .\n", b"simplistic , silly and tedious .\n"
    make_tar(root / "good.tar.gz", {"rt-polaritydata/rt-polarity.pos": pos, "rt-polaritydata/rt-polarity.neg": neg})
    make_tar(root / "variant.tar.gz", {"rt-polaritydata/rt-polarity.pos": pos,
                                       "rt-polaritydata/rt-polarity.neg": b"bender \x97 and i\n"})
    names = ["rt-polarity.pos", "rt-polarity.neg"]
    files = {"rt-polarity.pos": pos, "rt-polarity.neg": neg}
    good = make_spec(files, " ".join(names), Source(f"{url}/good.tar.gz", "", "polarity_tarball"))
    fetch(good, tmp_path / "good", names)
    assert [(tmp_path / "good" / n).read_bytes() for n in names] == [pos, neg]
    variant = make_spec(files, " ".join(names), Source(f"{url}/variant.tar.gz", "", "polarity_tarball"))
    with pytest.raises(DataError, match="rt-polarity.neg"):
        fetch(variant, tmp_path / "variant", names)
    assert leftovers(tmp_path / "variant") == []  # not even the .pos that did match


@pytest.mark.parametrize("kind", ["copy", "newsgroups_tarball"])
def test_wrong_checksum_raises_and_leaves_nothing(server, tmp_path, kind):
    root, url = server
    (root / "blob").write_bytes(b"not what the registry published")
    spec = make_spec({"f": b"x"}, "f", Source(f"{url}/blob", "sha256:" + "0" * 64, kind))
    with pytest.raises(DataError, match=f"{url}/blob"):
        fetch(spec, tmp_path, ["f"])
    assert leftovers(tmp_path) == []


def test_copy_differing_from_registry_sha_raises_and_leaves_nothing(server, tmp_path):
    root, url = server
    (root / "f").write_bytes(b"another version")
    spec = make_spec({"f": b"the registry's version"}, "f", Source(f"{url}/f", ""))
    with pytest.raises(DataError, match="f: the download holds a version"):
        fetch(spec, tmp_path, ["f"])
    assert leftovers(tmp_path) == []


def test_unreachable_url_names_the_url_and_the_way_out(tmp_path):
    with socket.socket() as s:  # a port nothing listens on once the socket is closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/train.csv"
    spec = make_spec({"train.csv": b""}, "train.csv", Source(url, ""))
    with pytest.raises(DataError) as err:
        fetch(spec, tmp_path, ["train.csv"])
    assert url in str(err.value) and "DOCCAT_DATA_DIR" in str(err.value)
    assert leftovers(tmp_path) == []


def test_http_error_and_missing_source_raise_data_error(server, tmp_path):
    _, url = server
    spec = make_spec({"a": b""}, "a", Source(f"{url}/nope", ""))
    with pytest.raises(DataError, match=f"{url}/nope"):  # 404
        fetch(spec, tmp_path, ["a"])
    with pytest.raises(DataError, match="no download source"):
        fetch(spec, tmp_path, ["b"])


def test_load_splits_fetches_a_missing_registry_file(server, tmp_path, monkeypatch):
    root, url = server
    data = "".join(f"{'pos' if i % 2 else 'neg'}\ttext number {i}\n" for i in range(20)).encode()
    (root / "all.tsv").write_bytes(data)
    spec = DatasetSpec(
        name="tiny", description="test", folder="tiny", files={"all.tsv": sha256(data)},
        splits={"train": ("all.tsv",)},
        read=lambda folder, split: readers.read_delimited(folder / "all.tsv", "\t", label_column="0", text_columns=["1"], header=False),
        sources={"all.tsv": Source(f"{url}/all.tsv", "sha256:" + sha256(data))},
        test_fraction=0.2)
    monkeypatch.setattr(registry, "REGISTRY", {"tiny": spec})
    splits = load_splits(DataConfig(dataset="tiny", data_dir=str(tmp_path)))
    assert (tmp_path / "tiny" / "all.tsv").read_bytes() == data
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 20
    assert sorted(splits.classes) == ["neg", "pos"]


def test_download_that_is_not_the_archive_raises_data_error(server, tmp_path):
    root, url = server
    (root / "SST-2.zip").write_bytes(b"<html>moved</html>")
    spec = make_spec({"train.tsv": b""}, "train.tsv", Source(f"{url}/SST-2.zip", "", "glue_zip"))
    with pytest.raises(DataError, match="not the archive expected"):
        fetch(spec, tmp_path, ["train.tsv"])
    assert leftovers(tmp_path) == []


REUT_A = (b'<!DOCTYPE lewis SYSTEM "lewis.dtd">\n<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" NEWID="1">\n'
          b"<TOPICS><D>grain</D><D>corn</D></TOPICS><TEXT><TITLE>CORN</TITLE><BODY>Up \xe9.</BODY></TEXT>\n</REUTERS>\n"
          b'<REUTERS TOPICS="YES" LEWISSPLIT="TRAIN" NEWID="2">\n'
          b"<TOPICS><D>grain</D></TOPICS><TEXT><TITLE>WHEAT</TITLE><BODY>Down.</BODY></TEXT>\n</REUTERS>\n")
REUT_B = (b'<REUTERS TOPICS="YES" LEWISSPLIT="TEST" NEWID="3">\n'
          b"<TOPICS><D>grain</D></TOPICS><TEXT><TITLE>GRAIN</TITLE><BODY>Same.</BODY></TEXT>\n</REUTERS>\n")
REUT = {"reut2-000.sgm": REUT_A, "reut2-001.sgm": REUT_B}


@pytest.mark.parametrize("prefix", ["", "./", "reuters21578/"])  # the UCI tarball has them at its top level
def test_reuters_tarball_extracts_the_sgm_files(server, tmp_path, prefix):
    root, url = server
    make_tar(root / "reuters21578.tar.gz", {f"{prefix}README.txt": b"readme", f"{prefix}lewis.dtd": b"dtd",
                                           **{prefix + n: d for n, d in REUT.items()}})
    spec = make_spec(REUT, " ".join(REUT), Source(f"{url}/reuters21578.tar.gz", "", "reuters_tarball"))
    fetch(spec, tmp_path, list(REUT))
    assert {n: (tmp_path / n).read_bytes() for n in REUT} == REUT
    assert leftovers(tmp_path) == sorted(REUT)


def test_reuters_tarball_missing_or_variant_file_leaves_nothing(server, tmp_path):
    root, url = server
    make_tar(root / "short.tar.gz", {"reut2-000.sgm": REUT_A})
    make_tar(root / "variant.tar.gz", {"reut2-000.sgm": REUT_A, "reut2-001.sgm": REUT_B + b"edited"})
    for name, why in [("short", "not the archive expected"), ("variant", "reut2-001.sgm: the download holds")]:
        spec = make_spec(REUT, " ".join(REUT), Source(f"{url}/{name}.tar.gz", "", "reuters_tarball"))
        with pytest.raises(DataError, match=why):
            fetch(spec, tmp_path / name, list(REUT))
        assert leftovers(tmp_path / name) == []


def test_load_splits_fetches_a_multilabel_registry_corpus(server, tmp_path, monkeypatch):
    root, url = server
    make_tar(root / "reuters21578.tar.gz", REUT)
    spec = DatasetSpec(
        name="tiny_reuters", description="test", folder="tiny_reuters", files={n: sha256(d) for n, d in REUT.items()},
        splits={"train": tuple(REUT), "test": tuple(REUT)},
        read=lambda folder, split: registry.modapte(
            [s for n in REUT for s in readers.read_reuters_sgm(folder / n)], split),
        sources={" ".join(REUT): Source(f"{url}/reuters21578.tar.gz", "", "reuters_tarball")},
        task="multilabel")
    monkeypatch.setattr(registry, "REGISTRY", {"tiny_reuters": spec})
    s = load_splits(DataConfig(dataset="tiny_reuters", data_dir=str(tmp_path), valid_fraction=0.5))
    assert s.task == "multilabel" and s.classes == ["grain"]  # corn has no test story: not kept
    assert sorted(s.train.texts + s.valid.texts) == ["CORN\nUp \xe9.", "WHEAT\nDown."]
    assert s.train.labels + s.valid.labels == [["grain"], ["grain"]] and s.test.labels == [["grain"]]


def test_zip_unpack_extracts_the_member_and_checks_it(server, tmp_path):
    root, url = server
    csv_bytes = "cat,label,review\n书籍,1,很好\n".encode()
    with zipfile.ZipFile(root / "shop.zip", "w") as z:
        z.writestr("shop.csv", csv_bytes)
    spec = make_spec({"shop.csv": csv_bytes}, "shop.csv", Source(f"{url}/shop.zip", "", "zip"))
    fetch(spec, tmp_path, ["shop.csv"])
    assert (tmp_path / "shop.csv").read_bytes() == csv_bytes and leftovers(tmp_path) == ["shop.csv"]


def test_the_new_registry_corpora_have_checked_sources():
    names = [f"masakhanews_{lang}" for lang in registry.MASAKHANEWS] + ["online_shopping_10_cats", "chnsenticorp",
                                                                          "waimai_10k"]
    for name in names:
        spec = registry.get(name)
        assert set(spec.files) == {n for key in spec.sources for n in key.split()}, name
        for key, source in spec.sources.items():
            assert source.url.startswith("https://raw.githubusercontent.com/") and "/" + ("819be05" if "masakha"
                                                                                       in name else "a0b781d") in source.url
            # every file is checked: the download's own sha256, or (a zip) the member's against spec.files
            assert source.checksum == f"sha256:{spec.files[key]}" or source.unpack == "zip", name
    assert len(names) == 12 and registry.get("masakhanews_xho").splits["valid"] == ("dev.tsv",)
