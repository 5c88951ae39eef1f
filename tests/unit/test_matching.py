"""The trigger index: literal prefixes of regexes, and equivalence with a brute-force scan."""

from __future__ import annotations

import itertools
import random
import re
import string
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportlab_nlp.pipeline.matching import (
    KEY_LEN,
    Hit,
    TriggerIndex,
    leftmost_longest,
    literal_prefixes,
    lower_same_length,
)
from reportlab_nlp.rules import RuleSet, expand_macros, load_rules, phrase_regex

# ------------------------------------------------------------------ literal_prefixes


@pytest.mark.parametrize(
    ("regex", "expected"),
    [
        (phrase_regex("pleural effusion"), {"ple"}),
        (phrase_regex("air space disease"), {"air"}),
        (phrase_regex("no", plural=False), {"no"}),  # shorter than KEY_LEN
        ("a", {"a"}),
        ("Nodule", {"nod"}),  # lower case
        ("[Nn]odule", {"nod"}),
        (r"(?:small\s+)?effusion", {"sma", "eff"}),  # an optional word
        (r"(?:small|large)\s+effusion", {"sma", "lar"}),  # a branch
        (r"pneumo(?:thorax|nia)", {"pne"}),  # a branch after the key
        (r"(?:no|without)\s+effusion", {"no", "wit"}),  # white space ends the key
        (r"(?:a|b)?c", {"ac", "bc", "c"}),
        (r"\s*(?:resolved|gone)", {"res", "gon"}),  # leading white space cannot start a word
        (r"(?<![A-Za-z0-9])heart(?![A-Za-z0-9])", {"hea"}),  # look-arounds are skipped
        (r"\bheart\b", {"hea"}),
        (phrase_regex("w/o"), {"w/o"}),
        (phrase_regex("c/w"), {"c/w"}),
    ],
)
def test_literal_prefixes(regex: str, expected: set[str]) -> None:
    found = literal_prefixes(regex)
    assert found == expected
    assert all(1 <= len(p) <= KEY_LEN for p in found)


@pytest.mark.parametrize(
    "regex",
    [
        r"(?<=[A-Za-z])/(?=[A-Za-z])",  # a slash inside a word: no word-start prefix
        r"x*",  # can match the empty string
        r".foo",  # any character first
        r"\w+ing",  # a wide class first
        r"[^a]bc",
        "[\u00c0-\u024f]x",  # a wide range first
    ],
)
def test_literal_prefixes_unknown(regex: str) -> None:
    assert literal_prefixes(regex) is None


def test_literal_prefixes_of_digits() -> None:
    found = literal_prefixes(r"\d+\s*cm")
    assert found is not None
    assert {p[0] for p in found} == set(string.digits)


def test_literal_prefixes_of_a_macro_pattern(rules: RuleSet) -> None:
    rx = expand_macros(r"{B}(?:{HEART}){LIST}{VGAP}(?:{ENLARGED}){E}", rules.macros, where=("test", "test"))
    found = literal_prefixes(rx)
    assert found is not None
    assert {"hea", "car"} <= found


# ------------------------------------------------------------------ TriggerIndex vs brute force


def _builtin_regexes(rules: RuleSet) -> list[str]:
    out: list[str] = []
    for f in rules.findings:
        where = (f.source, f.label)
        out += [phrase_regex(p) for p in (*f.phrases, *f.exclusions)]
        out += [expand_macros(p, rules.macros, where=where) for p in f.patterns]
        out += [expand_macros(p, rules.macros, where=where) for ps in f.states.values() for p in ps]
    out += [c.regex for c in rules.cues]
    out += [phrase_regex(h, plural=False) for s in rules.sections for h in s.headers]
    return out


HAND_MADE = [
    phrase_regex("pleural effusion"),
    r"(?:small\s+)?effusion",
    r"pneumo(?:thorax|nia)",
    r"(?:no|without)\s+effusion",
    r"(?<=[A-Za-z])/(?=[A-Za-z])",
    r"\d+(?:\.\d+)?\s*(?:cm|mm)",
    r"no",
    r"non",
    r"(?:a|b)?c",
    r"xxxx",
]

RULES = load_rules()
REGEXES = HAND_MADE + _builtin_regexes(RULES)
COMPILED = [re.compile(r, re.IGNORECASE) for r in REGEXES]
INDEX = TriggerIndex([(r, i) for i, r in enumerate(REGEXES)])
SCANNED = {i for i, r in enumerate(REGEXES) if literal_prefixes(r) is None}

_ASCII_WORD = re.compile(r"[A-Za-z0-9]")


def _is_word_start(text: str, pos: int, start: int) -> bool:
    return bool(_ASCII_WORD.match(text, pos)) and (pos == start or not _ASCII_WORD.match(text, pos - 1))


def brute_force(text: str, start: int = 0, end: int | None = None) -> Counter[tuple[int, int, int]]:
    """Every rule tried at every word start of text[start:end] (rules without a prefix: everywhere)."""
    end = len(text) if end is None else end
    hits: Counter[tuple[int, int, int]] = Counter()
    starts = [p for p in range(start, end) if _is_word_start(text, p, start)]
    for i, rx in enumerate(COMPILED):
        if i in SCANNED:
            for found in rx.finditer(text, start, end):
                if found.end() > found.start():
                    hits[(found.start(), found.end(), i)] += 1
            continue
        for p in starts:
            m = rx.match(text, p, end)
            if m is not None and m.end() > p:
                hits[(p, m.end(), i)] += 1
    return hits


def indexed(text: str, start: int = 0, end: int | None = None) -> Counter[tuple[int, int, int]]:
    return Counter((h.start, h.end, h.payload) for h in INDEX.find(text, lower_same_length(text), start, end))


def _case_folds_to_ascii(ch: str) -> bool:
    # characters that re.IGNORECASE equates with an ASCII letter although str.lower() does not
    # map them to it (long s, dotless i, dotted capital I, Kelvin sign): see test_case_folding_oddities
    return not ch.isascii() and any(
        re.fullmatch(re.escape(ch), a, re.IGNORECASE) for a in string.ascii_letters
    )


_PHRASES = sorted(
    {p for f in RULES.findings for p in f.phrases} | {c.text for c in RULES.cues if c.regex != c.text}
)
_VOCAB = sorted(
    {w for p in _PHRASES for w in re.findall(r"[a-z]+", p.lower())}
    | {
        "no",
        "not",
        "xxxx",
        "XXXX",
        "2.5",
        "cm",
        "effusion",
        "atelectasis/pneumonia",
        "w/o",
        "heart",
        "size",
        "normal",
    }
)
_SEPARATORS = [" ", "  ", "\n", ", ", ". ", "-", "/", "; ", ": ", "\t", "(", ")", "", "\u00a0"]
_RANDOM = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "M", "N", "P", "S", "Z", "Cc", "Cf", "Co")).filter(
        lambda c: not _case_folds_to_ascii(c)
    ),
    max_size=6,
)
_WORDS = st.one_of(
    st.sampled_from(_PHRASES),
    st.sampled_from(_VOCAB),
    st.sampled_from(_VOCAB).map(str.upper),
    st.sampled_from(_VOCAB).map(str.title),
    _RANDOM,
)
texts = st.lists(st.tuples(_WORDS, st.sampled_from(_SEPARATORS)), max_size=40).map(
    lambda parts: "".join(w + s for w, s in parts)
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts)
def test_index_finds_what_brute_force_finds(text: str) -> None:
    assert indexed(text) == brute_force(text)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(texts, st.data())
def test_index_finds_what_brute_force_finds_in_a_slice(text: str, data: st.DataObject) -> None:
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, len(text)))
    assert indexed(text, start, end) == brute_force(text, start, end)


@pytest.mark.parametrize(
    "text",
    [
        "Small left PLEURAL EFFUSION. No pneumothorax.",
        "Heart size is normal. The cardiomediastinal silhouette is within normal limits.",
        "Atelectasis/pneumonia; no effusion w/o change, c/w edema. 2.5 cm nodule.",
        "non-specific opacity, no-effusion",
    ],
)
def test_index_on_report_sentences(text: str) -> None:
    found = indexed(text)
    assert found == brute_force(text)
    assert found, "the sentence mentions something"


def test_index_hits_carry_their_payload() -> None:
    index = TriggerIndex([(phrase_regex("pleural effusion"), "PE"), (r"(?<=[A-Za-z])/(?=[A-Za-z])", "slash")])
    text = "Pleural effusions; atelectasis/pneumonia."
    hits = sorted((h.start, h.end, h.payload) for h in index.find(text, text.lower()))
    assert hits == [(0, 17, "PE"), (30, 31, "slash")]
    assert text[0:17] == "Pleural effusions"


@pytest.mark.parametrize("text", ["a maſs", "a MAſS", "lIver", "lİver here", "lıver", "Kelvin \u212aelvin"])
def test_case_folding_oddities(text: str) -> None:
    """re.IGNORECASE equates 'ſ' with 's' and 'ı'/'İ' with 'i'; the index key must find what a scan finds."""
    for word in ("mass", "liver", "kelvin"):
        index = TriggerIndex([(word, 1)])
        low = lower_same_length(text)
        assert len(low) == len(text)
        assert [h.start for h in index.find(text, low)] == [
            m.start() for m in re.finditer(word, text, re.IGNORECASE)
        ]


# ------------------------------------------------------------------ leftmost_longest


def _h(start: int, end: int, payload: str = "") -> Hit[str]:
    return Hit(start, end, payload)


def test_leftmost_longest_prefers_the_longest_at_a_start() -> None:
    hits = [_h(0, 7, "pleural"), _h(0, 16, "pleural effusion"), _h(8, 16, "effusion")]
    assert leftmost_longest(hits) == [_h(0, 16, "pleural effusion")]


def test_leftmost_longest_prefers_the_leftmost() -> None:
    hits = [_h(3, 20, "late long"), _h(0, 5, "early short")]
    assert leftmost_longest(hits) == [_h(0, 5, "early short")]


def test_leftmost_longest_keeps_adjacent_and_separate_hits() -> None:
    hits = [_h(10, 12), _h(0, 5), _h(5, 8), _h(6, 9)]
    assert leftmost_longest(hits) == [_h(0, 5), _h(5, 8), _h(10, 12)]


def test_leftmost_longest_of_nothing() -> None:
    assert leftmost_longest([]) == []


spans = st.lists(
    st.tuples(st.integers(0, 30), st.integers(1, 10)).map(lambda t: _h(t[0], t[0] + t[1])), max_size=25
)


@settings(max_examples=100, deadline=None)
@given(spans, st.randoms())
def test_leftmost_longest_properties(hits: list[Hit[str]], rnd: random.Random) -> None:
    out = leftmost_longest(hits)
    shuffled = list(hits)
    rnd.shuffle(shuffled)
    assert leftmost_longest(shuffled) == out, "independent of the input order"
    assert all(a.end <= b.start for a, b in itertools.pairwise(out)), "sorted and non-overlapping"
    for kept in out:
        assert kept in hits
        assert kept.end == max(h.end for h in hits if h.start == kept.start), "the longest at its start"
    for h in hits:
        if h not in out:
            assert any(k.start <= h.start < k.end for k in out), "a dropped hit starts inside a kept one"


# ------------------------------------------------------------------ lower_same_length


@settings(max_examples=100, deadline=None)
@given(st.text())
def test_lower_same_length(text: str) -> None:
    low = lower_same_length(text)
    assert len(low) == len(text)
    for a, b in zip(text, low, strict=True):
        assert b == a.lower() or (len(a.lower()) != 1 and b == a)


def test_lower_same_length_keeps_offsets_with_dotted_capital_i() -> None:
    text = "İ Pleural Effusion"
    low = lower_same_length(text)
    assert len(text.lower()) != len(text)
    assert low[2:] == "pleural effusion"
