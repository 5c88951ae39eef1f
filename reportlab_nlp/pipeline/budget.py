"""A time budget for labeling one report, so that no text can hold a process for long.

The rules' patterns are checked on load (:mod:`reportlab_nlp.rules.safety`) and the
built-in ones match in linear time; this stops what a check cannot see. The first
stage of the pipeline starts the report's clock and every stage checks it. In the
main thread (the command line, batch workers) a watchdog timer (``SIGALRM``, every
0.25 s, started once per process) interrupts a stage that runs over, even inside one
regular expression match (``re`` polls for signals); in other threads the check comes
between stages.
Over budget, a stage raises :class:`~reportlab_nlp.errors.MatchBudgetError`.
"""

from __future__ import annotations

import atexit
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from spacy.tokens import Doc

from ..errors import MatchBudgetError

DEFAULT_BUDGET_S = 10.0
"""Seconds one report may take (``REPORTLAB_MATCH_BUDGET_S`` overrides; 0 turns it off)."""

_local = threading.local()
_NONE = float("inf")  # no report being labeled


def budget_seconds() -> float:
    """The budget in force: ``REPORTLAB_MATCH_BUDGET_S`` or :data:`DEFAULT_BUDGET_S`."""
    value = os.environ.get("REPORTLAB_MATCH_BUDGET_S", "")
    try:
        return float(value) if value else DEFAULT_BUDGET_S
    except ValueError:
        return DEFAULT_BUDGET_S


_TICK_S = 0.25
_watchdog_pid = 0


def _expired(signum: int, frame: Any) -> None:
    """The watchdog's tick: interrupt the report being labeled if it is over its deadline."""
    if time.perf_counter() > getattr(_local, "deadline", _NONE):
        _local.deadline = _NONE
        raise MatchBudgetError(getattr(_local, "seconds", DEFAULT_BUDGET_S))


def _start_watchdog() -> None:
    """In the main thread, once per process: a timer that ticks every :data:`_TICK_S` (no
    system call per report). Not where someone else's ``SIGALRM`` handler is in place."""
    global _watchdog_pid
    if _watchdog_pid == os.getpid() or threading.get_ident() != threading.main_thread().ident:
        return
    _watchdog_pid = os.getpid()  # tried once per process, armed or not
    if not hasattr(signal, "setitimer") or signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None):
        return
    signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, _TICK_S, _TICK_S)
    atexit.register(_stop_watchdog)  # a tick during interpreter shutdown would kill the process


def _stop_watchdog() -> None:
    if _watchdog_pid == os.getpid() and signal.getsignal(signal.SIGALRM) is _expired:
        signal.setitimer(signal.ITIMER_REAL, 0)


class _Stage:
    """One pipeline stage under the budget; ``first`` starts a report's clock, ``last`` stops it."""

    def __init__(self, stage: Callable[[Doc], Doc], seconds: float, *, first: bool, last: bool) -> None:
        self.stage, self.seconds, self.first, self.last = stage, seconds, first, last

    def __call__(self, doc: Doc) -> Doc:
        if self.first:
            _start_watchdog()
            _local.seconds = self.seconds
            _local.deadline = time.perf_counter() + self.seconds
        try:
            doc = self.stage(doc)
            if time.perf_counter() > getattr(_local, "deadline", _NONE):
                raise MatchBudgetError(self.seconds)
        except BaseException:
            _local.deadline = _NONE
            raise
        if self.last:
            _local.deadline = _NONE
        return doc


def with_budget(
    stages: Sequence[Callable[[Doc], Doc]], seconds: float | None = None
) -> list[Callable[[Doc], Doc]]:
    """``stages`` (in pipeline order) under a budget of ``seconds`` per report (default
    :func:`budget_seconds`); a budget of 0 leaves them as they are."""
    seconds = budget_seconds() if seconds is None else seconds
    if seconds <= 0:
        return list(stages)
    n = len(stages)
    return [_Stage(s, seconds, first=i == 0, last=i == n - 1) for i, s in enumerate(stages)]
