"""doccat: train, evaluate and serve document classifiers."""
import importlib
import sys
import types

from .config import Config, ConfigError
from .data import DataError
from .linear import Prediction

__all__ = ["train", "train_seeds", "tune", "compress", "load", "Classifier", "Prediction", "Config", "ConfigError",
           "DataError", "DocumentClassifier"]
__version__ = "0.1.0"

# imported when first asked for: torch (classifier, seeds, tune) costs a second or more, which a linear model's
# `doccat predict` never needs; DocumentClassifier imports scikit-learn
LAZY = {"load": "classifier", "Classifier": "classifier", "train_seeds": "seeds", "DocumentClassifier": "estimator"}


def __getattr__(name):
    if name == "artifacts":
        return importlib.import_module(".artifacts", __name__)
    if name not in LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{LAZY[name]}", __name__), name)


def _function(module: str, name: str) -> property:
    # importing the submodule of the same name sets doccat.train / .tune / .compress to that module: ignored, so
    # the public function stays what these names are, as when this file imported them eagerly
    return property(lambda _: getattr(importlib.import_module(f".{module}", __name__), name), lambda _, value: None)


class _Package(types.ModuleType):
    train = _function("classifier", "train")
    tune = _function("tune", "tune")
    compress = _function("compress", "compress")


sys.modules[__name__].__class__ = _Package
