"""The tokenizer before and after issue 20 (scripts without spaces, Unicode punctuation, NFKC, case folding).

    .venv/bin/python bench/tokenizer.py [--data /work/shared/datasets] [--repeats 3] [--examples 25]

Speed: MB/s (UTF-8 bytes of the texts / seconds, the median of --repeats runs) of the old tokenizer (git
ee4879a's split_tokens, copied below as the reference) and the new one (doccat.text.split_tokens), on IMDb's
train split (all 25,000 reviews of aclImdb_train.jsonl.gz) and on the Chinese online_shopping_10_cats.csv
(column `review`): single thread (the chunks Tokens.of makes, one after the other) and through Tokens.of (the
same chunks on every core). Then the IMDb token diff: how many documents' tokens changed, the changes (old
tokens -> new tokens, by a diff of each document's token lists) by count, and why. Prints Markdown, with the
load average (the machine may be shared: figures under load are lower).
"""
from __future__ import annotations

import argparse
import collections
import csv
import difflib
import gzip
import itertools
import json
import os
import re
import statistics
import sys
import time
import unicodedata
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from doccat.text import Tokens, chunks, parallel_map, split_tokens

# ---- the reference: split_tokens as it was before issue 20 (git ee4879a, src/doccat/text.py) ----
_OTHER_SPACE = "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(0x3001)) if c.isspace() and c not in " \t\n\v\f\r")
_PUNCT = rf"""[";:{_OTHER_SPACE}]|([.,()!?'])"""
_SURROGATE = re.compile("[\ud800-\udfff]")


def old_split_tokens(texts: list[str]) -> tuple[pa.Array, np.ndarray]:
    try:
        a = pa.array(texts, pa.large_string())
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        a = pa.array([_SURROGATE.sub("\ufffd", t) for t in texts], pa.large_string())
    a = pc.replace_substring(pc.utf8_lower(a), "<br />", " ")
    a = pc.ascii_trim_whitespace(pc.replace_substring_regex(a, _PUNCT, r" \1 "))
    lists = pc.ascii_split_whitespace(a)
    flat, parent = pc.list_flatten(lists), pc.list_parent_indices(lists).to_numpy()
    empty = pc.equal(pc.binary_length(a), 0).to_numpy(zero_copy_only=False)
    if empty.any():
        keep = ~empty[parent]
        flat, parent = flat.filter(pa.array(keep)), parent[keep]
    return flat, np.bincount(parent, minlength=len(texts)).astype(np.int64)
# ---- end of the reference ----


def imdb_train(data: Path) -> list[str]:
    with gzip.open(data / "imdb" / "aclImdb_train.jsonl.gz", "rt", encoding="utf-8") as f:
        return [json.loads(line)["text"] for line in f]


def chinese(data: Path) -> list[str]:
    with open(data / "chinese_nlp_corpus" / "online_shopping_10_cats.csv", encoding="utf-8", newline="") as f:
        return [row["review"] for row in csv.DictReader(f)]


def median_seconds(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def speed_rows(corpora: dict[str, list[str]], repeats: int) -> list[str]:
    rows = ["| corpus | MB | tokens old | tokens new | old 1 thread | new 1 thread | old Tokens.of | new Tokens.of |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, texts in corpora.items():
        mb = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts) / 1e6
        parts = chunks(texts)
        figures = [median_seconds(lambda f=f, parts=parts: [f(p) for p in parts], repeats)
                   for f in (old_split_tokens, split_tokens)]
        figures += [median_seconds(lambda texts=texts: parallel_map(old_split_tokens, chunks(texts)), repeats),
                    median_seconds(lambda texts=texts: Tokens.of(texts), repeats)]
        counts = [int(old_split_tokens(texts)[1].sum()), Tokens.of(texts).count]
        rows.append(f"| {name} | {mb:.1f} | {counts[0]:,} | {counts[1]:,} | "
                    + " | ".join(f"{mb / s:.1f}" for s in figures) + " |")
    return rows


def token_lists(split, texts: list[str]) -> list[list[str]]:
    flat, lengths = split(texts)
    flat = flat.to_pylist()
    bounds = np.concatenate([[0], np.cumsum(lengths)]).tolist()
    return [flat[a:b] for a, b in itertools.pairwise(bounds)]


def why(old: str, new: str) -> str:
    """The rule that turned the old tokens into the new ones (the first that applies)."""
    nfkc = unicodedata.normalize("NFKC", old)
    if any(c in old for c in "\u200b\ufeff"):
        return "U+200B / U+FEFF dropped"
    if nfkc != old and nfkc.casefold().replace(" ", "") == new.replace(" ", "").replace("\u200b", ""):
        return "NFKC" + (" (then punctuation split)" if " " in new else "")
    if old.casefold() != old and old.casefold() == new.replace(" ", ""):
        return "case folding"
    if any(unicodedata.category(c).startswith("P") and ord(c) > 0x7F for c in old):
        return "punctuation beyond ASCII split off"
    return "script without spaces: a token per character"


def cell(tokens: str) -> str:
    """Tokens in a Markdown table cell: escapes for what is invisible, and no bare "|"."""
    return repr(tokens)[1:-1].replace("|", "\\|")


def token_diff(texts: list[str], examples: int) -> list[str]:
    before, after = token_lists(old_split_tokens, texts), token_lists(split_tokens, texts)
    changes, reasons, changed_docs = collections.Counter(), collections.Counter(), 0
    for old, new in zip(before, after):
        if old == new:
            continue
        changed_docs += 1
        for op, a, b, c, d in difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes():
            if op != "equal":
                change = (" ".join(old[a:b]), " ".join(new[c:d]))
                changes[change] += 1
                reasons[why(*change)] += 1
    summary = (f"IMDb train: {changed_docs:,} of {len(texts):,} documents' tokens changed "
               f"({sum(len(t) for t in before):,} tokens before, {sum(len(t) for t in after):,} after); "
               f"{sum(changes.values()):,} changed spans, {len(changes):,} distinct.")
    out = [summary, "", "| why | changed spans |", "|---|---:|"]
    out += [f"| {r} | {n:,} |" for r, n in reasons.most_common()]
    out += ["", f"The {examples} most frequent changes:", "", "| old tokens | new tokens | count | why |",
            "|---|---|---:|---|"]
    out += [f"| `{cell(o)}` | `{cell(n)}` | {k} | {why(o, n)} |" for (o, n), k in changes.most_common(examples)]
    return out


def main(argv: list[str]) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", type=Path, default=Path("/work/shared/datasets"))
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--examples", type=int, default=25)
    args = p.parse_args(argv)
    corpora = {"IMDb train": imdb_train(args.data), "online_shopping_10_cats": chinese(args.data)}
    split_tokens(["warm up: 漢字"])  # the character table is built once per process, not timed
    load = os.getloadavg()
    rows = speed_rows(corpora, args.repeats)
    load_after = os.getloadavg()
    print(f"MB/s, median of {args.repeats}; {os.cpu_count()} cores; load average (1, 5, 15 min) "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} before, {load_after[0]:.2f} {load_after[1]:.2f} "
          f"{load_after[2]:.2f} after\n")
    print("\n".join(rows) + "\n")
    print("\n".join(token_diff(corpora["IMDb train"], args.examples)))


if __name__ == "__main__":
    main(sys.argv[1:])
