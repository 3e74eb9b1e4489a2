"""doccat: train, evaluate and serve document classifiers."""
from .classifier import Classifier, Prediction, load, train
from .seeds import train_seeds
from .tune import tune
from .config import Config, ConfigError
from . import artifacts
from .data import DataError

__all__ = ["train", "train_seeds", "tune", "load", "Classifier", "Prediction", "Config", "ConfigError", "DataError"]
__version__ = "0.1.0"
