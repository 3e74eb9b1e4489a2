"""The model card (README.md) of a run directory says what the run's own files say."""
import json
import random
import re
import shlex
import subprocess
import sys

import pytest
import yaml

import doccat
from doccat import artifacts
from doccat.card import model_card
from conftest import FAST, make_corpus, write_csv


def front_matter(card: str) -> dict:
    match = re.match(r"---\n(.*?)\n---\n", card, re.S)
    assert match, "the card starts with a YAML front-matter block"
    return yaml.safe_load(match.group(1))


def section(card: str, title: str) -> str:
    """The body of the card's `## title` section, up to the next one."""
    return card.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


def table_row(text: str, first: str) -> list[str]:
    """The cells of the Markdown table row whose first cell is `first`."""
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == first:
            return cells
    raise AssertionError(f"no row {first!r} in\n{text}")


@pytest.fixture(scope="module")
def run_card(small_run):
    return small_run, (small_run / "README.md").read_text(encoding="utf-8"), \
        json.loads((small_run / "metrics.json").read_text()), json.loads((small_run / "config.json").read_text())


def test_front_matter_is_the_hubs_layout_with_the_runs_scores(run_card):
    run, card, metrics, _ = run_card
    meta = front_matter(card)
    assert meta["library_name"] == "doccat" and meta["pipeline_tag"] == "text-classification"
    assert meta["language"] == "unknown"  # local CSV files say nothing of their language
    assert meta["metrics"] == ["accuracy", "f1"]
    results = {r["dataset"]["split"]: {m["name"]: m["value"] for m in r["metrics"]}
               for r in meta["model-index"][0]["results"]}
    assert results["test"] == {"accuracy": metrics["test"]["accuracy"], "macro_f1": metrics["test"]["macro_f1"]}
    assert results["valid"]["accuracy"] == metrics["valid"]["accuracy"]
    assert meta["model-index"][0]["name"] == run.name


def test_the_card_reports_the_runs_splits_classes_and_scores(run_card):
    _, card, metrics, config = run_card
    data = section(card, "Training data")
    for split in ("train", "valid", "test"):
        assert table_row(data, split)[1] == str(metrics["sizes"][split])
    assert table_row(data, "test")[2] == "`test.csv`"
    assert "held out" in table_row(data, "valid")[2]  # no valid file: valid_fraction of train
    assert "Classes: 3." in data
    for name, n in metrics["data"]["train"]["per_class"].items():
        assert table_row(data, name)[1] == str(n)
    scores = section(card, "Evaluation")
    assert table_row(scores, "accuracy")[1:] == [f"{metrics['valid']['accuracy']:.4f}",
                                                  f"{metrics['test']['accuracy']:.4f}"]
    test_part = scores.split("Per class (test split)")[1]
    for name, row in metrics["test"]["per_class"].items():
        assert table_row(test_part, name)[1:] == [f"{row['precision']:.4f}", f"{row['recall']:.4f}",
                                                   f"{row['f1']:.4f}", str(row["support"])]
    model = section(card, "Model")
    assert "embedding bag" in model and f"{config['model']['embed_dim']}-dimensional" in model
    assert table_row(model, "train")[0] == "train" and '"adagrad"' in model
    limits = section(card, "Limitations")
    assert "business, science, sports" in limits and "Latin (100% of the words)" in limits
    assert "roughly balanced" in limits  # 60 documents per class


def test_the_cards_usage_runs_as_written(run_card):
    run, card, _, _ = run_card
    python = re.search(r"```python\n(.*?)```", card, re.S).group(1)
    assert "doccat.load(" in python
    out = subprocess.run([sys.executable, "-c", python.replace("your text here", "goal team coach")],
                         capture_output=True, text=True, check=True)
    assert "labels=['sports'" in out.stdout
    cli = re.search(r"```sh\n(.*?)\n```", card, re.S).group(1)
    args = shlex.split(cli.replace("your text here", "stock market bank"))
    assert args[:3] == ["doccat", "predict", str(run)]
    out = subprocess.run([sys.executable, "-m", *args], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout)["labels"] == ["business"]


def test_the_card_is_outside_the_manifest_so_editing_it_leaves_load_working(small_run, tmp_path):
    import shutil
    run = shutil.copytree(small_run, tmp_path / "run")
    manifest = json.loads((run / "manifest.json").read_text())["files"]
    assert "README.md" not in manifest and (run / "README.md").is_file()
    (run / "README.md").write_text("# my edited card\n")
    clf = doccat.load(run)  # the checksummed files are intact
    assert clf.predict(["goal team coach"])[0].labels == ["sports"]
    assert artifacts.is_run(run)  # so --overwrite may still replace it


def test_imbalanced_cyrillic_classes_are_named_in_the_limitations(tmp_path):
    rng = random.Random(0)
    words = {"спорт": "гол матч команда тренер".split(), "экономика": "рынок акции банк прибыль".split()}
    rows = [(" ".join(rng.sample(words[label], 3)), label)
            for label, n in (("спорт", 90), ("экономика", 15)) for _ in range(n)]
    rng.shuffle(rows)
    train = write_csv(tmp_path / "train.csv", [t for t, _ in rows], [lab for _, lab in rows])
    doccat.train(train=str(train), out=tmp_path / "run", **FAST)
    card = (tmp_path / "run" / "README.md").read_text(encoding="utf-8")
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    counts = metrics["data"]["train"]["per_class"]
    limits = section(card, "Limitations")
    assert "Cyrillic (100% of the words)" in limits
    assert (f"imbalanced: the largest, спорт, has {counts['спорт']} documents" in limits
            and f"the smallest, экономика ({counts['экономика']})" in limits)
    assert "no test split" in limits and "| test | 0 | none |" in section(card, "Training data")
    assert "split: test" not in card  # no test scores in the front matter either


def test_registry_datasets_give_the_language_and_domain():
    config = {"data": {"dataset": "trec", "task": "classify", "valid_fraction": 0.1, "split_seed": 0},
              "model": {}, "train": {}}
    card = model_card(config, {"sizes": {"train": 10, "valid": 2, "test": 3}}, ["HUM", "LOC"], ["who"], "runs/t")
    assert front_matter(card)["language"] == "en" and front_matter(card)["datasets"] == ["trec"]
    assert "Li & Roth" in section(card, "Limitations") and "registry's test split" in card
    assert "no validation or test split" in section(card, "Evaluation")  # sizes alone are no scores


@pytest.mark.parametrize("task, scores", [
    ("regression", {"n": 3, "mae": 0.5, "rmse": 0.7, "r2": 0.25}),
    ("multilabel", {"n": 3, "micro_f1": 0.8, "macro_f1": 0.6, "subset_accuracy": 0.5, "hamming_loss": 0.1,
                    "per_class": {"a": {"precision": 1.0, "recall": 0.5, "f1": 0.6667, "support": 2}}}),
])
def test_other_tasks_report_their_own_headline_metrics(task, scores):
    config = {"data": {"task": task, "train": "/somewhere/train.csv", "valid_fraction": 0.1}, "model": {},
              "train": {"loss": "mse" if task == "regression" else "bce"}}
    card = model_card(config, {"test": scores, "threshold": 0.4} if task == "multilabel" else {"test": scores},
                      [] if task == "regression" else ["a", "b"], [], "r")
    names = [m["name"] for m in front_matter(card)["model-index"][0]["results"][0]["metrics"]]
    assert names == [k for k in scores if k not in ("n", "per_class")]
    assert "`train.csv`" in card and "/somewhere" not in card  # a file's name, not the machine's layout
    if task == "multilabel":
        assert "0.4000" in card and table_row(section(card, "Evaluation"), "a")[4] == "2"
    else:
        assert "value=..." in card and "predicts only" not in card


def test_a_continued_run_s_card_says_where_it_started_and_how_many_documents_it_learned_from():
    config = {"data": {}, "model": {}, "train": {"init_from": "runs/old"}}
    card = model_card(config, {"documents_learned": 1234, "sizes": {"train": 600}}, ["a", "b"])
    assert "Continued from the run `runs/old`" in card and "1234 training documents" in card
    assert "Continued" not in model_card({"data": {}, "model": {}, "train": {}}, {"sizes": {"train": 600}}, ["a", "b"])
