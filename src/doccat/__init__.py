"""doccat: train, evaluate and serve document classifiers."""
from .classifier import Classifier, Prediction, load, train
from .seeds import train_seeds
from .tune import tune
from .compress import compress
from .config import Config, ConfigError
from . import artifacts
from .data import DataError

__all__ = ["train", "train_seeds", "tune", "compress", "load", "Classifier", "Prediction", "Config", "ConfigError", "DataError",
           "DocumentClassifier"]
__version__ = "0.1.0"


def __getattr__(name):  # DocumentClassifier imports scikit-learn (where installed): only when first asked for
    if name == "DocumentClassifier":
        from .estimator import DocumentClassifier
        return DocumentClassifier
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
