"""Raw text -> tokens -> vocabulary ids and hashed n-gram ids -> weighted features per document.

Tokens (`split_tokens`; `tokenize` and `count_tokens` are it too), by these rules in this order:
1. Unicode NFKC, then full case folding (Python's str.casefold): full-width "ＡＢＣ１２３" is "abc123", the
   ligature "ﬁ" is "fi", "…" is "...", "，" is ",", "Straße" is "strasse", every sigma is "σ": one word, one
   spelling. NFKC leaves alone what it would run into its neighbours (_KEEP): spacing accents, which it makes a
   space and a bare combining accent ("you´ve" would be "you" + "\u0301ve"), and vulgar fractions ("8½" would be
   "81⁄2"). Where Arrow's lowercase and casefold disagree on the letter, the lowercase wins (İ is "i", not
   "i\u0307"; so are letters newer than Python's Unicode tables).
2. torchtext's basic_english on the ASCII, as before: IMDb's "<br />" is a space; . , ( ) ! ? ' are tokens of
   their own; " ; : are dropped, and so are the spaces beyond ASCII, U+200B (a zero-width space) and U+FEFF (a
   stray byte-order mark); then split on whitespace.
3. Punctuation beyond ASCII (Unicode category P: 。、「」—–‘’“”«»¡¿· ...) is a token of its own as . , ! ? are, so
   the words around it come apart; but the hyphen U+2010 joins words, as the ASCII "-" does.
4. Scripts written without spaces between words give a token per character (with its combining marks): Han,
   Hiragana, Katakana (and its prolonged sound mark ー), Bopomofo, Yi and Hangul (Korean spaces phrases, not
   words: 서울은 is 서울 + 은); Thai, Lao, Khmer, Myanmar and the Tai scripts. A clause would be one token that
   hardly another document shares; characters, and the word bigrams over them (most Chinese words are two
   characters), are what a bag of words learns from. A segmenter (jieba) would cost the speed: it runs in
   Python, text by text. In Thai, Lao, Khmer and Myanmar the unit is a letter with its marks, less than a
   syllable (words need a dictionary), still far more shared than a clause. Tibetan needs no rule: its syllable
   mark ་ is punctuation. Scripts that space their words (Latin, Cyrillic, Arabic, Devanagari ...) keep words.

The hot path never loops over tokens in Python: Arrow's C++ string kernels (pyarrow.compute) normalize,
lowercase and split a whole chunk of texts at once, numpy cuts tokens around the characters of rules 3 and 4
(looked up by code point in a table made once from RE2's Unicode classes), and Arrow looks tokens up in the
vocabulary's hash table; numpy hashes n-grams and counts each document's features over flat arrays. A corpus is
cut into chunks that run on all cores (both libraries release the GIL). Rule 1 costs little where there is
little to do: ASCII texts are only lowercased; NFKC runs on the texts it may change, and Python's casefold on
the few with a character it changes after Arrow's lowercase (ß, ς, ...).
"""
from __future__ import annotations

import ctypes
import functools
import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass


import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import ModelConfig

UNK = "<unk>"
# Rule 2, torchtext's basic_english, in one regex pass: a dropped character, or a whitespace beyond ASCII's
# (which the split knows), leaves group 1 empty, so it turns into spaces.
_OTHER_SPACE = "".join(f"\\x{{{ord(c):x}}}" for c in map(chr, range(0x3001)) if c.isspace() and c not in " \t\n\v\f\r")
_PUNCT = rf"""[";:{_OTHER_SPACE}\x{{200b}}\x{{feff}}]|([.,()!?'])"""
# Rules 3 and 4: the characters that are tokens of their own; combining marks (_MARK) stay with the one before.
_ALONE = (r"[^\P{P}\x00-\x7f\x{2010}]|[\p{Han}\p{Hiragana}\p{Katakana}\x{30fc}\p{Bopomofo}\p{Yi}\p{Hangul}"
          r"\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}\p{Tai_Tham}\p{Tai_Le}\p{New_Tai_Lue}\p{Tai_Viet}]")
_MARK = r"\p{M}"
_STACKERS = (0x17D2, 0x1039, 0x1A60)  # Khmer coeng, Myanmar virama, Tai Tham sakot: the next letter goes below
# the code points the table of _unicode() is made from: no other is in _ALONE, _MARK or _FOLD or changed by NFKC
_PLANES = ((0x80, 0xD800), (0xE000, 0x40000), (0xE0000, 0xE1000))
# Code points, generated once over all of them (tests check they still are what they say). _FOLD: what Arrow's
# lowercase leaves as it is but str.casefold changes (ß -> ss, ς -> σ, Cherokee, Greek with iota subscript,
# ligatures). _KEEP: what NFKC would run into its neighbours, so it is kept as it is: spacing accents, which NFKC
# makes a space and a combining accent ("you´ve" would be "you" and "\u0301ve"), and vulgar fractions, which it
# makes digits ("8½" would be "81⁄2").
_FOLD = ("b5 df 149 17f 1f0 345 390 3b0 3c2 3d0-3d1 3d5-3d6 3f0-3f1 3f5 587 13f8-13fd 1c80-1c88 1e96-1e9b 1f50 1f52 "
         "1f54 1f56 1f80-1f87 1f90-1f97 1fa0-1fa7 1fb2-1fb4 1fb6-1fb7 1fbe 1fc2-1fc4 1fc6-1fc7 1fd2-1fd3 1fd6-1fd7 "
         "1fe2-1fe4 1fe6-1fe7 1ff2-1ff4 1ff6-1ff7 ab70-abbf fb00-fb06 fb13-fb17")
_KEEP = ("a8 af b4 b8 bc-be 2d8-2dd 37a 384-385 1fbd 1fbf-1fc1 1fcd-1fcf 1fdd-1fdf 1fed-1fee 1ffd-1ffe 2017 203e "
         "2150-215f 2189 309b-309c fc5e-fc63 fe49-fe4c fe70 fe72 fe74 fe76 fe78 fe7a fe7c fe7e ffe3")
_SURROGATE = re.compile("[\ud800-\udfff]")
_DROP = np.iinfo(np.int64).max  # the key of a feature to drop: sorts last
_CHUNK_CHARS = 1 << 22  # texts per task in the thread pool: about this many characters



@dataclass
class Encoded:
    """A corpus as an EmbeddingBag input: each document's distinct features, counts and weights.

    ids, counts, weights: (N,) for all documents back to back; offsets (D+1,) where each starts.
    """

    ids: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray
    weights: np.ndarray | None = None  # set by Featurizer.encode: what the bag multiplies each vector by

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def parts(self) -> list[np.ndarray]:
        """What identifies these documents (train's fingerprint hashes it): the weights follow from them."""
        return [self.ids, self.offsets, self.counts]

    @staticmethod
    def beside(first: "Encoded", second: "Encoded") -> "Encoded":
        """The same documents with the features of `first`, then those of `second` (counts, no weights yet)."""
        lengths = (np.diff(first.offsets), np.diff(second.offsets))
        offsets = first.offsets + second.offsets
        ids, counts = np.empty(offsets[-1], np.int64), np.empty(offsets[-1], np.float32)
        for part, skip, n in ((first, 0, lengths[0]), (second, lengths[0], lengths[1])):
            where = np.arange(len(part.ids)) + np.repeat(offsets[:-1] + skip - part.offsets[:-1], n)
            ids[where], counts[where] = part.ids, part.counts
        return Encoded(ids, offsets, counts)

    def slice(self, start: int, stop: int) -> "Encoded":
        """Documents start..stop-1 as views, without copying."""
        a, b = self.offsets[start], self.offsets[stop]
        return Encoded(self.ids[a:b], self.offsets[start:stop + 1] - a, self.counts[a:b],
                       None if self.weights is None else self.weights[a:b])

    def take(self, idx: np.ndarray) -> "Encoded":
        """Documents `idx` (in that order) as their own Encoded."""
        starts, lengths = self.offsets[idx], np.diff(self.offsets)[idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        gather = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Encoded(self.ids[gather], offsets, self.counts[gather],
                       None if self.weights is None else self.weights[gather])

    @staticmethod
    def concat(parts: list["Encoded"]) -> "Encoded":
        """The documents of `parts` one after the other (none: an empty corpus)."""
        if len(parts) <= 1:
            return parts[0] if parts else Encoded(np.zeros(0, np.int64), np.zeros(1, np.int64),
                                                  np.zeros(0, np.float32), np.zeros(0, np.float32))
        sizes = [p.offsets[-1] for p in parts]
        shifts = np.cumsum([0] + sizes[:-1])
        offsets = np.concatenate([[0]] + [p.offsets[1:] + s for p, s in zip(parts, shifts)]).astype(np.int64)
        weights = None if any(p.weights is None for p in parts) else np.concatenate([p.weights for p in parts])
        return Encoded(np.concatenate([p.ids for p in parts]), offsets,
                       np.concatenate([p.counts for p in parts]), weights)


def code_points(spec: str) -> list[tuple[int, int]]:
    """Ranges (first, last) of hexadecimal code points and ranges: "df 3d0-3d1" -> [(0xdf, 0xdf), (0x3d0, 0x3d1)]."""
    return [(int(a, 16), int(b or a, 16)) for a, _, b in (r.partition("-") for r in spec.split())]


def _re2_class(spec: str) -> str:
    return "[" + "".join(f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in code_points(spec)) + "]"


_FOLD_RE2, _KEEP_RE2 = _re2_class(_FOLD), _re2_class(_KEEP)
_KEEP_SPLIT = re.compile("([" + "".join(f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in code_points(_KEEP))
                         + "])")  # the same for Python's re


@functools.cache
def keep_freed_memory() -> None:
    """Ask glibc to keep freed memory for reuse instead of returning it to the OS at once.

    Featurizing makes many short-lived arrays of tens of MB. By default glibc maps each one afresh
    and unmaps it when freed, so every pass pays page faults on new memory: featurizing IMDb took
    about twice as long. Peak memory is unchanged (freed blocks are reused, not added to).
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc (macOS, musl): nothing to tune
        return
    m_trim_threshold, m_mmap_threshold = -1, -3  # mallopt parameters, from glibc's malloc.h
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)


def arrow(values) -> pa.Array:
    """An Arrow array of a list of strings (large_string) or of a 1-D numeric numpy array, made from their buffers:
    pa.array would import pandas (a third of a second and 40 MB, where it is installed) only to ask whether
    they are its types. A lone surrogate raises UnicodeEncodeError; a list with a non-string (None: a null)
    goes through pa.array."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":  # numpy's strings go as a list's
        a = np.ascontiguousarray(values)
        if a.dtype == bool:
            return pa.Array.from_buffers(pa.bool_(), len(a), [None, pa.py_buffer(np.packbits(a, bitorder="little"))])
        return pa.Array.from_buffers(pa.from_numpy_dtype(a.dtype), len(a), [None, pa.py_buffer(a)])
    try:
        encoded = list(map(str.encode, values))
    except TypeError:
        return pa.array(values, pa.large_string())
    offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, encoded), dtype=np.int64, count=len(encoded)), out=offsets[1:])
    return pa.Array.from_buffers(pa.large_string(), len(encoded),
                                 [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))])


def as_numpy(a: pa.Array) -> np.ndarray:
    """A numeric or boolean Arrow array with no nulls as a numpy array, from its buffers: to_numpy would
    import pandas, as pa.array would (see `arrow`)."""
    if a.null_count:
        raise ValueError("as_numpy: the array has nulls")
    if a.type == pa.bool_():
        bits = np.frombuffer(a.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, count=a.offset + len(a), bitorder="little")[a.offset:].astype(bool)
    return np.from_dlpack(a)

def scalar(value: bool | int, dtype=None) -> pa.Scalar:
    """An Arrow scalar (numpy's type of `value`, or `dtype`): pa.scalar, and a compute function given a Python
    value or a scalar of another type than its array's, would import pandas (see `arrow`)."""
    return arrow(np.array([value], dtype=dtype))[0]


def split_tokens(texts: list[str]) -> tuple[pa.Array, np.ndarray]:
    """All tokens of `texts` back to back (Arrow strings: no Python object per token), and tokens per text (D,).

    The rules are the module's docstring's.
    """
    try:
        a = arrow(texts)
    except (pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):  # lone surrogates: not UTF-8
        a = arrow([_SURROGATE.sub("\ufffd", t) for t in texts])
    try:  # Python knows it of every string without reading it; Arrow would read them all
        ascii_ = np.fromiter(map(str.isascii, texts), dtype=bool, count=len(texts))
    except TypeError:  # not all of them strings (None: a null)
        ascii_ = None
    a = pc.replace_substring(normalize(a, ascii_), "<br />", " ")
    # trimmed, since Arrow's split leaves "" where a text starts or ends with a space
    a = pc.ascii_trim_whitespace(pc.replace_substring_regex(a, _PUNCT, r" \1 "))
    lists = pc.ascii_split_whitespace(a)
    flat, lengths = pc.list_flatten(lists), np.diff(as_numpy(lists.offsets)).astype(np.int64)
    empty = as_numpy(pc.fill_null(pc.equal(pc.binary_length(a), scalar(0)), scalar(False)))
    if empty.any():  # an empty text splits into one "", the only empty token: no token
        flat = flat.filter(pc.greater(pc.binary_length(flat), scalar(0)))
        lengths[empty] = 0
    return _cut_alone(flat, lengths)


def tokenize(text: str) -> list[str]:
    """The tokens of one text, as every corpus is tokenized."""
    return split_tokens([text])[0].to_pylist()


def normalize(texts: pa.Array, ascii_: np.ndarray | None = None) -> pa.Array:
    """Rule 1 of Arrow strings (large_string): NFKC (but for _KEEP) and case folding.

    Fast where there is little to do: ASCII texts (`ascii_` (D,) says which, when known) are only lowercased, and
    of the others only those with a character that NFKC changes, that can compose with the one before (a
    combining mark, a Hangul vowel or final) or whose lowercase casefold changes go through NFKC and, where it
    still matters, Python's casefold.
    """
    if ascii_ is None:  # a null is no text to change
        ascii_ = as_numpy(pc.fill_null(pc.string_is_ascii(texts), scalar(True)))
    wide = np.flatnonzero(~ascii_)
    if not len(wide):
        return pc.ascii_lower(texts)
    if len(wide) * 2 > len(texts):  # mostly beyond ASCII: all as if they were (what ASCII is, it stays)
        wide = np.arange(len(texts))
    raw = texts if len(wide) == len(texts) else texts.take(arrow(wide))
    out = pc.utf8_lower(raw)
    redo = _special(raw)
    if len(redo):
        fixed = pc.utf8_lower(_nfkc(raw.take(arrow(redo))))
        # exact and fast: where Arrow's lowercase left no character that casefold changes, it is the case folding
        fold = np.flatnonzero(as_numpy(pc.match_substring_regex(fixed, _FOLD_RE2)))
        if len(fold):
            folded = [t.casefold() for t in fixed.take(arrow(fold)).to_pylist()]
            fixed = _replace(fixed, fold, arrow(folded))
        out = _replace(out, redo, fixed)
    return out if len(wide) == len(texts) else _replace(pc.ascii_lower(texts), wide, out)


def _replace(texts: pa.Array, where: np.ndarray, values: pa.Array) -> pa.Array:
    """`texts` with texts[where[i]] = values[i]."""
    if len(where) == len(texts):
        return values
    mask = np.zeros(len(texts), dtype=bool)
    mask[where] = True
    return pc.replace_with_mask(texts, arrow(mask), values)


def _nfkc(texts: pa.Array) -> pa.Array:
    """NFKC, but what _KEEP lists stays as it is: the text between is normalized."""
    out = pc.utf8_normalize(texts, form="NFKC")
    kept = np.flatnonzero(as_numpy(pc.match_substring_regex(texts, _KEEP_RE2)))
    if not len(kept):
        return out
    parts = [_KEEP_SPLIT.split(t) for t in texts.take(arrow(kept)).to_pylist()]  # the kept characters at odd places
    done = iter(pc.utf8_normalize(arrow([p for ps in parts for p in ps[::2]]),
                                  form="NFKC").to_pylist())
    fixed = ["".join(p if i % 2 else next(done) for i, p in enumerate(ps)) for ps in parts]
    return _replace(out, kept, arrow(fixed))


# What the table of code points says of each: in the two low bits a token of its own (_ALONE), a combining mark
# (_MARK) or a mark that also takes the next letter (_STACKERS); and _SPECIAL, where NFKC changes it or may compose
# it with the one before (a combining mark, a Hangul vowel or final), or it is or lowercases to one of _FOLD.
_IS_ALONE, _IS_MARK, _IS_STACKER, _SPECIAL = 1, 2, 3, 4


@dataclass(frozen=True)
class _Unicode:
    """Tables of code points, from Arrow's Unicode data (RE2's classes, utf8proc's NFKC and lowercase)."""

    kinds: np.ndarray  # (0x110000,) uint8: what each code point is (those bits)
    pairs: np.ndarray  # (0x10000,) the same of every character of two or more UTF-8 bytes that starts with these
    # two (first << 8 | second), or 255 where they differ


@functools.cache
def _unicode() -> _Unicode:
    codes = np.concatenate([np.arange(a, b) for a, b in _PLANES])
    sizes = 1 + (codes >= 0x80) + (codes >= 0x800) + (codes >= 0x10000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    data = "".join(map(chr, codes.tolist())).encode()
    chars = pa.Array.from_buffers(pa.large_string(), len(codes), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    kinds = np.zeros(0x110000, np.uint8)
    for kind, pattern in ((_IS_ALONE, _ALONE), (_IS_MARK, _MARK)):
        kinds[codes[as_numpy(pc.match_substring_regex(chars, pattern))]] = kind
    kinds[list(_STACKERS)] = _IS_STACKER
    special = pc.or_(pc.not_equal(pc.utf8_normalize(chars, form="NFKC"), chars),
                     pc.match_substring_regex(pc.utf8_lower(chars), _FOLD_RE2))
    kinds[codes[as_numpy(special)]] |= _SPECIAL
    kinds[kinds & 3 >= _IS_MARK] |= _SPECIAL
    kinds[[*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]] |= _SPECIAL
    pairs = np.full(0x10000, 255, np.uint8)
    for lead, (low, high), shift in ((0xC0, (0x80, 0x800), 0), (0xE0, (0x800, 0x10000), 6),
                                     (0xF0, (0x10000, 0x110000), 12)):
        block = kinds[low:high].reshape(-1, 1 << shift)  # the code points of one first and second byte
        first = np.arange(low, high, 1 << shift)
        key = (lead | first >> (shift + 6)) << 8 | 0x80 | (first >> shift) & 0x3F
        pairs[key] = np.where(block.min(1) == block.max(1), block[:, 0], 255)
    return _Unicode(kinds, pairs)


def _kinds_at(data: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """What the characters (of two or more UTF-8 bytes) that start at `lead` are (the table's bits)."""
    kind = _unicode().pairs[data[lead].astype(np.uint16) << 8 | data[lead + 1]]
    mixed = np.flatnonzero(kind == 255)  # first two bytes that leave it open: decode the character
    if len(mixed):
        kind[mixed] = _unicode().kinds[_code_points(data, lead[mixed])]
    return kind


def _code_points(data: np.ndarray, lead: np.ndarray) -> np.ndarray:
    """The code points of the UTF-8 characters (of two or more bytes) that start at `lead`."""
    first = data[lead].astype(np.int64)
    c1, c2, c3 = (data[np.minimum(lead + k, len(data) - 1)].astype(np.int64) & 0x3F for k in (1, 2, 3))
    return np.select([first < 0xE0, first < 0xF0], [(first & 0x1F) << 6 | c1, (first & 0x0F) << 12 | c1 << 6 | c2],
                     (first & 0x07) << 18 | c1 << 12 | c2 << 6 | c3)


def _leads(data: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Where the characters beyond ASCII start in data[lo:hi] (its bytes >= 0xC0), sorted."""
    return np.flatnonzero(np.greater_equal(data[lo:hi], 0xC0, out=_pooled(hi - lo, bool))) + lo


def _pooled(n: int, dtype) -> np.ndarray:
    """An uninitialized array from Arrow's memory pool, which keeps freed memory: no page faults to pay for the
    large ones again and again, which under glibc's defaults threads would wait on each other for."""
    return np.frombuffer(pa.allocate_buffer(n * np.dtype(dtype).itemsize), dtype)


def _special(texts: pa.Array) -> np.ndarray:
    """Which of `texts` have a _SPECIAL character: the texts normalize must send through NFKC and maybe casefold."""
    data, offsets, _ = _token_bytes(texts)
    lead = _leads(data, offsets[0], offsets[-1])
    at = lead[(_kinds_at(data, lead) & _SPECIAL) != 0] if len(lead) else lead
    special = np.zeros(len(texts), dtype=bool)
    special[np.searchsorted(offsets, at, side="right") - 1] = True
    return np.flatnonzero(special)


def _cut_alone(tokens: pa.Array, lengths: np.ndarray) -> tuple[pa.Array, np.ndarray]:
    """Rules 3 and 4: the tokens (of texts that have `lengths` (D,) of them) cut before and after every character
    of _ALONE and what goes with it; and how many tokens each text has then."""
    data, offsets, buffer = _token_bytes(tokens)
    lo, hi = offsets[0], offsets[-1]
    lead = _leads(data, lo, hi)
    starts, ends = _alone(data, lead, offsets) if len(lead) else (lead, lead)
    if not len(starts):
        return tokens, lengths
    if len(starts) * 64 < hi - lo:  # few: insert them
        cuts = np.union1d(starts, ends)
        token = np.searchsorted(offsets, cuts, side="right") - 1
        inside = offsets[token] != cuts  # a cut where a token starts or ends is none
        token = token[inside]
        at = token + 1 + np.arange(len(token))  # where the cuts go among the offsets (np.insert, pooled)
        was = np.ones(len(offsets) + len(token), dtype=bool)
        was[at] = False
        out = _pooled(len(was), np.int64)
        out[at], out[was] = cuts[inside], offsets
        offsets = out
        text = np.searchsorted(np.cumsum(lengths), token, side="right")  # of each token cut
        lengths = lengths + np.bincount(text, minlength=len(lengths))
    else:  # many: on a map of the bytes
        bound = np.zeros(hi - lo + 1, dtype=bool)
        bound[starts - lo] = True
        bound[ends - lo] = True
        bound[offsets - lo] = True
        pieces = np.zeros(len(offsets), dtype=np.int64)  # before each token, how many it is cut into
        np.cumsum(np.add.reduceat(bound[:-1], offsets[:-1] - lo, dtype=np.int64), out=pieces[1:])
        last = np.cumsum(lengths)
        lengths = pieces[last] - pieces[last - lengths]
        offsets = np.flatnonzero(bound) + lo
    return pa.Array.from_buffers(pa.large_string(), len(offsets) - 1, [None, pa.py_buffer(offsets), buffer]), lengths


def _token_bytes(tokens: pa.Array) -> tuple[np.ndarray, np.ndarray, pa.Buffer]:
    """The data buffer of Arrow strings as bytes, where each string starts in it (W+1,), and the buffer."""
    _, offsets, buffer = tokens.buffers()
    offsets = np.frombuffer(offsets, np.int64)[tokens.offset: tokens.offset + len(tokens) + 1]
    buffer = buffer if buffer is not None else pa.py_buffer(b"")
    return np.frombuffer(buffer, np.uint8), offsets, buffer


_SIZE = np.array([1] * 0xC0 + [2] * 32 + [3] * 16 + [4] * 16, dtype=np.int64)  # UTF-8 bytes by first byte


def _alone(data: np.ndarray, lead: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each _ALONE character starts and where it and the marks after it end (byte positions, sorted).

    lead: the first byte of every character beyond ASCII; offsets: where each token starts (W+1,).
    """
    first = data[lead]
    kind = _kinds_at(data, lead) & 3
    end = lead + _SIZE[first]
    # a mark right after the character before it (nothing between, not where a token starts) goes with it, and
    # so does a letter after a stacker (Khmer's coeng, Myanmar's virama: the letter is written under the one before)
    glued = np.zeros(len(lead), dtype=bool)
    glued[1:] = ((kind[1:] >= _IS_MARK) | (kind[:-1] == _IS_STACKER)) & (lead[1:] == end[:-1])
    if glued.any():
        glued[glued] = offsets[np.searchsorted(offsets, lead[glued], side="right") - 1] != lead[glued]
    alone = (kind == _IS_ALONE) & ~glued
    closes = alone.copy()  # the last of an _ALONE character and what goes with it
    if glued.any():
        closes = alone[np.maximum.accumulate(np.where(glued, 0, np.arange(len(lead))))]  # of the one it goes with
        closes[:-1] &= ~glued[1:]
    return lead[alone], end[closes]


def chunks(texts: list[str]) -> list[list[str]]:
    """Consecutive slices of about `_CHUNK_CHARS` characters, at least one per core when large."""
    sizes = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    total = int(sizes.sum())
    n = max(1, min(len(texts), max(total // _CHUNK_CHARS, workers() if total > _CHUNK_CHARS // 4 else 1)))
    cuts = np.searchsorted(np.cumsum(sizes), np.arange(1, n) * total / n)
    bounds = [0, *sorted(set(cuts.tolist()) - {0, len(texts)}), len(texts)]
    return [texts[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def parallel_map(fn, items: list) -> list:
    """`map` over a thread pool with one thread per core; inline for a single item."""
    if len(items) <= 1:
        return [fn(x) for x in items]
    with ThreadPoolExecutor(min(workers(), len(items))) as pool:
        return list(pool.map(fn, items))


def count_tokens(texts: list[str]) -> np.ndarray:
    """Tokens per text, (D,), without building a vocabulary."""
    if not texts:
        return np.zeros(0, dtype=np.int64)
    return np.concatenate([lengths for _, lengths in parallel_map(split_tokens, chunks(list(texts)))])


@dataclass
class Tokens:
    """A corpus tokenized once: its tokens back to back (Arrow strings) and tokens per text, by chunk."""

    parts: list[tuple[pa.Array, np.ndarray]]

    @classmethod
    def of(cls, texts: list[str]) -> "Tokens":
        return cls(parallel_map(split_tokens, chunks(list(texts))))

    def __len__(self) -> int:
        return sum(len(n) for _, n in self.parts)

    @property
    def count(self) -> int:
        """Tokens in all texts."""
        return sum(int(n.sum()) for _, n in self.parts)


@dataclass
class Vocab:
    """Token strings in id order; id 0 is `<unk>`. Build it from the training split only."""

    itos: list[str]

    def __post_init__(self):
        self._arrow = arrow(self.itos)  # the lookup's hash table is built from this
        self._stoi = None

    def __len__(self) -> int:
        return len(self.itos)

    @property
    def stoi(self) -> dict[str, int]:
        if self._stoi is None:
            self._stoi = {t: i for i, t in enumerate(self.itos)}
        return self._stoi

    @classmethod
    def build(cls, tokens, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """From tokens (a list of strings or Arrow string arrays): most frequent first, ties alphabetical."""
        if isinstance(tokens, list) and not any(isinstance(t, (pa.Array, pa.ChunkedArray)) for t in tokens[:1]):
            tokens = arrow(tokens)
        elif isinstance(tokens, list):
            tokens = pa.chunked_array(tokens, pa.large_string())
        counts = pc.value_counts(tokens)
        return cls.from_counts(pa.table({"token": counts.field("values"), "count": counts.field("counts")}),
                               min_freq, max_size)

    @classmethod
    def from_counts(cls, table: pa.Table, min_freq: int = 1, max_size: int | None = None) -> "Vocab":
        """From a table of distinct tokens ("token") and their counts ("count"), as `build` orders them."""
        table = table.filter(pc.and_(pc.greater_equal(table["count"], min_freq), pc.not_equal(table["token"], UNK)))
        # Arrow compares strings by UTF-8 bytes, which orders them as Python does (by code point)
        table = table.sort_by([("count", "descending"), ("token", "ascending")])
        return cls([UNK] + table["token"].to_pylist()[: max_size - 1 if max_size else None])

    def lookup(self, tokens) -> np.ndarray:
        """Ids of Arrow token strings, 0 for unknown ones, (T,)."""
        ids = pc.index_in(tokens, value_set=self._arrow).fill_null(scalar(0, np.int32))  # index_in's type
        return as_numpy(ids).astype(np.int64) if isinstance(ids, pa.Array) else \
            np.concatenate([as_numpy(c).astype(np.int64) for c in ids.chunks] or [np.zeros(0, np.int64)])

    def encode(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Token ids of all texts back to back (T,), and tokens per text (D,)."""
        if not texts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        parts = parallel_map(lambda chunk: (lambda t, n: (self.lookup(t), n))(*split_tokens(chunk)), chunks(list(texts)))
        return np.concatenate([ids for ids, _ in parts]), np.concatenate([n for _, n in parts])


def truncate(ids: np.ndarray, lengths: np.ndarray, max_tokens: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Keep the first `max_tokens` ids of each document (flat ids (T,), lengths (D,)), without a loop."""
    if max_tokens is None or not len(lengths) or lengths.max() <= max_tokens:
        return ids, lengths
    position = np.arange(len(ids)) - np.repeat(np.cumsum(lengths) - lengths, lengths)  # within its document
    return ids[position < max_tokens], np.minimum(lengths, max_tokens)


def _window_hashes(ids: np.ndarray, n: int) -> list[np.ndarray]:
    """For k = 2..n, a hash of every window ids[i : i+k] of the flat id array, documents ignored.

    The windows are combined as fastText does (uint64 arithmetic wraps); ids + 1 so that <unk>
    (id 0) still changes the hash: (unk, a, b) must differ from (a, b). A multiplication by 2**64 / phi
    (Fibonacci hashing) then spreads every input bit into the top 32 bits, which _buckets uses.
    """
    word = ids.astype(np.uint64) + np.uint64(1)
    out, h = [], word
    for k in range(2, min(n, len(ids)) + 1):
        h = h[:-1] * np.uint64(116049371) + word[k - 1:]
        out.append(h * np.uint64(0x9E3779B97F4A7C15))
    return out


def _buckets(hashes: np.ndarray, buckets: int) -> np.ndarray:
    """Lemire's multiply-shift: the top 32 hash bits to [0, buckets) without a division, in place."""
    hashes >>= np.uint64(32)
    hashes *= np.uint64(buckets)
    hashes >>= np.uint64(32)
    return hashes.view(np.int64)


def hash_ngrams(ids: np.ndarray, lengths: np.ndarray, n: int, buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """Hash every word n-gram (2..n) of each document into [0, buckets).

    ids: (T,) token ids of all documents back to back; lengths: (D,) tokens per document.
    Returns (ngram_ids, doc_index), both (G,), in document order for each n (bigrams first).
    """
    doc = np.repeat(np.arange(len(lengths)), lengths)
    out_ids, out_doc = [], []
    for k, h in enumerate(_window_hashes(ids, n), start=2):
        same_doc = doc[: len(h)] == doc[k - 1:]  # windows across a document boundary are no n-grams
        out_ids.append(_buckets(h[same_doc], buckets))
        out_doc.append(doc[: len(h)][same_doc])
    if not out_ids:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(out_ids), np.concatenate(out_doc)


def _utf8(words: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The UTF-8 bytes of Arrow strings back to back, and where each string starts (W+1,), zero-copy."""
    words = words.cast(pa.large_string())
    _, offsets, data = words.buffers()
    offsets = np.frombuffer(offsets, np.int64)[words.offset: words.offset + len(words) + 1]
    data = np.frombuffer(data, np.uint8) if data is not None else np.zeros(0, np.uint8)
    return data[offsets[0]: offsets[-1]], offsets - offsets[0]


def char_ngram_hashes(words: pa.Array, low: int, high: int) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of the character n-grams (n = low..high) of each of `words`, every word marked at both
    ends (scikit-learn's char_wb analyzer, fastText's subwords "<wo", "ord>"), grouped by word.

    Returns (hashes (H,) uint64 spread as _window_hashes spreads them, offsets (W+1,) where each
    word's hashes start). Characters are code points: a multi-byte UTF-8 character is one symbol.
    """
    data, offsets = _utf8(words)
    lead = (data & 0xC0) != 0x80  # bytes that start a character (not 10xxxxxx)
    first = np.flatnonzero(lead)
    code = data.astype(np.uint64)
    if len(first) < len(data):  # multi-byte characters: one code per character, from all its bytes
        place = np.arange(len(data)) - first[np.cumsum(lead) - 1]  # of each byte in its character
        code = np.add.reduceat(code << (place.astype(np.uint64) * np.uint64(8)), first)
    word = np.searchsorted(offsets, first, side="right") - 1  # of each character
    # one symbol sequence: a boundary (1) before every word and after the last; characters are code + 2
    seq = np.ones(len(first) + len(words) + 1, dtype=np.uint64)
    seq[np.arange(len(first)) + word + 1] = code + np.uint64(2)
    bounds = np.concatenate([[0], np.cumsum(seq == 1)])  # boundaries in seq[:i]
    hashes, owners, h = [], [], np.zeros(len(seq), dtype=np.uint64)
    for n in range(1, min(high, len(seq)) + 1):
        h = h[: len(seq) - n + 1] * np.uint64(116049371) + seq[n - 1:]
        if n < low:
            continue
        start = np.arange(len(h))
        # within one word and its marks: no boundary strictly inside the window (n = 1: not a boundary)
        ok = seq[: len(h)] != 1 if n == 1 else bounds[start + n - 1] == bounds[start + 1]
        hashes.append(h[ok] * np.uint64(0x9E3779B97F4A7C15))
        owners.append(bounds[start[ok] + 1] - 1)
    if not hashes:
        return np.zeros(0, np.uint64), np.zeros(len(words) + 1, np.int64)
    owner = np.concatenate(owners)
    order = np.argsort(owner, kind="stable")
    counts = np.bincount(owner, minlength=len(words))
    return np.concatenate(hashes)[order], np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)


class Featurizer:
    """Texts -> Encoded features: vocabulary ids, hashed word n-gram and character n-gram ids, then their weights.

    A raw feature id is a vocabulary id, or vocabulary size + word n-gram bucket, or after those a
    character n-gram bucket (`chars` (low, high): the n-grams of every word, unknown words too; None:
    none). Only the raw features
    seen in the training split become columns of the model (`columns_`, sorted): a bucket no
    training document hashes to would only hold an untrained row, so it costs nothing to drop.

    weighting "tfidf": (1 + log count) * idf, L2-normalized per document (sublinear TF-IDF), which
    makes a linear layer on the bag a linear model on TF-IDF features; "mean": count / total, the
    average of the document's token and n-gram vectors (the classic EmbeddingBag).
    """

    def __init__(self, vocab: Vocab, ngrams: int = ModelConfig.ngrams, buckets: int = ModelConfig.buckets,
                 max_tokens: int | None = ModelConfig.max_tokens, weighting: str = ModelConfig.weighting,
                 columns: np.ndarray | None = None, idf: np.ndarray | None = None, chars: tuple[int, int] | None = None):
        self.vocab, self.ngrams, self.buckets, self.weighting = vocab, ngrams, buckets, weighting
        self.chars = tuple(chars) if chars and buckets > 0 else None
        self.max_tokens = max_tokens  # bounds the work and memory a pathologically long document costs
        self.columns_, self.idf_ = None, idf  # learned from the training split by fit_encode
        self._column = None  # raw feature id -> column, -1 for a feature training never saw
        if columns is not None:
            self._set_columns(columns)

    @classmethod
    def from_config(cls, m: ModelConfig, vocab: Vocab, columns: np.ndarray | None = None,
                    idf: np.ndarray | None = None) -> "Featurizer":
        """The featurizer a (resolved) model config describes, over `vocab`; fitted when `columns` are given."""
        return cls(vocab, m.ngrams, m.buckets, m.max_tokens, m.weighting, columns, idf, m.char_ngrams or None)

    @classmethod
    def fit(cls, texts: list[str], **kw) -> "Featurizer":
        return cls.fit_encode(texts, **kw)[0]

    @classmethod
    def fit_encode(cls, texts: list[str] | Tokens, *, ngrams=ModelConfig.ngrams, buckets=ModelConfig.buckets,
                   min_freq=ModelConfig.min_freq, max_vocab=None, max_tokens=None, weighting=ModelConfig.weighting,
                   min_df=1, chars=None):
        """Learn the vocabulary, columns and idf from `texts` (or their Tokens) and encode them, tokenizing once.

        min_freq: a word needs this many occurrences to enter the vocabulary; min_df: a feature (word
        or n-gram) needs this many training documents to become a column; chars: character n-gram
        lengths (low, high), None for none.
        """
        keep_freed_memory()
        parts = (texts if isinstance(texts, Tokens) else Tokens.of(texts)).parts
        f = cls(Vocab.build([t for t, _ in parts], min_freq, max_vocab), ngrams, buckets, max_tokens, weighting,
                chars=chars)
        raw = parallel_map(lambda part: f._count(*part), parts)  # no columns yet
        f.fit_columns(sum(np.bincount(e.ids, minlength=f.raw_features) for e in raw),
                      sum(len(e) for e in raw), min_df)

        def finish(e: Encoded) -> Encoded:
            e = f._keep_columns(e)
            e.weights = f.weigh(e)
            return e
        return f, Encoded.concat(parallel_map(finish, raw))

    def document_frequencies(self, texts: list[str]) -> np.ndarray:
        """(raw_features,) in how many of `texts` each raw feature occurs; before `fit_columns`."""
        def count(chunk):
            ids = self._count(*split_tokens(chunk)).ids  # distinct within each document
            return np.bincount(ids, minlength=self.raw_features)
        return sum(parallel_map(count, chunks(list(texts))), np.zeros(self.raw_features, dtype=np.int64))

    def fit_columns(self, df: np.ndarray, num_docs: int, min_df: int = 1) -> None:
        """Learn the columns (raw features in at least `min_df` of the `num_docs` training documents) and
        their idf from document frequencies `df` (raw_features,)."""
        self._set_columns(np.flatnonzero(df >= max(min_df, 1)))
        if self.weighting == "tfidf":  # smoothed, as scikit-learn's: log((1 + D) / (1 + df)) + 1
            self.idf_ = (np.log((1 + num_docs) / (1 + df[self.columns_])) + 1).astype(np.float32)

    def _set_columns(self, columns: np.ndarray) -> None:
        self.columns_ = np.asarray(columns, dtype=np.int64)
        self._column = np.full(self.raw_features, -1, dtype=np.int32)
        self._column[self.columns_] = np.arange(len(self.columns_), dtype=np.int32)

    @property
    def raw_features(self) -> int:
        return self.char_base + (self.buckets if self.chars else 0)

    @property
    def char_base(self) -> int:
        """The raw id of character n-gram bucket 0."""
        return len(self.vocab) + (self.buckets if self.ngrams > 1 else 0)

    @property
    def num_features(self) -> int:
        """Columns of the model's input: the raw features seen in training (all of them before fitting)."""
        return self.raw_features if self.columns_ is None else len(self.columns_)

    def column(self, raw_ids: np.ndarray) -> np.ndarray:
        """Column of each raw feature id; -1 where training never saw it."""
        return self._column[raw_ids]

    def encode(self, texts: list[str]) -> Encoded:
        keep_freed_memory()
        return Encoded.concat(parallel_map(self._encode_chunk, chunks(list(texts))))

    def _encode_chunk(self, texts: list[str]) -> Encoded:
        return self.encode_tokens(*split_tokens(texts))

    def encode_tokens(self, tokens, lengths: np.ndarray) -> Encoded:
        """Encode documents given as their tokens back to back (strings) with lengths (D,), weights included."""
        enc = self._count(tokens, lengths)
        enc.weights = self.weigh(enc)
        return enc

    def _count(self, tokens, lengths: np.ndarray) -> Encoded:
        """Each document's distinct features and their counts: words and word n-grams by one sort of
        (document, feature) keys, then the character n-grams (`_char_counts`) after them.

        Fitted (columns known): features are columns, and those that are not are dropped before the sort.
        """
        tokens = tokens if isinstance(tokens, pa.Array) else arrow(tokens)
        ids, kept = truncate(self.vocab.lookup(tokens), lengths, self.max_tokens)
        doc = np.repeat(np.arange(len(kept), dtype=np.int64), kept) << 32
        hashes = _window_hashes(ids, self.ngrams) if self.ngrams > 1 and self.buckets > 0 else []
        # one array written in place: a concatenation would copy it, and fresh pages cost more than the sort
        key = np.empty(len(ids) + sum(map(len, hashes)), dtype=np.int64)
        self._keys(doc, ids, key[: len(ids)])  # feature ids < 2**32 (config caps buckets); shifts undo it
        start = len(ids)
        for k, h in enumerate(hashes, start=2):
            raw = _buckets(h, self.buckets)
            raw += len(self.vocab)
            out = key[start: start + len(raw)]
            self._keys(doc[: len(raw)], raw, out)
            out[doc[: len(raw)] != doc[k - 1:]] = _DROP  # a window across two documents is no n-gram
            start += len(raw)
        key.sort()
        words = _counted(key[: np.searchsorted(key, _DROP)], len(kept))
        return Encoded.beside(words, self._char_counts(tokens, lengths)) if self.chars else words

    def _char_counts(self, tokens: pa.Array, lengths: np.ndarray) -> Encoded:
        """Each document's character n-gram features and counts: each distinct word's n-grams are found once
        (`char_ids`), then each token's are (document, n-gram) keys, sorted and counted as _count counts words.

        Features are raw ids, or once fitted columns (an n-gram that is none is dropped).
        """
        words = pc.dictionary_encode(tokens)
        which, kept = truncate(as_numpy(words.indices).astype(np.int64), lengths, self.max_tokens)
        feats, offsets = self.char_ids(words.dictionary)
        base = self.char_base
        if self._column is not None:
            col = self._column[feats]
            per_word = np.bincount(np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))[col >= 0],
                                   minlength=len(offsets) - 1)
            feats, base, offsets = col[col >= 0], self._first_char_column, np.concatenate([[0], np.cumsum(per_word)])
        grams = np.diff(offsets)[which]  # each token's n-grams: feats[offsets[which]:offsets[which + 1]]
        at = np.repeat(offsets[which] - np.cumsum(grams) + grams, grams) + np.arange(grams.sum())
        doc = np.repeat(np.arange(len(kept), dtype=np.int64), kept) << 32  # ids < 2**32, as in _count
        key = np.repeat(doc, grams) | (feats[at] - base)
        key.sort()
        grams = _counted(key, len(kept))
        grams.ids += base
        return grams

    def char_ids(self, words: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """Raw feature ids of the character n-grams of each of `words` (C,), and where each word's start (W+1,)."""
        hashes, offsets = char_ngram_hashes(words, *self.chars)
        ids = _buckets(hashes, self.buckets)
        ids += self.char_base
        return ids, offsets

    def _keys(self, doc: np.ndarray, raw: np.ndarray, out: np.ndarray) -> None:
        """out = (document << 32) | feature for raw feature ids; features that are no column become _DROP."""
        if self._column is None:
            np.bitwise_or(doc, raw, out=out)
            return
        col = self._column[raw]
        np.bitwise_or(doc, col, out=out)
        out[col < 0] = _DROP

    def _keep_columns(self, enc: Encoded) -> Encoded:
        """Raw feature ids -> columns, dropping the features that are not columns."""
        ids = self._column[enc.ids].astype(np.int64)  # monotonic: each document's ids stay sorted
        kept = ids >= 0
        lengths = np.bincount(np.repeat(np.arange(len(enc)), np.diff(enc.offsets))[kept], minlength=len(enc))
        offsets = np.zeros(len(enc) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        return Encoded(ids[kept], offsets, enc.counts[kept])

    def weigh(self, enc: Encoded) -> np.ndarray:
        """Per-feature weights of each document's bag, (N,) float32.

        With character n-grams, the words (and word n-grams) and the character n-grams are weighed as two
        blocks, each normalized on its own and then weighing equally (scikit-learn's TF-IDF of words and of
        characters side by side): a word has ~10 character n-grams, which would otherwise drown it.
        """
        lengths = np.diff(enc.offsets)
        if self.weighting == "tfidf":
            w = np.log(enc.counts)
            w += 1
            w *= self.idf_[enc.ids]
            mass = w * w
        else:
            w = enc.counts.copy()
            mass = w
        if self.chars:  # (document, block) sums: block 0 the words, 1 the character n-grams
            block = np.repeat(np.arange(len(enc), dtype=np.int64) * 2, lengths)
            block += enc.ids >= self._first_char_column
            sums = np.bincount(block, weights=mass, minlength=2 * len(enc)).reshape(-1, 2)
        else:
            sums = _doc_sums(mass, enc.offsets)[:, None]
        norm = np.sqrt(sums) if self.weighting == "tfidf" else sums
        blocks = (sums > 0).sum(1, keepdims=True)  # a document's blocks that have features
        norm *= np.sqrt(blocks) if self.weighting == "tfidf" else blocks
        norm[norm == 0] = 1
        scale = (1 / norm).astype(np.float32).ravel()
        w *= scale[block] if self.chars else np.repeat(scale, lengths)
        return w

    @property
    def _first_char_column(self) -> int:
        """Columns (or before fitting, raw ids) from this one on are character n-grams: theirs come last."""
        return self.char_base if self.columns_ is None else int(np.searchsorted(self.columns_, self.char_base))


def _counted(key: np.ndarray, docs: int) -> Encoded:
    """Sorted (document << 32 | feature) keys of `docs` documents -> each document's distinct features and counts."""
    first = np.ones(len(key), dtype=bool)
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    counts = np.diff(starts, append=len(key)).astype(np.float32)
    key = key[starts]
    offsets = np.searchsorted(key, np.arange(docs + 1, dtype=np.int64) << 32)  # documents' first keys
    return Encoded(key & 0xFFFFFFFF, offsets, counts)


def _doc_sums(values: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each document's sum of `values` (N,) in float64, (D,); 0 for an empty document."""
    sums = np.zeros(len(offsets) - 1)
    full = offsets[1:] > offsets[:-1]  # reduceat would give an empty document its next value, not 0
    sums[full] = np.add.reduceat(values, offsets[:-1][full], dtype=np.float64)
    return sums

