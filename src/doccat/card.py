"""A run's model card: README.md in the Hugging Face layout (YAML front matter, then Markdown sections).

It is written only from what the run directory itself holds (config.json, metrics.json, labels.json,
vocab.json) and the registry's entry for a named dataset, so every figure in it can be checked against
the run; what the run does not record (a file's language, say) is stated as unknown, never guessed.
"""
from __future__ import annotations

import json
import shlex
import unicodedata
from collections import Counter
from pathlib import Path

from .data.registry import REGISTRY, DatasetSpec
from .metrics import HEADLINE
from .text import UNK

SPLITS = ("train", "valid", "test")
# the Hub's metric ids for doccat's headline scores (macro- and micro-F1 are both its "f1", told apart by name)
HUB_METRIC = {"accuracy": "accuracy", "macro_f1": "f1", "micro_f1": "f1", "subset_accuracy": "accuracy",
              "hamming_loss": "hamming_loss", "mae": "mae", "rmse": "rmse", "r2": "r_squared"}
# the resolved recipe, as config.json holds it: the settings that say what the model is
RECIPE = {"features": ("ngrams", "buckets", "char_ngrams", "min_freq", "min_df", "max_vocab", "max_tokens",
                       "weighting", "nb"),
          "model": ("recipe", "embed_dim", "hidden", "activation", "dropout", "bag", "vectors", "encoder", "encoder_mode",
                    "encoder_max_length", "threshold"),
          "train": ("optimizer", "loss", "epochs", "batch_size", "lr", "weight_decay", "scheduler",
                    "class_weights", "label_smoothing", "patience", "keep", "seed", "init_from", "compress_bits",
                    "compress_max_features")}
IMBALANCED = 3.0  # largest / smallest training class from which the card calls the classes imbalanced


def model_card(config: dict, metrics: dict, labels: list, vocab: list[str] = (), run: str | Path = "RUN") -> str:
    """The README.md of the run directory `run`, from its config.json, metrics.json, labels and vocabulary."""
    task = config.get("data", {}).get("task") or "classify"
    labels = list(labels or [])  # a regression has no classes
    spec = REGISTRY.get(config.get("data", {}).get("dataset") or "")
    name = Path(run).name or "run"
    parts = [_front_matter(name, task, metrics, spec),
             f"# {name}\n\nA doccat {_task_words(task)} model, trained and written by doccat; "
             "every figure below is read from this run directory's `metrics.json` and `config.json`.",
             _model_section(config, task, vocab) + _compressed(metrics),
             _data_section(config, metrics, labels, spec),
             _metrics_section(metrics, task),
             _limitations(config, metrics, labels, vocab, spec, task),
             _usage(str(run), task)]
    return "\n\n".join(parts) + "\n"


def _compressed(metrics: dict) -> str:
    """A compressed run (doccat.compress) says so: its scores below are the float32 model's it was made from."""
    done = metrics.get("compressed")
    if not done:
        return ""
    return (f"\n\nCompressed (`doccat compress`): {'float16' if done['bits'] == 16 else 'int8'} weights, "
            f"{done['features_after']:,} of {done['features_before']:,} features. The scores below are those of the "
            "float32 model it was made from; `doccat evaluate` scores this one.")


def _task_words(task: str) -> str:
    return {"classify": "text-classification (one label per document)",
            "multilabel": "multi-label text-classification (a set of labels per document)",
            "regression": "text-regression (a number per document)"}.get(task, task)


def _yaml(value) -> str:
    """A YAML scalar: JSON's quoting is valid YAML, so names with colons or quotes stay one string."""
    return json.dumps(value, ensure_ascii=False)


def _front_matter(name: str, task: str, metrics: dict, spec: DatasetSpec | None) -> str:
    keys = HEADLINE.get(task, [])
    lines = ["---", "library_name: doccat", "pipeline_tag: text-classification",
             f"language: {_yaml(spec.language if spec and spec.language else 'unknown')}"]
    if spec:
        lines += ["datasets:", f"- {_yaml(spec.name)}"]
    lines += ["metrics:"] + [f"- {m}" for m in dict.fromkeys(HUB_METRIC.get(k, k) for k in keys)]
    results = []
    for split in ("test", "valid"):
        scores = metrics.get(split)
        if not isinstance(scores, dict):
            continue
        results += ["  - task:", "      type: text-classification",
                    "    dataset:", f"      name: {_yaml(spec.name if spec else 'local files')}",
                    f"      type: {_yaml(spec.name if spec else 'local')}", f"      split: {split}", "    metrics:"]
        results += [line for k in keys if isinstance(scores.get(k), (int, float))
                    for line in (f"    - type: {HUB_METRIC.get(k, k)}", f"      name: {k}",
                                 f"      value: {scores[k]!r}")]
    if results:
        lines += ["model-index:", f"- name: {_yaml(name)}", "  results:"] + results
    return "\n".join(lines + ["---"])


def _kind(model: dict, train: dict, task: str) -> str:
    """What the network is, in words, from the resolved model and train sections."""
    if model.get("encoder"):
        kind = f"a pretrained encoder (`{model['encoder']}`, {model.get('encoder_mode')}) with a linear head"
        return kind + (", beside a bag of n-grams" if model.get("bag") else "")
    if model.get("hidden"):
        return f"a multi-layer perceptron (hidden layers {model['hidden']}) over a bag of n-grams"
    if model.get("embed_dim"):
        return f"an embedding bag (fastText-style, {model['embed_dim']}-dimensional) with a linear head"
    linear = {"squared_hinge": "a linear SVM (L2-loss, one-vs-rest)", "cross_entropy": "a logistic regression",
              "bce": "a logistic regression per label", "mse": "a linear regression", "l1": "a linear regression (L1)"}
    return f"{linear.get(train.get('loss'), 'a linear model')} over sparse n-gram features"


def _model_section(config: dict, task: str, vocab) -> str:
    model, train = config.get("model", {}), config.get("train", {})
    # an encoder's settings say nothing of a model without one, nor an MLP's of one without hidden layers
    moot = ({"encoder_mode", "encoder_max_length"} if not model.get("encoder") else set()) | \
        ({"activation", "dropout"} if not model.get("hidden") else set())
    rows = [f"| {group} | `{key}` | {_yaml(section.get(key))} |"
            for group, keys in RECIPE.items()
            for section in [train if group == "train" else model] for key in keys if key in section and key not in moot]
    kind = _kind(model, train, task)
    return "\n".join([
        "## Model", "",
        f"{kind[0].upper()}{kind[1:]}, for {_task_words(task)}; "
        f"a word vocabulary of {len(vocab)} entries. The recipe as resolved (`auto` settings decided from "
        "the training split; `config.json` holds every key):", "",
        "| part | setting | value |", "|---|---|---|", *rows])


def _split_origin(config: dict, spec: DatasetSpec | None, split: str) -> str:
    """Where a split's documents came from: its own file, the registry's split, or held out of another."""
    data = config.get("data", {})
    if data.get(split):
        return f"`{Path(data[split]).name}`"
    if spec and split in spec.splits:
        return f"the registry's {split} split"
    if split == "valid":
        return f"{data.get('valid_fraction')} of the training data, held out (split seed {data.get('split_seed')})"
    fraction = data.get("test_fraction") or (spec.test_fraction if spec else None)
    return f"{fraction} of the training data, held out" if fraction else "none"


def _data_section(config: dict, metrics: dict, labels: list, spec: DatasetSpec | None) -> str:
    sizes, summary = metrics.get("sizes") or {}, metrics.get("data") or {}
    source = (f"`{spec.name}` from doccat's dataset registry: {spec.description}." if spec else
              "local files (no registry dataset), as config.json's `data` section names them.")
    lines = ["## Training data", "", f"Source: {source} Classes: {len(labels)}.", ""]
    start = (config.get("train") or {}).get("init_from")
    if start:  # continued (doccat.warmstart): the weights also learned from the saved run's documents
        lines += [f"Continued from the run `{start}`: the weights learned from "
                  f"{metrics.get('documents_learned', 'unknown')} training documents in all, these among them.", ""]
    lines += ["| split | documents | from | median length (tokens) |", "|---|---|---|---|"]
    for split in SPLITS:
        length = (summary.get(split) or {}).get("length_tokens") or {}
        origin = _split_origin(config, spec, split)
        documents = sizes.get(split, 0 if origin == "none" else "unknown")  # metrics.json omits an absent split
        lines.append(f"| {split} | {documents} | {origin} | {length.get('median', 'unknown')} |")
    counts = {split: (summary.get(split) or {}).get("per_class") or {} for split in SPLITS}
    if any(counts.values()):
        lines += ["", "Documents per class:", "", "| class | " + " | ".join(SPLITS) + " |",
                  "|---|" + "---|" * len(SPLITS)]
        lines += [f"| {c} | " + " | ".join(str(counts[s].get(str(c), 0)) for s in SPLITS) + " |" for c in labels]
    return "\n".join(lines)


def _metrics_section(metrics: dict, task: str) -> str:
    keys = HEADLINE.get(task, [])
    scored = [s for s in ("valid", "test") if isinstance(metrics.get(s), dict)]
    if not scored:
        return "## Evaluation\n\nThe run has no validation or test split, so it has no scores."
    lines = ["## Evaluation", "", "| metric | " + " | ".join(scored) + " |", "|---|" + "---|" * len(scored)]
    lines += [f"| {k} | " + " | ".join(_num(metrics[s].get(k)) for s in scored) + " |" for k in keys]
    if "threshold" in metrics:
        lines += ["", f"Labels are predicted from probability {_num(metrics['threshold'])} on (the threshold)."]
    for split in scored:
        per_class = metrics[split].get("per_class") or {}
        if per_class:
            lines += ["", f"Per class ({split} split):", "", "| class | precision | recall | F1 | support |",
                      "|---|---|---|---|---|"]
            lines += [f"| {c} | {_num(r.get('precision'))} | {_num(r.get('recall'))} | {_num(r.get('f1'))} "
                      f"| {r.get('support', '')} |" for c, r in per_class.items()]
    return "\n".join(lines)


def _num(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value if value is not None else "")


def _scripts(vocab) -> str:
    """The writing systems of the vocabulary's words (by each word's first letter), the most common first."""
    firsts = Counter()
    for word in vocab:
        if word == UNK:  # the unknown-word slot is no word of the corpus
            continue
        letter = next((ch for ch in word if ch.isalpha()), None)
        if letter:
            firsts[unicodedata.name(letter, "UNKNOWN").split()[0].title()] += 1
    total = sum(firsts.values())
    if not total:
        return "not known (the run has no word vocabulary)"
    return ", ".join(f"{script} ({n / total:.0%} of the words)" for script, n in firsts.most_common(5))


def _imbalance(metrics: dict, labels: list) -> str | None:
    counts = ((metrics.get("data") or {}).get("train") or {}).get("per_class") or {}
    counts = {c: n for c, n in counts.items() if isinstance(n, int)}
    if len(counts) < 2 or not min(counts.values()):
        return None
    small, large = min(counts, key=counts.get), max(counts, key=counts.get)
    ratio = counts[large] / counts[small]
    words = "imbalanced" if ratio >= IMBALANCED else "roughly balanced"
    return (f"The training classes are {words}: the largest, {large}, has {counts[large]} documents, "
            f"{ratio:.1f} times the smallest, {small} ({counts[small]}); per-class scores of small classes "
            "rest on few documents.")


def _limitations(config: dict, metrics: dict, labels: list, vocab, spec: DatasetSpec | None, task: str) -> str:
    language = spec.language if spec and spec.language else None
    length = ((metrics.get("data") or {}).get("train") or {}).get("length_tokens") or {}
    lines = ["## Limitations", "",
             f"- Domain: {spec.description if spec else 'the local training files'}; the scores above hold "
             "for text like it, and were not measured on anything else.",
             f"- Language: {language or 'unknown (the training files do not say)'}. Scripts seen in training: "
             f"{_scripts(vocab)}; words of other scripts are unknown to the word features."]
    if task != "regression" and labels:
        lines.append(f"- It predicts only the {len(labels)} {'labels' if task == 'multilabel' else 'classes'} "
                     f"it was trained on: {', '.join(map(str, labels[:30]))}{' ...' if len(labels) > 30 else ''}.")
    imbalance = _imbalance(metrics, labels)
    if imbalance:
        lines.append(f"- {imbalance} Class weights: {config.get('train', {}).get('class_weights')}.")
    if length:
        lines.append(f"- Training documents ran {length.get('min')} to {length.get('max')} tokens (median "
                     f"{length.get('median')}); a document is cut at {config.get('model', {}).get('max_tokens')} "
                     "tokens.")
    if not isinstance(metrics.get("test"), dict):
        lines.append("- The run has no test split: the only scores are the validation split's, which chose the model.")
    return "\n".join(lines)


def _usage(run: str, task: str) -> str:
    out = {"classify": "labels=[...], probs=[...]", "multilabel": "labels=[...], probs=[...]",
           "regression": "value=..."}.get(task, "...")
    return "\n".join([
        "## How to use", "",
        "From the command line (JSON lines; `-k 2` for the two best labels):", "",
        "```sh", f"doccat predict {shlex.quote(run)} \"your text here\"", "```", "",
        "From Python (`load` verifies every file against `manifest.json`; this README is not among them):", "",
        "```python", "import doccat", "", f"clf = doccat.load({run!r})",
        f"print(clf.predict([\"your text here\"]))    # [Prediction({out})]", "```"])
