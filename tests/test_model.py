"""BagClassifier: shapes, layer structure, dropout, the init schemes, and the mean bag."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from doccat.config import ModelConfig
from doccat.model import ACTIVATIONS, BagClassifier, init_weights

NF, DIM, C = 2000, 32, 3


def _inputs():
    ids = torch.tensor([1, 2, 3, 4, 5, 6, 7, 1999, 0, 0, 42], dtype=torch.long)
    offsets = torch.tensor([0, 3, 3, 8], dtype=torch.long)  # 4 docs, the second one empty
    counts = torch.ones(len(ids))
    return ids, offsets, counts


def _model(**kw) -> BagClassifier:
    return BagClassifier(ModelConfig(embed_dim=DIM, **kw), NF, C)


def test_plain_module_and_output_shape():
    torch.manual_seed(0)
    model = _model()
    assert isinstance(model, nn.Module)
    inputs = _inputs()
    out = model(*inputs)
    assert out.shape == (4, C)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    out.sum().backward()
    assert model.bag.weight.grad is not None


def test_sparse_gradients():
    model = BagClassifier(ModelConfig(embed_dim=DIM), NF, C, sparse=True)
    inputs = _inputs()
    model(*inputs).sum().backward()
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
    assert model(*_inputs()).shape == (4, C)


def test_no_hidden_layers():
    model = _model()
    assert len(model.hidden) == 0
    assert (model.head.in_features, model.head.out_features) == (DIM, C)


def test_dropout_train_vs_eval():
    torch.manual_seed(0)
    model = _model(hidden=[64], dropout=0.5)
    inputs = _inputs()
    model.train()
    a, b = model(*inputs), model(*inputs)
    assert not torch.equal(a, b)
    model.eval()
    with torch.no_grad():
        c, d = model(*inputs), model(*inputs)
    assert torch.equal(c, d)
    assert not torch.equal(a, c)


def test_no_dropout_is_deterministic_in_train_mode():
    model = _model(hidden=[16], dropout=0.0).train()
    inputs = _inputs()
    assert torch.equal(model(*inputs), model(*inputs))


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


def test_mean_weighting_equals_the_mean_of_the_token_vectors():
    torch.manual_seed(0)
    model = _model(weighting="mean")
    tokens = torch.tensor([5, 7, 7, 100, 1999])  # 7 twice: once as a distinct id with count 2
    expected = model.bag.weight[tokens].mean(0)
    out = model(torch.tensor([5, 7, 100, 1999]), torch.tensor([0]), torch.tensor([1.0, 2.0, 1.0, 1.0]))
    torch.testing.assert_close(out[0], model.head(expected))
    # the same document inside a batch gives the same output
    out = model(torch.tensor([1, 2, 5, 7, 100, 1999, 3]), torch.tensor([0, 2, 6]),
                torch.tensor([1.0, 1.0, 1.0, 2.0, 1.0, 1.0, 1.0]))
    torch.testing.assert_close(out[1], model.head(expected))
    torch.testing.assert_close(out[0], model.head(model.bag.weight[[1, 2]].mean(0)))


def test_tfidf_weighting_is_sublinear_tf_times_idf_l2_normalized():
    torch.manual_seed(0)
    model = _model(weighting="tfidf")
    model.idf.uniform_(1.0, 3.0)
    ids, counts = torch.tensor([5, 7, 100]), torch.tensor([1.0, 3.0, 2.0])
    w = (1 + torch.log(counts)) * model.idf[ids]
    w = w / w.norm()
    expected = model.head((w[:, None] * model.bag.weight[ids]).sum(0))
    torch.testing.assert_close(model(ids, torch.tensor([0]), counts)[0], expected)
    assert "idf" in model.state_dict()  # saved with the weights


def test_embed_dim_zero_is_a_linear_model():
    model = BagClassifier(ModelConfig(embed_dim=0, weighting="mean"), NF, C)  # init auto: zeros
    assert model.bag.weight.shape == (NF, C) and not model.bag.weight.any()
    with torch.no_grad():
        model.bag.weight.uniform_(-1, 1)
        model.head.bias.copy_(torch.tensor([0.1, 0.2, 0.3]))
    ids, counts = torch.tensor([5, 7]), torch.tensor([1.0, 3.0])
    expected = (counts[:, None] / 4 * model.bag.weight[ids]).sum(0) + model.head.bias  # mean weighting
    torch.testing.assert_close(model(ids, torch.tensor([0]), counts)[0], expected)
