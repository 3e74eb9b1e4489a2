"""The mathematics of the losses: each test fails if a formula is wrong."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from doccat.loss import Outputs, LossError, check, class_weights, num_outputs


def _batch(seed=0, n=7, k=4):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, k, generator=g) * 3, torch.randint(0, k, (n,), generator=g)


def test_hand_written_cross_entropy_equals_the_library():
    z, y = _batch()
    t = F.one_hot(y, 4).float()  # one-hot targets
    softmax = torch.exp(z) / torch.exp(z).sum(1, keepdim=True)
    by_hand = -(t * torch.log(softmax)).sum(1).mean()  # -sum(t * log(softmax(z))), averaged over the batch
    torch.testing.assert_close(by_hand, F.cross_entropy(z, y))
    torch.testing.assert_close(by_hand, Outputs(kind="cross_entropy")(z, y))


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_log_softmax_then_nll_equals_cross_entropy(smoothing, weighted):
    z, y = _batch(1)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0]) if weighted else None
    ce = Outputs(kind="cross_entropy", label_smoothing=smoothing, weight=w)(z, y)
    nll = Outputs(kind="nll", label_smoothing=smoothing, weight=w)(z, y)
    torch.testing.assert_close(nll, ce)
    torch.testing.assert_close(ce, F.cross_entropy(z, y, weight=w, label_smoothing=smoothing))


def test_label_smoothing_is_cross_entropy_against_smoothed_one_hot_targets():
    z, y = _batch(2)
    eps, k = 0.1, 4
    t = F.one_hot(y, k).float() * (1 - eps) + eps / k
    expected = -(t * F.log_softmax(z, 1)).sum(1).mean()
    torch.testing.assert_close(Outputs(label_smoothing=eps)(z, y), expected)


def test_binary_sigmoid_bce_equals_two_class_softmax_on_the_logit_difference():
    g = torch.Generator().manual_seed(3)
    z, y = torch.randn(9, 1, generator=g), torch.randint(0, 2, (9,), generator=g)
    bce = Outputs(kind="bce")(z, y)
    by_hand = -(y * torch.log(torch.sigmoid(z[:, 0])) + (1 - y) * torch.log(1 - torch.sigmoid(z[:, 0]))).mean()
    torch.testing.assert_close(bce, by_hand)
    # sigmoid(z) is the softmax of the logits (0, z): the same model written two ways
    two = torch.cat([torch.zeros_like(z), z], 1)
    torch.testing.assert_close(bce, F.cross_entropy(two, y))
    torch.testing.assert_close(Outputs(kind="bce").proba(z), torch.softmax(two, 1))
    torch.testing.assert_close(Outputs(kind="bce").log_proba(z), F.log_softmax(two, 1))


def test_multilabel_bce_sums_the_labels_and_averages_the_documents():
    g = torch.Generator().manual_seed(4)
    z, y = torch.randn(5, 3, generator=g), torch.randint(0, 2, (5, 3), generator=g).float()
    p = torch.sigmoid(z)
    by_hand = -(y * p.log() + (1 - y) * (1 - p).log()).sum(1).mean()  # -log P(label set), per document
    loss = Outputs(task="multilabel", kind="bce")
    torch.testing.assert_close(loss(z, y), by_hand)
    torch.testing.assert_close(loss.proba(z), p)
    assert loss.score(z, y) == pytest.approx(_micro_f1(y.numpy() > 0.5, p.numpy() >= 0.5))


def _micro_f1(t, p):
    tp, fp, fn = (t & p).sum(), (~t & p).sum(), (t & ~p).sum()
    return 2 * tp / (2 * tp + fp + fn)


def test_regression_losses():
    pred, y = torch.tensor([[1.0], [2.0], [4.0]]), torch.tensor([1.5, 2.0, 1.0])
    assert Outputs(task="regression", kind="mse")(pred, y).item() == pytest.approx((0.25 + 0 + 9) / 3)
    assert Outputs(task="regression", kind="l1")(pred, y).item() == pytest.approx((0.5 + 0 + 3) / 3)
    r2 = 1 - (0.25 + 9) / ((1.5 - 1.5) ** 2 + (2 - 1.5) ** 2 + (1 - 1.5) ** 2)
    assert Outputs(task="regression", kind="mse").score(pred, y) == pytest.approx(r2)


def test_balanced_class_weights_as_scikit_learn():
    y = np.array([0, 0, 0, 1, 2, 2])
    counts = np.bincount(y).tolist()  # training documents per class, as the data's statistics hold them
    w = class_weights("balanced", counts, len(y), "classify")
    torch.testing.assert_close(w, torch.tensor([6 / (3 * 3), 6 / (3 * 1), 6 / (3 * 2)]))
    sk = pytest.importorskip("sklearn.utils.class_weight")
    np.testing.assert_allclose(w.numpy(), sk.compute_class_weight("balanced", classes=np.arange(3), y=y), rtol=1e-6)
    torch.testing.assert_close(class_weights("1,2,3", counts, len(y), "classify"), torch.tensor([1.0, 2.0, 3.0]))
    with pytest.raises(LossError, match="2 values for 3 classes"):
        class_weights("1,2", counts, len(y), "classify")
    pos = class_weights("balanced", [3, 1], 4, "multilabel")  # per label: documents with it, of 4
    torch.testing.assert_close(pos, torch.tensor([1 / 3, 3 / 1]))  # negatives / positives per label


def test_weighted_cross_entropy_is_the_weighted_mean():
    z, y = _batch(5)
    w = torch.tensor([1.0, 4.0, 0.5, 2.0])
    per_doc = F.cross_entropy(z, y, reduction="none")
    torch.testing.assert_close(Outputs(weight=w)(z, y), (w[y] * per_doc).sum() / w[y].sum())


def test_check_and_outputs():
    assert check("classify", "nll", 5) == "nll" and check("classify", "bce", 2) == "bce"
    assert num_outputs("classify", "bce", 2) == 1 and num_outputs("classify", "nll", 3) == 3
    assert num_outputs("multilabel", "bce", 9) == 9 and num_outputs("regression", "l1", 0) == 1
    with pytest.raises(LossError, match="needs two classes"):
        check("classify", "bce", 3)
    with pytest.raises(LossError, match="does not fit a regression task"):
        check("regression", "cross_entropy", 0)


def test_one_full_batch_sgd_step_is_the_mean_of_the_per_example_gradients():
    torch.manual_seed(0)
    lin = torch.nn.Linear(6, 3)
    x, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    w0 = lin.weight.detach().clone()
    per_example = []
    for i in range(10):  # each example's own gradient
        lin.zero_grad()
        Outputs()(lin(x[i:i + 1]), y[i:i + 1]).backward()
        per_example.append(lin.weight.grad.clone())
    lr = 0.3
    opt = torch.optim.SGD(lin.parameters(), lr=lr)
    opt.zero_grad()
    Outputs()(lin(x), y).backward()  # the whole batch at once
    opt.step()
    torch.testing.assert_close(lin.weight.detach(), w0 - lr * torch.stack(per_example).mean(0))


@pytest.mark.parametrize("weighted", [False, True])
def test_squared_hinge_is_one_vs_rest_as_linear_svc(weighted):
    z, y = _batch(4)
    w = torch.tensor([1.0, 2.0, 0.5, 3.0]) if weighted else None
    sign = torch.where(F.one_hot(y, 4).bool(), 1.0, -1.0)  # +1 for the document's class, -1 for the others
    per_doc = (torch.clamp(1 - sign * z, min=0) ** 2).sum(1)
    by_hand = per_doc.mean() if w is None else (w[y] * per_doc).sum() / w[y].sum()
    torch.testing.assert_close(Outputs(kind="squared_hinge", weight=w)(z, y), by_hand)
    # two classes: one score, +1 pushes toward the second class
    s, y2 = z[:, :1], y % 2
    torch.testing.assert_close(Outputs(kind="squared_hinge")(s, y2),
                               (torch.clamp(1 - (2 * y2 - 1) * s[:, 0], min=0) ** 2).mean())
    assert num_outputs("classify", "squared_hinge", 2) == 1 and num_outputs("classify", "squared_hinge", 3) == 3


def test_squared_hinge_probabilities_are_scaled_scores_and_calibrate_fits_the_scale():
    z, y = _batch(5, n=200, k=3)
    loss = Outputs(kind="squared_hinge", scale=2.0)
    torch.testing.assert_close(loss.proba(z), torch.softmax(2 * z, 1))
    torch.testing.assert_close(loss.log_proba(z), torch.log_softmax(2 * z, 1))
    one = Outputs(kind="squared_hinge", scale=0.5)
    torch.testing.assert_close(one.proba(z[:, :1])[:, 1], torch.sigmoid(0.5 * z[:, 0]))
    # scores that rank the true class first most of the time: the fitted scale is the least log loss
    scores = F.one_hot(y, 3).float() + 0.4 * torch.randn(200, 3, generator=torch.Generator().manual_seed(1))
    loss.calibrate(scores, y)
    nll = lambda a: F.cross_entropy(a * scores, y).item()  # noqa: E731
    assert nll(loss.scale) < min(nll(0.9 * loss.scale), nll(1.1 * loss.scale)) and loss.scale > 1


def test_tune_threshold_sets_the_multilabel_threshold_where_half_is_wrong():
    y = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [1.0, 1.0]])
    p = torch.where(y > 0, 0.3, 0.1)  # every positive at 0.3, every negative at 0.1: 0.5 predicts nothing
    out = torch.log(p / (1 - p))  # their logits
    outputs = Outputs(task="multilabel", kind="bce", threshold_on_valid=True)
    assert outputs.score(out, y) == 0.0
    outputs.tune_threshold(out, y)
    assert outputs.threshold == pytest.approx(0.2) and not outputs.threshold_on_valid
    assert outputs.score(out, y) == 1.0
