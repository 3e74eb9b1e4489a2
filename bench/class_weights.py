"""Class weighting in the default linear solver, chosen on held-out training data (bench/CLASS_WEIGHTS.md): each
candidate fit as the default fits (bench/selection.py's pseudo-test splits: 20% of the training data, seed 7),
beside selection.py's scikit-learn peers. Usage: python bench/class_weights.py CORPUS,... OUT.json [KINDS [SEED]]"""
import json, sys, time
from pathlib import Path
import numpy as np
sys.path.insert(0, str(Path(__file__).parent))
import selection as S  # noqa

CAP = 10.0
CHARS, NB, C, SEED = (3, 5), 0.5, 2.0, 7


def weights(y, outputs, kind):
    """(outputs, 2): C multipliers for each binary problem's negative and positive documents."""
    n = len(y); K = max(outputs, 2); counts = np.bincount(y, minlength=K).astype(float)
    if kind == "a":
        return None
    if outputs == 1:  # one problem: class 1 positive, class 0 negative
        pos, neg = counts[1], counts[0]
        if kind == "b": return np.array([[1.0, min(neg / pos, CAP)]])
        if kind == "c": return np.array([[1.0, np.sqrt(min(neg / pos, CAP))]])
        if kind in ("d", "d2"): return np.array([[n / (2 * neg), n / (2 * pos)]])  # exact sklearn balanced
        if kind == "ones": return np.ones((1, 2))
    W = np.ones((outputs, 2))
    for k in range(outputs):
        pos, neg = counts[k], n - counts[k]
        if kind == "b": W[k, 1] = min(neg / pos, CAP)
        elif kind == "c": W[k, 1] = np.sqrt(min(neg / pos, CAP))
        elif kind == "d": W[k, 1] = n / (K * pos)  # as sklearn's LinearSVC OvR: positive n/(K n_k), rest C
        elif kind == "d2": W[k] = [(K - 1) * n / (K * neg), n / (K * pos)]  # rest: mean of their balanced weights
    return W


def run(corpus, kinds):
    from doccat.config import ModelConfig
    from doccat.model import nb_scale
    from doccat.solver import csr, signs, solve
    from doccat.text import Featurizer, Tokens
    train, labels, test, test_labels = S.pseudo_splits(corpus, SEED)
    classes = sorted(set(labels)); ids = {c: i for i, c in enumerate(classes)}
    y, y_test = np.array([ids[c] for c in labels]), np.array([ids.get(c, -1) for c in test_labels])
    outputs = 1 if len(classes) == 2 else len(classes)
    m = ModelConfig(); t0 = time.perf_counter()
    f, enc = Featurizer.fit_encode(Tokens.of(train), ngrams=m.ngrams, buckets=m.buckets, min_freq=m.min_freq,
                                   max_vocab=m.max_vocab, max_tokens=m.max_tokens, weighting=m.weighting,
                                   min_df=m.min_df, chars=CHARS)
    X, X_test = csr(enc, f.num_features), csr(f.encode(test), f.num_features)
    scale = nb_scale(enc, y, f.num_features, outputs, NB).numpy()
    feat = time.perf_counter() - t0
    res = {}
    for kind in kinds:
        t0 = time.perf_counter()
        cw = weights(y, outputs, kind)
        W, b = solve(X, signs(y, outputs), C, scale, weights=cw)
        s = np.asarray(X_test @ (W * scale)) + b
        pred = (s[:, 0] > 0).astype(int) if outputs == 1 else s.argmax(1)
        res[kind] = {**S.scores(y_test, pred), "seconds": time.perf_counter() - t0,
                     "max_w": None if cw is None else float(cw.max()), "min_w": None if cw is None else float(cw.min())}
    for p in S.PEERS:
        res[p] = S.peer(p, train, labels, test, test_labels)
    return {"train_docs": len(train), "pseudo_test_docs": len(test), "classes": len(classes),
            "class_counts": np.bincount(y).tolist(), "featurize_s": feat, "results": res}


if __name__ == "__main__":
    corpora, out = sys.argv[1].split(","), Path(sys.argv[2])
    kinds = sys.argv[3].split(",") if len(sys.argv) > 3 and sys.argv[3] else ["a", "b", "c", "d", "d2"]
    if len(sys.argv) > 4: SEED = int(sys.argv[4])
    report = json.loads(out.read_text()) if out.exists() else {}
    t0 = time.time()
    for corpus in corpora:
        if corpus in report: continue
        r = report[corpus] = run(corpus, kinds)
        out.write_text(json.dumps(report, indent=1))
        print(corpus, {k: round(100 * v["macro_f1"], 2) for k, v in r["results"].items()},
              f"{(time.time() - t0) / 60:.1f} min", flush=True)
