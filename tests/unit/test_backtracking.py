"""Hostile reports: patterns that backtrack, the matching budget, YAML alias bombs (issue 19)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from reportlab_nlp import Labeler

# (what it is, the text): each took seconds to minutes with the patterns before the fix
HOSTILE = [
    ("the issue's repro: 'heart size' read as one list item or two", "Heart" + " heart size" * 20 + " zzz."),
    ("a long list of words that both {LIST} and {VGAP} read", "Heart" + " size" * 4000 + " zzz."),
    ("redactions: XXXX in both {LIST} and {VGAP}", "Heart" + " xxxx" * 4000 + " zzz."),
    ("words that {VGAP} and the lungs' words before 'clear' share", "Lungs are" + " again" * 4000 + " zzz."),
]


@contextmanager
def _at_most(seconds: int) -> Iterator[None]:
    """Fail (rather than hang) when the body runs longer than ``seconds``."""

    def expired(signum: int, frame: object) -> None:
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize(("what", "text"), HOSTILE, ids=[h[0][:40] for h in HOSTILE])
def test_builtin_patterns_do_not_backtrack_on_hostile_reports(labeler: Labeler, what: str, text: str) -> None:
    with _at_most(5):  # each takes milliseconds now
        result = labeler.label(text)
    assert result.labels  # labeled, not skipped
