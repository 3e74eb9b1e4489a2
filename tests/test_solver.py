"""The linear default's solver: liblinear's dual coordinate descent (doccat/solver.py)."""
import numpy as np
import pytest
import scipy.sparse as sp

import doccat
from doccat import recipe
from doccat.config import Config, ConfigError, ModelConfig, TrainConfig
from doccat.data.summary import Stats
from doccat.solver import csr, problem_weights, signs, solve
from doccat.text import Encoded

from conftest import python_probe


def sparse_problem(seed=0, docs=300, features=60, classes=3):
    """Documents of non-negative L2-normalized features whose class is their largest block of features."""
    rng = np.random.default_rng(seed)
    X = sp.random(docs, features, density=0.2, random_state=seed, format="csr")
    y = np.asarray([X[i].toarray().ravel().reshape(classes, -1).sum(1).argmax() for i in range(docs)])
    X = sp.diags(1 / np.maximum(sp.linalg.norm(X, axis=1), 1e-12)) @ X
    return X.tocsr(), y, rng


def primal(X, s, C, w, b):
    """0.5 |(w, b)|^2 + C * sum squared hinge: liblinear's objective, the bias regularized as a feature of value 1."""
    margin = np.maximum(0, 1 - s * (X @ w + b))
    return 0.5 * (w @ w + b * b) + C * (margin ** 2).sum()


def test_solve_reaches_the_objective_scikit_learn_s_linear_svc_reaches():
    from sklearn.svm import LinearSVC
    X, y, _ = sparse_problem()
    s = signs(y, 3)
    W, b = solve(X, s, C=1.0)
    ref = LinearSVC(C=1.0, tol=1e-6, max_iter=100_000).fit(X, y)  # one-vs-rest squared hinge, bias regularized
    for k in range(3):
        ours, theirs = primal(X, s[:, k], 1.0, W[:, k], b[k]), primal(X, s[:, k], 1.0, ref.coef_[k], ref.intercept_[k])
        assert ours <= theirs * 1.01  # liblinear's own tolerance: within 1% of a tight solve
    agree = (np.asarray(X @ W + b).argmax(1) == ref.predict(X)).mean()
    assert agree >= 0.98


def weighted_primal(X, s, C, w, b, pos, neg):
    margin = np.maximum(0, 1 - s * (X @ w + b))
    return 0.5 * (w @ w + b * b) + C * (np.where(s > 0, pos, neg) * margin ** 2).sum()


@pytest.mark.parametrize("classes", [2, 3])
def test_balanced_class_weights_are_scikit_learn_s(classes):
    """class_weight="balanced" as LinearSVC applies it: class k's problem weighs its positives by n / (K n_k)."""
    from sklearn.svm import LinearSVC
    X, y, _ = sparse_problem(features=60 if classes == 3 else 40, classes=classes)
    keep = np.flatnonzero((y != 0) | (np.arange(len(y)) % 4 == 0))  # class 0 made rare
    X, y = X[keep], y[keep]
    balanced = len(y) / (classes * np.bincount(y))
    outputs = 1 if classes == 2 else classes
    s, weights = signs(y, outputs), problem_weights(balanced, outputs)
    W, b = solve(X, s, C=1.0, weights=weights)
    ref = LinearSVC(C=1.0, class_weight="balanced", tol=1e-6, max_iter=100_000).fit(X, y)
    for k in range(outputs):
        neg, pos = weights[k]
        ours = weighted_primal(X, s[:, k], 1.0, W[:, k], b[k], pos, neg)
        assert ours <= weighted_primal(X, s[:, k], 1.0, ref.coef_[k], ref.intercept_[k], pos, neg) * 1.01
    ours = (np.asarray(X @ W + b) > 0).ravel().astype(int) if outputs == 1 else np.asarray(X @ W + b).argmax(1)
    assert (ours == ref.predict(X)).mean() >= 0.98
    assert not np.allclose(W, solve(X, s, C=1.0)[0], atol=1e-3)  # the weights changed the fit


def test_solve_is_repeatable_and_seeded():
    X, y, _ = sparse_problem(docs=400)
    first, again = solve(X, signs(y, 3), 1.0, seed=0), solve(X, signs(y, 3), 1.0, seed=0)
    assert np.array_equal(first[0], again[0]) and np.array_equal(first[1], again[1])


def test_a_scale_is_the_same_as_scaling_the_features_of_each_problem():
    X, y, rng = sparse_problem()
    s = signs(y, 3)
    scale = rng.uniform(0.2, 2.0, size=(X.shape[1], 3)).astype(np.float32)
    W, b = solve(X, s, 1.0, scale)
    for k in range(3):
        Wk, bk = solve((X @ sp.diags(scale[:, k].astype(np.float64))).tocsr(), s[:, [k]], 1.0)
        np.testing.assert_allclose(W[:, k], Wk[:, 0], rtol=1e-4, atol=1e-6)
        assert bk[0] == pytest.approx(b[k], abs=1e-6)


def test_two_classes_are_one_problem_on_the_second_class():
    y = np.array([0, 1, 1, 0])
    assert signs(y, 1).tolist() == [[-1], [1], [1], [-1]]
    assert signs(np.array([2, 0]), 3).tolist() == [[-1, -1, 1], [1, -1, -1]]


def test_csr_holds_the_encoded_weights():
    enc = Encoded(ids=np.array([0, 2, 1]), offsets=np.array([0, 2, 3]), counts=np.array([1, 1, 1]),
                  weights=np.array([0.6, 0.8, 1.0], np.float32))
    np.testing.assert_allclose(csr(enc, 3).toarray(), [[0.6, 0.0, 0.8], [0.0, 1.0, 0.0]], rtol=1e-6)


def resolved(**train):
    stats = Stats(task="classify", classes=["a", "b", "c"], documents=100, tokens=1000, class_counts=[40, 30, 30])
    return recipe.resolve(Config(train=TrainConfig(**train)), stats)


def test_the_recipe_solves_the_linear_svm_with_liblinear_and_the_rest_with_lbfgs():
    assert resolved().train.optimizer == "liblinear"
    assert resolved().train.class_weights == "balanced"  # auto, where liblinear solves
    assert resolved(class_weights="none").train.optimizer == "liblinear"
    assert resolved(loss="cross_entropy").train.class_weights == "none"  # auto elsewhere
    assert resolved(loss="cross_entropy").train.optimizer == "lbfgs"
    assert resolved(optimizer="adam", batch_size=8).train.optimizer == "adam"
    stats = Stats(task="classify", classes=["a", "b"], documents=10, tokens=100, class_counts=[5, 5])
    net = Config(model=ModelConfig(embed_dim=8), train=TrainConfig(optimizer="liblinear"))
    with pytest.raises(ConfigError, match="liblinear solves a linear SVM and needs a linear model"):
        recipe.resolve(net, stats)


def test_the_default_fit_matches_a_liblinear_fit_and_scores_like_it(tmp_path):
    rng = np.random.default_rng(1)
    words = [f"w{i}" for i in range(40)]
    labels = rng.integers(0, 3, 300)
    texts = [" ".join(rng.choice(words[y * 10:(y + 1) * 10 + 10], 12)) for y in labels]
    clf = doccat.train(texts, [str(y) for y in labels], log=lambda *a: None)
    assert clf.config.train.optimizer == "liblinear" and len(clf.history_) == 1
    assert clf.evaluate(texts, [str(y) for y in labels])["accuracy"] > 0.9
    again = doccat.train(texts, [str(y) for y in labels], log=lambda *a: None)
    assert np.array_equal(clf.predict_proba(texts[:20]), again.predict_proba(texts[:20]))


def test_a_fresh_process_trains_the_default_without_importing_torch_dynamo():
    python_probe("""
import sys, doccat
texts = ["good fine great", "bad awful poor", "great good", "poor bad"] * 10
doccat.train(texts, ["pos", "neg"] * 20, log=lambda *a: None)
assert "torch._dynamo" not in sys.modules, "the default fit imported torch._dynamo"
""")
