"""ONNX export parity: the largest absolute difference between doccat's predict_proba and the exported ONNX
graph's probabilities (onnxruntime, CPU) on real test texts.

    python bench/export_parity.py --data-dir DIR RUN_DIR:DATASET:SPLIT:COUNT [...]

Each run is exported to a temporary file, its featurizer encodes the first COUNT texts of DATASET's SPLIT, and
both compute the probabilities; prints one JSON object (per run and over all of them). Results: bench/EXPORT.md.
"""
from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np


def measure(run_dir: str, dataset: str, split: str, count: int, data_dir: Path) -> dict:
    import onnxruntime as ort

    from doccat.classifier import load
    from doccat.data.registry import get
    from doccat.export import export_onnx
    spec = get(dataset)
    texts = spec.read(data_dir / spec.folder, split)[0][:count]
    clf = load(run_dir, device="cpu")
    with tempfile.TemporaryDirectory() as tmp:
        path = export_onnx(run_dir, Path(tmp) / "model.onnx")
        enc = clf.featurizer.encode(texts)
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        _, proba = session.run(None, {"ids": enc.ids.astype(np.int64), "weights": enc.weights.astype(np.float32),
                                      "offsets": enc.offsets.astype(np.int64)})
    ref = clf.predict_proba(texts)
    return {"run": run_dir, "dataset": dataset, "split": split, "texts": len(texts),
            "max_abs_diff": float(np.abs(proba - ref).max()),
            "same_argmax": int((proba.argmax(1) == ref.argmax(1)).sum())}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("runs", nargs="+", help="RUN_DIR:DATASET:SPLIT:COUNT")
    args = p.parse_args()
    rows = [measure(r, d, s, int(n), args.data_dir) for r, d, s, n in (x.rsplit(":", 3) for x in args.runs)]
    print(json.dumps({"runs": rows, "texts": sum(r["texts"] for r in rows),
                      "max_abs_diff": max(r["max_abs_diff"] for r in rows)}, indent=2))


if __name__ == "__main__":
    main()
