"""The public API: train a classifier, then predict / evaluate / save / load it.

One path, whatever the data:

    doccat.data (files, in-memory texts, or a stream) --> Splits / Corpus, and their Stats
    recipe.resolve(config, stats) --> the resolved config (nothing left "auto")
    build(config, stats, featurizer) --> an untrained Classifier
    train.Trainer(...).fit(train, valid) --> the trained Classifier, its metrics, saved with `out`
"""
from __future__ import annotations

import dataclasses
import json
import logging
import statistics
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from . import artifacts, config as config_mod, distributed, recipe, warmstart
from .checkpoint import Checkpoints
from .config import Config, ConfigWarning
from .data import DataError, Splits, from_memory, load_splits
from .data.stream import Corpus, evaluate as evaluate_streamed
from .data.summary import Stats, data_summary
from .loss import DEFAULT_THRESHOLD, SCORES, Outputs, class_weights, num_outputs
from .metrics import classification_report, multilabel_report, regression_report
from .model import BagClassifier, build_model, encoder_features, nb_scale, predict_logits
from .linear import Prediction, label_targets, saved_featurizer, top_predictions
from .text import Encoded, Featurizer, Tokens, Vocab, parallel_map
from .solver import Liblinear
from .train import Hooks, InMemory, Trainer, kept_epoch, peak_memory_mib, uses_sparse_grads
from .vectors import load_into_bag

LOG = logging.getLogger(__name__)


class Classifier:
    """A trained document classifier (or regressor): featurizer + network + what its outputs mean.

    task "classify": one class per text; "multilabel": any number of labels per text; "regression":
    a number per text. `classes_` are the outputs' labels (empty for regression): class names, or the
    integers a model trained on integer labels was given; `class_names` are their names (str).
    """

    def __init__(self, config: Config, featurizer: Featurizer, classes: list[str], model: BagClassifier,
                 loss: Outputs | None = None, target: tuple[float, float] = (0.0, 1.0), encoder=None,
                 target_range: tuple[float, float] | None = None):
        self.config, self.featurizer, self.classes_, self.model = config, featurizer, classes, model
        self.encoder_ = encoder  # model.encoder's doccat.encoder.Encoder (tokenizer, transformer), else None
        self.outputs_ = loss or Outputs(threshold=DEFAULT_THRESHOLD if config.model.threshold is None
                                        else config.model.threshold)
        self.target_ = target  # regression: the training targets' (mean, std); outputs are standardized
        self.target_range_ = target_range  # regression: the training targets' (min, max), predictions' bounds
        self.history_: list[dict] = []
        self.batches_: list[dict] = []  # per training batch: step, epoch, loss, grad_norm, lr
        self.metrics_: dict = {}

    @property
    def task(self) -> str:
        return self.outputs_.task

    @property
    def class_names(self) -> list[str]:
        return [str(c) for c in self.classes_]

    def _outputs(self, texts, cache: bool = False) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return predict_logits(self.model, self.inputs(texts, cache))

    def inputs(self, texts: list[str], cache: bool = False):
        """The model's input for `texts`: their bag of features (Encoded); with an encoder, model.Features
        (`cache`: a frozen encoder's embeddings go through its disk cache)."""
        enc = self.featurizer.encode(texts)
        return enc if self.encoder_ is None else encoder_features(self.encoder_, self.config.model, enc, texts, cache)

    def predict_proba(self, texts: str | list[str]) -> np.ndarray:
        """Probabilities of each class for each text.

        Parameters
        ----------
        texts : str or list of str
            A single string counts as a list of one text.

        Returns
        -------
        ndarray of shape (n_texts, n_classes)
            Columns in `classes_` order: softmax for classify (rows sum to 1), one sigmoid per label for
            multilabel. Regression has none (DataError): use `predict`.
        """
        if self.task == "regression":
            raise DataError("a regression model predicts values, not probabilities: use predict")
        return self.outputs_.proba(self._outputs(texts)).numpy()

    def decision_function(self, texts: str | list[str]) -> np.ndarray:
        """The model's raw outputs for each text, (n_texts, n_outputs): class scores (logits; the linear SVM's
        margins), one score for two classes where the loss has one output, the standardized value for regression."""
        return self._outputs(texts).numpy()

    def predict_log_proba(self, texts: str | list[str]) -> np.ndarray:
        """classify: log-probabilities (log-softmax), (n_texts, n_classes)."""
        return self.outputs_.log_proba(self._outputs(texts)).numpy()

    def predict(self, texts: str | list[str], k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        """The most probable classes of each text, with their probabilities.

        Parameters
        ----------
        texts : str or list of str
            A single string counts as a list of one text.
        k : int, optional
            classify: the top-k classes (default 1); multilabel: at most k labels (default all).
        threshold : float, optional
            Drop classes whose probability is below it (classify default 0; multilabel default the
            model's, ``outputs_.threshold``: model.threshold, or the one chosen on the validation split).

        Returns
        -------
        list of Prediction
            One per text: ``labels`` and ``probs``, most probable first; regression: ``value``, the number
            (clipped to the training targets' range unless model.clip_predictions is false).
        """
        out = self._outputs(texts)
        if self.task == "regression":
            return [Prediction([], [], float(v)) for v in self.values(out)]
        if threshold is None:
            threshold = self.outputs_.threshold if self.task == "multilabel" else 0.0
        return top_predictions(self.outputs_.proba(out).numpy(), self.classes_, self.task, k, threshold)

    def values(self, out: torch.Tensor) -> np.ndarray:
        """regression: the predicted targets (n,) of the model's outputs `out`, taken back from their
        standardized scale and, with model.clip_predictions, clipped to the training targets' range."""
        mean, std = self.target_
        values = self.outputs_.proba(out).numpy().astype(np.float64) * std + mean
        if self.config.model.clip_predictions and self.target_range_ is not None:
            values = np.clip(values, *self.target_range_)
        return values

    def targets(self, labels: list, where: str = "labels") -> np.ndarray:
        """Labels as the loss wants them: class ids (n,); label indicators (n, L); standardized values (n,)."""
        if self.task == "regression":
            mean, std = self.target_
            return ((np.asarray(labels, dtype=np.float64) - mean) / std).astype(np.float32)
        return label_targets(labels, self.class_names, self.task, where)

    def label_ids(self, labels: list[str], where: str = "labels") -> np.ndarray:
        """classify: the class id of each label."""
        return self.targets(labels, where)

    def evaluate(self, texts: list[str], labels: list) -> dict:
        """Score the model on labeled texts.

        Parameters
        ----------
        texts : list of str
        labels : list
            Class names (classify), lists of labels (multilabel) or numbers (regression), as in training.

        Returns
        -------
        dict
            With the loss: classify: accuracy, macro-F1, per class, confusion matrix; multilabel:
            micro/macro-F1, subset accuracy, hamming loss, per label; regression: MAE, RMSE, R^2.
        """
        y = torch.from_numpy(self.targets(labels))
        return self.evaluate_outputs(self._outputs(list(texts), cache=True), y, labels if self.task == "regression" else None)

    def evaluate_outputs(self, out: torch.Tensor, y: torch.Tensor, values: list | None = None) -> dict:
        """The metrics of `evaluate` from the model's outputs and the targets `y` (as `targets` gives them);
        regression: `values`, the targets as given (else taken back from `y`)."""
        plain = dataclasses.replace(self.outputs_, label_smoothing=0.0, weight=None)  # a metric, not the objective
        loss = plain(out, y).item() if len(y) else 0.0
        p = self.outputs_.proba(out).numpy()
        if self.task == "classify":
            return classification_report(y.numpy(), p.argmax(1), self.class_names, loss)
        if self.task == "multilabel":
            return multilabel_report(y.numpy() > 0.5, p >= self.outputs_.threshold, self.class_names, loss)
        mean, std = self.target_
        truth = np.asarray(values, dtype=np.float64) if values is not None else y.numpy().astype(np.float64) * std + mean
        return regression_report(truth, self.values(out), loss)

    def explain(self, text: str) -> dict:
        """How `text` goes through the model and which words pushed it to its class (see doccat.explain)."""
        from .explain import explain
        return explain(self, text)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Every learned tensor: the network's, and the featurizer's idf (learned from the training split)."""
        state = {**{k: v.cpu() for k, v in self.model.state_dict().items()},
                 "featurizer.columns": torch.from_numpy(self.featurizer.columns_)}
        if self.featurizer.idf_ is not None:
            state["featurizer.idf"] = torch.from_numpy(self.featurizer.idf_)
        if self.task == "regression":
            state["target.mean_std"] = torch.tensor(self.target_, dtype=torch.float64)
        if self.target_range_ is not None:
            state["target.range"] = torch.tensor(self.target_range_, dtype=torch.float64)
        if self.task == "multilabel":  # the threshold predictions use: model.threshold, or chosen on validation
            state["loss.threshold"] = torch.tensor(self.outputs_.threshold, dtype=torch.float64)
        if self.outputs_.kind == "squared_hinge":
            state["loss.scale"] = torch.tensor(self.outputs_.scale, dtype=torch.float64)
        return state

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the run directory, with batches.csv, the plots and the model card (README.md)."""
        from . import card, plots
        extra = {"batches.csv": artifacts.rows_csv(self.batches_)} if self.batches_ else {}
        extra |= plots.render_run(self.history_, self.batches_, self.metrics_, self.class_names, self.outputs_.kind,
                                  SCORES[self.task], self.config.train)
        if self.encoder_ is not None:  # which encoder: `load` refuses another
            extra["encoder.json"] = json.dumps(self.encoder_.identity(), indent=2).encode()
        config = config_mod.to_dict(self.config)
        readme = card.model_card(config, self.metrics_, self.classes_, self.featurizer.vocab.itos, path)
        run = artifacts.RunFiles(config, self.state_dict(), self.featurizer.vocab.itos,
                                 self.classes_, self.metrics_, self.history_, extra, {"README.md": readme.encode()})
        return artifacts.write_run(Path(path), run, overwrite)


def load(path: str | Path, device: str = "auto", encoder: str | Path | None = None) -> Classifier:
    """Load a run directory written by `train(..., out=...)` or `Classifier.save`; checksums verified.

    Parameters
    ----------
    path : path
        The run directory.
    device : str
        Where the model runs: "cpu", "cuda" or "auto" (a GPU when there is one).
    encoder : path, optional
        A run trained with a pretrained encoder needs that very encoder (its files' sha256 are checked):
        found here (a folder), else where it was at training, else installed under its known name.

    Returns
    -------
    Classifier

    Raises
    ------
    ArtifactError
        The run is missing, incomplete or altered, or its encoder is missing or differs.
    """
    run = artifacts.read_run(Path(path))
    try:
        cfg = recipe.resolve(config_mod.from_dict(run["config"]), None)  # resolved when it was trained: checked
    except config_mod.ConfigError as e:
        raise artifacts.ArtifactError(f"{path}/config.json: {e}") from None
    arrays, vocab = artifacts.expand(path, run["state"], run["vocab"])  # a compressed run's: float32, the full vocabulary
    featurizer = saved_featurizer(path, cfg.model, vocab, arrays)
    state = {name: torch.from_numpy(np.array(a)) for name, a in arrays.items()}  # a copy: safetensors' are read-only
    target = tuple(state.pop("target.mean_std", torch.tensor([0.0, 1.0])).tolist())
    target_range = _saved_range(path, cfg, state)
    loss = Outputs(cfg.data.task, cfg.train.loss, threshold=_saved_threshold(path, cfg, state),
                   scale=float(state.pop("loss.scale", torch.tensor(1.0))))
    outputs = num_outputs(loss.task, loss.kind, len(run["labels"]))
    if not cfg.model.encoder:
        _check_shapes(path, cfg, featurizer.num_features, outputs, state)
    encoder_ = _saved_encoder(path, cfg, run["encoder"], encoder, device) if cfg.model.encoder else None
    model = build_model(cfg.model, featurizer.num_features, outputs, encoder=encoder_)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise artifacts.ArtifactError(f"{path}: weights do not fit the config: {e}") from None
    model.to(distributed.device(device)).eval()
    clf = Classifier(cfg, featurizer, run["labels"], model, loss, target, encoder_, target_range)
    clf.metrics_ = run["metrics"]
    return clf


def _saved_range(path, cfg: Config, state: dict) -> tuple[float, float] | None:
    """regression: the training targets' (min, max) a run saved (taken out of `state`), which clipping needs."""
    saved = state.pop("target.range", None)
    if saved is not None and (saved.shape != (2,) or not saved[0] <= saved[1] or cfg.data.task != "regression"):
        raise artifacts.ArtifactError(f"{path}: model.safetensors' target.range is not a regression's (min, max) "
                                      "(the files were edited, or come from different runs): train it again")
    if saved is None and cfg.data.task == "regression" and cfg.model.clip_predictions:
        raise artifacts.ArtifactError(f"{path}: model.safetensors lacks the training targets' range, which "
                                      "model.clip_predictions clips predictions to; it was written by another "
                                      "version of doccat: train it again")
    return None if saved is None else (float(saved[0]), float(saved[1]))


def _saved_threshold(path, cfg: Config, state: dict) -> float:
    """multilabel: the threshold a run predicts with (taken out of `state`): model.threshold, else the one chosen
    on the validation split when it was trained."""
    saved = state.pop("loss.threshold", None)
    if saved is not None and (saved.dim() != 0 or not 0.0 < float(saved) < 1.0):
        raise artifacts.ArtifactError(f"{path}: model.safetensors' loss.threshold is not a probability in (0, 1) "
                                      "(the files were edited): train it again")
    if cfg.model.threshold is not None:
        return cfg.model.threshold
    if saved is None and cfg.data.task == "multilabel":
        raise artifacts.ArtifactError(f"{path}: model.safetensors lacks the threshold chosen on the validation "
                                      "split (config.json's model.threshold is unset); it was written by another "
                                      "version of doccat: train it again")
    return DEFAULT_THRESHOLD if saved is None else float(saved)


def _check_shapes(path, cfg: Config, num_features: int, outputs: int, state: dict) -> None:
    """Every weight's shape against what config.json describes, on torch's meta device: nothing is allocated,
    so an edited config (embed_dim 2e6, hidden [40000, 40000]) is refused before it costs memory. (The model is
    built for that device, not under `with torch.device`: that context imports torch._dynamo, seconds.)"""
    expected = BagClassifier(cfg.model, num_features, outputs, device="meta").state_dict()
    wrong = [f"{k}: {tuple(state[k].shape) if k in state else 'missing'} in model.safetensors, "
             f"{tuple(v.shape)} by config.json" for k, v in expected.items() if k not in state or state[k].shape != v.shape]
    wrong += [f"{k}: in model.safetensors, not in the model config.json describes" for k in sorted(set(state) - set(expected))]
    if wrong:
        raise artifacts.ArtifactError(f"{path}: weights do not fit the config: {'; '.join(wrong[:3])}")


def resolve_config(config: Config | dict | str | Path | None, overrides: dict) -> Config:
    """Defaults <- config (object, nested dict or TOML path) <- flat keyword overrides."""
    nested = config_mod.nest(overrides)  # an explicit None is a value (max_tokens=None: no cut)
    if config is None:
        return config_mod.merge(Config(), nested)
    if isinstance(config, Config):
        return config_mod.merge(config, nested)
    if isinstance(config, dict):
        return config_mod.merge(config_mod.from_dict(config), nested)
    return config_mod.load(config, nested)


@dataclass
class RunOptions:
    """How a run is driven, beside its config: where it is saved, and where it reports."""

    out: str | Path | None = None  # the run directory; checkpointed meanwhile into <out>.partial/
    overwrite: bool = False  # replace a doccat run already at `out`
    hooks: Hooks = field(default_factory=Hooks)
    checkpoints: Checkpoints | None = None  # a killed run's, claimed again (see `resume`); else made for `out`


def train(texts: list[str] | None = None, labels: list | None = None, *, config=None, out=None,
          overwrite: bool = False, log=LOG.info, progress: bool | None = None, on_epoch=None,
          **overrides) -> Classifier:
    """Train a classifier and evaluate it on the validation and test splits.

    Parameters
    ----------
    texts, labels : list, optional
        In-memory training data (a validation split, and with ``test_fraction`` a test split, are carved
        from it). Without them the config's data section names the data: a registry ``dataset=`` or
        ``train=``/``valid=``/``test=`` files.
    config : Config, dict or path, optional
        A config object, a nested dict or a TOML file; keyword overrides apply on top.
    out : path, optional
        Save the run directory there, checkpointed meanwhile into ``<out>.partial/`` (see `resume`).
    overwrite : bool
        Replace a doccat run directory already at `out` (nothing else is ever replaced).
    log : callable
        Receives one line per event (default: the "doccat.classifier" logger at INFO: shown where logging is
        configured, e.g. by the CLI).
    progress : bool, optional
        A live bar on stderr; None: only at a terminal, unless DOCCAT_QUIET is set.
    on_epoch : callable, optional
        Called after each epoch with its history row (epoch, train_loss, val_loss, val_score, lr, seconds);
        raising in it stops training.
    **overrides
        Any config key (``epochs=5``, ``lr=0.1``, ``dataset="trec"``), documented beside its field in
        `doccat.config`: {keys}

    Returns
    -------
    Classifier
        Trained, with ``metrics_`` (valid and test), ``history_`` and the resolved ``config``.
    """
    cfg = resolve_config(config, overrides)
    distributed.setup()  # under torchrun: join the other ranks; only rank 0 logs and writes
    options = RunOptions(out, overwrite, Hooks(log, progress, on_epoch))
    if out is not None:
        Checkpoints.check(out, overwrite)  # refuse a taken `out` now, not after hours of training
    return fit_data(load_data(cfg, texts, labels, distributed.main_only(log)), cfg, options)


train.__doc__ = train.__doc__.replace("{keys}", "; ".join(
    f"[{section}] " + ", ".join(f.name for f in dataclasses.fields(cls)) for section, cls in config_mod.SECTION_TYPES.items()))


def load_data(cfg: Config, texts=None, labels=None, log=LOG.info) -> Splits | Corpus:
    """The data of a run: in-memory `texts`/`labels`, the files or registry dataset the config names, or
    with data.streaming a Corpus read from its files at every pass."""
    if cfg.data.streaming:
        if texts is not None:
            raise DataError("streaming reads files (train=...); train on in-memory texts without it")
        return Corpus(cfg, log)
    splits = from_memory(cfg.data, texts, labels) if texts is not None else load_splits(cfg.data)
    log(f"data: {splits.summary()} docs, " + (f"{len(splits.classes)} {'labels' if splits.task == 'multilabel' else 'classes'}"
                                              if splits.task != "regression" else "a regression target"))
    return splits


def fit_data(data: Splits | Corpus, cfg: Config, options: RunOptions) -> Classifier:
    """Train on loaded data (see `train`): resolve the recipe, build the classifier, fit it, score it, save it."""
    distributed.setup()
    hooks = dataclasses.replace(options.hooks, log=distributed.main_only(options.hooks.log),
                                progress=options.hooks.progress if distributed.is_main() else False)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    t0 = time.perf_counter()
    cfg, choice, clf = choose_recipe(data, cfg, hooks.log) if cfg.model.recipe == "auto" else (cfg, None, None)
    start = warmstart.checked(load(cfg.train.init_from, "cpu"), cfg.train.init_from) if cfg.train.init_from else None
    checkpoints = options.checkpoints
    if clf is None:
        clf, checkpoints, pretrained, size = _fit(data, cfg, options, hooks, start)
    else:  # auto's chosen candidate, trained on these very splits: kept, not trained again
        pretrained, size = {k: clf.metrics_[k] for k in ("vectors", "encoder") if k in clf.metrics_}, len(data.train)
        if checkpoints is None and options.out is not None:
            checkpoints = Checkpoints.start(options.out, config_mod.to_dict(clf.config), options.overwrite)
    clf.metrics_ = {"train_seconds": time.perf_counter() - t0, **_metrics(clf, data, pretrained),
                    "documents_learned": warmstart.documents_learned(start, size),
                    **({"recipe": choice} if choice else {})}
    if checkpoints is not None:
        if distributed.is_main():
            clf.save(checkpoints.out, options.overwrite)
        checkpoints.finish()
        if distributed.is_main() and clf.config.train.compress_bits < 32:
            _compress_saved(clf, checkpoints.out, data, hooks.log)
    distributed.barrier()  # ranks leave together: one leaving the group while another still used it aborted (torchrun, streaming)
    return clf


def _fit(data: Splits | Corpus, cfg: Config, options: RunOptions, hooks: Hooks, start) -> tuple:
    """The resolved recipe's classifier, trained (checkpointed into options.out's .partial folder); returns it,
    the checkpoints, what the pretrained representations reported, and the number of training documents."""
    clf, train_data, valid_data, pretrained = (_prepare_stream(data, cfg, hooks.log) if isinstance(data, Corpus)
                                               else _prepare(data, cfg, hooks.log, start))
    clf.model.to(distributed.device(cfg.train.device))
    checkpoints = options.checkpoints
    if checkpoints is None and options.out is not None:
        checkpoints = Checkpoints.start(options.out, config_mod.to_dict(clf.config), options.overwrite)
    t = clf.config.train
    trainer = Liblinear(clf.model, clf.outputs_, t, hooks, start) if t.optimizer == "liblinear" else \
        Trainer(clf.model, clf.outputs_, t, checkpoints, hooks)
    try:
        clf.history_ = trainer.fit(train_data, valid_data)
    except BaseException:
        if checkpoints is not None:
            checkpoints.abandon()
        raise
    clf.batches_ = trainer.run.batches
    if clf.config.model.nb:
        clf.model.fold_scale()  # the scale into the weights: a plain linear bag again
    return clf, checkpoints, pretrained, train_data.size


def choose_recipe(data: Splits | Corpus, cfg: Config, log) -> tuple[Config, dict, Classifier | None]:
    """model.recipe auto made bag or fewlabel: by the training split's size (doccat.recipe.candidates), then,
    where both are candidates, by each one's validation score, trained on the same splits. Returns the config,
    what metrics.json keeps of the choice (the log says it too), and the chosen candidate where it was trained
    (the run keeps it: training it again would give the same model at the same cost)."""
    if isinstance(data, Corpus):  # a stream is a corpus too large for memory: the bag's
        names, why = ["bag"], "a streamed corpus"
    else:
        names, why = recipe.candidates(len(data.train), len(data.classes) or 1)
    scores, tried = {}, {}
    if len(names) > 1 and len(data.valid):
        held_out = dataclasses.replace(data, test=None)  # the candidates are compared on validation only
        for name in names:  # each one's log lines marked with its name
            options = RunOptions(hooks=Hooks(log=lambda line, name=name: log(f"[{name}] {line}"), progress=False))
            try:
                tried[name] = fit_data(held_out, recipe.candidate(cfg, name), options)
            except config_mod.ConfigError as e:  # e.g. the encoder extra not installed: the bag is left
                why += f"; {name} not tried: {e}"
                continue
            scores[name] = kept_epoch(tried[name].history_, tried[name].config.train.keep)["val_score"]
        chosen, why = recipe.pick(scores, why, len(data.valid))
    else:
        chosen = names[-1]  # fewlabel where a split too small to validate on leaves it the candidate
        why += "" if len(names) == 1 else "; no validation documents to compare on"
    log(f"recipe: model.recipe auto -> {chosen} ({why})")
    return (recipe.candidate(cfg, chosen),
            {"given": "auto", "chosen": chosen, "reason": why, "valid_scores": scores}, tried.get(chosen))


def _compress_saved(clf: Classifier, out: Path, data: Splits | Corpus, log) -> None:
    """train.compress_bits / compress_max_features: the saved run compressed in place (doccat.compress), and the
    test accuracy it keeps said."""
    from .compress import compress
    from .linear import load as load_linear
    t = clf.config.train
    done = compress(out, out, bits=t.compress_bits, max_features=t.compress_max_features, overwrite=True)
    test = None if isinstance(data, Corpus) else data.test
    kept = ""
    if test is not None and len(test) and clf.task == "classify":
        kept = f"; test accuracy {load_linear(out).evaluate(test.texts, test.labels)['accuracy']:.4f} " \
               f"(float32: {clf.metrics_['test']['accuracy']:.4f})"
    log(f"compressed: {done['features_after']:,} of {done['features_before']:,} features, "
        f"{'float16' if done['bits'] == 16 else 'int8'} weights{kept}")


def _prepare(splits: Splits, cfg: Config, log, start: warmstart.Start | None = None) -> tuple:
    """In memory: the resolved recipe's classifier, and its training and validation data (InMemory); with
    `start` (train.init_from), the saved run's featurizer, classes and weights."""
    if start is not None:
        cfg, splits = warmstart.fixed_config(cfg, start), warmstart.saved_classes(splits, start)
    tokens = Tokens.of(splits.train.texts)  # once: the recipe reads their count, the featurizer the tokens
    stats = Stats.of(splits, tokens.count)
    cfg = _resolve(cfg, stats, log)
    m, t0 = cfg.model, time.perf_counter()
    featurizer, train_enc = _featurize(tokens, m, start)
    LOG.debug(f"featurized {stats.documents:,} training documents ({stats.tokens:,} tokens) in "
              f"{time.perf_counter() - t0:.2f}s")
    _log_features(featurizer, m, log)
    clf = build(cfg, stats, featurizer, _encoder(cfg, log) if m.encoder else None)
    y_train, y_valid = clf.targets(splits.train.labels, "train"), clf.targets(splits.valid.labels, "valid")
    if m.nb:  # the bag's weights are (features, outputs): the scale's shape
        clf.model.scale = nb_scale(train_enc, y_train, *clf.model.bag.weight.shape, m.nb)
    if start is not None and cfg.train.optimizer != "liblinear":
        warmstart.saved_weights(clf.model, start)
    pretrained = {"vectors": _load_vectors(clf, log)} if m.vectors else {}
    valid_enc = featurizer.encode(splits.valid.texts)
    if m.encoder:  # the fit's inputs: with the encoder's part
        train_enc, valid_enc, pretrained["encoder"] = _encode(clf, splits, train_enc, valid_enc, log)
    t = cfg.train
    return clf, InMemory(train_enc, y_train, t.batch_size, t.shuffle), InMemory(valid_enc, y_valid), pretrained


def _featurize(tokens: Tokens, m, start: warmstart.Start | None) -> tuple[Featurizer, Encoded]:
    """The featurizer the model config describes, fitted on the training tokens, and their features; with
    `start`, the saved run's featurizer as it is (see doccat.warmstart)."""
    if start is not None:
        featurizer = start.classifier.featurizer
        return featurizer, Encoded.concat(parallel_map(lambda part: featurizer.encode_tokens(*part), tokens.parts))
    return Featurizer.fit_encode(tokens, ngrams=m.ngrams, buckets=m.buckets, min_freq=m.min_freq,
                                 max_vocab=m.max_vocab, max_tokens=m.max_tokens, weighting=m.weighting,
                                 min_df=m.min_df, chars=m.char_ngrams or None)


def _resolve(cfg: Config, stats, log) -> Config:
    """The recipe resolved, what it decided logged, and what it leaves unused warned about."""
    resolved = recipe.resolve(cfg, stats)
    for line in recipe.decisions(cfg, resolved, stats):
        log(line)
    for note in recipe.unused(resolved):
        warnings.warn(note, ConfigWarning, stacklevel=2)
    return resolved


def _prepare_stream(corpus: Corpus, cfg: Config, log) -> tuple:
    """Streamed: the same, the featurizer fitted and the data read by passes over the files."""
    cfg = _resolve(cfg, corpus.stats, log)
    featurizer = corpus.fit_featurizer(cfg.model)
    _log_features(featurizer, cfg.model, log)
    clf = build(cfg, corpus.stats, featurizer)
    t = cfg.train
    return clf, corpus.stream("train", clf, t.batch_size, t.shuffle), corpus.stream("valid", clf), {}


def _log_features(featurizer: Featurizer, m, log) -> None:
    """Say what the features are; none at all (and no encoder to read the texts) is an error, not a prior-only model."""
    if featurizer.num_features == 0 and not m.encoder:
        raise DataError(f"no feature left: no word or n-gram occurs in at least min_df={m.min_df} training documents "
                        "(or the texts are empty); lower --min-df, or give texts with words")
    log(f"features: vocabulary {len(featurizer.vocab)}, n-grams up to {m.ngrams} in {m.buckets} buckets"
        + (f", character {featurizer.chars[0]}-{featurizer.chars[1]}-grams in {m.buckets} more" if featurizer.chars
           else "")
        + f": {featurizer.num_features} seen in training")


def _metrics(clf: Classifier, data: Splits | Corpus, pretrained: dict) -> dict:
    """What metrics.json records besides the training time: kept epoch, sizes, memory, data summary, scores
    (and what the pretrained representations reported)."""
    streamed = isinstance(data, Corpus)
    sizes = data.sizes() if streamed else data.summary()

    def evaluate(name: str) -> dict:
        split = None if streamed else getattr(data, name)
        return evaluate_streamed(clf, name) if streamed else clf.evaluate(split.texts, split.labels)
    out = {"kept_epoch": kept_epoch(clf.history_, clf.config.train.keep)["epoch"], "sizes": sizes,
           "peak_memory_mib": round(peak_memory_mib(), 1), "data": data.summary() if streamed else data_summary(data),
           **pretrained}
    if clf.task == "multilabel":  # model.threshold, or the one chosen on the validation split
        out["threshold"] = clf.outputs_.threshold
    for name in ("valid", "test"):  # an empty split has no scores (not accuracy 0)
        if sizes.get(name):
            out[name] = evaluate(name)
    return out


def build(cfg: Config, stats: Stats, featurizer: Featurizer, encoder=None) -> Classifier:
    """The untrained classifier that a resolved config (see doccat.recipe) describes for data with these
    statistics: its network (seeded by train.seed), loss with class weights, biases at the class priors."""
    t, m = cfg.train, cfg.model
    outputs = num_outputs(stats.task, t.loss, len(stats.classes))
    _check_memory(featurizer.num_features, m.embed_dim or outputs)
    torch.manual_seed(t.seed)  # the initial weights are part of what the seed fixes
    model = build_model(m, featurizer.num_features, outputs, sparse=uses_sparse_grads(t) and not m.nb, encoder=encoder)
    weight = class_weights(t.class_weights, stats.class_counts, stats.documents, stats.task)
    loss = Outputs(stats.task, t.loss, label_smoothing=t.label_smoothing, weight=weight,
                   threshold=DEFAULT_THRESHOLD if m.threshold is None else m.threshold,
                   threshold_on_valid=m.threshold is None and stats.task == "multilabel")
    if t.loss == "squared_hinge" and stats.documents:
        biases_at_the_prior(model.head.bias, np.array(stats.class_counts))
    classes = stats.labels or stats.classes
    return Classifier(cfg, featurizer, classes, model, loss, (stats.target_mean, stats.target_std), encoder,
                      stats.target_range)


def _check_memory(features: int, width: int) -> None:
    """The bag (features x width float32) and what training keeps beside it (a gradient, an optimizer's or NB's
    copy: 3x in all) against the memory available now, before any of it is allocated."""
    need = 3 * 4 * features * width
    try:
        info = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
        available = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return  # not Linux: nothing to check against
    if need > available:
        raise DataError(f"the model would need about {need / 2**30:.1f} GiB ({features:,} features x {width:,} "
                        f"outputs or dimensions, float32, 3 copies) and {available / 2**30:.1f} GiB are available: "
                        "fewer features (--buckets, --max-vocab, a higher --min-df, --char-ngrams '') or classes")


@torch.no_grad()
def biases_at_the_prior(bias: torch.Tensor, counts: np.ndarray) -> None:
    """squared_hinge: each score's bias starts at 2p - 1 (p: its class's share of the training docs, from
    their `counts` per class), where the loss is least while the weights are zero, so that the first steps
    need not find it (fewer epochs)."""
    p = counts / counts.sum()
    bias.copy_(torch.from_numpy(2 * (p[1:] if len(bias) == 1 else p) - 1))  # one score: the second class's


def resume(out: str | Path, texts: list[str] | None = None, labels: list | None = None, *, log=LOG.info,
           progress: bool | None = None) -> Classifier:
    """Continue a killed `train(..., out=out)` from its last checkpoint, with the config it saved.

    Parameters
    ----------
    out : path
        The run directory the killed run was writing (or its ``.partial`` folder).
    texts, labels : list, optional
        A run trained on in-memory data needs them again.
    log, progress
        As in `train`.

    Returns
    -------
    Classifier
        Equal to what the uninterrupted run would have given.
    """
    distributed.setup()  # rank 0 reads the run's files and hands them to the others
    checkpoints, run = Checkpoints.reopen(out)
    cfg = resolve_config(run["config"], {})
    options = RunOptions(checkpoints.out, run["overwrite"], Hooks(log, progress), checkpoints)
    return fit_data(load_data(cfg, texts, labels, distributed.main_only(log)), cfg, options)


# pretrained representations: word vectors, a sentence encoder (README: "Pretrained representations")

def _load_vectors(clf: Classifier, log) -> dict:
    """model.vectors into the bag's word rows; returns the coverage report kept in metrics.json."""
    m, f = clf.config.model, clf.featurizer
    words = f.columns_[f.columns_ < len(f.vocab)]  # the model's word columns: the bag's first rows
    report = load_into_bag(clf.model.bag.weight, f.vocab.itos, words, m.vectors, scale_init=m.init == "vectors")
    log(f"vectors: {report['found']:,} of the model's {report['vocab_words']:,} word columns (the vocabulary's "
        f"{len(f.vocab):,} words less those in fewer than min_df={m.min_df} training documents) found in {report['name']} "
        f"({report['coverage']:.1%}; {report['lowercase']:,} by lowercase); missing e.g. "
        f"{', '.join(report['missing_examples'][:5]) or '-'}; the other rows "
        + (f"drawn from U(-{report['init_range']:.3g}, {report['init_range']:.3g}), the vectors' scale"
           if "init_range" in report else f"keep init {m.init}")
        + ("; frozen" if m.freeze_embeddings else ""))
    return report


def _encoder(cfg: Config, log):
    """The pretrained encoder model.encoder names, on train.device."""
    from .encoder import EncoderError, from_config
    try:
        encoder = from_config(cfg.model, cfg.train.device)
    except EncoderError as e:
        raise config_mod.ConfigError(f"model.encoder: {e}") from None
    log(f"encoder: {encoder.name} ({encoder.path}), {encoder.dim} dimensions, {cfg.model.encoder_mode}, "
        f"on {encoder.device}, windows of {encoder.max_length} tokens ({encoder.long_docs})")
    return encoder


def _encode(clf: Classifier, splits: Splits, train_enc, valid_enc, log):
    """The inputs of `fit` with the encoder's part (a frozen encoder embeds the splits here, once,
    through its disk cache), and what metrics.json records: the encoder's identity and the cache's use."""
    t0 = time.perf_counter()
    info = {**clf.encoder_.identity(), "device": str(clf.encoder_.device)}
    if clf.config.model.encoder_mode == "contrastive":
        info["pairs"] = _tune_on_pairs(clf, splits.train, log)
    out = []
    for name, split, enc in (("train", splits.train, train_enc), ("valid", splits.valid, valid_enc)):
        out.append(encoder_features(clf.encoder_, clf.config.model, enc, split.texts, cache=True))
        if clf.config.model.encoder_mode == "frozen":
            cache = clf.encoder_.cache_info_
            info.setdefault("cache", {})[name] = {k: cache[k] for k in ("texts", "cached", "encoded")}
    if "cache" in info:
        info["encode_seconds"] = round(time.perf_counter() - t0, 2)
        log(f"encoder: embeddings of {len(splits.train) + len(splits.valid):,} texts in {info['encode_seconds']}s "
            f"({sum(c['cached'] for c in info['cache'].values()):,} from the cache "
            f"{Path(cache['file']).parent.parent})")
    return out[0], out[1], info


def _tune_on_pairs(clf: Classifier, train, log) -> dict:
    """model.encoder_mode contrastive: the encoder tuned on pairs of training documents before its embeddings
    are taken (doccat.encoder.tune_on_pairs); returns what metrics.json records of it."""
    from .encoder import tune_on_pairs
    m, t, t0 = clf.config.model, clf.config.train, time.perf_counter()
    losses = tune_on_pairs(clf.encoder_, train.texts, train.labels, m, t.encoder_lr, t.seed)
    seconds = round(time.perf_counter() - t0, 2)
    first, last = (statistics.mean(part) for part in (losses[:5], losses[-5:]))
    log(f"encoder: contrastive stage, {len(losses)} steps of {min(m.encoder_pair_batch, len(train))} documents "
        f"({m.encoder_pair_max_length} tokens) in {seconds}s; pair loss {first:.4f} -> {last:.4f} (means of the "
        "first and last 5 steps)")
    return {"steps": len(losses), "seconds": seconds, "loss_first": first, "loss_last": last}


def _saved_encoder(path, cfg: Config, recorded: dict | None, folder, device: str):
    """The encoder a saved run was trained with, checked against its encoder.json."""
    from .encoder import EncoderError, from_config
    if recorded is None:
        raise artifacts.ArtifactError(f"{path}: the config names an encoder but the run has no encoder.json; "
                                      "it was written by another version of doccat: train it again")
    try:
        return from_config(cfg.model, device, recorded, folder)
    except EncoderError as e:
        raise artifacts.ArtifactError(f"{path}: {e}") from None
