"""A trained linear bag model as an ONNX graph (`doccat export RUN --format onnx`).

The graph starts where FEATURES.md's featurizer ends: its inputs are a batch of documents as
`Featurizer.encode` gives them (`ids`: columns (N,) int64, `weights` (N,) float32, `offsets` (D+1,) int64, where
each document's features start), so any language that reproduces the features can run the model. It computes
the bag as gather + weight + a scatter-add per document (EmbeddingBag's sum) plus the bias, then the logits and
probabilities as `Outputs.proba` does. torch.onnx cannot trace the model: its batch is a Docs object, not tensors.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from . import linear
from .artifacts import ArtifactError, write_atomic

OPSET = 17  # ScatterND's reduction "add" needs 16
INSTALL_HINT = "exporting to ONNX needs the onnx package: pip install 'doccat[export]'"


def export_onnx(run_dir: str | Path, out: str | Path, overwrite: bool = False) -> Path:
    """Write the run's linear bag model to `out` as ONNX (inputs ids, weights, offsets; outputs logits,
    probabilities). ArtifactError for a model that is not a linear bag, a task without probabilities, or an
    existing `out` without `overwrite`."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ArtifactError(f"{out} exists: choose another --out, or pass --overwrite to replace it")
    try:
        import onnx
    except ImportError:
        raise ArtifactError(INSTALL_HINT) from None
    model = linear.load(run_dir)  # refuses anything but a linear bag model for classify or multilabel
    graph = build_graph(model.weight, model.bias, model.scale, "softmax" if model.task == "classify" else "sigmoid",
                        classes=model.class_names)
    onnx.checker.check_model(graph)
    write_atomic(out, graph.SerializeToString())
    return out


def build_graph(weight: np.ndarray, bias: np.ndarray, scale: float, link: str, classes: list[str] | None = None):
    """The ONNX model of scores = bag(ids, weights, offsets) @ W + b, logits and probabilities."""
    from onnx import TensorProto, helper, numpy_helper
    k = weight.shape[1]
    inits = [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b"),
             *([numpy_helper.from_array(np.array([scale], np.float32), "scale")] if link == "softmax" else []),
             *(numpy_helper.from_array(np.array(v, np.int64), name) for name, v in
               (("zero", [0]), ("one", [1]), ("minus_one", [-1]), ("axis1", [1]), ("k", [k])))]
    nodes = _doc_index_nodes(helper) + _bag_nodes(helper) + _link_nodes(helper, k, link)
    graph = helper.make_graph(
        nodes, "doccat_linear_bag",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["N"]),
         helper.make_tensor_value_info("weights", TensorProto.FLOAT, ["N"]),
         helper.make_tensor_value_info("offsets", TensorProto.INT64, ["D_plus_1"])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["D", max(k, 2) if link == "softmax" else k]),
         helper.make_tensor_value_info("probabilities", TensorProto.FLOAT,
                                       ["D", max(k, 2) if link == "softmax" else k])],
        inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="doccat")
    if classes:
        helper.set_model_props(model, {"classes": "\n".join(classes), "link": link})
    return model


def _doc_index_nodes(helper) -> list:
    """doc (N,): the document of each feature, from the offsets: a 1 added where each document after the first
    starts, then a running sum (documents without features add theirs at the same place)."""
    n = helper.make_node
    return [
        n("Shape", ["ids"], ["n"]),
        n("Add", ["n", "one"], ["n1"]),
        n("ConstantOfShape", ["n1"], ["marks0"], value=helper.make_tensor("v", 1, [1], [0.0])),
        n("Slice", ["offsets", "one", "minus_one"], ["starts"]),  # offsets[1:-1]
        n("Shape", ["starts"], ["m"]),
        n("ConstantOfShape", ["m"], ["ones"], value=helper.make_tensor("v", 1, [1], [1.0])),
        n("ScatterElements", ["marks0", "starts", "ones"], ["marks"], axis=0, reduction="add"),
        n("CumSum", ["marks", "zero"], ["cum"]),
        n("Slice", ["cum", "zero", "n"], ["cum_n"]),
        n("Cast", ["cum_n"], ["doc"], to=7),  # int64
        n("Unsqueeze", ["doc", "axis1"], ["doc_index"]),
        n("Shape", ["offsets"], ["d1"]),
        n("Sub", ["d1", "one"], ["d"]),
    ]


def _bag_nodes(helper) -> list:
    """scores (D, K) = each document's sum of weights x W's rows, + b: EmbeddingBag's sum, as a scatter-add."""
    n = helper.make_node
    return [
        n("Gather", ["W", "ids"], ["rows"], axis=0),
        n("Unsqueeze", ["weights", "axis1"], ["w_col"]),
        n("Mul", ["rows", "w_col"], ["weighted"]),
        n("Concat", ["d", "k"], ["dk"], axis=0),
        n("ConstantOfShape", ["dk"], ["empty"], value=helper.make_tensor("v", 1, [1], [0.0])),
        n("ScatterND", ["empty", "doc_index", "weighted"], ["bag"], reduction="add"),
        n("Add", ["bag", "b"], ["scores"]),
    ]


def _link_nodes(helper, k: int, link: str) -> list:
    """logits and probabilities as Outputs.proba: multilabel a sigmoid per label; classify the scores times the
    calibrated scale (1 unless squared_hinge), one output z standing for the logits (0, z), then a softmax."""
    n = helper.make_node
    if link == "sigmoid":
        return [n("Identity", ["scores"], ["logits"]), n("Sigmoid", ["scores"], ["probabilities"])]
    nodes = [n("Mul", ["scores", "scale"], ["z"] if k == 1 else ["logits"])]
    if k == 1:
        nodes += [n("Shape", ["z"], ["z_shape"]),
                  n("ConstantOfShape", ["z_shape"], ["z0"], value=helper.make_tensor("v", 1, [1], [0.0])),
                  n("Concat", ["z0", "z"], ["logits"], axis=1)]
    return nodes + [n("Softmax", ["logits"], ["probabilities"], axis=1)]
