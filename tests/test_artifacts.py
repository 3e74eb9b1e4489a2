"""The run writer never loses a user's files: --overwrite replaces a doccat run or nothing, crash-safely."""
import os
import subprocess
import sys

import pytest

import doccat
from doccat import artifacts
from doccat.artifacts import ArtifactError

from conftest import make_corpus, write_csv

QUIET = dict(log=lambda *a: None)
TINY = dict(epochs=1, buckets=100, **QUIET)


def doccat_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "doccat", *map(str, args)], capture_output=True, text=True, cwd=cwd)


@pytest.fixture
def good_csv(tmp_path):
    return write_csv(tmp_path / "good.csv", *make_corpus(20))


def _tree(path):
    return sorted((str(p.relative_to(path)), p.read_bytes() if p.is_file() else None) for p in path.rglob("*"))


def test_overwrite_refuses_a_project_folder_and_leaves_it_untouched(tmp_path, good_csv):
    proj = tmp_path / "proj"
    (proj / "src").mkdir(parents=True)
    (proj / "src" / "code.py").write_text("x\n")
    before = _tree(proj)
    out = doccat_cli("train", "--train", good_csv, "--epochs", 1, "--quiet", "--out", proj, "--overwrite")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "replaces only a doccat run directory" in out.stderr and "left" in out.stderr
    assert _tree(proj) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv", "proj"]  # no debris either


def test_overwrite_refuses_the_current_directory_and_its_parents(tmp_path, good_csv):
    work = tmp_path / "work"
    work.mkdir()
    (work / "notes.txt").write_text("keep me\n")
    for target in (".", "../work", ""):
        out = doccat_cli("train", "--train", good_csv, "--epochs", 1, "--quiet", "--out", target, "--overwrite",
                         cwd=work)
        assert out.returncode == 2 and "Traceback" not in out.stderr, (target, out.stderr)
    assert (work / "notes.txt").read_text() == "keep me\n" and [p.name for p in work.iterdir()] == ["notes.txt"]


def test_a_data_file_as_out_is_refused_and_kept(tmp_path, good_csv):
    data = good_csv.read_bytes()
    for flags in ([], ["--overwrite"]):
        out = doccat_cli("train", "--train", good_csv, "--epochs", 1, "--quiet", "--out", good_csv, *flags)
        assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
        assert good_csv.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.csv"]  # nothing renamed aside


def test_out_under_a_file_is_a_clear_error(tmp_path, good_csv):
    out = doccat_cli("train", "--train", good_csv, "--epochs", 1, "--quiet", "--out", good_csv / "run")
    assert out.returncode == 2 and "is a file, not a directory" in out.stderr and "Traceback" not in out.stderr


def test_overwrite_replaces_a_run_and_refuses_one_with_foreign_files(tmp_path):
    texts, labels = make_corpus(20)
    run = tmp_path / "run"
    doccat.train(texts, labels, out=run, **TINY)
    (run / "report.html").write_text("<html></html>")  # doccat report's default place: still a run
    assert artifacts.is_run(run)
    doccat.train(texts, labels, out=run, overwrite=True, seed=1, **TINY)
    assert artifacts.is_run(run) and not (run / "report.html").exists()
    (run / "my-notes.txt").write_text("mine\n")
    with pytest.raises(ArtifactError, match="'my-notes.txt', which is not part of a doccat run"):
        doccat.train(texts, labels, out=run, overwrite=True, **TINY)
    assert (run / "my-notes.txt").read_text() == "mine\n" and (run / "manifest.json").is_file()


def test_an_empty_directory_may_be_overwritten(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ArtifactError, match="already exists"):
        doccat.train(*make_corpus(20), out=tmp_path / "empty", **TINY)
    doccat.train(*make_corpus(20), out=tmp_path / "empty", overwrite=True, **TINY)
    assert artifacts.is_run(tmp_path / "empty")


def test_overwrite_refuses_a_foreign_in_progress_directory(tmp_path):
    (tmp_path / "run.partial").mkdir()
    (tmp_path / "run.partial" / "thesis.tex").write_text("years of work\n")
    with pytest.raises(ArtifactError, match="not a doccat in-progress directory"):
        doccat.train(*make_corpus(20), out=tmp_path / "run", overwrite=True, **TINY)
    assert (tmp_path / "run.partial" / "thesis.tex").read_text() == "years of work\n"


def test_tune_and_seeds_overwrite_only_their_own_folders(tmp_path, good_csv):
    for verb, extra in (("tune", ["--trials", 1, "--space", "linear"]), ("train", ["--seeds", 2])):
        proj = tmp_path / f"proj-{verb}"
        proj.mkdir()
        (proj / "code.py").write_text("x\n")
        out = doccat_cli(verb, "--train", good_csv, "--epochs", 1, "--quiet", "--out", proj, "--overwrite", *extra)
        assert out.returncode == 2 and "doccat did not write" in out.stderr and "Traceback" not in out.stderr
        assert [p.name for p in proj.iterdir()] == ["code.py"]


def _write(run, seed):
    texts, labels = make_corpus(20, seed=seed)  # other documents: other weights (the default fit is deterministic)
    clf = doccat.train(texts, labels, **TINY)
    clf.save(run, overwrite=True)
    return (run / "model.safetensors").read_bytes()


def test_the_swap_keeps_the_old_or_the_new_run_at_every_instant(tmp_path, monkeypatch):
    """Killed between the two renames of the fallback swap: the next command finds a complete run there."""
    run = tmp_path / "run"
    _write(run, 0)
    monkeypatch.setattr(artifacts, "_exchange", lambda a, b: False)  # a file system without RENAME_EXCHANGE
    real_replace, calls = os.replace, []

    def die_after_first_rename(src, dst):
        real_replace(src, dst)
        calls.append(dst)
        if str(dst).startswith(str(tmp_path / ".run.old-")):
            raise KeyboardInterrupt  # the kill
    monkeypatch.setattr(artifacts.os, "replace", die_after_first_rename)
    with pytest.raises(KeyboardInterrupt):
        _write(run, 1)
    monkeypatch.setattr(artifacts.os, "replace", real_replace)
    assert not run.exists()  # the one instant the fallback leaves open...
    new = _write_unsaved(1)
    artifacts.recover(run)  # ...which the next command that touches the path repairs: the new run, complete
    assert artifacts.is_run(run) and (run / "model.safetensors").read_bytes() == new
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]
    doccat.load(run)


def _write_unsaved(seed):
    texts, labels = make_corpus(20, seed=seed)
    return artifacts.save_safetensors(
        {k: v.numpy() for k, v in doccat.train(texts, labels, **TINY).state_dict().items()})


def test_the_atomic_exchange_never_leaves_the_target_missing(tmp_path, monkeypatch):
    run = tmp_path / "run"
    old = _write(run, 0)
    seen = []
    real_rmtree = artifacts.shutil.rmtree

    def look_then_remove(path, *a, **k):  # the instant after the swap: the new run is already in place
        seen.append(artifacts.is_run(run) and (run / "model.safetensors").read_bytes() != old)
        raise KeyboardInterrupt  # killed before the old copy is removed
    monkeypatch.setattr(artifacts.shutil, "rmtree", look_then_remove)
    with pytest.raises(KeyboardInterrupt):
        _write(run, 1)
    monkeypatch.setattr(artifacts.shutil, "rmtree", real_rmtree)
    assert seen == [True]
    leftovers = [p.name for p in tmp_path.iterdir() if p.name != "run"]
    assert len(leftovers) == 1 and leftovers[0].startswith(".run.tmp-")
    doccat.train(*make_corpus(20), out=run, overwrite=True, **TINY)  # the next write cleans it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_a_kill_during_the_final_save_leaves_no_debris(tmp_path, monkeypatch):
    run = tmp_path / "run"
    real_replace = os.replace

    def die(src, dst):
        raise KeyboardInterrupt
    monkeypatch.setattr(artifacts.os, "replace", die)
    with pytest.raises(KeyboardInterrupt):
        _write(run, 0)
    monkeypatch.setattr(artifacts.os, "replace", real_replace)
    assert any(p.name.startswith(".run.tmp-") for p in tmp_path.iterdir())
    _write(run, 0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_recover_leaves_look_alike_folders_with_subfolders_alone(tmp_path):
    odd = tmp_path / ".run.tmp-mine"
    (odd / "sub").mkdir(parents=True)
    artifacts.recover(tmp_path / "run")
    assert (odd / "sub").is_dir()
