"""The PNGs every run directory gets: valid, non-empty images, listed in the manifest."""
import json

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from doccat import plots  # noqa: E402
from doccat.artifacts import read_run  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_every_figure_is_a_valid_image_in_the_manifest(small_run):
    from matplotlib.image import imread
    manifest = json.loads((small_run / "manifest.json").read_text())["files"]
    for name in plots.FIGURES:
        path = small_run / name
        data = path.read_bytes()
        width, height = png_size(data)
        assert width >= 300 and height >= 150, (name, width, height)
        pixels = imread(path)  # decodes the whole image: a truncated file raises
        assert pixels.shape[:2] == (height, width)
        assert pixels.std() > 0.01, f"{name} is blank"
        assert name in manifest
    read_run(small_run)  # checksums of the PNGs and batches.csv verify


def test_batches_csv_records_every_step(small_run):
    lines = (small_run / "batches.csv").read_text().splitlines()
    assert lines[0] == "step,epoch,loss,grad_norm,lr"
    rows = [dict(zip(lines[0].split(","), map(float, line.split(",")))) for line in lines[1:]]
    history = (small_run / "history.csv").read_text().splitlines()[1:]
    assert [r["step"] for r in rows] == list(range(1, len(rows) + 1))
    assert {int(r["epoch"]) for r in rows} == set(range(1, len(history) + 1))
    assert all(r["grad_norm"] > 0 and r["loss"] > 0 for r in rows)


def test_render_run_without_batches_or_test_split():
    history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_score": 0.5, "lr": 0.1, "seconds": 1},
               {"epoch": 2, "train_loss": 0.5, "val_loss": 0.6, "val_score": 0.7, "lr": 0.1, "seconds": 1}]
    metrics = {"valid": {"confusion_matrix": [[3, 1], [0, 4]]}}
    images = plots.render_run(history, [], metrics, ["a", "b"])
    assert set(images) == {"loss.png", "score.png", "lr.png", "confusion_matrix.png"}
    assert all(png_size(data)[0] > 100 for data in images.values())


def test_smooth_follows_a_constant_from_the_first_point():
    assert plots.smooth([2.0, 2.0, 2.0]) == pytest.approx([2.0, 2.0, 2.0])


def test_one_solve_draws_no_curves_only_the_confusion_matrix():
    history = [{"epoch": 1, "train_loss": 0.2, "val_loss": 0.4, "val_score": 0.8, "lr": 0.0, "seconds": 1}]
    batches = [{"step": 1, "epoch": 1, "loss": 0.2, "grad_norm": float("nan"), "lr": 0.0}]  # liblinear's one solve
    images = plots.render_run(history, batches, {"valid": {"confusion_matrix": [[3, 1], [0, 4]]}}, ["a", "b"])
    assert set(images) == {"confusion_matrix.png"}


def test_the_confusion_matrix_is_drawn_up_to_50_classes():
    history = [{"epoch": 1, "train_loss": 0.2, "val_loss": 0.4, "val_score": 0.8, "lr": 0.0, "seconds": 1}]
    for n, drawn in ((50, True), (51, False)):
        cm = np.eye(n, dtype=int).tolist()
        images = plots.render_run(history, [], {"test": {"confusion_matrix": cm}}, [f"c{i}" for i in range(n)])
        assert ("confusion_matrix.png" in images) is drawn


def test_the_loss_figure_draws_per_batch_curves_for_mini_batches_only():
    history = [{"epoch": e, "train_loss": 1.0 / e, "val_loss": 1.1 / e} for e in (1, 2)]
    batches = [{"step": s, "loss": 5.0} for s in range(1, 9)]  # at full batch: line-search trial points
    labels = lambda full: [c[0] for c in plots.loss_curves(history, batches, full)]
    assert labels(True) == ["train loss per epoch", "validation loss"]
    assert labels(False)[:2] == ["train loss per batch", "train loss per batch (smoothed)"]
    x = plots.loss_curves(history, batches, False)[0][1]
    assert x[0] == pytest.approx(0.25) and x[-1] == pytest.approx(2.0)  # 4 batches an epoch, on the epoch axis
