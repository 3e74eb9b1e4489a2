"""The public API: train a classifier, then predict / evaluate / save / load it."""
from __future__ import annotations

import dataclasses
import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from . import artifacts, config as config_mod, distributed
from .checkpoint import Checkpoints
from .config import Config, TrainConfig
from .data import DataError, Split, Splits, load_splits
from .data.split import random_split, stratified_split
from .loss import SCORES, Loss, LossError, class_weights, num_outputs, resolve as resolve_loss
from .metrics import classification_report, multilabel_report, regression_report
from .model import BagClassifier, build_model, encoder_features, nb_scale
from .text import Featurizer, Vocab
from .report import data_summary
from .vectors import load_into_bag
from .train import fit, kept_epoch, peak_memory_mib, predict_logits, uses_sparse_grads


@dataclass
class Prediction:
    labels: list[str]  # classify: the top-k classes; multilabel: the labels predicted; most probable first
    probs: list[float]  # their probabilities
    value: float | None = None  # regression: the predicted target


class Classifier:
    """A trained document classifier (or regressor): featurizer + network + what its outputs mean.

    task "classify": one class per text; "multilabel": any number of labels per text; "regression":
    a number per text. `classes_` names the outputs (empty for regression).
    """

    def __init__(self, config: Config, featurizer: Featurizer, classes: list[str], model: BagClassifier,
                 loss: Loss | None = None, target: tuple[float, float] = (0.0, 1.0), encoder=None):
        self.config, self.featurizer, self.classes_, self.model = config, featurizer, classes, model
        self.encoder_ = encoder  # model.encoder's doccat.encoder.Encoder (tokenizer, transformer), else None
        self.loss_ = loss or Loss(threshold=config.model.threshold)
        self.target_ = target  # regression: the training targets' (mean, std); outputs are standardized
        self.history_: list[dict] = []
        self.batches_: list[dict] = []  # per training batch: step, epoch, loss, grad_norm, lr
        self.metrics_: dict = {}

    @property
    def task(self) -> str:
        return self.loss_.task

    def _outputs(self, texts, cache: bool = False) -> torch.Tensor:
        texts = [texts] if isinstance(texts, str) else list(texts)
        return predict_logits(self.model, self.inputs(texts, cache))

    def inputs(self, texts: list[str], cache: bool = False):
        """The model's input for `texts`: their bag of features (Encoded); with an encoder, model.Features
        (`cache`: a frozen encoder's embeddings go through its disk cache)."""
        enc = self.featurizer.encode(texts)
        return enc if self.encoder_ is None else encoder_features(self.encoder_, self.config.model, enc, texts, cache)

    def predict_proba(self, texts: str | list[str]) -> np.ndarray:
        """Probabilities, (n_texts, n_classes), columns in `classes_` order: softmax for classify (rows sum
        to 1), one sigmoid per label for multilabel. Regression has none: use `predict`."""
        if self.task == "regression":
            raise DataError("a regression model predicts values, not probabilities: use predict")
        return self.loss_.proba(self._outputs(texts)).numpy()

    def predict_log_proba(self, texts: str | list[str]) -> np.ndarray:
        """classify: log-probabilities (log-softmax), (n_texts, n_classes)."""
        return self.loss_.log_proba(self._outputs(texts)).numpy()

    def predict(self, texts: str | list[str], k: int | None = None, threshold: float | None = None) -> list[Prediction]:
        """One Prediction per text (a single string counts as a list of one text).

        classify: the top-`k` classes (default 1) with probabilities, those below `threshold` (default
        0) dropped. multilabel: the labels whose probability reaches `threshold` (default: the model's,
        0.5), at most `k`. regression: `value`, the predicted number.
        """
        out = self._outputs(texts)
        if self.task == "regression":
            mean, std = self.target_
            return [Prediction([], [], float(v) * std + mean) for v in self.loss_.proba(out)]
        probs = self.loss_.proba(out).numpy()
        if threshold is None:
            threshold = self.loss_.threshold if self.task == "multilabel" else 0.0
        k = k or (1 if self.task == "classify" else len(self.classes_))
        top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
        return [Prediction([self.classes_[i] for i in idx if row[i] >= threshold],
                           [float(row[i]) for i in idx if row[i] >= threshold]) for row, idx in zip(probs, top)]

    def targets(self, labels: list, where: str = "labels") -> np.ndarray:
        """Labels as the loss wants them: class ids (n,); label indicators (n, L); standardized values (n,)."""
        if self.task == "regression":
            mean, std = self.target_
            return ((np.asarray(labels, dtype=np.float64) - mean) / std).astype(np.float32)
        index = {c: i for i, c in enumerate(self.classes_)}
        given = [x for row in labels for x in row] if self.task == "multilabel" else labels
        unknown = sorted(set(given) - index.keys())
        if unknown:
            raise DataError(f"{where}: label(s) {', '.join(map(repr, unknown[:5]))} never seen in training "
                            f"(known: {', '.join(self.classes_[:20])}{' ...' if len(self.classes_) > 20 else ''})")
        if self.task == "classify":
            return np.array([index[x] for x in labels], dtype=np.int64)
        y = np.zeros((len(labels), len(self.classes_)), dtype=np.float32)
        rows = np.repeat(np.arange(len(labels)), [len(row) for row in labels])
        y[rows, [index[x] for x in given]] = 1.0
        return y

    def label_ids(self, labels: list[str], where: str = "labels") -> np.ndarray:
        """classify: the class id of each label."""
        return self.targets(labels, where)

    def evaluate(self, texts: list[str], labels: list) -> dict:
        """Metrics by task, with the loss: classify: accuracy, macro-F1, per class, confusion matrix;
        multilabel: micro/macro-F1, subset accuracy, hamming loss, per label; regression: MAE, RMSE, R^2."""
        y = torch.from_numpy(self.targets(labels))
        return self.evaluate_outputs(self._outputs(list(texts), cache=True), y, labels if self.task == "regression" else None)

    def evaluate_outputs(self, out: torch.Tensor, y: torch.Tensor, values: list | None = None) -> dict:
        """The metrics of `evaluate` from the model's outputs and the targets `y` (as `targets` gives them);
        regression: `values`, the targets as given (else taken back from `y`)."""
        plain = dataclasses.replace(self.loss_, label_smoothing=0.0, weight=None)  # a metric, not the objective
        loss = plain(out, y).item() if len(y) else 0.0
        p = self.loss_.proba(out).numpy()
        if self.task == "classify":
            return classification_report(y.numpy(), p.argmax(1), self.classes_, loss)
        if self.task == "multilabel":
            return multilabel_report(y.numpy() > 0.5, p >= self.loss_.threshold, self.classes_, loss)
        mean, std = self.target_
        truth = np.asarray(values, dtype=np.float64) if values is not None else y.numpy().astype(np.float64) * std + mean
        return regression_report(truth, p * std + mean, loss)

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
        if self.loss_.kind == "squared_hinge":
            state["loss.scale"] = torch.tensor(self.loss_.scale, dtype=torch.float64)
        return state

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write the run directory, with batches.csv and the plots."""
        from . import plots
        extra = {"batches.csv": artifacts.rows_csv(self.batches_)} if self.batches_ else {}
        extra |= plots.render_run(self.history_, self.batches_, self.metrics_, self.classes_, self.loss_.kind,
                                  SCORES[self.task])
        if self.encoder_ is not None:  # which encoder: `load` refuses another
            extra["encoder.json"] = json.dumps(self.encoder_.identity(), indent=2).encode()
        return artifacts.write_run(Path(path), config_mod.to_dict(self.config), self.state_dict(),
                                   self.featurizer.vocab.itos, self.classes_, self.metrics_, self.history_,
                                   overwrite, extra)


def load(path: str | Path, device: str = "auto", encoder: str | Path | None = None) -> Classifier:
    """Load a run directory written by `train(..., out=...)` or `Classifier.save`; checksums verified.
    `device`: where the model runs, "cpu", "cuda" or "auto" (a GPU when there is one).

    A run trained with a pretrained encoder needs that very encoder (its files' sha256 are checked):
    found at `encoder` (a folder), else where it was at training, else installed under its known name.
    Raises ArtifactError when it is missing or differs."""
    run = artifacts.read_run(Path(path))
    cfg = config_mod.from_dict(run["config"])
    state = dict(run["state"])
    idf_, columns = state.pop("featurizer.idf", None), state.pop("featurizer.columns", None)
    if columns is None or (idf_ is None) != (cfg.model.weighting != "tfidf"):
        raise artifacts.ArtifactError(f"{path}: model.safetensors lacks the featurizer's columns or idf; "
                                      "it was written by another version of doccat: train it again")
    target = tuple(state.pop("target.mean_std", torch.tensor([0.0, 1.0])).tolist())
    featurizer = Featurizer(Vocab(run["vocab"]), cfg.model.ngrams, cfg.model.buckets, cfg.model.max_tokens,
                            cfg.model.weighting, columns.numpy(), None if idf_ is None else idf_.numpy(),
                            cfg.model.char_ngrams)
    loss = Loss(cfg.data.task, cfg.train.loss, threshold=cfg.model.threshold,
                scale=float(state.pop("loss.scale", torch.tensor(1.0))))
    encoder_ = _saved_encoder(path, cfg, run["encoder"], encoder, device) if cfg.model.encoder else None
    model = build_model(cfg.model, featurizer.num_features, num_outputs(loss.task, loss.kind, len(run["labels"])),
                        encoder=encoder_)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise artifacts.ArtifactError(f"{path}: weights do not fit the config: {e}") from None
    model.to(distributed.device(device)).eval()
    clf = Classifier(cfg, featurizer, run["labels"], model, loss, target, encoder_)
    clf.metrics_ = run["metrics"]
    return clf


def resolve_config(config: Config | dict | str | Path | None, overrides: dict) -> Config:
    """Defaults <- config (object, nested dict or TOML path) <- flat keyword overrides."""
    nested = config_mod.nest({k: v for k, v in overrides.items() if v is not None})
    if config is None:
        return config_mod.merge(Config(), nested)
    if isinstance(config, Config):
        return config_mod.merge(config, nested)
    if isinstance(config, dict):
        return config_mod.merge(config_mod.from_dict(config), nested)
    return config_mod.load(config, nested)


def _in_memory_splits(cfg: Config, texts, labels) -> Splits:
    """Splits of in-memory data; task auto: lists of labels are multilabel, floats regression."""
    labels = list(labels)
    task = cfg.data.task
    if task == "auto":
        task = "multilabel" if all(isinstance(x, (list, tuple, set)) for x in labels) else \
            "regression" if all(isinstance(x, float) for x in labels) else "classify"
    if task == "multilabel":
        train = Split(list(texts), [sorted({str(x) for x in row}) for row in labels])
        classes = sorted({x for row in train.labels for x in row})
    elif task == "regression":
        train, classes = Split(list(texts), [float(x) for x in labels]), []
    else:
        train = Split(list(texts), [str(x) for x in labels])
        classes = sorted(set(train.labels))
    if task == "classify":
        kept, carved = stratified_split(train.labels, cfg.data.valid_fraction, cfg.data.split_seed + 1)
    else:
        kept, carved = random_split(len(train), cfg.data.valid_fraction, cfg.data.split_seed + 1)
    return Splits(train.take(kept), train.take(carved), None, classes, task)


def train(texts: list[str] | None = None, labels: list | None = None, *, config=None, out=None,
          overwrite: bool = False, log=print, progress: bool | None = None, on_epoch=None,
          _checkpoints: Checkpoints | None = None, _splits: Splits | None = None,
          **overrides) -> Classifier:
    """Train a classifier and evaluate it on the validation and test splits.

    Data comes from `texts`/`labels` (a validation split is carved from them) or from the config's
    data section (a registry `dataset=` or `train=`/`valid=`/`test=` files). Any config key may be
    given as a keyword (`epochs=5`, `lr=0.1`, `dataset="trec"`). With `out`, the run is saved there,
    checkpointed meanwhile into `<out>.partial/` (see `resume`). `progress`: a live bar on stderr
    (None: only at a terminal, unless DOCCAT_QUIET is set). `on_epoch(row)`: called after each epoch with
    its history row (epoch, train_loss, val_loss, val_score, lr, seconds); raising in it stops training.
    """
    cfg = resolve_config(config, overrides)
    distributed.setup()  # under torchrun: join the other ranks; only rank 0 logs and writes
    log, progress = distributed.main_only(log), progress if distributed.is_main() else False
    device = distributed.device(cfg.train.device)
    if out is not None and _checkpoints is None:
        Checkpoints.check(out, overwrite)  # refuse a taken `out` now, not after hours of training
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    m = cfg.model
    if cfg.data.streaming:  # nothing is loaded: passes over the files (doccat/data/stream.py)
        if texts is not None:
            raise DataError("streaming reads files (train=...); train on in-memory texts without it")
        from .data.stream import Corpus, evaluate as evaluate_streamed
        t0 = time.perf_counter()
        corpus = Corpus(cfg, log)
        clf, featurizer, y_train, y_valid = corpus.classifier, corpus.classifier.featurizer, None, None
        pretrained = {}
        train_data, valid_data = corpus.stream("train", cfg.train.batch_size, cfg.train.shuffle), corpus.stream("valid")
        sizes, summarize = corpus.sizes(), corpus.summary
        evaluate = functools.partial(evaluate_streamed, clf)
    else:
        splits = _splits if _splits is not None else (  # _splits: loaded once by a caller that trains many times
            _in_memory_splits(cfg, texts, labels) if texts is not None else load_splits(cfg.data))
        log(f"data: {splits.summary()} docs, " + (f"{len(splits.classes)} {'labels' if splits.task == 'multilabel' else 'classes'}"
                                                  if splits.task != "regression" else "a regression target"))
        t0 = time.perf_counter()
        chars, char_max_tokens = resolve_chars(m)
        featurizer, train_data = Featurizer.fit_encode(
            splits.train.texts, ngrams=m.ngrams, buckets=m.buckets, min_freq=m.min_freq, max_vocab=m.max_vocab,
            max_tokens=m.max_tokens, weighting=m.weighting, min_df=m.min_df, chars=chars,
            char_max_tokens=char_max_tokens)
        clf, y_train = _classifier(cfg, splits, featurizer, _encoder(cfg, log) if m.encoder else None)
        if clf.config.model.nb:  # the bag's weights are (features, outputs): the scale's shape
            clf.model.scale = nb_scale(train_data, y_train, *clf.model.bag.weight.shape, clf.config.model.nb)
        pretrained = {"vectors": _load_vectors(clf, log)} if m.vectors else {}
        y_valid = clf.targets(splits.valid.labels, "valid")
        valid_data = featurizer.encode(splits.valid.texts)
        if m.encoder:  # the fit's inputs: with the encoder's part
            train_data, valid_data, pretrained["encoder"] = _encode(clf, splits, train_data, valid_data, log)
        sizes, summarize = splits.summary(), functools.partial(data_summary, splits)

        def evaluate(name: str) -> dict:
            return clf.evaluate(getattr(splits, name).texts, getattr(splits, name).labels)
    log(f"features: vocabulary {len(featurizer.vocab)}, n-grams up to {m.ngrams} in {m.buckets} buckets"
        + (f", character {featurizer.chars[0]}-{featurizer.chars[1]}-grams in {m.buckets} more" if featurizer.chars
           else "")
        + f": {featurizer.num_features} seen in training")
    clf.model.to(device)
    if out is not None and _checkpoints is None:
        _checkpoints = Checkpoints.start(out, config_mod.to_dict(clf.config), overwrite)
    try:
        clf.history_ = fit(clf.model, train_data, y_train, valid_data, y_valid, clf.config.train, clf.loss_, log=log,
                           checkpoints=_checkpoints, batch_log=clf.batches_, progress=progress, on_epoch=on_epoch)
    except BaseException:
        if _checkpoints is not None:
            _checkpoints.abandon()
        raise
    if clf.config.model.nb:
        clf.model.fold_scale()
    train_seconds = time.perf_counter() - t0  # featurizing and fitting; the report's data summary comes after
    clf.metrics_ = {"train_seconds": train_seconds, "kept_epoch": kept_epoch(clf.history_, cfg.train.keep)["epoch"],
                    "sizes": sizes,
                    "peak_memory_mib": round(peak_memory_mib(), 1), "data": summarize(), "valid": evaluate("valid"),
                    **pretrained}
    if "test" in sizes:
        clf.metrics_["test"] = evaluate("test")
    if out is not None:
        if distributed.is_main():
            clf.save(out, overwrite)
        _checkpoints.finish()
    distributed.barrier()  # ranks leave together: one leaving the group while another still uses it aborted (torchrun, streaming)
    return clf


def is_linear(m) -> bool:
    """Whether the model config describes a linear model: the bag's class scores, nothing else."""
    return m.embed_dim == 0 and not m.hidden and not m.encoder and m.bag


AUTO_CHARS, AUTO_CHAR_TOKENS = [3, 5], 500_000  # model.char_ngrams None (see config.ModelConfig)


def resolve_chars(m) -> tuple[list[int] | None, int | None]:
    """model.char_ngrams resolved before the training split is read: the character n-gram lengths, and the
    most training tokens they are used for (None: any)."""
    if m.char_ngrams is None:
        return (AUTO_CHARS, AUTO_CHAR_TOKENS) if is_linear(m) else (None, None)
    return m.char_ngrams or None, None


def resolve_train(cfg: Config, task: str, num_classes: int, train_docs: int) -> TrainConfig:
    """cfg.train with the loss resolved (auto: by the task and the model) and weight_decay None resolved by
    the loss, each default chosen on held-out training data: squared_hinge 1 / training docs, else 3e-6."""
    kind = resolve_loss(task, cfg.train.loss, num_classes, is_linear(cfg.model))
    if kind == "squared_hinge" and cfg.train.label_smoothing:
        raise LossError("train.label_smoothing smooths probabilities: squared_hinge has none to smooth "
                        "(use cross_entropy, or label_smoothing 0)")
    wd = cfg.train.weight_decay
    if wd is None:
        wd = 1.0 / max(train_docs, 1) if kind == "squared_hinge" else 3e-6
    return dataclasses.replace(cfg.train, loss=kind, weight_decay=wd)


def resolve_nb(cfg: Config, task: str) -> float:
    """model.nb resolved: None is 0.5 for a linear classifier fit full batch (the default recipe), else 0
    (mini-batches, streaming among them, keep the bag's sparse gradients, which the scale would make dense)."""
    if cfg.model.nb is None:
        return 0.5 if is_linear(cfg.model) and task != "regression" and cfg.train.batch_size == 0 else 0.0
    if cfg.model.nb and task == "regression":
        raise config_mod.ConfigError("model.nb scales features by how they tell classes apart: a regression "
                                     "has no classes (set nb 0)")
    return cfg.model.nb


def _classifier(cfg: Config, splits: Splits, featurizer: Featurizer, encoder=None,
                train_docs: int | None = None) -> tuple[Classifier, np.ndarray]:
    """The untrained classifier for these splits (task, loss and weight decay resolved into its config), and
    its targets. `train_docs`: the training split's size when `splits.train` does not hold it (streaming)."""
    train = resolve_train(cfg, splits.task, len(splits.classes), train_docs or len(splits.train))
    kind = train.loss
    cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, task=splits.task), train=train,
                              model=dataclasses.replace(cfg.model, nb=resolve_nb(cfg, splits.task),
                                                        char_ngrams=list(featurizer.chars or [])))
    target = (0.0, 1.0)
    if splits.task == "regression":
        values = np.asarray(splits.train.labels, dtype=np.float64)
        target = (float(values.mean()), float(values.std()) or 1.0)
    torch.manual_seed(cfg.train.seed)  # the initial weights are part of what the seed fixes
    model = build_model(cfg.model, featurizer.num_features, num_outputs(splits.task, kind, len(splits.classes)),
                        sparse=uses_sparse_grads(cfg.train) and not cfg.model.nb, encoder=encoder)
    clf = Classifier(cfg, featurizer, splits.classes, model, Loss(splits.task, kind, threshold=cfg.model.threshold),
                     target, encoder)
    y_train = clf.targets(splits.train.labels, "train")
    clf.loss_.label_smoothing = cfg.train.label_smoothing
    clf.loss_.weight = class_weights(cfg.train.class_weights, y_train, splits.task, len(splits.classes))
    if kind == "squared_hinge" and len(y_train):  # (streaming: the Corpus, from its counts)
        biases_at_the_prior(model.head.bias, np.bincount(y_train, minlength=len(splits.classes)))
    return clf, y_train


@torch.no_grad()
def biases_at_the_prior(bias: torch.Tensor, counts: np.ndarray) -> None:
    """squared_hinge: each score's bias starts at 2p - 1 (p: its class's share of the training docs, from
    their `counts` per class), where the loss is least while the weights are zero, so that the first steps
    need not find it (fewer epochs)."""
    p = counts / counts.sum()
    bias.copy_(torch.from_numpy(2 * (p[1:] if len(bias) == 1 else p) - 1))  # one score: the second class's


def resume(out: str | Path, texts: list[str] | None = None, labels: list | None = None, *, log=print,
           progress: bool | None = None) -> Classifier:
    """Continue a killed `train(..., out=out)` from its last checkpoint, with the config it saved.

    The result equals that of an uninterrupted run. A run trained on `texts`/`labels` needs them again.
    """
    distributed.setup()  # rank 0 reads the run's files and hands them to the others
    checkpoints, run = Checkpoints.reopen(out)
    return train(texts, labels, config=run["config"], out=checkpoints.out, overwrite=run["overwrite"], log=log,
                 progress=progress, _checkpoints=checkpoints)


# pretrained representations: word vectors, a sentence encoder (README: "Pretrained representations")

def _load_vectors(clf: Classifier, log) -> dict:
    """model.vectors into the bag's word rows; returns the coverage report kept in metrics.json."""
    m, f = clf.config.model, clf.featurizer
    words = f.columns_[f.columns_ < len(f.vocab)]  # the model's word columns: the bag's first rows
    report = load_into_bag(clf.model.bag.weight, f.vocab.itos, words, m.vectors, scale_init=m.init == "auto")
    log(f"vectors: {report['found']:,} of the model's {report['vocab_words']:,} words found in {report['name']} "
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
