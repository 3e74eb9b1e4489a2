"""The adversarial table: user errors and hostile inputs, each a command with its exit status and message.

    .venv/bin/python -m pytest tests/test_adversarial.py          # every case, in process
    .venv/bin/python tests/test_adversarial.py > ADVERSARIAL.md    # the table, each case in its own process

Each case must end with its exit status and a message naming the problem: never a traceback, never a file lost
(the cases that could destroy something check that it is still there).
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from doccat import cli

GOOD = "label,text\n" + "".join(f"{y},{y} words number {i}\n" for y in ("a", "b") for i in range(10))
TINY = ["--epochs", "1", "--embed-dim", "0", "--quiet"]
FILES = {  # name: content (bytes), written into the case folder
    "good.csv": GOOD.encode(),
    "empty.csv": b"",
    "header_only.csv": b"label,text\n",
    "one_class.csv": b"label,text\n" + b"".join(b"a,words %d\n" % i for i in range(10)),
    "no_text_column.csv": b"label,body\n" + b"".join(b"%s,words\n" % y for y in (b"a", b"b") * 5),
    "latin1.csv": b"label,text\na,caf\xe9 au lait\nb,the tea\n" * 5,
    "utf16.csv": GOOD.encode("utf-16"),
    "zip.csv": b"PK\x03\x04" + b"\x00" * 60,
    "png.csv": b"\x89PNG\r\n\x1a\n" + b"\x00" * 60,
    "array.jsonl": json.dumps([{"label": "a", "text": "x"}, {"label": "b", "text": "y"}]).encode(),
    "pretty.jsonl": json.dumps({"label": "a", "text": "x"}, indent=2).encode(),
    "number_text.jsonl": b'{"label": "a", "text": 5}\n{"label": "b", "text": "y"}\n',
    "bool_label.jsonl": b'{"label": true, "text": "x"}\n{"label": "b", "text": "y"}\n',
    "cr_only.csv": GOOD.replace("\n", "\r").encode(),
    "duplicate_header.csv": b"label,text,text\n" + b"a,x,y\nb,z,w\n" * 5,
    "quote_open.csv": b'label,text\na,"never closed\nb,fine\n' + b"a,x\nb,y\n" * 5,
    "swapped.csv": ("label,text\n" + "".join(f"{'long review ' * 100}{i},w{i % 2}\n" for i in range(20))).encode(),
    "unseen.csv": b"label,text\nzebra,never seen\n",
    "superscript.csv": ("label,text\n" + "".join(f"{y},{y} words {i}\n" for y in ("²", "b") for i in range(6))).encode(),
    "folder.toml/": None,
    "latin1.toml": b"[train]\nepochs = 3 # \xe9\n",
    "outside.toml": b"epochs = 3\n",
    "unknown.toml": b"[train]\nepocs = 3\n",
    "broken.toml": b"[train\nepochs = 3\n",
    "wrong_type.toml": b'[train]\nepochs = "three"\n',
    "a_file": b"not a folder",
    "proj/src/code.py": b"print('my code')\n",
    "nested/a/one.txt": b"words",
    "nested/a/deeper/two.txt": b"words",
    "nested/b/three.txt": b"words",
}
# id: (arguments, exit status, a part of the message); {d} is the case folder, RUN a trained run in it
CASES = {
    "train on an empty file": (["train", "--train", "{d}/empty.csv"], 2, "empty.csv"),
    "train on a header alone": (["train", "--train", "{d}/header_only.csv"], 2, "header_only.csv"),
    "train on one class": (["train", "--train", "{d}/one_class.csv"], 2, "at least 2 classes"),
    "no text column": (["train", "--train", "{d}/no_text_column.csv"], 2, "no_text_column.csv"),
    "latin-1 bytes": (["train", "--train", "{d}/latin1.csv"], 2, "latin1.csv"),
    "a UTF-16 file (read by its BOM)": (["train", "--train", "{d}/utf16.csv", *TINY, "--out", "{d}/utf16"], 0, ""),
    "a zip named .csv": (["train", "--train", "{d}/zip.csv"], 2, "zip"),
    "a png named .csv": (["train", "--train", "{d}/png.csv"], 2, "PNG"),
    "JSON array as JSONL": (["train", "--train", "{d}/array.jsonl"], 2, "not JSON Lines"),
    "pretty-printed JSON": (["train", "--train", "{d}/pretty.jsonl"], 2, "not JSON Lines"),
    "JSONL number as text": (["train", "--train", "{d}/number_text.jsonl"], 2, "number_text.jsonl"),
    "JSONL boolean label": (["train", "--train", "{d}/bool_label.jsonl"], 2, "bool_label.jsonl"),
    "CR-only line ends": (["train", "--train", "{d}/cr_only.csv"], 2, "CR"),
    "duplicate header": (["train", "--train", "{d}/duplicate_header.csv"], 2, "text"),
    "unclosed quote": (["train", "--train", "{d}/quote_open.csv"], 2, "quote_open.csv"),
    "label and text swapped": (["train", "--train", "{d}/swapped.csv"], 2, "swapped"),
    "a missing file": (["train", "--train", "{d}/nothing.csv"], 2, "nothing.csv"),
    "a folder as --train": (["train", "--train", "{d}/proj"], 2, "proj"),
    "nested class folders": (["train", "--train", "{d}/nested"], 2, "deeper"),
    "--label-column ²": (["train", "--train", "{d}/superscript.csv", "--label-column", "²"], 2, "no column named '²'"),
    "--text-columns missing": (["train", "--train", "{d}/good.csv", "--text-columns", "body"], 2, "body"),
    "--shuffle maybe": (["train", "--train", "{d}/good.csv", "--shuffle", "maybe"], 2, "--shuffle"),
    "--seed -1": (["train", "--train", "{d}/good.csv", "--seed", "-1"], 2, "seed"),
    "--split-seed -5": (["train", "--train", "{d}/good.csv", "--split-seed", "-5"], 2, "split_seed"),
    "--threads -3": (["train", "--train", "{d}/good.csv", "--threads", "-3"], 2, "threads"),
    "--momentum -5": (["train", "--train", "{d}/good.csv", "--momentum", "-5"], 2, "momentum"),
    "--step-size 0": (["train", "--train", "{d}/good.csv", "--step-size", "0"], 2, "step_size"),
    "--init-range nan": (["train", "--train", "{d}/good.csv", "--init-range", "nan"], 2, "init_range"),
    "--lr nan": (["train", "--train", "{d}/good.csv", "--lr", "nan"], 2, "lr"),
    "--lr -1": (["train", "--train", "{d}/good.csv", "--lr", "-1"], 2, "lr"),
    "--epochs 0": (["train", "--train", "{d}/good.csv", "--epochs", "0"], 2, "epochs"),
    "--epochs ten": (["train", "--train", "{d}/good.csv", "--epochs", "ten"], 2, "--epochs"),
    "--dropout 1.5": (["train", "--train", "{d}/good.csv", "--dropout", "1.5"], 2, "dropout"),
    "--weight-decay -1": (["train", "--train", "{d}/good.csv", "--weight-decay", "-1"], 2, "weight_decay"),
    "--embed-dim 1e9": (["train", "--train", "{d}/good.csv", "--embed-dim", "1e9"], 2, "embed"),
    "--hidden 1e9": (["train", "--train", "{d}/good.csv", "--hidden", "1e9"], 2, "comma-separated list of int"),
    "--hidden 1000000": (["train", "--train", "{d}/good.csv", "--hidden", "1000000"], 2, "hidden"),
    "--ngrams 5000": (["train", "--train", "{d}/good.csv", "--ngrams", "5000"], 2, "ngrams"),
    "--optimizer nosuch": (["train", "--train", "{d}/good.csv", "--optimizer", "nosuch"], 2, "optimizer"),
    "liblinear on a network": (["train", "--train", "{d}/good.csv", "--optimizer", "liblinear", "--embed-dim", "8"],
                               2, "liblinear"),
    "--dataset with --train": (["train", "--dataset", "trec", "--train", "{d}/good.csv"], 2, "give one of them"),
    "--dataset unknown": (["train", "--dataset", "no_such_corpus"], 2, "no_such_corpus"),
    "--config a folder": (["train", "--train", "{d}/good.csv", "--config", "{d}/folder.toml"], 2, "Is a directory"),
    "--config not UTF-8": (["train", "--train", "{d}/good.csv", "--config", "{d}/latin1.toml"], 2, "not UTF-8"),
    "--config key outside a section": (["train", "--train", "{d}/good.csv", "--config", "{d}/outside.toml"], 2,
                                       "[train]"),
    "--config unknown key": (["train", "--train", "{d}/good.csv", "--config", "{d}/unknown.toml"], 2, "epocs"),
    "--config broken TOML": (["train", "--train", "{d}/good.csv", "--config", "{d}/broken.toml"], 2, "broken.toml"),
    "--config wrong type": (["train", "--train", "{d}/good.csv", "--config", "{d}/wrong_type.toml"], 2, "epochs"),
    "--overwrite a project folder": (["train", "--train", "{d}/good.csv", *TINY, "--out", "{d}/proj", "--overwrite"],
                                     2, "not a doccat run"),
    "--out an existing data file": (["train", "--train", "{d}/good.csv", *TINY, "--out", "{d}/good.csv"], 2,
                                    "good.csv"),
    "--out under a file": (["train", "--train", "{d}/good.csv", *TINY, "--out", "{d}/a_file/run"], 2, "a_file"),
    "--out in /proc": (["train", "--train", "{d}/good.csv", *TINY, "--out", "/proc/doccat-run"], 2, "choose another path"),
    "--out an existing run": (["train", "--train", "{d}/good.csv", *TINY, "--out", "RUN"], 2, "--overwrite"),
    "--resume with nothing to resume": (["train", "--resume", "{d}/new"], 2, "new"),
    "report --out a folder": (["report", "RUN", "--out", "{d}/proj"], 2, "proj: Is a directory"),
    "predict with a missing run": (["predict", "{d}/no_run", "hello"], 2, "no_run"),
    "predict with a folder that is no run": (["predict", "{d}/proj", "hello"], 2, "proj"),
    "predict -k 0": (["predict", "RUN", "hello", "-k", "0"], 2, "-k"),
    "predict --threshold 2": (["predict", "RUN", "hello", "--threshold", "2"], 2, "--threshold"),
    "explain --top 0": (["explain", "RUN", "hello", "--top", "0"], 2, "--top"),
    "evaluate on an unseen label": (["evaluate", "RUN", "--file", "{d}/unseen.csv"], 2, "zebra"),
    "evaluate on a missing file": (["evaluate", "RUN", "--file", "{d}/nothing.csv"], 2, "nothing.csv"),
    "serve --port 70000": (["serve", "RUN", "--port", "70000"], 2, "--port"),
    "serve --max-texts -1": (["serve", "RUN", "--max-texts", "-1"], 2, "--max-texts"),
    "compare a missing run": (["compare", "RUN", "{d}/no_run"], 2, "no_run"),
    "unknown verb": (["trian"], 2, "invalid choice"),
}


def make_case_folder(d: Path) -> Path:
    """The files of FILES in `d`, and a trained run at d/run: what every case reads."""
    for name, content in FILES.items():
        path = d / name.rstrip("/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.mkdir() if content is None else path.write_bytes(content)
    assert cli.main(["train", "--train", str(d / "good.csv"), *TINY, "--out", str(d / "run")]) == 0
    return d / "run"


def arguments(case: str, d: Path) -> list[str]:
    return [a.replace("{d}", str(d)) if a != "RUN" else str(d / "run") for a in CASES[case][0]]


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("adversarial")
    make_case_folder(d)
    return d


def test_the_table_has_at_least_60_cases():
    assert len(CASES) >= 60


def exit_status(args: list[str]) -> int:
    """cli.main's status, argparse's exits included."""
    try:
        return cli.main(args)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_case(case, folder, capsys, monkeypatch):
    monkeypatch.chdir(folder)  # a run without --out goes to ./runs
    code, expected = CASES[case][1:]
    result, err = exit_status(arguments(case, folder)), capsys.readouterr().err
    assert result == code and expected in err and "Traceback" not in err, err
    assert (folder / "proj" / "src" / "code.py").read_bytes() == FILES["proj/src/code.py"]  # nothing lost
    assert (folder / "good.csv").read_bytes() == FILES["good.csv"]
    assert (folder / "run" / "manifest.json").is_file()


def table(d: Path) -> str:
    """Each case in its own process: the markdown table of command, exit status and first line of the message."""
    rows = ["| # | case | command | exit | message |", "|---|---|---|---|---|"]
    for i, case in enumerate(CASES, 1):
        args = arguments(case, d)
        done = subprocess.run([sys.executable, "-m", "doccat", *args], capture_output=True, text=True, timeout=120,
                              cwd=d)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        message = "TRACEBACK" if "Traceback" in done.stderr else (lines[-1] if lines else "")
        command = "doccat " + " ".join(args).replace(str(d), "D")
        message = message.replace(str(d), "D").replace("|", "\\|")[:300]
        rows.append(f"| {i} | {case} | `{command}` | {done.returncode} | {message} |")
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        make_case_folder(Path(tmp))
        print(table(Path(tmp)))
