"""BagClassifier: shapes, layer structure, dropout, the init schemes, and the mean bag."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from doccat.config import ModelConfig
from doccat.inputs import Docs
from doccat.text import Encoded
from doccat.model import ACTIVATIONS, BagClassifier, bag_matmul, init_weights, nb_scale

NF, DIM, C = 2000, 32, 3


def _docs(ids, offsets, weights=None) -> Docs:
    ids = torch.as_tensor(ids, dtype=torch.long)
    weights = torch.ones(len(ids)) if weights is None else torch.as_tensor(weights, dtype=torch.float32)
    return Docs(ids, torch.as_tensor(offsets, dtype=torch.long), weights)


def _inputs():
    # 4 docs, the second one empty; the last has a repeated id (its weights add up)
    return _docs([1, 2, 3, 4, 5, 6, 7, 1999, 0, 0, 42], [0, 3, 3, 8, 11], torch.rand(11))


def _model(**kw) -> BagClassifier:
    return BagClassifier(ModelConfig(embed_dim=DIM, **kw), NF, C)


def test_plain_module_and_output_shape():
    torch.manual_seed(0)
    model = _model()
    assert isinstance(model, nn.Module)
    inputs = _inputs()
    out = model(inputs)
    assert out.shape == (4, C)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    out.sum().backward()
    assert model.bag.weight.grad is not None


def test_sparse_gradients():
    model = BagClassifier(ModelConfig(embed_dim=DIM), NF, C, sparse=True)
    inputs = _inputs()
    model(inputs).sum().backward()
    assert model.bag.weight.grad.is_sparse


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_hidden_layer_structure(activation):
    model = _model(hidden=[8, 4], activation=activation, dropout=0.3)
    layers = list(model.hidden)
    assert len(layers) == 6
    lin1, act1, drop1, lin2, act2, drop2 = layers
    assert isinstance(lin1, nn.Linear) and (lin1.in_features, lin1.out_features) == (DIM, 8)
    assert isinstance(lin2, nn.Linear) and (lin2.in_features, lin2.out_features) == (8, 4)
    assert type(act1) is ACTIVATIONS[activation] and type(act2) is ACTIVATIONS[activation]
    assert isinstance(drop1, nn.Dropout) and drop1.p == 0.3 and isinstance(drop2, nn.Dropout)
    assert (model.head.in_features, model.head.out_features) == (4, C)
    assert model.bag.mode == "sum" and model.bag.weight.shape == (NF, DIM)
    assert model(_inputs()).shape == (4, C)


def test_no_hidden_layers():
    model = _model()
    assert len(model.hidden) == 0
    assert (model.head.in_features, model.head.out_features) == (DIM, C)


def test_dropout_train_vs_eval():
    torch.manual_seed(0)
    model = _model(hidden=[64], dropout=0.5)
    inputs = _inputs()
    model.train()
    a, b = model(inputs), model(inputs)
    assert not torch.equal(a, b)
    model.eval()
    with torch.no_grad():
        c, d = model(inputs), model(inputs)
    assert torch.equal(c, d)
    assert not torch.equal(a, c)


def test_no_dropout_is_deterministic_in_train_mode():
    model = _model(hidden=[16], dropout=0.0).train()
    inputs = _inputs()
    assert torch.equal(model(inputs), model(inputs))


def _weights(model):
    return [m.weight for m in model.modules() if isinstance(m, (nn.Linear, nn.EmbeddingBag))]


def _biases(model):
    return [m.bias for m in model.modules() if isinstance(m, nn.Linear)]


def test_uniform_init_within_range_biases_zero():
    torch.manual_seed(0)
    r = 0.05
    model = _model(hidden=[16], init="uniform", init_range=r)
    for w in _weights(model):
        assert w.abs().max() <= r
        assert w.abs().max() > 0.8 * r  # the whole range is used
    assert model.bag.weight.mean().abs() < 0.1 * r
    assert model.bag.weight.std().item() == pytest.approx(r / 3**0.5, rel=0.05)
    for b in _biases(model):
        assert torch.count_nonzero(b) == 0


def test_default_init_is_torchs_own():
    torch.manual_seed(123)
    model = _model(init="default")
    torch.manual_seed(123)
    bag = nn.EmbeddingBag(NF, DIM, mode="mean")
    head = nn.Linear(DIM, C)
    assert torch.equal(model.bag.weight, bag.weight)
    assert torch.equal(model.head.weight, head.weight)
    assert torch.equal(model.head.bias, head.bias)
    assert torch.count_nonzero(model.head.bias) > 0  # torch's default bias is not zero
    assert model.bag.weight.std().item() == pytest.approx(1.0, rel=0.05)  # N(0, 1)


@pytest.mark.parametrize("scheme,bag_std", [
    ("uniform", 0.5 / 3**0.5),                 # U(-0.5, 0.5)
    ("xavier", (6 / (NF + DIM)) ** 0.5 / 3**0.5),  # U(-b, b), b = sqrt(6 / (fan_in + fan_out))
    ("kaiming", (6 / DIM) ** 0.5 / 3**0.5),     # U(-b, b), b = sqrt(2) * sqrt(3 / fan_in), fan_in = DIM
    ("normal", 0.5),                            # N(0, init_range)
])
def test_init_schemes_change_the_distribution(scheme, bag_std):
    torch.manual_seed(0)
    default = _model(hidden=[16], init="default")
    torch.manual_seed(0)
    model = _model(hidden=[16], init=scheme, init_range=0.5)
    assert not torch.equal(model.bag.weight, default.bag.weight)
    assert not torch.equal(model.head.weight, default.head.weight)
    assert model.bag.weight.std().item() == pytest.approx(bag_std, rel=0.05)
    assert default.bag.weight.std().item() == pytest.approx(1.0, rel=0.05)
    for b in _biases(model):
        assert torch.count_nonzero(b) == 0
    if scheme == "xavier":
        bound = (6 / (16 + C)) ** 0.5
        assert model.head.weight.abs().max() <= bound
    if scheme == "kaiming":
        assert model.head.weight.abs().max() <= (6 / 16) ** 0.5


def test_init_weights_is_reusable():
    model = _model(init="default")
    init_weights(model, "uniform", 0.01)
    assert model.bag.weight.abs().max() <= 0.01 and torch.count_nonzero(model.head.bias) == 0


def test_bag_is_the_weighted_sum_of_feature_vectors_per_document():
    torch.manual_seed(0)
    table = torch.randn(NF, DIM)
    docs = _inputs()
    expected = torch.stack([(docs.weights[a:b, None] * table[docs.ids[a:b]]).sum(0)
                            for a, b in zip(docs.offsets[:-1].tolist(), docs.offsets[1:].tolist())])
    torch.testing.assert_close(bag_matmul(table, docs), expected)
    sparse = nn.EmbeddingBag(NF, DIM, mode="sum", _weight=table)  # the same bag, as torch computes it
    torch.testing.assert_close(sparse(docs.ids, docs.offsets[:-1], per_sample_weights=docs.weights), expected)


def test_dense_bag_gradient_equals_autograds():
    torch.manual_seed(0)
    docs, upstream = _inputs(), torch.randn(4, DIM)
    a = torch.randn(NF, DIM, requires_grad=True)
    (bag_matmul(a, docs) * upstream).sum().backward()
    b = a.detach().clone().requires_grad_()
    dense = torch.zeros(4, NF).index_put_((torch.repeat_interleave(torch.arange(4), docs.offsets.diff()), docs.ids),
                                          docs.weights, accumulate=True)  # X as a dense matrix
    ((dense @ b) * upstream).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    # the batch keeps its transpose: a second backward pass reuses it and agrees
    a.grad = None
    (bag_matmul(a, docs) * upstream).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)


def test_sparse_and_dense_gradients_agree():
    torch.manual_seed(0)
    dense, sparse = _model(), BagClassifier(ModelConfig(embed_dim=DIM), NF, C, sparse=True)
    sparse.load_state_dict(dense.state_dict())
    docs = _inputs()
    dense(docs).sum().backward()
    sparse(docs).sum().backward()
    torch.testing.assert_close(sparse.bag.weight.grad.to_dense(), dense.bag.weight.grad)


def test_embed_dim_zero_is_a_linear_model():
    model = BagClassifier(ModelConfig(embed_dim=0, weighting="mean"), NF, C)  # init auto: zeros
    assert model.bag.weight.shape == (NF, C) and not model.bag.weight.any()
    with torch.no_grad():
        model.bag.weight.uniform_(-1, 1)
        model.head.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    ids, weights = torch.tensor([5, 7]), torch.tensor([0.25, 0.75])
    expected = (weights[:, None] * model.bag.weight[ids]).sum(0) + model.head.bias
    torch.testing.assert_close(model(_docs(ids, [0, 2], weights))[0], expected)


def _encoded(docs: list[list[int]]) -> Encoded:
    ids = np.array([f for d in docs for f in d], dtype=np.int32)
    offsets = np.cumsum([0] + [len(d) for d in docs])
    return Encoded(ids, offsets, np.ones(len(ids)), np.ones(len(ids), dtype=np.float32))


def _ratio(df_in, n_in_total, df_out, n_out_total):
    """log((1 + df_in) / sum) - log((1 + df_out) / sum) for one feature, sums given."""
    return np.log((1 + df_in) / n_in_total) - np.log((1 + df_out) / n_out_total)


def test_nb_scale_by_hand_multiclass_binary_and_multilabel():
    # 3 features; docs: {0,1} {0} {1,2} {2}
    enc = _encoded([[0, 1], [0], [1, 2], [2]])
    y = np.array([0, 0, 1, 2])
    scale = nb_scale(enc, y, num_features=3, num_outputs=3, power=1.0).numpy()
    # class 0: in-class df (2, 1, 0) -> smoothed (3, 2, 1), sum 6; out (0, 1, 2) -> (1, 2, 3), sum 6
    assert scale[:, 0] == pytest.approx(np.abs([_ratio(2, 6, 0, 6), _ratio(1, 6, 1, 6), _ratio(0, 6, 2, 6)]), rel=1e-6)
    assert scale[1, 0] == 0  # a feature as frequent in the class as out of it weighs nothing
    # one output for two classes: the second class's; power 0.5 is the square root
    half = nb_scale(enc, np.array([0, 0, 1, 1]), num_features=3, num_outputs=1, power=0.5).numpy()
    # class 1: in (0, 1, 2) -> (1, 2, 3), sum 6; out (2, 1, 0) -> (3, 2, 1), sum 6
    assert half.shape == (3, 1)
    assert half[:, 0] == pytest.approx(np.sqrt(np.abs([_ratio(0, 6, 2, 6), 0.0, _ratio(2, 6, 0, 6)])), rel=1e-6)
    # multilabel: label indicators; the same numbers as one class id per document
    onehot = np.eye(3, dtype=np.float32)[y]
    np.testing.assert_allclose(nb_scale(enc, onehot, 3, 3, 1.0).numpy(), scale, rtol=1e-6)


def test_nb_scale_is_a_reparametrization_folded_away():
    torch.manual_seed(0)
    model = BagClassifier(ModelConfig(embed_dim=0), NF, C)
    with torch.no_grad():
        model.bag.weight.uniform_(-1, 1)
    model.scale = torch.rand(NF, C)
    inputs = _inputs()
    scaled = model(inputs)
    expected = inputs.csr(NF) @ (model.bag.weight * model.scale) + model.head.bias
    torch.testing.assert_close(scaled, expected)
    scaled.sum().backward()  # the gradient of the weights is the scaled one
    torch.testing.assert_close(model.bag.weight.grad, inputs.csr_t(NF) @ torch.ones(4, C) * model.scale)
    assert "scale" not in model.state_dict()
    model.fold_scale()
    assert model.scale is None
    torch.testing.assert_close(model(inputs), scaled)
