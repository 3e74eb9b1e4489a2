"""doccat as a scikit-learn estimator: ``DocumentClassifier(**config).fit(texts, labels).predict(texts)``.

Every parameter is a doccat config key, its default the config's (read from the dataclasses of
doccat.config, where each key is documented): so ``clone``, ``Pipeline``, ``cross_val_score`` and
``GridSearchCV(DocumentClassifier(), {"ngrams": [1, 2]})`` search doccat's own recipe.

scikit-learn is optional. Installed, DocumentClassifier is a ``sklearn.base.ClassifierMixin`` +
``BaseEstimator``; without it, the same class on a small base of its own (get_params, set_params, repr).
Importing this module imports scikit-learn when it is there, so ``doccat`` imports this module only when
``doccat.DocumentClassifier`` is first asked for.
"""
from __future__ import annotations

import dataclasses
import inspect
import textwrap
import warnings

import numpy as np

from .classifier import train
from .config import Config, DataConfig, ModelConfig, TrainConfig, default_of, merge, nest

try:
    from sklearn.base import BaseEstimator, ClassifierMixin
    from sklearn.exceptions import DataConversionWarning, NotFittedError
except ImportError:
    BaseEstimator = ClassifierMixin = None

    class NotFittedError(ValueError, AttributeError):
        """The estimator is used before `fit` (scikit-learn's exception of that name, where it is installed)."""

    class DataConversionWarning(UserWarning):
        """Data given in another form than expected, converted (as scikit-learn's warning of that name)."""

# the data keys that make sense for an estimator: how y is read, and the validation split carved from X
DATA_KEYS = ("task", "label_sep", "valid_fraction", "split_seed")
LABEL_SETS = (list, tuple, set, frozenset, np.ndarray)


def config_defaults() -> dict:
    """Every parameter of DocumentClassifier that is a config key, with its default as doccat.config gives it;
    lists become tuples (scikit-learn wants immutable defaults; doccat's config takes tuples as lists)."""
    data = {k: v for k, v in dataclasses.asdict(DataConfig()).items() if k in DATA_KEYS}
    flat = {**data, **dataclasses.asdict(ModelConfig()), **dataclasses.asdict(TrainConfig())}
    return {k: tuple(v) if isinstance(v, list) else v for k, v in flat.items()}


CONFIG_KEYS = config_defaults()
PARAMS = {**CONFIG_KEYS, "verbose": False}


def init_signature(params: dict) -> inspect.Signature:
    """``(self, *, key=default, ...)``: what scikit-learn's get_params reads (it refuses ``**kwargs``)."""
    keyword = inspect.Parameter.KEYWORD_ONLY
    return inspect.Signature([inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD),
                              *(inspect.Parameter(k, keyword, default=v) for k, v in params.items())])


class StandaloneParams:
    """get_params / set_params / repr as scikit-learn's BaseEstimator has them: the base without scikit-learn."""

    @classmethod
    def _get_param_names(cls) -> list[str]:
        return sorted(p for p in inspect.signature(cls.__init__).parameters if p != "self")

    def get_params(self, deep: bool = True) -> dict:
        """The estimator's parameters, ``{name: value}`` (`deep` is accepted for scikit-learn's signature)."""
        return {k: getattr(self, k) for k in self._get_param_names()}

    def set_params(self, **params):
        """Set parameters by name; returns self."""
        names = self._get_param_names()
        for key, value in params.items():
            if key not in names:
                raise ValueError(f"Invalid parameter {key!r} for estimator {type(self).__name__}. "
                                 f"Valid parameters are: {names!r}.")
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if repr(v) != repr(PARAMS.get(k))]
        return f"{type(self).__name__}({', '.join(changed)})"


BASES = (StandaloneParams,) if BaseEstimator is None else (ClassifierMixin, BaseEstimator)


class DocumentClassifier(*BASES):
    """A doccat document classifier as a scikit-learn estimator: texts in, labels out.

    Every parameter is a doccat config key, documented beside its field in ``doccat/config.py`` (the
    dataclasses DataConfig, ModelConfig, TrainConfig), with the config's default (together: doccat's
    default recipe). List-valued keys (``hidden``, ``char_ngrams``) take tuples. ``fit`` trains with
    ``doccat.train`` on the texts, carving its validation split from them (``valid_fraction``, ``split_seed``).

    Parameters
    ----------
    task : {"auto", "classify", "multilabel", "regression"}, default="auto"
        auto: from `y` (scikit-learn's reading of targets): a 2-D 0/1 array, or one collection of labels
        per text, is multilabel; other labels are classes. Floats that aren't whole numbers are refused
        as classes ("Unknown label type: continuous"): give task="regression" for a numeric target.
    label_sep : str, optional
        multilabel: `y` may hold strings of labels cut at this separator, e.g. "sports,politics".
    valid_fraction, split_seed
        The validation split carved from the texts given to `fit`, and its seed.
{model_keys}
{train_keys}
    verbose : bool, default=False
        Print doccat's training log; quiet otherwise.

    Attributes
    ----------
    classifier_ : doccat.Classifier
        The trained doccat classifier (its ``config`` resolved, ``history_``, ``metrics_`` on the carved
        validation split, ``save``).
    classes_ : ndarray of shape (n_classes,)
        The labels as given (integers stay integers); for a 2-D indicator `y` the column indices.
        Not set for regression.
    task_ : str
        The task trained: "classify", "multilabel" or "regression".

    Notes
    -----
    The estimator is a classifier (scikit-learn's `is_classifier`) whatever `task`: with
    task="regression" `predict` gives floats and `score` is R^2, but scikit-learn's model selection takes
    it for a classifier and stratifies its folds: give it ``cv=KFold(...)``.
    ``n_features_in_`` is not set: the input is text, which has no columns to count.
    """

    _estimator_type = "classifier"

    def __init__(self, **params):
        unknown = sorted(params.keys() - PARAMS.keys())
        if unknown:
            raise TypeError(f"DocumentClassifier got an unexpected keyword argument {unknown[0]!r}: its parameters "
                            "are doccat's config keys (doccat.config), less the data files'")
        for name, default in PARAMS.items():
            setattr(self, name, params.get(name, default))

    __init__.__signature__ = init_signature(PARAMS)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True  # a sequence of texts, one per document
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.classifier_tags.multi_label = True
        return tags

    def fit(self, X, y):
        """Train a doccat classifier on texts and their labels.

        Parameters
        ----------
        X : list, tuple, 1-D ndarray of str or pandas Series
            The texts, one per document.
        y : array-like of shape (n_texts,) or (n_texts, n_labels)
            One label per text (str, int, ...); multilabel: a 2-D 0/1 indicator array (also given as a list
            of equal-length 0/1 rows, as scikit-learn reads it), or one list (tuple, set) of labels per text;
            regression (task="regression"): numbers.

        Returns
        -------
        self : DocumentClassifier
        """
        # the config takes tuples as lists and numpy scalars (a parameter grid's) as Python's; bad values: ConfigError
        cfg = merge(Config(), nest({k: getattr(self, k) for k in CONFIG_KEYS}))
        task, labels, classes = read_targets(y, self.task, self.label_sep)
        texts = as_texts(X)
        if len(texts) != len(labels):
            raise ValueError(f"Found input variables with inconsistent numbers of samples: {len(texts)} texts, "
                             f"{len(labels)} labels")
        cfg.data.task = task
        self.classifier_ = train(texts, labels, config=cfg, log=print if self.verbose else quiet, progress=False)
        self.task_ = task
        if task == "regression":
            self.__dict__.pop("classes_", None)
        else:
            self.classes_ = classes
            index = {str(c): i for i, c in enumerate(classes)}
            self._columns = np.array([index[str(c)] for c in self.classifier_.classes_], dtype=np.int64)
        return self

    def predict(self, X) -> np.ndarray:
        """Predict the label(s) of each text.

        Parameters
        ----------
        X : list, tuple, 1-D ndarray of str or pandas Series
            The texts.

        Returns
        -------
        ndarray
            classify: shape (n_texts,), items of `classes_`; multilabel: a 0/1 indicator array
            (n_texts, n_labels), columns in `classes_` order (a label is predicted from the probability
            ``threshold`` on); regression: the predicted numbers, floats of shape (n_texts,).
        """
        texts = self._fitted_texts(X)
        if self.task_ == "regression":
            return np.array([p.value for p in self.classifier_.predict(texts)], dtype=np.float64)
        proba = self.predict_proba(texts)
        if self.task_ == "multilabel":
            return (proba >= self.classifier_.outputs_.threshold).astype(np.int64)
        return self.classes_[proba.argmax(1)]

    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities of each text.

        Parameters
        ----------
        X : list, tuple, 1-D ndarray of str or pandas Series
            The texts.

        Returns
        -------
        ndarray of shape (n_texts, n_classes)
            Columns in `classes_` order: classify: rows sum to 1; multilabel: each label's probability
            (0 for a label no training text had). Regression has none (ValueError).
        """
        texts = self._fitted_texts(X)
        if self.task_ == "regression":
            raise ValueError("a regression model predicts numbers, not probabilities: use predict")
        out = np.zeros((len(texts), len(self.classes_)))
        out[:, self._columns] = self.classifier_.predict_proba(texts)
        return out

    def decision_function(self, X) -> np.ndarray:
        """The model's raw scores (logits; for the default squared-hinge recipe, its margins, as LinearSVC's).

        Parameters
        ----------
        X : list, tuple, 1-D ndarray of str or pandas Series
            The texts.

        Returns
        -------
        ndarray of shape (n_texts,) or (n_texts, n_classes)
            Two classes: (n_texts,), the score of ``classes_[1]`` against ``classes_[0]`` (> 0: classes_[1]);
            else one column per class (multilabel: per label, -inf for a label no training text had), in
            `classes_` order.
        """
        texts = self._fitted_texts(X)
        if self.task_ == "regression":
            raise ValueError("a regression model has no class scores: use predict")
        raw = self.classifier_.decision_function(texts).astype(np.float64)
        if self.task_ == "classify" and raw.shape[1] == 1:  # one score: doccat's second class against its first
            return raw[:, 0] if self._columns[1] == 1 else -raw[:, 0]
        scores = np.full((len(texts), len(self.classes_)), -np.inf)
        scores[:, self._columns] = raw
        return scores[:, 1] - scores[:, 0] if self.task_ == "classify" and len(self.classes_) == 2 else scores

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy (multilabel: subset accuracy, as scikit-learn's); R^2 for task="regression".

        Parameters
        ----------
        X : list, tuple, 1-D ndarray of str or pandas Series
            The texts.
        y : array-like
            Their true labels, as `fit` takes them.
        sample_weight : array-like of shape (n_texts,), optional
            Weights of the texts.

        Returns
        -------
        float
        """
        pred = self.predict(X)
        if self.task_ == "regression":
            return r2(np.asarray(y, dtype=np.float64).ravel(), pred, sample_weight)
        if self.task_ == "multilabel":
            truth, known = self._indicator(y)
            correct = (truth == pred).all(1) & known
        else:
            truth = np.ravel(y).tolist() if hasattr(y, "tolist") else list(y)
            correct = np.array([bool(a == b) for a, b in zip(truth, pred.tolist())])
        if len(correct) != len(pred):
            raise ValueError(f"Found input variables with inconsistent numbers of samples: {len(pred)}, {len(correct)}")
        return float(np.average(correct, weights=sample_weight))

    def _indicator(self, y) -> tuple[np.ndarray, np.ndarray]:
        """multilabel `y` as a 0/1 array over `classes_`, and per row whether every label is one of them."""
        matrix = indicator_matrix(y)
        if matrix is not None:
            return matrix.astype(np.int64), np.ones(len(matrix), dtype=bool)
        rows = label_sets(y.tolist() if hasattr(y, "tolist") else list(y), self.label_sep)
        index = {str(c): i for i, c in enumerate(self.classes_)}
        out = np.zeros((len(rows), len(self.classes_)), dtype=np.int64)
        for i, row in enumerate(rows):
            out[i, [index[str(x)] for x in row if str(x) in index]] = 1
        return out, np.array([all(str(x) in index for x in row) for row in rows], dtype=bool)

    def _fitted_texts(self, X) -> list[str]:
        """X as texts, once the estimator is fitted (NotFittedError before: checked first, as scikit-learn does)."""
        if not hasattr(self, "classifier_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with "
                                 "appropriate arguments before using this estimator.")
        return as_texts(X)


def quiet(*args, **kwargs) -> None:
    """A log that logs nothing."""


def as_texts(X) -> list[str]:
    """X as a list of str, or a ValueError saying what X is instead."""
    what = "DocumentClassifier takes texts: a list, tuple, 1-D array or pandas Series of str"
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{what}; got a single {type(X).__name__}: wrap one text in a list, [text]")
    if hasattr(X, "tocsr"):
        raise ValueError(f"{what}; got a {type(X).__name__}: sparse input is not supported (a feature matrix is "
                         "not text)")
    kind = type(X).__name__
    if not isinstance(X, (list, tuple)) and hasattr(X, "__array__"):  # numpy, pandas, other array-likes
        X = np.asarray(X)
    if getattr(X, "ndim", 1) != 1:
        raise ValueError(f"{what}; got a {X.ndim}-D {kind} of shape {np.shape(X)} (a table or a feature matrix "
                         "is not text: pass its text column, e.g. df['text'])")
    try:
        texts = X.tolist() if hasattr(X, "tolist") else list(X)
    except TypeError:
        raise ValueError(f"{what}; got a {kind}") from None
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise ValueError(f"{what}; item {bad} ({texts[bad]!r:.40}) is of type {type(texts[bad]).__name__}, not str "
                         "(numbers and vectors are not text; a missing text? drop or fill it first)")
    return texts


def read_targets(y, task: str, label_sep: str | None) -> tuple[str, list, np.ndarray | None]:
    """(task, labels as doccat.train takes them, classes_) from `y` as scikit-learn takes it.

    The labels go to doccat as strings (str of each label) and come back through `classes_`, so integer
    labels stay integers; checked before the texts, as errors about y are about y whatever X is.
    """
    if y is None:
        raise ValueError("DocumentClassifier requires y to be passed, but the target y is None.")
    if task == "regression":
        values = np.asarray(y, dtype=np.float64).ravel()
        check_finite(values)
        return task, values.tolist(), None
    if not isinstance(y, (list, tuple, np.ndarray)) and hasattr(y, "__array__") and not hasattr(y, "toarray"):
        y = np.asarray(y)  # pandas, other array-likes
    matrix = indicator_matrix(y)
    if matrix is not None and matrix.shape[1] == 1:
        warnings.warn("A column-vector y was passed when a 1d array was expected: raveled",
                      DataConversionWarning, stacklevel=3)
        y = matrix.ravel()
    elif matrix is not None:
        return "multilabel", *indicator_labels(matrix, task)
    items = y.tolist() if hasattr(y, "tolist") else list(y)
    if task == "multilabel" or any(isinstance(x, LABEL_SETS) for x in items):
        return "multilabel", *multilabel_labels(items, task, label_sep)
    return "classify", *class_labels(y if isinstance(y, np.ndarray) else np.asarray(items), items, task)


def indicator_matrix(y) -> np.ndarray | None:
    """`y` as a 2-D array where it is one: an array, a DataFrame, a scipy.sparse matrix, or a list of rows of
    one length holding only 0 and 1 (scikit-learn's reading: an indicator matrix); else None (label sets)."""
    if hasattr(y, "toarray"):
        return y.toarray()
    if getattr(y, "ndim", 1) == 2:
        return np.asarray(y)
    if not isinstance(y, (list, tuple)) or not y or not all(isinstance(r, (list, tuple, np.ndarray)) for r in y):
        return None
    try:
        rows = np.asarray(y)
    except ValueError:  # rows of different lengths: label sets
        return None
    return rows if rows.ndim == 2 and rows.dtype.kind in "biu" and np.isin(rows, (0, 1)).all() else None


def indicator_labels(y: np.ndarray, task: str) -> tuple[list, np.ndarray]:
    if task not in ("auto", "multilabel"):
        raise ValueError(f"task={task!r} takes one label per text; y is 2-D {y.shape}, a label indicator matrix: "
                         "leave task auto (or multilabel)")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("a 2-D y is a multilabel indicator matrix: its values must be 0 or 1")
    return [[str(j) for j in np.flatnonzero(row)] for row in y], np.arange(y.shape[1])


def label_sets(items: list, label_sep: str | None) -> list:
    """One collection of labels per text; with `label_sep`, a string is cut at it (as the file readers do)."""
    rows = []
    for i, x in enumerate(items):
        if isinstance(x, str) and label_sep:
            x = sorted({p.strip() for p in x.split(label_sep)} - {""})
        if not isinstance(x, LABEL_SETS):
            raise ValueError(f"multilabel y: item {i} is a {type(x).__name__} ({x!r:.40}); give one list (tuple, "
                             "set) of labels per text, a 2-D 0/1 indicator array, or strings with label_sep")
        rows.append(list(x))
    return rows


def multilabel_labels(items: list, task: str, label_sep: str | None) -> tuple[list, np.ndarray]:
    if task not in ("auto", "multilabel"):
        raise ValueError(f"task={task!r} takes one label per text; y holds collections of labels: leave task "
                         "auto (or multilabel)")
    rows = label_sets(items, label_sep)
    given = [x for row in rows for x in row]
    classes = np.unique(np.array(given))
    check_names(classes, given)
    return [[str(x) for x in row] for row in rows], classes


def class_labels(y: np.ndarray, items: list, task: str) -> tuple[list, np.ndarray]:
    if y.ndim != 1:
        raise ValueError(f"y: expected one label per text (1-D) or a 2-D indicator array; got shape {y.shape}")
    if any(x is None for x in items):
        raise ValueError("y holds None: a missing label? drop those texts or fill their labels")
    numbers = y if y.dtype.kind in "fc" else (y.astype(np.float64) if y.dtype.kind == "O" and items
                                               and all(isinstance(x, float) for x in items) else None)
    if numbers is not None:
        check_finite(numbers)
        if task == "auto" and np.any(numbers != np.round(numbers)):
            raise ValueError("Unknown label type: continuous (floats that are not whole numbers). For a "
                             "regression target give task='regression'")
    try:
        classes = np.unique(y)
    except TypeError:
        raise ValueError("Unknown label type: y mixes labels of types that don't compare (e.g. str and int)") from None
    check_names(classes, items)
    return items, classes  # doccat names the classes by str(label), and keeps integers as they are


def check_finite(values: np.ndarray) -> None:
    if np.isnan(values).any():
        raise ValueError("Input y contains NaN.")
    if not np.isfinite(values).all():
        raise ValueError("Input y contains infinity or a value too large for dtype('float64').")


def check_names(classes: np.ndarray, labels: list) -> None:
    """doccat names a class by str(label): one name per class, or labels that print alike (1 and "1") or that
    are equal but print otherwise (1 and True, 1 and 1.0) would be merged or split."""
    if len({str(x) for x in labels}) != len(classes) or len({str(c) for c in classes}) != len(classes):
        raise ValueError(f"labels of mixed types ({', '.join(map(repr, classes[:6].tolist()))}): doccat names a "
                         "class by str(label), so labels must be one per name: give them one type")


def r2(truth: np.ndarray, pred: np.ndarray, sample_weight=None) -> float:
    """The coefficient of determination, as scikit-learn's r2_score (1.0 for a perfect fit of a constant)."""
    w = np.ones_like(truth) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    residual = np.sum(w * (truth - pred) ** 2)
    total = np.sum(w * (truth - np.average(truth, weights=w)) ** 2)
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return float(1 - residual / total)


def parameter_docs(cls) -> str:
    """numpydoc entries for a config section's keys, from their documentation beside each field."""
    entries = []
    for f in dataclasses.fields(cls):
        doc = f.metadata["doc"]
        entries.append(f"    {f.name} : default={default_of(f)!r}")
        entries += textwrap.wrap(doc, 110, initial_indent=" " * 8, subsequent_indent=" " * 8)
    return "\n".join(entries)


DocumentClassifier.__doc__ = DocumentClassifier.__doc__.replace("{model_keys}", parameter_docs(ModelConfig)).replace(
    "{train_keys}", parameter_docs(TrainConfig))
