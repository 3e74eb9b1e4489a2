"""Bad input through the `doccat` command: each broken file gets its own clear error and exit code 2.

The corpus below is written by the tests themselves. Most cases call `cli.main` in-process (the same
function `python -m doccat` runs, so its return value is the exit code; an unexpected exception
would fail the test with a traceback); `test_real_process_exit_code` checks a few in a subprocess.
"""
from __future__ import annotations

import contextlib
import errno
import gzip
import json
import os
import subprocess
import sys

import pytest

from doccat import artifacts, cli
from doccat.config import DataConfig
from doccat.data import DataError, load_splits, readers

TRAIN_FLAGS = ["--epochs", "1", "--embed-dim", "8", "--buckets", "100", "--quiet"]
GOOD_CSV = "label,text\n" + "".join(f"{lab},{lab} words number {i}\n" for lab in ("a", "b") for i in range(10))

GOOD_JSONL = "".join(json.dumps({"label": "ab"[i % 2], "text": f"doc {i}"}) + "\n" for i in range(500)).encode()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# name -> (file name, content: bytes | "DIR" | None (not written), extra flags, expected message text)
CASES = {
    "csv short row": ("d.csv", b"label,text\na,x\nb\n", [],
                      "d.csv:3: expected 2 columns (as in the header), found 1"),
    "csv long row": ("d.csv", b"label,text\na,x\nb,y,z\n", [],
                     "d.csv:3: expected 2 columns (as in the header), found 3"),
    "csv unclosed quote": ("d.csv", b'label,text\na,x\nb,"never closed\nc,z\n', [],
                           "d.csv:3: malformed CSV row (unexpected end of data)"),
    "csv text after quote": ("d.csv", b'label,text\na,"x"y\n', [],
                             "d.csv:2: malformed CSV row (',' expected after '\"')"),
    "csv empty text": ("d.csv", b"label,text\na,x\nb,   \n", [], "d.csv:3: empty text"),
    "csv empty label": ("d.csv", b"label,text\na,x\n ,y\n", [], "d.csv:3: empty label"),
    "csv header only": ("d.csv", b"label,text\n", [], "d.csv: no rows; the file is empty (or has only a header)"),
    "csv empty file": ("d.csv", b"", [], "d.csv: no rows; the file is empty (or has only a header)"),
    "csv non-utf8 byte": ("d.csv", b"label,text\na,x\nb,caf\xe9\n", [],
                          "d.csv:3: byte 0xe9 at byte offset 20 is not valid utf-8; give the file's encoding, "
                          "e.g. --encoding latin-1"),
    "csv no such column": ("d.csv", b"category,text\na,x\n", [], "d.csv: no column named 'label'"),
    "csv column index out of range": ("d.csv", b"a,x\nb,y\n", ["--label-column", "5", "--text-columns", "1"],
                                      "d.csv: column 5 is out of range: rows have 2 column(s)"),
    "tsv wrong columns": ("d.tsv", b"text\tlabel\nhello\ta\nbye\n", [], "d.tsv:3: expected 2 columns"),
    "tsv non-utf8 byte": ("d.tsv", b"text\tlabel\nhello\ta\n\xff\tb\n", [], "d.tsv:3: byte 0xff at byte offset 19"),
    "jsonl invalid json": ("d.jsonl", b'{"label": "a", "text": "x"}\n{"label": "b", text}\n', [],
                           "d.jsonl:2: not valid JSON (Expecting property name enclosed in double quotes"),
    "jsonl not an object": ("d.jsonl", b'{"label": "a", "text": "x"}\n["b", "y"]\n', [],
                            "d.jsonl:2: a JSON list, expected an object"),
    "jsonl missing label": ("d.jsonl", b'{"text": "x"}\n', [], "d.jsonl:1: key 'label' is missing or null"),
    "jsonl null label": ("d.jsonl", b'{"label": null, "text": "x"}\n', [], "d.jsonl:1: key 'label' is missing or null"),
    "jsonl empty label": ("d.jsonl", b'{"label": "", "text": "x"}\n', [], "d.jsonl:1: empty label"),
    "jsonl whitespace text": ("d.jsonl", b'{"label": "a", "text": " \\t\\n"}\n', [], "d.jsonl:1: empty text"),
    "jsonl non-utf8 byte": ("d.jsonl", b'{"label": "a", "text": "x"}\n{"label": "b", "text": "\x80"}\n', [],
                            "d.jsonl:2: byte 0x80 at byte offset 52 is not valid utf-8"),
    "jsonl.gz corrupt": ("d.jsonl.gz", b"\x1f\x8b\x08\x00garbage, not deflate data" * 4, [],
                         "d.jsonl.gz: not a valid gzip file"),
    "jsonl.gz truncated": ("d.jsonl.gz", gz(GOOD_JSONL)[:-30], [], "d.jsonl.gz: not a valid gzip file"),
    "not gzip at all": ("d.csv.gz", b"label,text\na,x\n", [], "d.csv.gz: not a valid gzip file"),
    "fasttext no label": ("d.txt", b"__label__a x\njust some words\n", [],
                          "d.txt:2: no label (expected a word starting with '__label__')"),
    "fasttext empty label": ("d.txt", b"__label__ x y\n", [], "d.txt:1: empty label"),
    "fasttext label only": ("d.txt", b"__label__a x\n__label__b\n", [], "d.txt:2: empty text"),
    "fasttext blank lines only": ("d.txt", b"\n  \r\n\t\n", [], "d.txt: no rows; the file is empty (or has only a header)"),
    "fasttext cp1252 quote": ("d.txt", b"__label__a \x93quoted\x94\n", [], "d.txt:1: byte 0x93 at byte offset 11"),
    "file not there": ("missing.csv", None, [], "missing.csv: file not found"),
    "directory for a file": ("d.csv", "DIR", ["--format", "csv"], "d.csv: is a directory, expected a file"),
    "unknown extension": ("d.xyz", b"a,b\n", [], "d.xyz: can't tell the format from the name; set --format"),
    "unknown encoding": ("d.csv", GOOD_CSV.encode(), ["--encoding", "klingon"], "unknown encoding 'klingon'"),
    "bad policy": ("d.csv", GOOD_CSV.encode(), ["--on-bad-row", "ignore"],
                   "data.on_bad_row: 'ignore' is not one of error, skip, warn"),
    "single class": ("d.csv", b"label,text\n" + b"".join(b"a,doc %d\n" % i for i in range(20)), [],
                     "d.csv: every training row has the label 'a'; a classifier needs at least 2 classes"),
}


def run_cli(*args):
    return cli.main([str(a) for a in args])


def write_case(tmp_path, name, content):
    path = tmp_path / name
    if content == "DIR":
        path.mkdir()
    elif content is not None:
        path.write_bytes(content)
    return path


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_broken_training_file(case, tmp_path, capsys):
    name, content, flags, expected = CASES[case]
    path = write_case(tmp_path, name, content)
    rc = run_cli("train", "--train", path, *flags, *TRAIN_FLAGS, "--out", tmp_path / "run")
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("doccat: error: ") and "Traceback" not in err
    assert expected in err
    assert not (tmp_path / "run").exists()


def test_corpus_is_big_enough():
    assert len(CASES) >= 25


def folder_corpus(root, classes, per_class: int, word: str):
    """root/<class>/<i>.txt, each file "<class> <word> <i>"."""
    for cls in classes:
        (root / cls).mkdir(parents=True)
        for i in range(per_class):
            (root / cls / f"{i}.txt").write_text(f"{cls} {word} {i}")
    return root


def test_folder_format_bad_files(tmp_path, capsys):
    root = folder_corpus(tmp_path / "corpus", ("neg", "pos"), 5, "text")
    (root / "neg" / "5.txt").write_bytes(b"ok \xff bad")
    assert run_cli("train", "--train", root, *TRAIN_FLAGS, "--out", tmp_path / "r1") == 2
    assert "corpus:neg/5.txt: byte 0xff at byte offset 3 is not valid utf-8" in capsys.readouterr().err
    (root / "neg" / "5.txt").write_text("  \n")
    assert run_cli("train", "--train", root, *TRAIN_FLAGS, "--out", tmp_path / "r2") == 2
    assert "corpus:neg/5.txt: empty text" in capsys.readouterr().err
    assert run_cli("train", "--train", root, "--on-bad-row", "skip", *TRAIN_FLAGS, "--out", tmp_path / "r3") == 0
    assert "corpus: dropped 1 bad row(s) of 11 (--on-bad-row skip), file(s) neg/5.txt" in capsys.readouterr().err


# --------------------------------------------------------------------- labels never seen in training

@pytest.fixture
def run_dir(tmp_path, capsys):
    (tmp_path / "train.csv").write_text(GOOD_CSV)
    assert run_cli("train", "--train", tmp_path / "train.csv", *TRAIN_FLAGS, "--out", tmp_path / "run") == 0
    capsys.readouterr()
    return tmp_path / "run"


def test_unseen_label_in_test_file_at_training(tmp_path, capsys):
    (tmp_path / "train.csv").write_text(GOOD_CSV)
    (tmp_path / "test.csv").write_text("label,text\na,x\nzebra,y\n")
    rc = run_cli("train", "--train", tmp_path / "train.csv", "--test", tmp_path / "test.csv", *TRAIN_FLAGS,
                 "--out", tmp_path / "run")
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "test.csv: label(s) 'zebra' of the test split never occur in the training data" in err


def test_unseen_label_at_evaluation(run_dir, tmp_path, capsys):
    (tmp_path / "eval.csv").write_text("label,text\na,x\nzebra,y\n")
    assert run_cli("evaluate", run_dir, "--file", tmp_path / "eval.csv") == 2
    err = capsys.readouterr().err
    assert "doccat: error: " in err and "'zebra' never seen in training (known: a, b)" in err


def test_bad_files_at_evaluation_and_prediction(run_dir, tmp_path, capsys):
    (tmp_path / "eval.csv").write_text("label,text\na,x\nb\n")
    assert run_cli("evaluate", run_dir, "--file", tmp_path / "eval.csv") == 2
    assert "eval.csv:3: expected 2 columns" in capsys.readouterr().err
    (tmp_path / "texts.txt").write_bytes(b"fine\nna\xefve\n")
    assert run_cli("predict", run_dir, "--file", tmp_path / "texts.txt") == 2
    assert "texts.txt:2: byte 0xef at byte offset 7 is not valid utf-8" in capsys.readouterr().err
    assert run_cli("predict", run_dir, "--file", tmp_path / "texts.txt", "--encoding", "latin-1") == 0
    assert len(capsys.readouterr().out.splitlines()) == 2
    assert run_cli("predict", run_dir, "--file", tmp_path / "nothere.txt") == 2
    assert "nothere.txt: file not found" in capsys.readouterr().err


def test_real_process_exit_code(tmp_path):
    """The same errors from a real `python -m doccat` process: exit status 2, one line, no traceback."""
    (tmp_path / "d.csv").write_bytes(b'label,text\na,"x"y\n')
    (tmp_path / "d.jsonl").write_bytes(b'{"label": "a", "text": "\xff"}\n')
    for path, expected in [(tmp_path / "d.csv", "d.csv:2: malformed CSV row"),
                           (tmp_path / "d.jsonl", "d.jsonl:1: byte 0xff at byte offset 24")]:
        out = subprocess.run([sys.executable, "-m", "doccat", "train", "--train", str(path)],
                             capture_output=True, text=True)
        assert out.returncode == 2 and "Traceback" not in out.stderr
        assert out.stderr.startswith("doccat: error: ") and expected in out.stderr


# --------------------------------------------------------------------------- accepted oddities

def test_bom_crlf_and_huge_line_are_accepted(tmp_path, capsys):
    huge = "word " * 400_000  # one 2 MB field, above the csv module's default limit
    rows = [("a", huge)] + [(lab, f"{lab} doc {i}") for lab in ("a", "b") for i in range(10)]
    data = "label,text\r\n" + "".join(f"{lab},{text}\r\n" for lab, text in rows)
    path = tmp_path / "d.csv"
    path.write_bytes(data.encode("utf-8-sig"))
    texts, labels = readers.read(path)
    assert texts[0] == huge and labels == [lab for lab, _ in rows]
    assert not any("\r" in t for t in texts)
    assert run_cli("train", "--train", path, *TRAIN_FLAGS, "--out", tmp_path / "run") == 0
    j = tmp_path / "d.jsonl"
    j.write_bytes(b"\xef\xbb\xbf" + b"".join(json.dumps({"label": lab, "text": t}).encode() + b"\r\n"
                                             for lab, t in rows))
    assert readers.read(j) == (texts, labels)
    ft = tmp_path / "d.txt"
    ft.write_bytes(("\ufeff" + "".join(f"__label__{lab} {t}\r\n" for lab, t in rows[1:])).encode())
    assert readers.read(ft) == (texts[1:], labels[1:])


def test_class_with_one_example_stays_in_train(tmp_path, capsys):
    """A single example can't be on both sides: with valid/test fractions up to 0.5 (round() gives 0)
    it stays in train, so the class is learned; it then has no validation example."""
    data = GOOD_CSV + "lonely,the only example of its class\n"
    (tmp_path / "d.csv").write_text(data)
    s = load_splits(DataConfig(train=str(tmp_path / "d.csv"), valid_fraction=0.2, test_fraction=0.3))
    assert "lonely" in s.train.labels and "lonely" not in s.valid.labels + s.test.labels
    assert run_cli("train", "--train", tmp_path / "d.csv", *TRAIN_FLAGS, "--out", tmp_path / "run") == 0


# ------------------------------------------------------------------------------ skip / warn policy

def mixed_csv(tmp_path):
    """20 data rows (lines 2..21), 6 of them bad, one bad row per kind."""
    lines = [f"{'ab'[i % 2]},good text {i}" for i in range(20)]
    lines[1] = "b"  # line 3: too few columns
    lines[3] = "b,   "  # line 5: empty text
    lines[5] = ",orphan text"  # line 7: empty label
    lines[7] = 'b,"quoted"then more'  # line 9: malformed quoting
    lines[10] = "a,x,y"  # line 12: too many columns
    data = ("label,text\n" + "\n".join(lines) + "\n").encode()
    data = data.replace(b"good text 14", b"g\xf6\xf6d text 14")  # line 16: latin-1 bytes
    path = tmp_path / "mixed.csv"
    path.write_bytes(data)
    return path


def test_skip_reports_exact_counts_and_lines(tmp_path, logged):
    path = mixed_csv(tmp_path)
    texts, labels = readers.read(path, on_bad_row="skip")
    assert len(texts) == len(labels) == 14
    assert "good text 15" in texts and "good text 14" not in " ".join(texts)
    err = logged()
    assert err.strip().splitlines() == [
        f"doccat: warning: {path}: dropped 6 bad row(s) of 20 (--on-bad-row skip), line(s) 3, 5, 7, 9, 12, 16"]
    with pytest.raises(DataError, match=r"mixed\.csv:3: expected 2 columns"):
        readers.read(path)  # the default policy stops at the first


def test_warn_says_why_row_by_row(tmp_path, logged):
    path = mixed_csv(tmp_path)
    texts, _ = readers.read(path, on_bad_row="warn")
    assert len(texts) == 14
    err = logged().strip().splitlines()
    assert len(err) == 7
    assert err[0].startswith(f"doccat: warning: {path}:3: expected 2 columns")
    assert err[3].startswith(f"doccat: warning: {path}:9: malformed CSV row")
    assert err[5].startswith(f"doccat: warning: {path}:16: byte 0xf6 at byte offset")
    assert "dropped 6 bad row(s) of 20 (--on-bad-row warn)" in err[6]


def test_skip_through_the_cli_and_more_than_ten(tmp_path, capsys):
    rows = "".join(f"a,doc {i}\nb,doc {i}\n,no label {i}\n" for i in range(12))  # 12 bad rows, every 3rd line
    (tmp_path / "d.csv").write_text("label,text\n" + rows)
    assert run_cli("train", "--train", tmp_path / "d.csv", "--on-bad-row", "skip", *TRAIN_FLAGS,
                   "--out", tmp_path / "run") == 0
    err = capsys.readouterr().err
    assert ("dropped 12 bad row(s) of 36 (--on-bad-row skip), line(s) 4, 7, 10, 13, 16, 19, 22, 25, 28, 31 "
            "and 2 more") in err
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["data"]["on_bad_row"] == "skip"


@pytest.mark.parametrize("fmt,data", [
    ("jsonl", b'{"label": "a", "text": "x"}\nnot json\n[1]\n{"label": "b", "text": ""}\n{"label": "b", "text": "y"}\n'),
    ("fasttext", b"__label__a x\nno label\n__label__b\n__label__ z\n__label__b y\n"),
])
def test_skip_in_line_formats(tmp_path, logged, fmt, data):
    path = tmp_path / "d.any"
    path.write_bytes(data)
    assert readers.read(path, fmt, on_bad_row="skip") == (["x", "y"], ["a", "b"])
    assert "dropped 3 bad row(s) of 5 (--on-bad-row skip), line(s) 2, 3, 4" in logged()


def test_everything_skipped_is_still_an_error(tmp_path, capsys):
    (tmp_path / "d.csv").write_text("label,text\n,x\n,y\n")
    with pytest.raises(DataError, match=r"d\.csv: no rows left after dropping 2 bad row\(s\)"):
        readers.read(tmp_path / "d.csv", on_bad_row="warn")


# flags of `train` (config values out of their domain) -> the message; each is refused before any data is read
BAD_FLAGS = {
    "--shuffle maybe": "argument --shuffle: 'maybe' is not true or false",
    "--seed -1": "train.seed must be >= 0",
    "--split-seed -5": "data.split_seed must be >= 0",
    "--threads -3": "train.threads must be >= 1",
    "--momentum -5": "train.momentum must be in [0, 1)",
    "--step-size 0": "train.step_size must be >= 1",
    "--init-range nan": "model.init_range must be a number > 0",
    "--embed-dim 1000000000": "model.embed_dim must be <= 65,536",
    "--embed-dim 8 --hidden 1000000000": "model.hidden sizes must be <= 65,536",
    "--gamma -1": "train.gamma must be a number > 0",
    "--scheduler plateau --gamma 1": "train.gamma must be < 1 with scheduler plateau",
    "--weight-decay -1": "train.weight_decay must be a number >= 0",
    "--weight-decay inf": "train.weight_decay must be a number >= 0",
    "--patience -2": "train.patience must be >= 0",
    "--warmup-epochs -3": "train.warmup_epochs must be a number >= 0",
    "--ngrams 5000": "model.ngrams must be in [1, 10]",
    "--lr inf": "train.lr must be a number > 0",
    "--lr nan": "train.lr must be a number > 0",
    "--nesterov": "train.nesterov needs optimizer sgd with momentum > 0",
    "--plateau-patience -1": "train.plateau_patience must be >= 0",
    "--optimizer liblinear --embed-dim 8": "train.optimizer liblinear solves a linear SVM and needs a linear model",
    "--dataset trec": "data.dataset 'trec' and files (--train/--valid/--test) both name the data: give one",
}


@pytest.mark.parametrize("flags", BAD_FLAGS, ids=list(BAD_FLAGS))
def test_config_values_out_of_their_domain_are_refused(flags, tmp_path, capsys):
    (tmp_path / "train.csv").write_text(GOOD_CSV)
    with pytest.raises(SystemExit) if flags.startswith("--shuffle") else contextlib.nullcontext():
        rc = run_cli("train", "--train", tmp_path / "train.csv", *flags.split(), "--quiet", "--out", tmp_path / "run")
        assert rc == 2
    err = capsys.readouterr().err
    assert BAD_FLAGS[flags] in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


# other verbs' arguments: argparse refuses them with exit status 2
BAD_ARGUMENTS = {
    "predict -k -1": (["predict", "RUN", "hello", "-k", "-1"], "argument -k: must be >= 1, got -1"),
    "predict -k 0": (["predict", "RUN", "hello", "-k", "0"], "argument -k: must be >= 1, got 0"),
    "predict --threshold 2": (["predict", "RUN", "hello", "--threshold", "2"], "must be in [0, 1], got 2"),
    "explain --top -1": (["explain", "RUN", "hello", "--top", "-1"], "argument --top: must be >= 1"),
    "serve --port 70000": (["serve", "RUN", "--port", "70000"], "argument --port: must be in [0, 65535]"),
    "serve --max-texts -1": (["serve", "RUN", "--max-texts", "-1"], "argument --max-texts: must be >= 1"),
}


@pytest.mark.parametrize("case", BAD_ARGUMENTS, ids=list(BAD_ARGUMENTS))
def test_verb_arguments_out_of_their_domain_exit_2(case, capsys):
    args, expected = BAD_ARGUMENTS[case]
    with pytest.raises(SystemExit) as stop:
        run_cli(*args)
    assert stop.value.code == 2 and expected in capsys.readouterr().err


def test_os_errors_are_exit_2_with_the_path(tmp_path, capsys):
    (tmp_path / "train.csv").write_text(GOOD_CSV)
    (tmp_path / "folder.toml").mkdir()
    assert run_cli("train", "--train", tmp_path / "train.csv", "--config", tmp_path / "folder.toml") == 2
    assert "folder.toml: Is a directory (the path is a folder: name a file)" in capsys.readouterr().err
    (tmp_path / "latin1.toml").write_bytes(b"[train]\nepochs = 3 # \xe9\n")
    assert run_cli("train", "--train", tmp_path / "train.csv", "--config", tmp_path / "latin1.toml") == 2
    assert "latin1.toml: not UTF-8 text (byte 0xe9" in capsys.readouterr().err


def test_unicode_digits_are_labels_and_column_names_not_numbers(tmp_path, capsys):
    (tmp_path / "sup.csv").write_text("label,text\n" + "".join(f"{y},{y} words {i}\n" for y in ("²", "b") for i in range(6)))
    assert run_cli("train", "--train", tmp_path / "sup.csv", "--quiet", "--out", tmp_path / "run") == 0
    assert json.loads((tmp_path / "run" / "labels.json").read_text()) == ["b", "²"]
    assert run_cli("train", "--train", tmp_path / "sup.csv", "--label-column", "²", "--out", tmp_path / "r2") == 2
    assert "no column named '²'" in capsys.readouterr().err


def test_degenerate_data_is_refused_or_said_with_numbers(tmp_path, capsys):
    swapped = "label,text\n" + "".join(f"a review of the film number {i} {'x' * 1200 * (i == 3)},w{i % 2}\n"
                                       for i in range(40))
    (tmp_path / "swapped.csv").write_text(swapped)
    assert run_cli("train", "--train", tmp_path / "swapped.csv", "--quiet", "--out", tmp_path / "run") == 2
    assert "a label of 1,2" in capsys.readouterr().err and not (tmp_path / "run").exists()
    (tmp_path / "one.csv").write_text("label,text\n" + "".join(f"c{i},text {i} here\n" for i in range(60)))
    assert run_cli("train", "--train", tmp_path / "one.csv", "--quiet", "--out", tmp_path / "one") == 0
    err = capsys.readouterr().err
    assert "60 of 60 classes have a single training document" in err
    assert "60 classes for 60 training documents (fewer than 10 per class)" in err
    assert "the validation split is empty" in err
    metrics = json.loads((tmp_path / "one" / "metrics.json").read_text())
    assert "valid" not in metrics  # no scores for an empty split, not an accuracy of 0


def test_folder_corpora_skip_hidden_entries_and_refuse_nesting(tmp_path, capsys):
    root = folder_corpus(tmp_path / "corpus", ("a", "b"), 6, "words")
    (root / ".git").mkdir()
    (root / ".git" / "HEAD").write_text("ref")
    (root / "a" / ".DS_Store").write_bytes(b"\0\1junk")
    (root / "empty").mkdir()
    assert run_cli("train", "--train", root, "--format", "folder", "--quiet", "--out", tmp_path / "run") == 0
    assert json.loads((tmp_path / "run" / "labels.json").read_text()) == ["a", "b"]
    assert "corpus/empty: an empty class folder (no files): left out" in capsys.readouterr().err
    (root / "b" / "deeper").mkdir()
    assert run_cli("train", "--train", root, "--format", "folder", "--out", tmp_path / "r2") == 2
    assert "b/deeper: a folder inside a class folder" in capsys.readouterr().err


@pytest.mark.parametrize("line,message", [
    ('{"label": "a", "text": ["x", "y"]}', "key 'text' holds a JSON list"),
    ('{"label": true, "text": "x"}', "key 'label' holds a JSON bool"),
    ('{"label": {"k": 1}, "text": "x"}', "key 'label' holds a JSON dict"),
])
def test_jsonl_values_that_are_no_text_or_label_are_refused(tmp_path, capsys, line, message):
    (tmp_path / "d.jsonl").write_text(line + "\n" + '{"label": "b", "text": "z"}\n')
    assert run_cli("train", "--train", tmp_path / "d.jsonl", "--out", tmp_path / "run") == 2
    assert f"d.jsonl:1: {message}" in capsys.readouterr().err


def test_a_toml_key_outside_its_section_is_named(tmp_path, capsys):
    (tmp_path / "t.toml").write_text("epochs = 3\n")
    (tmp_path / "train.csv").write_text(GOOD_CSV)
    assert run_cli("train", "--train", tmp_path / "train.csv", "--config", tmp_path / "t.toml") == 2
    assert "epochs = 3 is outside any section: put it under [train]" in capsys.readouterr().err


def test_cr_only_line_ends_and_duplicate_headers_are_named(tmp_path, capsys):
    (tmp_path / "cr.csv").write_bytes(b"label,text\ra,x\rb,y\r")
    assert run_cli("train", "--train", tmp_path / "cr.csv", "--out", tmp_path / "run") == 2
    assert "cr.csv: its lines end with a carriage return alone" in capsys.readouterr().err
    (tmp_path / "dup.csv").write_text("label,text,text\na,x,y\nb,z,w\n")
    assert run_cli("train", "--train", tmp_path / "dup.csv", "--out", tmp_path / "run") == 2
    assert "dup.csv:1: the header names column 'text' twice" in capsys.readouterr().err


def full_disk(monkeypatch, where: str):
    """fsync fails as on a full disk (after the bytes were handed over, naming no file) for files whose path
    holds `where`."""
    fsync = os.fsync

    def full(fd):
        if where in os.readlink(f"/proc/self/fd/{fd}"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return fsync(fd)
    monkeypatch.setattr(artifacts.os, "fsync", full)


def test_a_full_disk_loses_nothing_in_the_three_places_that_write(run_dir, tmp_path, monkeypatch, capsys):
    before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
    (tmp_path / "report.html").write_text("the report of yesterday")
    full_disk(monkeypatch, ".run.tmp-")  # 1. the run directory, replaced with --overwrite
    assert run_cli("train", "--train", tmp_path / "train.csv", *TRAIN_FLAGS, "--out", run_dir, "--overwrite") == 2
    assert f"{run_dir}: No space left on device (free some space, or write elsewhere (--out))" in capsys.readouterr().err
    assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before
    full_disk(monkeypatch, "checkpoint")  # 2. a checkpoint of a mini-batch run
    assert run_cli("train", "--train", tmp_path / "train.csv", "--embed-dim", "4", "--optimizer", "adam",
                   "--batch-size", "4", "--epochs", "2", "--checkpoint-every", "1", "--out", tmp_path / "net") == 2
    assert "checkpoint.safetensors: No space left on device (free some space" in capsys.readouterr().err
    assert not (tmp_path / "net").exists()
    full_disk(monkeypatch, "report.html")  # 3. a report over an existing file
    assert run_cli("report", run_dir, "--out", tmp_path / "report.html") == 2
    assert f"{tmp_path / 'report.html'}: No space left on device" in capsys.readouterr().err
    assert (tmp_path / "report.html").read_text() == "the report of yesterday"
    assert [p.name for p in tmp_path.rglob("*") if ".tmp-" in p.name] == []
