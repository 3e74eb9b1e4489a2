"""End-to-end: the `doccat` command as a user runs it (one-epoch smoke runs)."""
import json
import subprocess
import sys

import pytest

from doccat.data.registry import default_data_dir

DATA_DIR = default_data_dir()  # $DOCCAT_DATA_DIR, else ../shared/datasets beside the checkout


def doccat(*args, check=True):
    out = subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True)
    if check and out.returncode != 0:
        raise AssertionError(f"doccat {args} exited {out.returncode}: {out.stderr}")
    return out


def test_train_evaluate_predict(corpus_files, tmp_path):
    train, test = corpus_files
    run = tmp_path / "run"
    out = doccat("train", "--train", train, "--test", test, "--epochs", 2, "--embed-dim", 16,
                 "--buckets", 1000, "--out", run)
    summary = json.loads(out.stdout)
    assert summary["test_accuracy"] > 0.8 and "test_macro_f1" in summary
    assert "epoch   1" in out.stderr
    ev = json.loads(doccat("evaluate", run).stdout)  # the run's own test split by default
    assert ev["accuracy"] == pytest.approx(summary["test_accuracy"])
    full = doccat("evaluate", run, "--file", test, "--full").stdout
    ev_file = json.loads(full)
    assert ev_file["accuracy"] == ev["accuracy"] and "per_class" in ev_file
    assert ev_file["confusion_labels"] == ["business", "science", "sports"]
    row = ", ".join(map(str, ev_file["confusion_matrix"][0]))
    assert f"[{row}]" in full  # a row of the matrix on one line
    lines = doccat("predict", run, "goal team coach", "stock market bank", "-k", 2).stdout.splitlines()
    preds = [json.loads(line) for line in lines]
    assert [p["labels"][0] for p in preds] == ["sports", "business"]
    assert all(len(p["probs"]) == 2 for p in preds)
    texts = tmp_path / "texts.txt"
    texts.write_text("nasa telescope planet\ngoal match\n")
    preds = [json.loads(x) for x in doccat("predict", run, "--file", texts).stdout.splitlines()]
    assert [p["labels"] for p in preds] == [["science"], ["sports"]]


def test_config_file_and_flags(corpus_files, tmp_path):
    train, _ = corpus_files
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[data]\ntrain = "{train}"\n[model]\nembed_dim = 8\nbuckets = 100\n[train]\nepochs = 3\n')
    doccat("train", "--config", cfg, "--epochs", 1, "--out", tmp_path / "run", "--quiet")
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["model"]["embed_dim"] == 8 and saved["train"]["epochs"] == 1  # the flag wins


def test_user_errors_exit_2_without_traceback(corpus_files, tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[train]\nlearning_rate = 0.1\n")
    for args in (["train", "--config", bad], ["train", "--train", tmp_path / "missing.csv"],
                 ["train", "--train", corpus_files[0], "--optimizer", "lion"],
                 ["evaluate", tmp_path], ["predict", tmp_path / "nope", "x"]):
        out = doccat(*args, check=False)
        assert out.returncode == 2, args
        assert "Traceback" not in out.stderr and "doccat: error:" in out.stderr
    assert "train.learning_rate" in doccat("train", "--config", bad, check=False).stderr


def test_out_dir_is_not_overwritten_unless_asked(corpus_files, tmp_path):
    args = ["train", "--train", corpus_files[0], "--epochs", 1, "--buckets", 100, "--quiet", "--out", tmp_path / "r"]
    doccat(*args)
    assert doccat(*args, check=False).returncode == 2
    doccat(*args, "--overwrite")


def test_datasets_lists_the_registry():
    out = doccat("datasets", "--data-dir", DATA_DIR).stdout
    for name in ("ag_news", "20newsgroups", "imdb", "sst2", "trec", "movie_review_polarity"):
        assert name in out
    lines = {line.split()[0]: line.split()[1] for line in out.splitlines()[1:]}
    assert lines["reuters21578"] == "multilabel" and lines["imdb_rating"] == "regression"
    assert lines["trec"] == "classify"


@pytest.mark.skipif(not (DATA_DIR / "trec").is_dir(), reason="needs ../shared/datasets")
def test_registry_corpus_smoke_run(tmp_path):
    out = doccat("train", "--dataset", "trec", "--data-dir", DATA_DIR, "--epochs", 3, "--out", tmp_path / "r")
    assert json.loads(out.stdout)["test_accuracy"] > 0.5


def test_stdin_for_predict_evaluate_and_explain(small_run, tmp_path):
    def piped(args, data):
        return subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], input=data, capture_output=True,
                              text=True)
    out = piped(["predict", small_run, "-"], "goal match team\nmarket stock shares\n\n")
    rows = [json.loads(line) for line in out.stdout.splitlines()]
    assert out.returncode == 0 and [r["text"] for r in rows] == ["goal match team", "market stock shares", ""]
    assert [r["labels"][:1] for r in rows] == [["sports"], ["business"], []]  # not the text "-"; a blank line kept empty
    same = piped(["predict", small_run, "--file", "-"], "goal match team\nmarket stock shares\n\n").stdout
    assert same == out.stdout
    lines = piped(["predict", small_run, "-", "--format", "jsonl"], '"goal match team"\n{"text": "market stock"}\n')
    assert [json.loads(r)["labels"][0] for r in lines.stdout.splitlines()] == ["sports", "business"]
    scored = piped(["evaluate", small_run, "--file", "-"], "__label__sports goal match team\n__label__business "
                                                           "market stock shares\n")
    assert scored.returncode == 0 and json.loads(scored.stdout)["n"] == 2
    told = piped(["explain", small_run, "-", "--json"], "goal match team\n")
    assert told.returncode == 0 and json.loads(told.stdout)["text"] == "goal match team"


def test_help_explains_each_option_from_its_field_and_groups_them():
    import dataclasses
    from doccat.config import ModelConfig
    help_text = " ".join(doccat("train", "--help").stdout.split())  # argparse wraps lines
    nb = next(f for f in dataclasses.fields(ModelConfig) if f.name == "nb")
    assert " ".join(nb.metadata["doc"].split()) + " (default: auto)" in help_text
    assert "--optimizer {auto,liblinear,lbfgs,sgd,adam,adamw,adagrad,rmsprop}" in help_text
    assert "default: None" not in help_text and "default: 'auto'" not in help_text
    groups = ["data:", "features:", "model:", "training:", "output:"]
    assert [help_text.index(g) for g in groups] == sorted(help_text.index(g) for g in groups)
    assert help_text.index("--ngrams") < help_text.index("model:") < help_text.index("--hidden")


def test_version():
    from importlib.metadata import version
    assert doccat("--version").stdout.strip() == f"doccat {version('doccat')}"


def test_train_says_what_the_recipe_decided_and_warns_of_unused_settings(corpus_files, tmp_path):
    train, test = corpus_files
    out = doccat("train", "--train", train, "--lr", 0.5, "--out", tmp_path / "run")
    assert "recipe: train.optimizer auto -> liblinear (it solves this linear SVM exactly)" in out.stderr
    assert "doccat: warning: train.lr 0.5 is not used: the optimizer is liblinear" in out.stderr
    refused = doccat("train", "--train", train, "--embed-dim", 16, "--dropout", 0.5, check=False)
    assert refused.returncode == 2 and "model.dropout applies after hidden layers" in refused.stderr


def test_predict_keeps_blank_lines_in_step_and_survives_a_closed_pipe(corpus_files, tmp_path):
    train, _ = corpus_files
    run = tmp_path / "run"
    doccat("train", "--train", train, "--out", run, "--quiet")
    lines = tmp_path / "lines.txt"
    lines.write_text("goal match team\n\n   \nstock market bank\n")
    out = doccat("predict", run, "--file", lines)
    rows = [json.loads(x) for x in out.stdout.splitlines()]
    assert [r["labels"][:1] for r in rows] == [["sports"], [], [], ["business"]]  # row i is line i
    assert "2 blank line(s) got no prediction" in out.stderr
    lines.write_text("goal match team\n" * 50_000)
    piped = subprocess.run(f"{sys.executable} -m doccat predict {run} --file {lines} | head -1", shell=True,
                           capture_output=True, text=True)
    assert json.loads(piped.stdout)["labels"] == ["sports"]
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr
