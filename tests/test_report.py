"""The HTML report (checked in a real headless browser), the data summary, and `compare`."""
import base64
import csv
import io
import json
import re
import subprocess
import sys

import numpy as np


from conftest import FAST
from doccat.report import compare, format_table, write_report



def run_cli(*args):
    out = subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_report_is_self_contained_and_complete(small_run, tmp_path, monkeypatch):
    monkeypatch.chdir(small_run.parent)  # the run's data paths are relative to where it was trained
    page = write_report(small_run, tmp_path / "report.html").read_text()
    for section in ("Config", "Documents per class and split", "Document length", "Training curves",
                    "Metrics per class", "Confusion matrix", "Most confident mistakes", "Timing"):
        assert section in page
    # nothing fetched from anywhere: every src/href is inline data
    assert not re.search(r'(src|href)="(?!data:)', page)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(images) == 5 and all(base64.b64decode(i)[:8] == b"\x89PNG\r\n\x1a\n" for i in images)
    assert "sports" in page  # class names
    config = json.loads((small_run / "config.json").read_text())
    assert re.search(r"<p>(\d+) of \d+ keys differ from doccat's defaults", page)
    differ = page[page.index("keys differ"):page.index("<details>")]  # the short table, before the full one
    assert "<td>model.embed_dim</td><td>0</td><td>%d</td>" % config["model"]["embed_dim"] in differ
    assert "<td>data.encoding</td>" not in differ  # a default left alone is only in the full table
    assert "No mistakes on the test split." in page or "goal" in page  # or the mistaken documents' text


def test_data_summary_is_kept_in_metrics(small_run):
    data = json.loads((small_run / "metrics.json").read_text())["data"]
    assert set(data) == {"train", "valid", "test"}
    assert data["test"]["per_class"] == {"business": 20, "science": 20, "sports": 20}
    assert sum(data["train"]["length_histogram"]["counts"]) == data["train"]["documents"]
    assert data["train"]["length_tokens"]["median"] == 9  # 3 class words + 5 noise words + an id word


def test_report_renders_in_headless_chromium(small_run, tmp_path, browser):
    from matplotlib.image import imread
    report = write_report(small_run, tmp_path / "report.html")
    shot = tmp_path / "screenshot.png"
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    page.goto(report.as_uri(), wait_until="load")
    assert page.title().startswith("doccat report")
    imgs = page.eval_on_selector_all("img", "els => els.map(e => [e.complete, e.naturalWidth, e.alt])")
    assert len(imgs) == 5
    assert all(complete and width > 0 for complete, width, _ in imgs), imgs
    page.locator("text=Training curves").scroll_into_view_if_needed()  # figures in the screenshot
    page.screenshot(path=str(shot))
    pixels = imread(shot)
    assert pixels.shape[:2] == (900, 1200)
    assert pixels[..., :3].std() > 0.05  # not a blank page


def test_compare_lists_the_keys_that_differ(small_run, tmp_path):
    import doccat
    other = tmp_path / "other"
    doccat.train(train=str(small_run.parent / "train.csv"), out=other, **{**FAST, "epochs": 1, "embed_dim": 8})
    header, rows = compare([small_run, other])
    assert header == ["key", "run", "other"]
    keys = {r[0]: r[1:] for r in rows}
    assert keys["model.embed_dim"] == [16, 8] and keys["train.epochs"] == [3, 1]
    assert "model.buckets" not in keys and "train.lr" not in keys  # the same in both
    assert "test.accuracy" in keys and keys["test.accuracy"][1] == ""  # the second run has no test split
    assert re.search(r"model\.embed_dim\s+16\s+8", format_table(header, rows))
    md = format_table(header, rows, "markdown")
    assert "| model.embed_dim | 16 | 8 |" in md and md.splitlines()[1] == "|---|---|---|"
    run_cli("compare", small_run, other, "--format", "csv", "--out", tmp_path / "c.csv")
    table = list(csv.reader(io.StringIO((tmp_path / "c.csv").read_text())))
    assert table[0] == ["key", "run", "other"] and ["train.epochs", "3", "1"] in table


def test_report_cli_writes_the_page(small_run, tmp_path):
    out = tmp_path / "r.html"
    assert run_cli("report", small_run, "--out", out).strip() == str(out)
    assert out.read_text().startswith("<!DOCTYPE html>")


def test_format_table_text_aligns_columns():
    text = format_table(["key", "a", "b"], [["x", 1.5, "long value"], ["longer key", None, True]])
    lines = text.splitlines()
    assert lines[1].index("1.5") == lines[2].index("null") and lines[2].endswith("true")


def test_length_bins_are_whole_tokens_of_one_width():
    from doccat.data.summary import split_summary
    from doccat.report import bin_label
    lengths = np.arange(1, 24)  # the case that gave "3-5", "10-12", "22-23+"
    hist = split_summary(len(lengths), lengths, ["a"] * len(lengths), "classify")["length_histogram"]
    edges = hist["edges"]
    assert len(set(np.diff(edges))) == 1 and all(isinstance(e, int) for e in edges)
    labels = [bin_label(edges, i, i == len(hist["counts"]) - 1) for i in range(len(hist["counts"]))]
    assert labels[:3] == ["0-1", "2-3", "4-5"] and labels[-1] == "22+"
    assert sum(hist["counts"]) == len(lengths)


def test_compare_keeps_small_numbers_apart():
    text = format_table(["key", "a", "b"], [["train.weight_decay", 3e-06, 0.0]])
    assert "3e-06" in text and "0.0000" not in text
