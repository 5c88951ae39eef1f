"""Labeling time grows linearly with report length, even on repetitive texts of the lexicon's
own words (issue 19: one pattern took 2**n steps on 'Heart' + ' heart size' * n)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import AbstractContextManager

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from reportlab_nlp import Labeler
from reportlab_nlp.rules import load_rules

_RULES = load_rules()
# the lexicon's own words: every word of the macros (where the lists and link words are)
# and of the findings' phrases
VOCAB = sorted(
    {w for m in _RULES.macros.values() for w in re.findall(r"(?<![\\a-z])[a-z]{2,}", m)}
    | {w for f in _RULES.findings for p in f.phrases for w in p.lower().split() if w.isalpha()}
)
SHORT = 500  # characters; the long text is four times as long
RATIO = 2.5  # time per character may grow this much from SHORT to 4 * SHORT (linear: about 1)


def _per_char(labeler: Labeler, text: str) -> float:
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        labeler.label(text)
        best = min(best, time.perf_counter() - start)
    return best / len(text)


def _repeat(head: str, unit: str, length: int) -> str:
    return (head + (" " + unit) * (length // (len(unit) + 1) + 1))[:length].rsplit(" ", 1)[0] + " zzz."


@pytest.fixture(scope="module")
def plain_labeler() -> Labeler:
    return Labeler(_RULES)


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    head=st.sampled_from(VOCAB),
    unit=st.lists(st.sampled_from(VOCAB), min_size=1, max_size=3).map(" ".join),
)
@example(head="Heart", unit="heart size")  # the repro
@example(head="Heart", unit="size")
@example(head="Heart", unit="xxxx")
@example(head="Lungs are", unit="again")
def test_labeling_time_is_linear_in_report_length(
    plain_labeler: Labeler, at_most: Callable[[int], AbstractContextManager[None]], head: str, unit: str
) -> None:
    short, long = _repeat(head, unit, SHORT), _repeat(head, unit, 4 * SHORT)
    with at_most(10):
        _per_char(plain_labeler, short[:100])  # warm the labeler's caches
        t_short = _per_char(plain_labeler, short)
        t_long = _per_char(plain_labeler, long)
    assert t_long <= RATIO * t_short + 2e-6, (head, unit, t_short, t_long)
