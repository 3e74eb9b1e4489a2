"""Tokenizer, vocabulary, hashed n-grams and the batched featurizer (documents must never mix)."""
from __future__ import annotations

from collections import Counter
import itertools
import re
import unicodedata

import numpy as np
import pytest

import pyarrow as pa
import pyarrow.compute as pc

import doccat.text as text_module
from doccat.text import (UNK, Encoded, Featurizer, Vocab, as_numpy, char_ngram_hashes, code_points, count_tokens,
                         hash_ngrams, normalize, split_tokens, tokenize, truncate)


def tokens_of(texts):
    return [t for text in texts for t in tokenize(text)]

# A small corpus in the spirit of scikit-learn's JUNK_FOOD_DOCS, with punctuation and odd cases.
DOCS = [
    "the pizza pizza beer copyright",
    "the pizza burger beer copyright",
    "the the pizza beer beer copyright",
    "the burger beer beer copyright",
    "the coke burger coke copyright",
    "the coke burger burger",
    "",
    "Don't panic! It's (only) a test; really: OK?",
    "one",
    "x\x00y z",
    "Great movie.<br /><br />Loved it, \"truly\".",
    "   ",
    "one two",
    "今天天气很好，我们去公园散步吧",
    "Die Straße ist groß, ﬁnal ＡＢＣ１２３ ½ you´ve don’t stop—really…",
]

# torchtext's basic_english, reimplemented here as the reference
_PATTERNS = [(re.compile(p), r) for p, r in [
    (r"\'", " '  "), (r"\"", ""), (r"\.", " . "), (r"<br \/>", " "), (r",", " , "), (r"\(", " ( "),
    (r"\)", " ) "), (r"\!", " ! "), (r"\?", " ? "), (r"\;", " "), (r"\:", " "), (r"\s+", " ")]]


def basic_english(line: str) -> list[str]:
    line = line.lower()
    for pattern, repl in _PATTERNS:
        line = pattern.sub(repl, line)
    return line.split()


@pytest.mark.parametrize("text,expected", [
    ("Hello World", ["hello", "world"]),
    ("don't", ["don", "'", "t"]),
    ("Hello, world.", ["hello", ",", "world", "."]),
    ("Wow! Really? (yes)", ["wow", "!", "really", "?", "(", "yes", ")"]),
    ("first<br />second", ["first", "second"]),
    ('he said "hi"', ["he", "said", "hi"]),
    ("a;b:c", ["a", "b", "c"]),
    ("  tabs\tand\nnewlines  ", ["tabs", "and", "newlines"]),
    ("", []),
    # issue 20 changed these two: case folding (basic_english keeps "straße"); U+200B is a space
    ("ÉCOLE Straße", ["école", "strasse"]),
    ("x\u200b", ["x"]),
])
def test_tokenize_examples(text, expected):
    assert tokenize(text) == expected


ASCII_DOCS = [d for d in DOCS if d.isascii()]


@pytest.mark.parametrize("text", ASCII_DOCS + ["It's 3.14, isn't it?! <BR /> \"Quote\"; x:y", "a...b", "ÉCOLE",
                                        "non\u00a0breaking\u2003spaces\u3000here", '";:', "end\x1c", "\x85lead "])
def test_tokenize_matches_basic_english(text):
    assert tokenize(text) == basic_english(text)


# ---- issue 20: scripts without spaces, Unicode punctuation, NFKC, case folding

@pytest.mark.parametrize("text,expected", [
    ("今天天气很好，我们去公园散步吧",  # each Han character; the full-width comma is NFKC's ","
     ["今", "天", "天", "气", "很", "好", ",", "我", "们", "去", "公", "园", "散", "步", "吧"]),
    ("東京は今日とても暑いです。",  # Han, Hiragana, and 。 as punctuation
     ["東", "京", "は", "今", "日", "と", "て", "も", "暑", "い", "で", "す", "。"]),
    ("서울은 오늘 맑습니다.", ["서", "울", "은", "오", "늘", "맑", "습", "니", "다", "."]),
    ("Die Bundesregierung hat beschlossen, die Straße zu sperren – sie ist zu groß.",
     ["die", "bundesregierung", "hat", "beschlossen", ",", "die", "strasse", "zu", "sperren", "–", "sie", "ist", "zu",
      "gross", "."]),
    ("don't stop—really…", ["don", "'", "t", "stop", "—", "really", ".", ".", "."]),
])
def test_tokens_of_scripts_without_spaces_and_unicode_punctuation(text, expected):
    assert tokenize(text) == expected


@pytest.mark.parametrize("text,expected", [
    ("ＡＢＣ１２３", ["abc123"]),  # NFKC: full width
    ("ﬁne ﬂow", ["fine", "flow"]),  # NFKC: ligatures
    ("Straße", ["strasse"]),  # case folding, where lowercasing keeps ß
    ("ΣΊΣΥΦΟΣ", ["σίσυφοσ"]),  # every sigma is σ (lowercase would end in ς)
    ("ẞ ᾼ Ꭰ", ["ss", "αι", "Ꭰ"]),  # casefold's own: capital sharp s, iota subscript, Cherokee folds to capitals
    ("İstanbul", ["istanbul"]),  # where Arrow's lowercase and casefold ("i\u0307") disagree, the lowercase
    ("you´ve 8½ ¨quoted¨", ["you´ve", "8½", "¨quoted¨"]),  # _KEEP: NFKC would make " \u0301ve" and "81⁄2"
    ("\ufeff做 a\u200bb", ["做", "a", "b"]),  # a stray byte-order mark and a zero-width space are spaces
    ("It’s “great” «bien» ¡sí! ¿no? l·l", ["it", "’", "s", "“", "great", "”", "«", "bien", "»", "¡", "sí", "!", "¿",
                                           "no", "?", "l", "·", "l"]),
    ("well‐known well‑known well-known", ["well‐known", "well‐known", "well-known"]),  # hyphens join words
    ("ภาษาไทยเป็น", ["ภ", "า", "ษ", "า", "ไ", "ท", "ย", "เ", "ป็", "น"]),  # a letter with its marks
    ("ភាសាខ្មែរ ဗုဒ္ဓ", ["ភា", "សា", "ខ្មែ", "រ", "ဗု", "ဒ္ဓ"]),  # and what a coeng or virama stacks under it
    ("コーヒー ㄅㄆ ꆈꌠ ᨠᥐᦀꪀ", ["コ", "ー", "ヒ", "ー", "ㄅ", "ㄆ", "ꆈ", "ꌠ", "ᨠ", "ᥐ", "ᦀ", "ꪀ"]),
    ("漢\u0301字 漢 \u0301x", ["漢\u0301", "字", "漢", "\u0301x"]),  # a mark stays with the character before it
    ("привет, мир! नमस्ते दुनिया مرحبا بالعالم", ["привет", ",", "мир", "!", "नमस्ते", "दुनिया", "مرحبا", "بالعالم"]),
    ("(￣▽￣)ノ 100元", ["(", "￣▽￣", ")", "ノ", "100", "元"]),
])
def test_normalization_and_cuts(text, expected):
    assert tokenize(text) == expected


def every_code_point() -> list[str]:
    return [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]


def arrow(texts) -> pa.Array:
    return pa.array(texts, pa.large_string())


def chars_of(spec: str) -> set[str]:
    return {chr(c) for a, b in code_points(spec) for c in range(a, b + 1)}


def test_the_case_folding_set_is_what_python_casefolds_after_arrows_lowercase():
    chars = every_code_point()
    lower = pc.utf8_lower(arrow(chars)).to_pylist()
    assert chars_of(text_module._FOLD) == {c for c, low in zip(chars, lower) if low == c and c.casefold() != c}
    # and a text of every character Arrow's lowercase can leave has no other that casefold changes
    left = {d for low in lower for d in low}
    assert all(d.casefold() == d for d in left - chars_of(text_module._FOLD))


def test_the_kept_set_is_what_nfkc_would_run_into_its_neighbours():
    chars = every_code_point()
    nfkc = pc.utf8_normalize(arrow(chars), form="NFKC").to_pylist()
    assert chars_of(text_module._KEEP) == {c for c, n in zip(chars, nfkc) if (n[0] == " " and len(n) > 1)
                                           or ("\u2044" in n and c != "\u2044")}


def test_normalize_is_nfkc_then_casefold_for_every_code_point():
    chars = every_code_point()
    out = normalize(arrow(chars)).to_pylist()
    nfkc = pc.utf8_normalize(arrow(chars), form="NFKC").to_pylist()
    keep = chars_of(text_module._KEEP)
    expected = [c if c in keep else n.casefold() for c, n in zip(chars, nfkc)]
    differ = {c for c, o, e in zip(chars, out, expected) if o != e}
    # only where Arrow's lowercase and casefold disagree on the letter: İ, and letters Python's tables lack
    assert "İ" in differ and all(c == "İ" or unicodedata.category(c) == "Cn" for c in differ)
    # the same among ASCII texts (another path through normalize) and one by one
    mixed = ["plain ascii"] * 50 + ["Straße", "ΣΊΣΥΦΟΣ", "ＡＢＣ", "you´ve ½ ﬁ", "é"]
    expected = ["plain ascii"] * 50 + ["strasse", "σίσυφοσ", "abc", "you´ve ½ fi", "é"]
    assert normalize(arrow(mixed)).to_pylist() == expected


def test_nfkc_and_casefold_run_wherever_they_change_something():
    """normalize sends only texts with a _SPECIAL character through NFKC and casefold: the others they leave as
    Arrow lowercases them."""
    kinds = text_module._unicode().kinds
    chars = every_code_point()
    plain = [c for c in chars if not kinds[ord(c)] & text_module._SPECIAL]
    assert pc.utf8_normalize(arrow(plain), form="NFKC").to_pylist() == plain
    assert all(low.casefold() == low for low in pc.utf8_lower(arrow(plain)).to_pylist())
    # nor would NFKC compose them with the character before: every second half of a composition is special
    seconds = {chr(int(d.split()[1], 16)) for d in map(unicodedata.decomposition, chars)
               if d and not d.startswith("<") and len(d.split()) == 2}
    seconds |= {chr(c) for c in [*range(0x1161, 0x1176), *range(0x11A8, 0x11C3)]}  # Hangul vowels and finals
    seconds |= {c for c in chars if unicodedata.combining(c)}
    assert all(kinds[ord(c)] & text_module._SPECIAL for c in seconds)


def test_the_table_by_two_bytes_agrees_with_the_table_by_code_point():
    u = text_module._unicode()
    chars = [c for c in every_code_point() if c > "\x7f"]
    data = np.frombuffer("".join(chars).encode(), np.uint8)
    lead = np.flatnonzero(data >= 0xC0)
    assert len(lead) == len(chars)
    np.testing.assert_array_equal(text_module._kinds_at(data, lead), u.kinds[[ord(c) for c in chars]])


def test_punctuation_beyond_ascii_is_what_python_calls_punctuation():
    chars = every_code_point()
    ours = pc.match_substring_regex(arrow(chars), r"[^\P{P}\x00-\x7f\x{2010}]").to_pylist()
    python = [unicodedata.category(c).startswith("P") and c > "\x7f" and c != "\u2010" for c in chars]
    assert all(unicodedata.category(c) == "Cn" for c, a, b in zip(chars, ours, python) if a != b)
    # each is a token of its own, unless NFKC makes it another (＂ is ASCII's ", dropped)
    keep = chars_of(text_module._KEEP)
    punct = [c for c, p in zip(chars, ours) if p and unicodedata.normalize("NFKC", c) == c and c not in keep]
    tokens, lengths = split_tokens([f"a{c}b" for c in punct])
    assert lengths.tolist() == [3] * len(punct)
    assert tokens.to_pylist() == [t for c in punct for t in ("a", c, "b")]


def test_the_character_table_covers_every_code_point_that_matters():
    chars = [chr(c) for c in range(0x80, 0x110000) if not 0xD800 <= c <= 0xDFFF
             and not any(a <= c < b for a, b in text_module._PLANES)]
    for pattern in (text_module._ALONE, text_module._MARK, text_module._FOLD_RE2):
        assert not any(pc.match_substring_regex(arrow(chars), pattern).to_pylist())
    assert pc.utf8_normalize(arrow(chars), form="NFKC").to_pylist() == chars
    assert pc.utf8_lower(arrow(chars)).to_pylist() == chars


def cut_by_hand(token: str) -> list[str]:
    """Rules 3 and 4 for one token, a character at a time: the reference for the vectorized cut."""
    kinds = text_module._unicode().kinds
    kind = [int(kinds[ord(c)]) & 3 if c > "\x7f" else 0 for c in token]  # ALONE, MARK or STACKER
    clusters = []  # [text, a token of its own]
    for j, c in enumerate(token):
        if j and c > "\x7f" and token[j - 1] > "\x7f" and (kind[j] >= 2 or kind[j - 1] == 3):
            clusters[-1][0] += c
        else:
            clusters.append([c, kind[j] == 1])
    out = []
    for piece, alone in clusters:
        if alone or not out or out[-1][1]:
            out.append([piece, alone])
        else:
            out[-1][0] += piece
    return [piece for piece, _ in out]


POOL = list("ab1 ,.'’—。、漢字かナ한ㄅภาษ\u0e34\u0e48ក\u17d2ខ\u17b6é\u0301\u20dd\u3099ß½´ÄＡ\u200b") + ["  ", "<br />"]


@pytest.mark.parametrize("pad", [0, 300_000])  # many cuts to the bytes (one way), few (the other)
def test_cuts_agree_with_the_cut_by_hand(monkeypatch, pad):
    rng = np.random.default_rng(pad)
    texts = ["".join(rng.choice(POOL, size=rng.integers(0, 30))) for _ in range(300)] + ["x" * pad]
    tokens, lengths = split_tokens(texts)
    with monkeypatch.context() as m:  # the tokens before rules 3 and 4
        m.setattr(text_module, "_cut_alone", lambda t, lengths: (t, lengths))
        uncut, uncut_lengths = split_tokens(texts)
    bounds = np.concatenate([[0], np.cumsum(uncut_lengths)])
    uncut = uncut.to_pylist()
    expected = [[p for t in uncut[a:b] for p in cut_by_hand(t)] for a, b in itertools.pairwise(bounds)]
    assert lengths.tolist() == [len(e) for e in expected]
    assert tokens.to_pylist() == [t for e in expected for t in e]
    assert [tokenize(t) for t in texts] == expected
    assert count_tokens(texts).tolist() == lengths.tolist()


def test_encode_keeps_document_boundaries():
    vocab = Vocab.build(tokens_of(DOCS))
    ids, lengths = vocab.encode(DOCS)
    assert lengths.tolist() == [len(tokenize(t)) for t in DOCS]
    assert len(ids) == sum(lengths)
    assert (ids >= 0).all()
    # batched ids equal the per-text ids concatenated
    per_doc = [vocab.encode([t])[0] for t in DOCS]
    np.testing.assert_array_equal(ids, np.concatenate(per_doc))
    # and they decode to each text's tokens
    pos = 0
    for t, n in zip(DOCS, lengths):
        assert [vocab.itos[i] for i in ids[pos:pos + n]] == tokenize(t)
        pos += n


def test_encode_empty_and_all_empty():
    vocab = Vocab.build(tokens_of(DOCS))
    ids, lengths = vocab.encode([])
    assert len(ids) == 0 and len(lengths) == 0
    ids, lengths = vocab.encode(["", "", ""])
    assert len(ids) == 0 and lengths.tolist() == [0, 0, 0]
    ids, lengths = vocab.encode([" ", "pizza", "\n\t"])
    assert lengths.tolist() == [0, 1, 0] and ids.tolist() == [vocab.stoi["pizza"]]


def test_encode_across_many_chunks_equals_one_by_one(monkeypatch):
    import doccat.text as text_module
    monkeypatch.setattr(text_module, "_CHUNK_CHARS", 16)  # many chunks, on several threads
    vocab = Vocab.build(tokens_of(DOCS))
    ids, lengths = vocab.encode(DOCS * 7)
    one_by_one = [vocab.encode([t]) for t in DOCS * 7]
    np.testing.assert_array_equal(ids, np.concatenate([i for i, _ in one_by_one]))
    np.testing.assert_array_equal(lengths, np.concatenate([n for _, n in one_by_one]))


def test_vocab_order_min_freq_max_size():
    tokens = tokens_of(DOCS[:6])
    # counts: the 7, beer 6, burger 5, copyright 5, pizza 4, coke 3
    v = Vocab.build(tokens)
    assert v.itos == [UNK, "the", "beer", "burger", "copyright", "pizza", "coke"]
    assert v.stoi[UNK] == 0 and v.itos[0] == "<unk>"
    v = Vocab.build(tokens, min_freq=5)
    assert v.itos == [UNK, "the", "beer", "burger", "copyright"]
    v = Vocab.build(tokens, max_size=4)  # max_size counts <unk>
    assert v.itos == [UNK, "the", "beer", "burger"] and len(v) == 4
    # ties are alphabetical, independent of the order the tokens come in
    v1 = Vocab.build(["b", "a", "c", "a", "b", "c", "d"])
    v2 = Vocab.build(["d", "c", "c", "b", "b", "a", "a"])
    assert v1.itos == v2.itos == [UNK, "a", "b", "c", "d"]
    # deterministic: same input, same vocabulary
    assert Vocab.build(tokens).itos == Vocab.build(list(tokens)).itos


def test_vocab_ignores_literal_unk_token():
    v = Vocab.build(["<unk>", "<unk>", "a"])
    assert v.itos == [UNK, "a"]


def test_unknown_words_map_to_zero():
    v = Vocab.build(tokens_of(["pizza beer"]))
    ids, lengths = v.encode(["pizza sushi beer ramen"])
    assert lengths.tolist() == [4]
    assert ids.tolist() == [v.stoi["pizza"], 0, v.stoi["beer"], 0]


def _all_ngrams(docs_ids, n):
    """Reference: n-grams (2..n) inside each document, as tuples, with the document index."""
    out = []
    for d, toks in enumerate(docs_ids):
        for k in range(2, n + 1):
            for i in range(len(toks) - k + 1):
                out.append((d, tuple(toks[i:i + k])))
    return out


def test_hash_ngrams_stay_within_documents():
    ids = np.array([1, 2, 3, 4, 5], dtype=np.int64)
    lengths = np.array([2, 3])
    g, doc = hash_ngrams(ids, lengths, 2, 2**31 - 1)
    # doc 0: (1,2); doc 1: (3,4), (4,5); the spanning (2,3) must not appear
    assert len(g) == 3
    assert doc.tolist() == [0, 1, 1]
    span, _ = hash_ngrams(np.array([2, 3]), np.array([2]), 2, 2**31 - 1)
    own = [hash_ngrams(np.array(p), np.array([2]), 2, 2**31 - 1)[0][0] for p in ([1, 2], [3, 4], [4, 5])]
    assert g.tolist() == own
    assert len(set(own + [span[0]])) == 4  # no collisions among these, so:
    assert span[0] not in g.tolist()  # the bigram (2, 3) spanning the two documents is not there
    # one document of all five gives four bigrams, including (2, 3)
    g1, _ = hash_ngrams(ids, np.array([5]), 2, 2**31 - 1)
    assert len(g1) == 4 and span[0] in g1.tolist()


def test_hash_ngrams_ids_in_range_equal_grams_equal_counts():
    rng = np.random.default_rng(0)
    lengths = np.array([0, 1, 2, 3, 7, 1, 0, 5])
    ids = rng.integers(0, 6, size=lengths.sum())
    buckets = 17
    for n in (2, 3, 4):
        g, doc = hash_ngrams(ids, lengths, n, buckets)
        expected_count = sum(max(0, L - k + 1) for L in lengths for k in range(2, n + 1))
        assert len(g) == len(doc) == expected_count
        assert g.min() >= 0 and g.max() < buckets
        assert g.dtype == np.int64
        # equal n-grams hash equal; documents as the reference says
        ref = _all_ngrams(np.split(ids, np.cumsum(lengths)[:-1]), n)
        assert sorted(d for d, _ in ref) == sorted(doc.tolist())
        by_gram = {}
        # map each reference n-gram to the ids produced for its (doc, order) position
        grams_in_output_order = sorted(ref, key=lambda r: len(r[1]))  # bigrams, then trigrams, ...
        for gid, (_, gram) in zip(g, grams_in_output_order):
            by_gram.setdefault(gram, set()).add(int(gid))
        assert all(len(s) == 1 for s in by_gram.values())


def test_hash_ngrams_trigram_counts():
    lengths = np.array([4, 1, 3, 2])
    ids = np.arange(1, lengths.sum() + 1)  # no id 0: see test_trigram_with_leading_unk_is_not_its_bigram
    g, doc = hash_ngrams(ids, lengths, 3, 10_000)
    expected = sum(max(0, L - 1) for L in lengths) + sum(max(0, L - 2) for L in lengths)
    assert len(g) == expected == 3 + 0 + 2 + 1 + 2 + 0 + 1 + 0
    # bigrams and trigrams are distinct n-grams here, so (nearly surely) distinct hashes
    assert len(set(g.tolist())) == expected
    assert np.bincount(doc, minlength=4).tolist() == [5, 0, 3, 1]


def test_trigram_with_leading_unk_is_not_its_bigram():
    buckets = 2**31 - 1
    tri, _ = hash_ngrams(np.array([0, 1, 2]), np.array([3]), 3, buckets)  # (0,1), (1,2), (0,1,2)
    assert len(tri) == 3
    # the trigram (<unk>, 1, 2) should be its own feature, not the bigram (1, 2) again
    assert tri[2] != tri[1]


def test_hash_ngrams_too_short_or_empty():
    g, doc = hash_ngrams(np.array([5], dtype=np.int64), np.array([1]), 3, 10)
    assert len(g) == 0 and len(doc) == 0
    g, doc = hash_ngrams(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), 2, 10)
    assert len(g) == 0


@pytest.mark.parametrize("ngrams", [2, 3])
def test_featurizer_batched_equals_per_document(ngrams):
    f = Featurizer.fit(DOCS, ngrams=ngrams, buckets=101)
    enc = f.encode(DOCS)
    assert enc.offsets.shape == (len(DOCS) + 1,)
    assert len(enc) == len(DOCS)
    assert enc.offsets[0] == 0 and enc.offsets[-1] == len(enc.ids)
    assert (np.diff(enc.offsets) >= 0).all()
    assert enc.ids.min() >= 0 and enc.ids.max() < f.num_features
    V = len(f.vocab)
    assert f.raw_features == V + 101
    # the columns are the raw features (vocabulary ids, V + bucket) the training texts have
    assert f.num_features == len(f.columns_) == len(np.unique(f.columns_)) <= V + 101
    for d, text in enumerate(DOCS):
        feats = f.columns_[enc.ids[enc.offsets[d]:enc.offsets[d + 1]]]  # raw feature ids
        counts = enc.counts[enc.offsets[d]:enc.offsets[d + 1]]
        alone = f.encode([text])
        np.testing.assert_array_equal(feats, f.columns_[alone.ids], err_msg=f"document {d} {text!r}")
        np.testing.assert_array_equal(counts, alone.counts)
        # each distinct feature once, with its count: the document's tokens and its n-grams
        tok_ids, _ = f.vocab.encode([text])
        L = len(tok_ids)
        gram_ids, _ = hash_ngrams(tok_ids, np.array([L]), ngrams, 101)
        expected = Counter(tok_ids.tolist()) + Counter((gram_ids + V).tolist())
        assert dict(zip(feats.tolist(), counts.tolist())) == dict(expected)
        assert len(set(feats.tolist())) == len(feats)
        assert counts.sum() == L + sum(max(0, L - k + 1) for k in range(2, ngrams + 1))


def test_featurizer_batch_order_does_not_matter():
    f = Featurizer.fit(DOCS, ngrams=2, buckets=53)
    order = list(reversed(range(len(DOCS))))
    a = f.encode(DOCS)
    b = f.encode([DOCS[i] for i in order])
    for j, i in enumerate(order):
        np.testing.assert_array_equal(a.ids[a.offsets[i]:a.offsets[i + 1]], b.ids[b.offsets[j]:b.offsets[j + 1]])


def test_featurizer_unigrams_only():
    f = Featurizer.fit(DOCS, ngrams=1, buckets=1000)
    assert f.raw_features == len(f.vocab)
    assert f.columns_.tolist() == list(range(1, len(f.vocab)))  # every word but <unk> occurs in training
    enc = f.encode(DOCS)
    ids, lengths = f.vocab.encode(DOCS)
    np.testing.assert_array_equal(np.sort(f.columns_[enc.ids]), np.sort(np.unique(np.stack(
        [np.repeat(np.arange(len(lengths)), lengths), ids]), axis=1)[1]))
    np.testing.assert_array_equal(np.add.reduceat(enc.counts, enc.offsets[:-1])[lengths > 0], lengths[lengths > 0])
    assert f.columns_[enc.ids].max() < len(f.vocab)


def test_featurizer_fit_min_freq_max_vocab():
    f = Featurizer.fit(DOCS[:6], ngrams=2, buckets=10, min_freq=5, max_vocab=3)
    assert f.vocab.itos == [UNK, "the", "beer"]
    assert f.raw_features == 3 + 10
    assert 0 in f.columns_  # the words cut from the vocabulary count as <unk>, a feature like any other


def test_unseen_features_are_dropped_and_weights_renormalize():
    f = Featurizer.fit(["pizza beer", "burger coke"], ngrams=2, buckets=1000)
    enc = f.encode(["pizza sushi beer", "ramen"])
    # "sushi", its bigrams and <unk> never occurred in training: no column, so not in the bag
    assert f.columns_[enc.ids].tolist() == sorted([f.vocab.stoi["pizza"], f.vocab.stoi["beer"]])
    assert enc.offsets.tolist() == [0, 2, 2]
    assert np.sqrt((enc.weights ** 2).sum()) == pytest.approx(1.0)  # tfidf: L2-normalized per document


def test_tfidf_weights_match_scikit_learn():
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    docs = [d for d in DOCS if tokenize(d)]
    f, enc = Featurizer.fit_encode(docs, ngrams=1)
    vec = sklearn_text.TfidfVectorizer(tokenizer=tokenize, lowercase=False, token_pattern=None, sublinear_tf=True)
    X = vec.fit_transform(docs).toarray()
    for d in range(len(docs)):
        cols = enc.ids[enc.offsets[d]:enc.offsets[d + 1]]
        words = [f.vocab.itos[i] for i in f.columns_[cols]]
        expected = X[d, [vec.vocabulary_[w] for w in words]]
        np.testing.assert_allclose(enc.weights[enc.offsets[d]:enc.offsets[d + 1]], expected, rtol=1e-5)
        assert np.count_nonzero(X[d]) == len(words)


def test_mean_weights_are_shares_of_the_document():
    f, enc = Featurizer.fit_encode(["a a b", "c"], ngrams=1, weighting="mean")
    raw = f.columns_[enc.ids]
    w = dict(zip((f.vocab.itos[i] for i in raw[:2]), enc.weights[:2]))
    assert w == pytest.approx({"a": 2 / 3, "b": 1 / 3}) and enc.weights[2] == 1.0


def char_ngrams_by_hand(word: str, low: int, high: int) -> list[str]:
    """scikit-learn's char_wb n-grams of one word, by n then position; its ends marked by a character
    no word here has (so the word "<a>" is no marked "a")."""
    marked = ["\ue000", *word, "\ue000"]
    return ["".join(marked[i:i + n]) for n in range(low, high + 1) for i in range(len(marked) - n + 1)
            if n > 1 or 0 < i < len(marked) - 1]


@pytest.mark.parametrize("low, high", [(3, 5), (1, 3), (2, 2), (4, 9)])
def test_character_ngram_hashes_follow_the_ngrams_by_hand(low, high):
    words = ["a", "ab", "cat", "cats", "tac", "héllo", "hello", "日本語", "x\x00y", "aaaa", "<a>"]
    hashes, offsets = char_ngram_hashes(pa.array(words, pa.large_string()), low, high)
    expected = [char_ngrams_by_hand(w, low, high) for w in words]
    assert np.diff(offsets).tolist() == [len(e) for e in expected]  # multi-byte characters are one each
    names = [g for e in expected for g in e]
    # one hash per n-gram: equal n-grams (across words too) hash equal, different ones differ
    by_name = {}
    for name, h in zip(names, hashes.tolist()):
        assert by_name.setdefault(name, h) == h
    assert len(set(by_name.values())) == len(by_name)
    # a word's n-grams don't depend on its neighbours in the batch
    alone, _ = char_ngram_hashes(pa.array(["cats"], pa.large_string()), low, high)
    assert alone.tolist() == hashes[offsets[3]:offsets[4]].tolist()


def test_character_ngrams_reach_unknown_words_and_weigh_as_a_block():
    f, enc = Featurizer.fit_encode(["the cat sat", "a dog ran"], ngrams=1, buckets=10_000, chars=(3, 4))
    assert f.raw_features == len(f.vocab) + 10_000
    first_char = int(np.searchsorted(f.columns_, f.char_base))
    (cats,) = [f.encode(["cats"])]  # not in the vocabulary, but "<ca", "cat", "<cat" were seen
    assert cats.ids.min() >= first_char and len(cats.ids) == 3
    doc = f.encode(["cat dog"])
    chars = doc.ids >= first_char
    words, grams = doc.weights[~chars], doc.weights[chars]
    assert len(words) == 2 and len(grams) == 2 * 5  # "<ca" "cat" "at>" "<cat" "cat>", likewise for dog
    # each block L2-normalized, then both weigh the same: the ~10 n-grams of a word don't drown it
    assert (words ** 2).sum() == pytest.approx(0.5) and (grams ** 2).sum() == pytest.approx(0.5)
    assert (cats.weights ** 2).sum() == pytest.approx(1.0)  # one block only: the whole norm


def test_character_ngrams_respect_max_tokens_and_documents():
    f = Featurizer.fit(["ab cd", "ef"], ngrams=1, buckets=1000, chars=(2, 2), max_tokens=1)
    ab, abcd = f.encode(["ab"]), f.encode(["ab cd"])  # "cd" is past max_tokens: none of its n-grams count
    assert ab.ids.tolist() == abcd.ids.tolist() and ab.counts.tolist() == abcd.counts.tolist()
    both = f.encode(["ab", "ef"])  # a document's n-grams stay its own
    assert both.ids[: both.offsets[1]].tolist() == ab.ids.tolist()
    assert both.ids[both.offsets[1]:].tolist() == f.encode(["ef"]).ids.tolist()


def test_character_ngram_counts_add_up_over_the_words():
    f, enc = Featurizer.fit_encode(["aa aa aab"], ngrams=1, buckets=1000, chars=(2, 2), weighting="mean")
    chars = f.columns_[enc.ids] >= f.char_base
    assert sorted(enc.counts[~chars].tolist()) == [1, 2]  # aab, aa
    # "<aa>" twice and "<aab>" once: "<a" 3, "aa" 3, "a>" 2, "ab" 1, "b>" 1
    assert sorted(enc.counts[chars].tolist()) == [1, 1, 2, 3, 3]


def test_the_character_block_is_scikit_learns_char_wb_tfidf():
    sklearn_text = pytest.importorskip("sklearn.feature_extraction.text")
    docs = ["the pizza pizza beer", "the burger beer", "pizza and a coke", "coke coke burger beer", "x"]
    f, enc = Featurizer.fit_encode(docs, ngrams=1, buckets=1 << 24, chars=(3, 5))  # buckets: no collisions
    X = sklearn_text.TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True).fit_transform(docs)
    assert len(f.columns_) - len(f.vocab) + 1 == X.shape[1]  # every char_wb n-gram is a column (<unk> is none)
    for d in range(len(docs)):
        ids, w = enc.ids[enc.offsets[d]:enc.offsets[d + 1]], enc.weights[enc.offsets[d]:enc.offsets[d + 1]]
        chars = f.columns_[ids] >= f.char_base
        # both blocks normalized, then each weighs 1/sqrt(2) of the document's norm
        np.testing.assert_allclose(np.sort(w[chars] * np.sqrt(2)), np.sort(X[d].data), rtol=1e-5)


def test_fitting_and_encoding_the_same_texts_agree_with_character_ngrams():
    texts = [d for d in DOCS if tokenize(d)] * 2
    f, enc = Featurizer.fit_encode(texts, ngrams=2, buckets=5000, chars=(2, 4), max_tokens=4, min_df=2)
    again = f.encode(texts)  # fitted: unseen n-grams are dropped per distinct word, before counting
    for a, b in zip(enc.parts() + [enc.weights], again.parts() + [again.weights]):
        np.testing.assert_array_equal(a, b)


# DOCS and what else a prediction may be given: emoji (with modifiers and joiners), scripts without spaces, marks,
# a lone surrogate, right-to-left scripts, one long text
VARIED = DOCS + ["😀😀 emoji 🎉 👍🏽 family 👨\u200d👩\u200d👧 😀", "서울은 한국의 수도입니다 서울", "ภาษาไทยง่าย ไทย",
                 "caf\u00e9 cafe\u0301 café", "a lone \ud800 surrogate", "ﾊﾝｶｸ ｶﾀｶﾅ", "Ωmega ㎏ ①②③", "\u0301 a mark first",
                 "कि हिन्दी हिन्दी", "مرحبا بالعالم", "\n\t ", " ".join(["long"] * 3000) + " 长文本" * 2000 + " the pizza",
                 "the pizza", "今天天气很好"]


def test_arrow_arrays_are_pyarrows_and_numpys_both_ways():
    texts = [t for t in VARIED if "\ud800" not in t]
    assert text_module.arrow(texts).equals(pa.array(texts, pa.large_string()))
    assert text_module.arrow([]).equals(pa.array([], pa.large_string()))
    assert text_module.arrow(["a", None]).equals(pa.array(["a", None], pa.large_string()))  # a null goes through pa.array
    assert text_module.arrow(np.array(["a", "bé 漢"])).equals(pa.array(["a", "bé 漢"], pa.large_string()))
    with pytest.raises(UnicodeEncodeError):
        text_module.arrow(["a lone \ud800"])
    for a in (np.array([True, False, False] * 5), np.arange(9, dtype=np.int32), np.arange(5) << 40, np.zeros(0, bool)):
        assert text_module.arrow(a).equals(pa.array(a))
        for part in (pa.array(a), pa.array(a)[3:], pa.array(a)[1:4]):  # a slice starts within a byte of bits
            np.testing.assert_array_equal(as_numpy(part), part.to_numpy(zero_copy_only=False), strict=True)
    assert text_module.scalar(0, np.int32).equals(pa.scalar(0, pa.int32()))
    assert text_module.scalar(True).equals(pa.scalar(True))
    with pytest.raises(ValueError, match="nulls"):
        as_numpy(pa.array([1, None]))


def sparse_char_block(f: Featurizer, texts: list[str]) -> Encoded:
    """The character n-gram columns and counts as the product (documents x words) @ (words x n-grams) of scipy
    sparse matrices, as text.py counted them before it counted with numpy alone: an independent reckoning."""
    sparse = pytest.importorskip("scipy.sparse")
    tokens, lengths = split_tokens(texts)
    words = pc.dictionary_encode(tokens)
    which, kept = truncate(words.indices.to_numpy().astype(np.int64), lengths, f.max_tokens)
    raw, offsets = f.char_ids(words.dictionary)
    cols = f.column(raw)
    of_word = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    docs = sparse.coo_matrix((np.ones(len(which), np.float32), (np.repeat(np.arange(len(kept)), kept), which)),
                             shape=(len(kept), len(offsets) - 1)).tocsr()
    grams = sparse.coo_matrix((np.ones(int((cols >= 0).sum()), np.float32), (of_word[cols >= 0], cols[cols >= 0])),
                              shape=(len(offsets) - 1, len(f.columns_))).tocsr()
    product = docs @ grams
    product.sort_indices()
    return Encoded(product.indices.astype(np.int64), product.indptr.astype(np.int64), product.data)


@pytest.mark.parametrize("kw", [dict(ngrams=2, chars=(3, 5), min_df=2), dict(ngrams=3, chars=(2, 4), max_tokens=50),
                                dict(ngrams=1, chars=(1, 3), weighting="mean")])
def test_features_are_those_of_the_sparse_product_to_the_bit(kw):
    texts = VARIED * 2
    f = Featurizer.fit(texts[::3] + DOCS, buckets=1 << 16, **kw)
    enc = f.encode(texts)
    first_char = int(np.searchsorted(f.columns_, f.char_base))
    doc = np.repeat(np.arange(len(enc)), np.diff(enc.offsets))
    is_word = enc.ids < first_char
    words = Encoded(enc.ids[is_word], np.concatenate([[0], np.cumsum(np.bincount(doc[is_word], minlength=len(enc)))]),
                    enc.counts[is_word])
    expected = Encoded.beside(words, sparse_char_block(f, texts))
    expected.weights = f.weigh(expected)
    for mine, theirs in zip(enc.parts() + [enc.weights], expected.parts() + [expected.weights]):
        assert mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes()
    assert (enc.ids >= first_char).sum() > 1000 and len(enc.ids) > 0  # the character block is there to compare
