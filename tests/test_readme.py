"""README.md's examples run as written: every ```bash, ```sh, ```console and ```python block, top to bottom.

The blocks run in order in one folder, as a reader goes through the README in one terminal: a later block
may use the run directory an earlier one wrote (runs/trec). A shell block runs in bash (set -e, pipefail)
with this checkout's `doccat` (and the test environment's `python`, `torchrun`) first on the PATH; a Python
block runs in a namespace of its own, so it must define what it uses. Registry datasets are read from the
local data directory (doccat.data.registry.default_data_dir: ../shared/datasets beside the checkout); a block
that names one that is not there is skipped, never downloaded. The files a reader brings (tickets.csv,
questions.txt, big.csv, test.csv, glove.6B.300d.txt) are small stand-ins made here from the tests' tiny corpus
and TREC's words. Installing is the environment's job: `python3 -m venv` and `pip install` commands are left
out (the test runs offline, in the installed environment) and `.venv` is that environment.

A block is marked by an HTML comment on the line before its fence (README.md: "Examples that run"):
    <!-- readme-test: slow -->              long (a benchmark, a full corpus): only with `pytest -m slow`
    <!-- readme-test: needs optuna -->      skipped where that module (an optional extra) is not installed
    <!-- readme-test: skip: WHY -->         never run; WHY says why
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import doccat
from doccat import cli
from doccat.data import registry

from conftest import make_corpus, write_csv

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SRC = Path(doccat.__file__).resolve().parents[1]  # the doccat under test, also for the shell's `doccat`
FENCE = re.compile(r"^```(\w*)\s*$")
MARKER = re.compile(r"^<!--\s*readme-test:\s*(.*?)\s*-->\s*$")
RUN = {"bash", "sh", "console", "python"}
INSTALL = re.compile(r"^(python3? -m venv\b.*|(\S*/)?pip3? install\b.*)$")
COMMAND = re.compile(r"^\s*(\$ )?(doccat|python3?|\.venv/|pip3?|torchrun|curl|source) ")  # a shell line


@dataclass
class Block:
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    slow: bool = False
    needs: list[str] = field(default_factory=list)
    skip: str | None = None  # why it never runs

    @property
    def name(self) -> str:
        first = next((ln for ln in self.code.splitlines() if ln.strip() and not ln.startswith("#")), "")
        return f"README.md:{self.line}: {first.strip()[:60]}"


def marker(text: str, line: int) -> dict:
    """The marker comment's settings: slow, needs MODULE..., skip: WHY (last: WHY is the rest of the comment)."""
    head, skip, why = text.partition("skip:")
    out = {"skip": why.strip() or None} if skip else {}
    for part in filter(None, (p.strip() for p in head.split(";"))):
        word, _, rest = part.partition(" ")
        if part == "slow":
            out["slow"] = True
        elif word == "needs" and rest.strip():
            out["needs"] = rest.replace(",", " ").split()
        else:
            raise ValueError(f"README.md:{line}: unknown readme-test marker {part!r} (slow; needs MODULE; skip: WHY)")
    if skip and not out["skip"]:
        raise ValueError(f"README.md:{line}: a readme-test skip says why (skip: WHY)")
    return out


def blocks(text: str) -> list[Block]:
    """The fenced blocks the runner executes, with their markers."""
    lines, out, i = text.splitlines(), [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m or not m.group(1):
            i += 1
            continue
        end = next(j for j in range(i + 1, len(lines)) if FENCE.match(lines[j]) and not FENCE.match(lines[j]).group(1))
        before = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        settings = marker(MARKER.match(before).group(1), i) if MARKER.match(before) else {}
        if m.group(1) in RUN:
            out.append(Block(i + 1, m.group(1), "\n".join(lines[i + 1:end]) + "\n", **settings))
        i = end + 1
    return out


def shell_script(block: Block) -> str:
    """The block as bash runs it: a console block's `$ ` lines; install commands left out."""
    lines = block.code.splitlines()
    if block.lang == "console":
        lines = [ln[2:] for ln in lines if ln.startswith("$ ")]
    kept = []
    for ln in lines:
        code = re.sub(r"\s+#.*$", "", ln)
        parts = [p.strip() for p in code.split("&&")]
        if any(INSTALL.match(p) for p in parts):
            ln = " && ".join(p for p in parts if not INSTALL.match(p))
        kept.append(ln)
    return "\n".join(kept) + "\n"


def missing(block: Block) -> str | None:
    """Why the block cannot run here: a module it needs not installed, or a registry dataset not on disk."""
    for name in block.needs:
        try:
            __import__(name)
        except ImportError:
            return f"needs {name} (an optional extra)"
    data, named = registry.default_data_dir(), re.findall(r"""(?:--dataset |dataset=["'])(\w+)""", block.code)
    for config in re.findall(r"--config (configs/\S+)", block.code):  # the checkout's recipes name theirs
        named += re.findall(r'^dataset = "(\w+)"', (ROOT / config).read_text(), re.M)
    for name in named:
        if not (data / registry.get(name).folder).is_dir():
            return f"needs the {name} corpus in {data} (the test downloads nothing)"
    return None


def stand_ins(folder: Path) -> None:
    """The files the README's commands assume a reader has, small; and the checkout's configs and bench."""
    for name, seed in (("tickets.csv", 1), ("tickets_test.csv", 2), ("tickets_new.csv", 5)):
        texts, labels = make_corpus(40, seed=seed)
        with open(folder / name, "w") as f:
            f.write("subject,body,label\n")
            f.writelines(f"{' '.join(t.split()[:3])},{' '.join(t.split()[3:])},{y}\n" for t, y in zip(texts, labels))
    write_csv(folder / "big.csv", *make_corpus(200, seed=3))
    write_csv(folder / "test.csv", *make_corpus(40, seed=4))
    (folder / "questions.txt").write_text("Who wrote Hamlet?\nHow far is the moon?\nWhat is a caldera?\n")
    trec = registry.default_data_dir() / "trec" / "train_5500.label"  # "LABEL:fine question ...", a line each
    lines = trec.read_text(encoding="latin-1").lower().splitlines() if trec.exists() else ["x the"]
    words = [w for w, _ in Counter(w for ln in lines for w in ln.split()[1:]).most_common(2000)]
    vectors = np.random.default_rng(0).normal(0, 0.4, (len(words), 300))
    with open(folder / "glove.6B.300d.txt", "w") as f:
        f.writelines(w + " " + " ".join(f"{x:.3f}" for x in v) + "\n" for w, v in zip(words, vectors))
    for sub in ("configs", "bench"):  # copies: the benchmarks write their tables beside themselves
        shutil.copytree(ROOT / sub, folder / sub, ignore=shutil.ignore_patterns("results"))
    (folder / ".venv").symlink_to(sys.prefix, target_is_directory=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("readme")
    stand_ins(folder)
    return folder


def doccat_commands(script: str) -> list[list[str]] | None:
    """The script's commands as argument lists, when each is a plain `doccat ...` (no pipe, redirect, `&&`,
    variable): those run in this process, through the function the `doccat` command calls (doccat.cli.main),
    which saves the 2 s a fresh interpreter takes to import torch. None: the script needs bash."""
    commands = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words = list(lexer)
        if not words or words == ["source", ".venv/bin/activate"]:  # the test's environment is this one
            continue
        if words[0] != "doccat" or any(set(w) <= set("|&;<>()") or any(c in w for c in "$`*") or w.startswith("~")
                                       for w in words):
            return None
        commands.append(words[1:])
    return commands


def run_doccat(block: Block, commands: list[list[str]], folder: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(folder)
    monkeypatch.setenv("DOCCAT_QUIET", "1")
    for argv in commands:
        code = cli.main(argv)
        out = capsys.readouterr()
        assert code == 0, f"{block.name}: doccat {shlex.join(argv)} exited {code}\n{out.out[-3000:]}\n{out.err[-3000:]}"


def run_shell(block: Block, folder: Path) -> None:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
           "PYTHONPATH": os.pathsep.join(filter(None, (str(SRC), os.environ.get("PYTHONPATH")))),
           "DOCCAT_DATA_DIR": str(registry.default_data_dir()), "DOCCAT_QUIET": "1"}
    script = shell_script(block)
    out = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", script], cwd=folder, env=env, capture_output=True,
                         text=True, timeout=3600 if block.slow else 600)
    assert out.returncode == 0, (f"{block.name} exited {out.returncode}\n$ {script}\n{out.stdout[-3000:]}\n"
                                 f"{out.stderr[-3000:]}")


def run_python(block: Block, folder: Path, monkeypatch) -> None:
    monkeypatch.chdir(folder)
    exec(compile(block.code, f"README.md:{block.line}", "exec"), {"__name__": "__readme__"})  # noqa: S102


def params() -> list:
    marks = lambda b: [pytest.mark.slow] if b.slow else []  # noqa: E731
    return [pytest.param(b, id=b.name, marks=marks(b)) for b in blocks(README.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("block", params())
def test_readme_block_runs(block: Block, folder: Path, monkeypatch, capsys):
    if block.skip:
        pytest.skip(block.skip)
    if why := missing(block):
        pytest.skip(why)
    if block.lang == "python":
        run_python(block, folder, monkeypatch)
    elif (commands := doccat_commands(shell_script(block))) is not None:
        run_doccat(block, commands, folder, monkeypatch, capsys)
    else:
        run_shell(block, folder)


def indented_commands(text: str) -> list[str]:
    """The shell commands in indented code blocks, which the runner does not run."""
    lines, hidden, fenced = text.splitlines(), [], False
    for i, ln in enumerate(lines):
        fenced = fenced != bool(FENCE.match(ln))
        indented = ln.startswith("    ") and (i == 0 or not lines[i - 1].strip() or lines[i - 1].startswith("    "))
        if not fenced and indented and COMMAND.match(ln[4:]):
            hidden.append(f"README.md:{i + 1}: {ln.strip()}")
    return hidden


def test_every_command_is_in_a_block_the_runner_runs():
    """An indented code block is not run: a command in one would escape the test (and a reader's trust)."""
    hidden = indented_commands(README.read_text(encoding="utf-8"))
    assert hidden == [], ("put these in a ```bash block (with a readme-test marker if they cannot run):\n"
                          + "\n".join(hidden))


def test_markers_are_understood_and_skips_say_why():
    found = blocks(README.read_text(encoding="utf-8"))
    assert len(found) >= 10 and all(b.lang in RUN for b in found)
    assert all(len(b.skip) > 20 for b in found if b.skip)
    with pytest.raises(ValueError, match="unknown readme-test marker"):
        blocks("<!-- readme-test: quick -->\n```bash\ndoccat --version\n```\n")
    text = "<!-- readme-test: slow; needs optuna, sklearn -->\n```bash\npip install x && doccat --version  # hi\n```\n"
    [b] = blocks(text)
    assert (b.slow, b.needs, b.skip, shell_script(b)) == (True, ["optuna", "sklearn"], None, "doccat --version\n")
    [c] = blocks("```console\n$ doccat --version\ndoccat 0.1.0\n```\n")
    assert shell_script(c) == "doccat --version\n"
    assert doccat_commands("source .venv/bin/activate\ndoccat predict r \"Who?\"  # JSON\ndoccat a \\\n  --b 1\n") == [
        ["predict", "r", "Who?"], ["a", "--b", "1"]]
    assert indented_commands("Run:\n\n    doccat train x\n\n```bash\n    doccat y\n```\n") == ["README.md:3: doccat train x"]
    assert doccat_commands("doccat predict r - < q.txt\n") is None and doccat_commands("curl -s x\n") is None
