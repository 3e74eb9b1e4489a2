"""Looking at runs: the data summary kept in metrics.json, one run's HTML report, runs compared.

The report is one self-contained HTML file: the figures are embedded as base64 PNGs and there is
no script, stylesheet or font from anywhere else, so it can be mailed or opened offline.
"""
from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path

import numpy as np

from . import config as config_mod
from .artifacts import ArtifactError, write_atomic
from .loss import SCORES
from .metrics import HEADLINE

METRIC_ROWS = [f"{split}.{key}" for split in ("test", "valid") for key in dict.fromkeys(k for keys in HEADLINE.values()
                                                                                       for k in keys)]
METRIC_ROWS += ["kept_epoch", "train_seconds"]


def read_rows(path: Path) -> list[dict]:
    """A CSV written by the run (history.csv, batches.csv) as dicts of floats; [] when absent."""
    if not path.is_file():
        return []
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(path.read_text()))]


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict) and k not in ("per_class",):
            out |= _flat(v, f"{prefix}{k}.")
        else:
            out[f"{prefix}{k}"] = v
    return out


# ---------------------------------------------------------------- the HTML report

CSS = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 1.8em; }
table { border-collapse: collapse; margin: .5em 0; } td, th { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #f3f3f3; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; display: block; margin: .5em 0; }
.figs { display: flex; flex-wrap: wrap; gap: 1em; } .figs figure { margin: 0; flex: 1 1 480px; }
.bar { background: #4a7fb5; height: 12px; display: inline-block; }
.cards span { display: inline-block; border: 1px solid #ddd; border-radius: 6px; padding: .4em .8em; margin: .2em; }
.mistake td:last-child { max-width: 640px; }
code { background: #f5f5f5; padding: 0 3px; }
"""


def _table(header: list[str], rows: list[list], numeric_from: int = 1) -> str:
    def cell(i, v):
        if isinstance(v, float):
            text = str(int(v)) if v.is_integer() else f"{v:.4f}"
        else:
            text = html.escape(str(v))
        return f'<td class="n">{text}</td>' if i >= numeric_from else f"<td>{text}</td>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(cell(i, v) for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'


def bin_label(edges: list, i: int, last: bool) -> str:
    """Bin i of whole-token edges: "8-11", "12" for a bin one token wide, "24+" for the last (it holds the tail)."""
    low, high = int(edges[i]), int(edges[i + 1]) - 1
    return f"{low}+" if last else str(low) if high <= low else f"{low}-{high}"


def _histogram(hist: dict) -> str:
    """Document lengths as CSS bars: no image needed."""
    counts, edges = hist["counts"], hist["edges"]
    peak = max(max(counts), 1)
    rows = [[bin_label(edges, i, last=i == len(counts) - 1), n,
             f'<span class="bar" style="width:{300 * n / peak:.0f}px"></span>'] for i, n in enumerate(counts)]
    head = "<tr><th>tokens</th><th>documents</th><th></th></tr>"
    body = "".join(f'<tr><td>{a}</td><td class="n">{b}</td><td>{c}</td></tr>' for a, b, c in rows)
    return f"<table>{head}{body}</table>"


def _mistakes(clf, k: int = 15) -> str:
    """The test documents the model got wrong with the highest confidence, reloaded from the run's data."""
    from .data import DataError, load_splits
    try:
        test = load_splits(clf.config.data).test
    except (DataError, OSError, ValueError) as e:
        return f"<p>The run's data could not be reloaded ({html.escape(str(e))}), so no mistakes are shown.</p>"
    if test is None or not len(test):
        return "<p>The run has no test split.</p>"
    if clf.task != "classify":
        return "<p>Listed for single-label classification only.</p>"
    known = [i for i, lab in enumerate(test.labels) if lab in clf.class_names]
    texts = [test.texts[i] for i in known]
    y = clf.label_ids([test.labels[i] for i in known])
    probs = clf.predict_proba(texts)
    pred = probs.argmax(1)
    wrong = np.flatnonzero(pred != y)
    wrong = wrong[np.argsort(-probs[wrong, pred[wrong]], kind="stable")][:k]
    rows = []
    for i in wrong:
        text = texts[i] if len(texts[i]) <= 400 else texts[i][:400] + " …"
        rows.append(f"<tr><td>{html.escape(clf.class_names[y[i]])}</td><td>{html.escape(clf.class_names[pred[i]])}</td>"
                    f'<td class="n">{probs[i, pred[i]]:.3f}</td><td class="n">{probs[i, y[i]]:.3f}</td>'
                    f"<td>{html.escape(text)}</td></tr>")
    if not rows:
        return "<p>No mistakes on the test split.</p>"
    return (f"<p>{len(np.flatnonzero(pred != y))} of {len(y)} test documents are misclassified; "
            f"the {len(rows)} most confident:</p><table class=\"mistake\"><tr><th>true</th><th>predicted</th>"
            "<th>p(predicted)</th><th>p(true)</th><th>text</th></tr>" + "".join(rows) + "</table>")


def render_report(run_dir: str | Path) -> str:
    """The HTML page of one run directory (checksums verified on load)."""
    from . import plots
    from .classifier import load
    run_dir = Path(run_dir)
    clf = load(run_dir)
    m, cfg = clf.metrics_, json.loads((run_dir / "config.json").read_text())
    history, batch_rows = read_rows(run_dir / "history.csv"), read_rows(run_dir / "batches.csv")
    images = {name: (run_dir / name).read_bytes() for name in plots.FIGURES if (run_dir / name).is_file()}
    if not images:  # an older run, or trained without matplotlib: draw them now if we can
        images = plots.render_run(history, batch_rows, m, clf.class_names, clf.outputs_.kind, SCORES[clf.task],
                                   clf.config.train)
    parts = [f"<h1>doccat run <code>{html.escape(run_dir.name)}</code></h1>", _cards(clf),
             *_config_section(cfg),
             *_data_section(clf), *_curves_section(images, history), *_per_class_section(clf, images),
             "<h2>Most confident mistakes (test split)</h2>", _mistakes(clf), *_timing_section(m, history)]
    body = "\n".join(parts)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>doccat report: {html.escape(run_dir.name)}</title><style>{CSS}</style></head>"
            f"<body>\n{body}\n</body></html>\n")


def _config_section(cfg: dict) -> list[str]:
    """What this run set or the recipe decided, against doccat's defaults, first; every key folded below."""
    flat, defaults = _flat(cfg), _flat(config_mod.to_dict(config_mod.Config()))
    changed = [[k, json.dumps(defaults.get(k)), json.dumps(v)] for k, v in flat.items() if v != defaults.get(k)]
    full = _table(["key", "value"], [[k, json.dumps(v)] for k, v in flat.items()], numeric_from=9)
    return ["<h2>Config</h2>",
            f"<p>{len(changed)} of {len(flat)} keys differ from doccat's defaults (null: auto, which the recipe "
            "resolves from the training split; the rest were given):</p>",
            _table(["key", "default", "this run"], changed, numeric_from=9),
            f"<details><summary>all {len(flat)} keys</summary>{full}</details>"]


def _cards(clf) -> str:
    m = clf.metrics_
    cards = [f"{s} {key} {m[s][key]:.4f}" for s in ("test", "valid") if s in m for key in HEADLINE[clf.task]]
    cards += [f"kept epoch {m.get('kept_epoch', m.get('best_epoch', '?'))}",
              f"{len(clf.class_names)} {'labels' if clf.task == 'multilabel' else 'classes'}" if clf.class_names else
              "regression"]
    return '<div class="cards">' + "".join(f"<span>{html.escape(c)}</span>" for c in cards) + "</div>"


def _data_section(clf) -> list[str]:
    parts, m = ["<h2>Data</h2>"], clf.metrics_
    data = m.get("data")
    if not data:
        return parts + ["<p>No data summary in metrics.json (a run saved by an older doccat). Sizes: "
                        f"{html.escape(json.dumps(m.get('sizes', {})))}</p>"]
    names = list(data)
    if clf.task == "regression":
        stats = ["min", "mean", "median", "max", "std"]
        parts.append("<h3>Target per split</h3>" + _table(
            ["split", "documents"] + stats, [[s, data[s]["documents"]] + [data[s]["target"][x] for x in stats]
                                             for s in names]))
    else:
        rows = [[c] + [data[s]["per_class"].get(c, 0) for s in names] for c in clf.class_names]
        rows.append(["all documents"] + [data[s]["documents"] for s in names])
        parts.append("<h3>Documents per class and split</h3>" + _table(["class"] + names, rows))
    stats = ["min", "median", "mean", "p90", "max"]
    parts.append("<h3>Document length (tokens)</h3>" + _table(
        ["split"] + stats, [[s] + [data[s]["length_tokens"][x] for x in stats] for s in names]))
    parts.append("<h3>Length distribution, train split</h3>" + _histogram(data["train"]["length_histogram"]))
    return parts


def _curves_section(images: dict, history: list[dict]) -> list[str]:
    from . import plots
    parts = ["<h2>Training curves</h2>"]
    curves = [n for n in plots.FIGURES if n in images and n != "confusion_matrix.png"]
    if curves:
        parts.append('<div class="figs">' + "".join(
            f"<figure>{_img(images[n], plots.FIGURES[n])}</figure>" for n in curves) + "</div>")
    else:
        parts.append("<p>No figures: install matplotlib (<code>pip install doccat[report]</code>).</p>")
    if history:
        keys = ["epoch", "train_loss", "val_loss", "val_score", "lr", "seconds"]
        parts.append(_table(keys, [[int(r["epoch"])] + [r[k] for k in keys[1:]] for r in history]))
    return parts


def _per_class_section(clf, images: dict) -> list[str]:
    from . import plots
    m = clf.metrics_
    split = "test" if "test" in m else "valid"
    parts = [f"<h2>Metrics per class ({split} split)</h2>"]
    if split in m and clf.task == "regression":
        parts.append(_table(["metric", "value"], [[k, m[split][k]] for k in ("mae", "rmse", "r2", "n")]))
    elif split in m:
        pc = m[split]["per_class"]
        parts.append(_table(["class", "precision", "recall", "F1", "support"],
                            [[c, pc[c]["precision"], pc[c]["recall"], pc[c]["f1"], pc[c]["support"]] for c in pc]))
    if split in m and "confusion_matrix" in m[split]:
        parts.append(f"<h2>Confusion matrix ({split} split)</h2>")
        if "confusion_matrix.png" in images:
            parts.append(_img(images["confusion_matrix.png"], plots.FIGURES["confusion_matrix.png"]))
        cm = m[split]["confusion_matrix"]
        parts.append(_table(["true \\ predicted"] + clf.class_names, [[c] + row for c, row in zip(clf.class_names, cm)]))
    return parts


def _timing_section(m: dict, history: list[dict]) -> list[str]:
    n_train = (m.get("data") or {}).get("train", {}).get("documents") or m.get("sizes", {}).get("train", 0)
    epoch_seconds = sum(r["seconds"] for r in history)
    timing = [["training (featurize, fit, validate)", f"{m.get('train_seconds', 0):.1f} s"],
              ["epochs run", len(history)],
              ["time in epochs", f"{epoch_seconds:.1f} s"],
              ["training speed", f"{n_train * len(history) / epoch_seconds:,.0f} docs/s" if epoch_seconds else "?"],
              ["peak memory", f"{m.get('peak_memory_mib', '?')} MiB"]]
    return ["<h2>Timing</h2>", _table(["what", "value"], timing, numeric_from=1)]


def write_report(run_dir: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of `run_dir` to `out` (default RUN_DIR/report.html, outside the manifest)."""
    out = Path(out) if out else Path(run_dir) / "report.html"
    write_atomic(out, render_report(run_dir).encode("utf-8"))  # a full disk leaves the old report whole
    return out


# ---------------------------------------------------------------- comparing runs

def compare(run_dirs: list[str | Path]) -> tuple[list[str], list[list]]:
    """Runs side by side: (header, rows); a row per config key that differs, then one per metric."""
    runs = []
    for d in map(Path, run_dirs):
        try:
            cfg = json.loads((d / "config.json").read_text())
            metrics = json.loads((d / "metrics.json").read_text())
        except (OSError, ValueError) as e:
            raise ArtifactError(f"{d}: not a readable run directory ({e})") from None
        runs.append((_flat(cfg), _flat({k: v for k, v in metrics.items() if k != "data"})))
    names = [Path(d).name for d in run_dirs]
    if len(set(names)) < len(names):  # same folder name under different parents: show the paths
        names = [str(d) for d in run_dirs]
    keys = sorted({k for cfg, _ in runs for k in cfg})
    differ = [k for k in keys if len({json.dumps(cfg.get(k)) for cfg, _ in runs}) > 1]
    rows = [[k] + [cfg.get(k, "") for cfg, _ in runs] for k in differ]
    rows += [[k] + [met.get(k, "") for _, met in runs] for k in METRIC_ROWS if any(k in met for _, met in runs)]
    return ["key"] + names, rows


def format_table(header: list[str], rows: list[list], fmt: str = "text") -> str:
    """`text` (aligned columns), `markdown` or `csv`."""
    def show(v):
        if isinstance(v, float):  # 4 significant digits: 3e-06 and 0.0 must not both print as 0.0000
            return f"{v:.4g}"
        return json.dumps(v) if isinstance(v, (list, dict, bool)) or v is None else str(v)
    cells = [header] + [[show(v) for v in r] for r in rows]
    if fmt == "csv":
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(cells)
        return buf.getvalue()
    if fmt == "markdown":
        esc = [[c.replace("|", "\\|") for c in r] for r in cells]
        lines = ["| " + " | ".join(esc[0]) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in esc[1:]]) + "\n"
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells) + "\n"
