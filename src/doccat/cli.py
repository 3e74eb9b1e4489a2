"""Command line: `doccat train | tune | evaluate | predict | datasets | report | compare | explain | compress | export |
serve`, mirroring the Python API."""
from __future__ import annotations

import argparse
import dataclasses
import errno
import itertools
import json
import logging
import os
import re
import sys
import time
import typing
import warnings

from . import config as config_mod
from .artifacts import ArtifactError
from .config import ConfigError, TrainingError
from .data import DataError
from .metrics import HEADLINE

USER_ERRORS = (ConfigError, DataError, ArtifactError, TrainingError)
LOG = logging.getLogger(__name__)


def _flag_type(tp):
    """argparse type for a config field annotation: lists take comma-separated values."""
    base = config_mod.set_type(tp)  # `str | None` -> str; `list[str]` stays a list
    if typing.get_origin(base) is list:
        item = typing.get_args(base)[0]

        def items(text: str) -> list:
            try:
                return [item(x) for x in text.split(",") if x.strip()]
            except ValueError:
                raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {item.__name__} "
                                                 "values (e.g. 64,32)") from None
        return items
    if base is bool:
        return _bool
    return base


def _at_least(low: int):
    """argparse type: an integer >= low."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value
    return parse


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1], got {text}")
    return value


def _port(text: str) -> int:
    value = _at_least(0)(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be in [0, 65535], got {value}")
    return value


def _bool(text: str) -> bool:
    words = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}
    if text.lower() not in words:
        raise argparse.ArgumentTypeError(f"{text!r} is not true or false (also yes/no, 1/0)")
    return words[text.lower()]


HELP_GROUPS = {"data": "data: what is read, and how it is split",
               "features": "features: how a document becomes feature ids and weights",
               "model": "model: the layers on the features",
               "training": "training: loss, optimizer, schedule, regularization, stopping",
               "output": "output: the run directory, checkpoints and what is printed"}


def help_groups(parser: argparse.ArgumentParser) -> dict:
    """The argument groups config flags are listed under, in HELP_GROUPS' order."""
    return {name: parser.add_argument_group(title) for name, title in HELP_GROUPS.items()}


def add_config_flags(groups: dict) -> None:
    """One --flag per config field (e.g. --embed-dim, --lr, --dataset), under its help group; its help is the
    field's documentation in config.py, the one place defaults and their meaning are written."""
    for section, cls in config_mod.SECTION_TYPES.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            group = f.metadata["group"] or {"train": "training"}.get(section, section)
            # a bool flag alone means true (--freeze-embeddings); it also takes a value (--shuffle false)
            alone = {"nargs": "?", "const": True} if hints[f.name] is bool else {}
            choices = f.metadata["choices"]
            groups[group].add_argument(
                f"--{f.name.replace('_', '-')}", dest=f"cfg_{f.name}", type=_flag_type(hints[f.name]), default=None,
                metavar="{" + ",".join(choices) + "}" if choices else f.name.upper(),
                help=f"{f.metadata['doc']} (default: {config_mod.shown(config_mod.default_of(f), f.metadata['doc'])})", **alone)


def add_output_flags(group, what: str) -> None:
    group.add_argument("-q", "--quiet", action="store_true", help=f"warnings and errors only: no {what}")
    group.add_argument("-v", "--verbose", action="store_true", help="also debugging detail (timings of each stage)")


def config_overrides(args) -> dict:
    return {k[4:]: v for k, v in vars(args).items() if k.startswith("cfg_") and v is not None}


def cmd_train(args) -> int:
    from .checkpoint import run_dir
    from .classifier import resume, train
    overrides = config_overrides(args)
    log = LOG.info  # --quiet and -v set the level (see log_to_stderr)
    progress = False if args.quiet else None  # None: a bar only at a terminal
    if args.seeds is not None:
        return _train_seeds(args, overrides, log, progress)
    if args.resume:
        if args.config or args.out or args.overwrite or overrides:
            raise ConfigError("--resume continues a run with the config saved in it: give no other options "
                              "(except --quiet)")
        out = run_dir(args.resume)
        clf = resume(out, log=log, progress=progress)
    else:
        name = overrides.get("dataset") or "run"
        out = args.out if args.out is not None else default_out(name)
        clf = train(config=args.config, out=out, overwrite=args.overwrite, log=log, progress=progress, **overrides)
    from .distributed import is_main
    if not is_main():  # under torchrun, rank 0 says how it went
        return 0
    m = clf.metrics_
    summary = {"run_dir": str(out), "train_seconds": round(m["train_seconds"], 2), "kept_epoch": m["kept_epoch"]}
    if "threshold" in m:  # multilabel: the one predictions use
        summary["threshold"] = m["threshold"]
    for split in ("valid", "test"):
        summary |= {f"{split}_{key}": m[split][key] for key in HEADLINE[clf.task] if split in m}
    print(json.dumps(summary, indent=2))
    return 0


def default_out(name: str) -> str:
    """runs/NAME-<date>-<time>, with -2, -3, ... when a run of the same second is there already."""
    base = f"runs/{name}-{time.strftime('%Y%m%d-%H%M%S')}"
    taken = itertools.chain([base], (f"{base}-{i}" for i in itertools.count(2)))
    return next(p for p in taken if not os.path.lexists(p))


def _train_seeds(args, overrides: dict, log, progress) -> int:
    from .seeds import train_seeds
    if args.resume:
        raise ConfigError("--resume continues one run: it takes no --seeds")
    name = overrides.get("dataset") or "run"
    out = args.out if args.out is not None else default_out(f"{name}-seeds")
    summary = train_seeds(args.seeds, config=args.config, out=out, overwrite=args.overwrite, log=log,
                          progress=progress, **overrides)
    print(json.dumps({"out": str(out), **summary}, indent=2))
    return 0


def cmd_tune(args) -> int:
    from .tune import tune
    overrides = config_overrides(args)
    log = LOG.info
    name = overrides.get("dataset") or "run"
    out = args.out if args.out is not None else default_out(f"tune-{name}")
    result = tune(config=args.config, out=out, trials=args.trials, timeout=args.timeout, space=args.space,
                  overwrite=args.overwrite, log=log, progress=False if args.quiet else None, **overrides)
    print(json.dumps(result.summary, indent=2))
    return 0


def _file_config(args, clf) -> config_mod.DataConfig:
    """The run's data config with the file-reading flags given to evaluate."""
    given = {k: getattr(args, k) for k in ("format", "label_column", "text_columns", "encoding", "delimiter",
                                           "quotechar", "data_dir") if getattr(args, k) is not None}
    return dataclasses.replace(clf.config.data, **given)


def _read_eval_data(args, clf):
    from .data import load_splits, reading
    from .data.readers import read
    data_cfg = _file_config(args, clf)
    if args.file:
        return read(args.file, data_cfg.format, **reading(data_cfg, clf.task))
    if args.dataset:
        data_cfg = dataclasses.replace(data_cfg, dataset=args.dataset, train=None, valid=None, test=None)
    split = getattr(load_splits(data_cfg), args.split)
    if split is None:
        raise DataError(f"the run's data has no {args.split} split; give --file")
    return split.texts, split.labels


def cmd_evaluate(args) -> int:
    clf = load_for_prediction(args.run_dir, args.device, streamed=False)
    if clf.config.data.streaming:  # a run on a corpus larger than memory: scored a block at a time
        from .data.stream import evaluate
        if args.dataset:
            raise DataError("a streamed run is evaluated on files: give --file (or --split)")
        report = evaluate(clf, args.split, args.file, **dataclasses.asdict(_file_config(args, clf)))
    else:
        texts, labels = _read_eval_data(args, clf)
        report = clf.evaluate(texts, labels)
    print(readable_json(report if args.full else {k: report[k] for k in ("n", "loss", *HEADLINE[clf.task])}))
    return 0


def readable_json(value) -> str:
    """Indented JSON with each list of numbers on one line: a confusion matrix reads as a matrix."""
    text = json.dumps(value, indent=2)
    return re.sub(r"\[([-\d.,eE+\s]*)\]", lambda m: "[" + ", ".join(x.strip() for x in m.group(1).split(",")) + "]",
                  text)


def cmd_predict(args) -> int:
    from .data.readers import BLOCK, STDIN, chunked, iter_texts
    clf = load_for_prediction(args.run_dir, args.device)
    lines = lambda source: ((text, True) for text in iter_texts(source, args.encoding, args.format))
    given = [lines(STDIN) if t == STDIN else [(t, False)] for t in args.texts]
    texts = itertools.chain(*given, lines(args.file) if args.file else [])
    done = blank = 0
    for block in chunked(texts, BLOCK):  # a file of any size, a block of texts at a time
        skip = [from_file and not text.strip() for text, from_file in block]  # a blank line of a file
        for row in predicted_rows(clf, [text for text, _ in block], skip, args):
            print(json.dumps(row, ensure_ascii=False))
        blank += sum(skip)
        done += len(block)
    if not done:
        raise DataError("nothing to predict: give texts as arguments or --file (one text per line)")
    if blank:
        LOG.info(f"{blank} blank line(s) got no prediction (their rows are kept, empty)")
    return 0


def load_for_prediction(run_dir, device: str, streamed: bool = True):
    """A linear bag model on the CPU without torch (linear.load: the same numbers, a fraction of the start-up
    time); any other model, a GPU asked for, or with streamed=False a run trained on a stream (data.stream
    evaluates it a block at a time, with torch), through classifier.load."""
    from . import linear
    cfg = linear.saved_config(run_dir) if device in ("auto", "cpu") else None
    if cfg is not None and (streamed or not cfg.data.streaming):
        return linear.load(run_dir)
    from .classifier import load
    return load(run_dir, device)


def predicted_rows(clf, texts: list[str], skip: list[bool], args) -> list[dict]:
    """One JSON row per text; those to `skip` (a file's blank lines: a text given as an argument is predicted,
    even empty, as the server answers it) keep their row, with no prediction."""
    from .linear import Prediction
    preds = iter(clf.predict([t for t, s in zip(texts, skip) if not s], k=args.k, threshold=args.threshold))
    none = Prediction([], [], None)
    return [prediction_row(text, none if s else next(preds), clf.task) for text, s in zip(texts, skip)]


def prediction_row(text: str, pred, task: str) -> dict:
    """predict's JSON line for one text: its value (regression), or its labels and probabilities."""
    if task == "regression":
        return {"text": text, "value": pred.value}
    return {"text": text, "labels": pred.labels, "probs": [round(p, 6) for p in pred.probs]}


def cmd_datasets(args) -> int:
    from .data import dataset_dir
    from .data.registry import REGISTRY
    root = dataset_dir(config_mod.DataConfig(data_dir=args.data_dir))
    print(f"data directory: {root}")
    for spec in REGISTRY.values():
        present = [f for f in spec.files if (root / spec.folder / f).exists()]
        state = "present" if len(present) == len(spec.files) else (
            f"partial ({', '.join(present) if len(present) <= 2 else f'{len(present)} of {len(spec.files)} files'})"
            if present else "not present (downloaded on first use)")
        print(f"{spec.name:24s} {spec.task:11s} {state:40s} {spec.description}")
    return 0


def cmd_report(args) -> int:
    from .report import write_report
    print(write_report(args.run_dir, args.out))
    return 0


def cmd_compare(args) -> int:
    from pathlib import Path

    from .artifacts import write_atomic
    from .report import compare, format_table
    text = format_table(*compare(args.run_dirs), args.format)
    if args.out:
        write_atomic(Path(args.out), text.encode("utf-8"))
    else:
        sys.stdout.write(text)
    return 0


def cmd_explain(args) -> int:
    from .classifier import load
    from .explain import explain, format_text
    from .data.readers import STDIN, read_stdin
    clf = load(args.run_dir)
    result = explain(clf, read_stdin(args.encoding).strip() if args.text == STDIN else args.text, top=args.top)
    sys.stdout.write(json.dumps(result, indent=2, ensure_ascii=False) + "\n" if args.json else format_text(result))
    return 0


def cmd_compress(args) -> int:
    from .compress import compress
    summary = compress(args.run_dir, args.out, bits=args.bits, max_features=args.max_features, overwrite=args.overwrite)
    print(json.dumps(summary, indent=2))
    return 0


def cmd_serve(args) -> int:
    from .serve import Limits, serve
    api_key = args.api_key if args.api_key is not None else os.environ.get("DOCCAT_API_KEY")
    serve(args.run_dir, args.host, args.port, args.workers, api_key,
          Limits(args.max_texts, args.max_text_bytes, args.max_request_bytes, args.max_explain_words,
                 args.body_seconds, args.max_connections),
          log=LOG.info)
    return 0


def cmd_export(args) -> int:
    from .export import export_onnx
    print(export_onnx(args.run_dir, args.out, overwrite=args.overwrite))
    return 0


class Version(argparse.Action):
    """--version, looked up when asked: importlib.metadata would cost every command's start 20 ms."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest, nargs=0, default=default, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        import importlib.metadata
        print(f"doccat {importlib.metadata.version('doccat')}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="doccat", description="Train, evaluate and use document classifiers.")
    p.add_argument("--version", action=Version, help="show the version of doccat installed and exit")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train and evaluate a classifier; writes a run directory",
                       usage="%(prog)s [--config FILE] [--dataset NAME | --train FILE ...] [options]",
                       description="Train and evaluate a classifier; writes a run directory. The options of the "
                                   "data, features, model and training groups are config keys: the same names "
                                   "in a TOML file given with --config (README: Configuration reference); "
                                   "flags override the file.")
    t.add_argument("--config", help="TOML config file; flags override it")
    t.add_argument("--seeds", metavar="SEEDS",
                   help="several runs, one per seed: a list (1,2,3) or a count (3: seeds 0,1,2); each run goes "
                        "to OUT/seed-S, and the mean and standard deviation of each metric to OUT/seeds.json "
                        "and stdout; replaces --seed")
    t.add_argument("--resume", metavar="RUN_DIR",
                   help="continue a killed run (the --out it was given) from its last checkpoint in "
                        "RUN_DIR.partial/, with the config saved there; no other option is allowed with it "
                        "except --quiet")
    groups = help_groups(t)
    groups["output"].add_argument("--out", help="run directory to write (default runs/<dataset>-<time>)")
    groups["output"].add_argument("--overwrite", action="store_true", help="replace --out if it is a doccat run")
    add_output_flags(groups["output"], "per-epoch log")
    add_config_flags(groups)
    t.set_defaults(func=cmd_train)

    u = sub.add_parser("tune", help="search hyperparameters on the validation split (Optuna), then train the "
                                     "best config and score it on the test split once")
    u.add_argument("--config", help="TOML base config (its data, and the keys the space leaves alone); "
                                    "flags override it")
    u.add_argument("--space", help="the search space: network (the default: optimizer, lr, batch size, epochs, "
                                   "embedding, hidden layer, activation, dropout, n-grams, weighting, weight decay), "
                                   "linear (the default recipe's weight decay, n-grams, min_df, weighting), or a "
                                   "TOML/JSON file with one table per config key: choices = [...], or low, high and "
                                   "log = true")
    u.add_argument("--trials", type=int, help="how many trials (default 20, unless --timeout is given)")
    u.add_argument("--timeout", type=float, help="start no trial after this many seconds")
    groups = help_groups(u)
    groups["output"].add_argument("--out", help="folder to write: best.toml, trials.csv, tune.json, best/ "
                                                "(default runs/tune-<dataset>-<time>)")
    groups["output"].add_argument("--overwrite", action="store_true", help="replace --out if it is doccat's")
    add_output_flags(groups["output"], "per-trial log")
    add_config_flags(groups)  # --seed seeds the search too
    u.set_defaults(func=cmd_tune)

    e = sub.add_parser("evaluate", help="metrics of a saved run on a split or a labeled file")
    e.add_argument("run_dir")
    e.add_argument("--split", default="test", choices=["train", "valid", "test"])
    e.add_argument("--dataset", help="a registry dataset (default: the run's own data)")
    e.add_argument("--data-dir")
    e.add_argument("--file", help="a labeled file instead of the run's data ('-': standard input, fastText lines "
                                   "unless --format says otherwise)")
    e.add_argument("--format", help="the file's format (default: as the run's data, by the file's name)")
    e.add_argument("--label-column")
    e.add_argument("--text-columns", type=lambda s: s.split(","))
    e.add_argument("--encoding")
    e.add_argument("--delimiter", help="CSV/TSV: the field delimiter (default: by the name, or the header's)")
    e.add_argument("--quotechar", help="CSV/TSV: the quote character; '' for none (default: found from the file)")
    e.add_argument("--full", action="store_true", help="also per-class metrics and the confusion matrix")
    e.add_argument("--device", default="auto", help="cpu, cuda or auto (a GPU when there is one; default)")
    e.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="top-k classes with probabilities, one JSON line per text")
    pr.add_argument("run_dir")
    pr.add_argument("texts", nargs="*", help="texts to classify; '-' reads them from standard input")
    pr.add_argument("--file", help="a file with one text per line ('-': standard input)")
    pr.add_argument("--format", default="lines", choices=["lines", "jsonl"],
                    help="lines: one text per line; jsonl: one JSON string, or object with a \"text\" key, per line")
    pr.add_argument("--encoding", default="utf-8")
    pr.add_argument("-k", type=_at_least(1), help="how many classes per text (default 1; multilabel: all above the threshold)")
    pr.add_argument("--threshold", type=_probability,
                    help="drop classes below this probability (default 0; multilabel: the model's, chosen on "
                         "validation unless trained with --threshold)")
    pr.add_argument("--device", default="auto", help="cpu, cuda or auto (a GPU when there is one; default)")
    pr.set_defaults(func=cmd_predict)

    d = sub.add_parser("datasets", help="list the registry's datasets and which are present locally")
    d.add_argument("--data-dir")
    d.set_defaults(func=cmd_datasets)

    r = sub.add_parser("report", help="one self-contained HTML page about a run: data, curves, metrics, mistakes")
    r.add_argument("run_dir")
    r.add_argument("--out", help="HTML file to write (default RUN_DIR/report.html)")
    r.set_defaults(func=cmd_report)

    c = sub.add_parser("compare", help="runs side by side: the config keys that differ, and their metrics")
    c.add_argument("run_dirs", nargs="+")
    c.add_argument("--format", default="text", choices=["text", "markdown", "csv"])
    c.add_argument("--out", help="write the table to this file instead of stdout")
    c.set_defaults(func=cmd_compare)

    x = sub.add_parser("explain", help="one text through the model: ids, logits, probabilities, influential words")
    x.add_argument("run_dir")
    x.add_argument("text", help="the text to explain; '-' reads it from standard input")
    x.add_argument("--encoding", default="utf-8", help="of standard input")
    x.add_argument("--json", action="store_true", help="JSON instead of text")
    x.add_argument("--top", type=_at_least(1), default=10, help="how many words and features to rank")
    x.set_defaults(func=cmd_explain)

    z = sub.add_parser("compress", help="a smaller copy of a linear bag run: float16 or int8 weights, optionally "
                                         "only the strongest features; load, evaluate, predict and serve read it")
    z.add_argument("run_dir")
    z.add_argument("--out", required=True, help="the run directory to write")
    z.add_argument("--bits", type=int, choices=[16, 8], default=8,
                   help="16: float16 weights; 8: int8 weights with one scale per class (default)")
    z.add_argument("--max-features", type=_at_least(1),
                   help="keep only the N features expected to change the class scores most (their weights' range over the "
                        "classes x idf x document frequency), and their words")
    z.add_argument("--overwrite", action="store_true", help="replace --out if it is a doccat run")
    z.set_defaults(func=cmd_compress)

    from .serve import Limits
    limits = Limits()
    s = sub.add_parser("serve", help="an HTTP API (predict, explain, health, model) and a web page for a run")
    s.add_argument("run_dir")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (default loopback only)")
    s.add_argument("--port", type=_port, default=8000)
    s.add_argument("--workers", type=_at_least(1), default=1, help="server processes, each with its own copy of the model")
    s.add_argument("--api-key", help="require this key (X-API-Key header) on every path but / and /health; "
                                     "default $DOCCAT_API_KEY")
    s.add_argument("--max-texts", type=_at_least(1), default=limits.max_texts, help="texts per request")
    s.add_argument("--max-text-bytes", type=_at_least(1), default=limits.max_text_bytes, help="UTF-8 bytes per text")
    s.add_argument("--max-request-bytes", type=_at_least(1), default=limits.max_request_bytes, help="bytes per request body")
    s.add_argument("--max-explain-words", type=_at_least(1), default=limits.max_explain_words,
                   help="distinct words of an /explain text (413 beyond)")
    s.add_argument("--body-seconds", type=float, default=limits.body_seconds,
                   help="seconds a request's body may take to arrive (408 beyond)")
    s.add_argument("--max-connections", type=_at_least(1), default=limits.max_connections,
                   help="connections and requests at once (503 beyond)")
    s.set_defaults(func=cmd_serve)

    ex = sub.add_parser("export", help="a linear bag model as an ONNX graph: the featurizer's ids, weights and "
                                       "offsets in, logits and probabilities out (FEATURES.md)")
    ex.add_argument("run_dir")
    ex.add_argument("--format", default="onnx", choices=["onnx"], help="the file's format (onnx, the only one)")
    ex.add_argument("--out", required=True, help="the file to write, e.g. model.onnx")
    ex.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    ex.set_defaults(func=cmd_export)
    return p


def show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A warning the library raises, in the CLI's words: logged, so printed as the log's warnings are."""
    LOG.warning(str(message))


class StderrHandler(logging.Handler):
    """The library's log records on the standard error of the moment (a test's capture too): INFO as the line
    itself, WARNING and above marked "doccat: warning:" / "doccat: error:"."""

    def emit(self, record: logging.LogRecord) -> None:
        mark = f"doccat: {record.levelname.lower()}: " if record.levelno >= logging.WARNING else ""
        print(mark + record.getMessage(), file=sys.stderr, flush=True)


def log_to_stderr(args) -> logging.Handler:
    """The "doccat" loggers to stderr at INFO; --quiet: WARNING; -v: DEBUG. Returns the handler, to remove."""
    handler = StderrHandler()
    logger = logging.getLogger("doccat")
    logger.addHandler(handler)
    quiet, verbose = getattr(args, "quiet", False), getattr(args, "verbose", False)
    logger.setLevel(logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO)
    return handler


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    shown_before, warnings.showwarning = warnings.showwarning, show_warning
    handler = log_to_stderr(args)
    try:
        return dispatch(args)
    finally:
        logging.getLogger("doccat").removeHandler(handler)
        warnings.showwarning = shown_before


def dispatch(args) -> int:
    """The verb's function; a user's error is one line and exit status 2."""
    try:
        return args.func(args)
    except USER_ERRORS as e:
        print(f"doccat: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # the reader left (`doccat predict ... | head`): what it wanted was written
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error when Python flushes at exit
        return 0
    except OSError as e:  # the file system refused: a full disk, no permission, a file where a folder goes...
        print(f"doccat: error: {_os_error(e)}", file=sys.stderr)
        return 2


def _os_error(e: OSError) -> str:
    """An OSError in a user's words: the path, what the system said, and for the common ones what to do."""
    fixes = {errno.ENOSPC: "free some space, or write elsewhere (--out)",
             errno.EACCES: "choose a path you may write to (--out), or fix its permissions",
             errno.ENOTDIR: "a part of the path is a file, not a folder: choose another path",
             errno.EISDIR: "the path is a folder: name a file",
             errno.ENAMETOOLONG: "choose a shorter path", errno.EROFS: "write to a writable file system",
             errno.ENOENT: "a folder on the path does not exist, or cannot hold files there: choose another path"}
    paths = " -> ".join(str(p) for p in (e.filename, e.filename2) if p is not None)
    what = f"{paths}: {e.strerror or e}" if paths else str(e.strerror or e)
    return what + (f" ({fixes[e.errno]})" if e.errno in fixes else "")


if __name__ == "__main__":
    sys.exit(main())
