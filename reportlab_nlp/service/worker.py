"""Labeling in a child process, so that a slow report can be stopped and never stalls the server.

A thread cannot be stopped, and a long regular-expression match holds the
interpreter lock for long stretches: with labeling in a thread, a report that
took 4.5 s to label made ``/healthz`` wait up to 0.8 s, and a request that
ran over its time budget kept the labeling thread (and every request queued
behind it) busy until it ended. :class:`LabelingProcess` runs the engine
calls in a child forked from the server once the engine is loaded (so it
starts in milliseconds, with the engine in place): the server's thread sends
the jobs, waits for the answer, and kills the child when every job of the
call has been given up (its time budget spent, or its client gone); the next
call forks a new one.

Jobs are ``(reports, render)`` pairs; the child labels and renders (the
response bytes come back, not the predictions). Engines with their own
thread pools (ONNX Runtime) cannot be forked safely: model engines label in a
thread (see :mod:`.batching`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from ..engines import Engine, Prediction
from ..types import Report

log = logging.getLogger("reportlab_nlp.service")

POLL_S = 0.02
"""How often the waiting thread looks at the jobs' cancellation flags."""


class RemoteError(Exception):
    """An exception raised in the child: its type's name and the code's lines (never its message)."""

    def __init__(self, kind: str, where: str) -> None:
        super().__init__(kind)
        self.kind = kind
        self.where = where


class Abandoned(Exception):
    """Every job of a call was given up; the child that ran it was killed."""


@dataclass
class Outcome:
    """The rendered answer of a job, or its error."""

    value: Any = None
    error: BaseException | None = None


@dataclass
class Job:
    """Reports, how to render their predictions, and whether its request gave up on it."""

    reports: Sequence[Report]
    render: Callable[[Engine, list[Prediction]], Any]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def __getstate__(self) -> dict[str, Any]:  # the flag stays in the server
        return {"reports": self.reports, "render": self.render}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.reports = state["reports"]
        self.render = state["render"]
        self.cancelled = threading.Event()


Timing = tuple[int, float]
"""Reports of one engine call and its seconds."""


def call_jobs(engine: Engine, jobs: Sequence[Job], timings: list[Timing]) -> list[Outcome]:
    """One engine call for all jobs, then each job's render; a failing call is retried job by job."""
    reports = [r for job in jobs for r in job.reports]
    started = time.perf_counter()
    try:
        predictions = engine.predict_many(reports)
    except Exception as e:
        if len(jobs) == 1:
            return [Outcome(error=e)]
        return [call_jobs(engine, [job], timings)[0] for job in jobs]  # find the request that fails, alone
    timings.append((len(reports), time.perf_counter() - started))
    outcomes = []
    start = 0
    for job in jobs:
        part = predictions[start : start + len(job.reports)]
        start += len(job.reports)
        try:
            outcomes.append(Outcome(value=job.render(engine, part)))
        except Exception as e:
            outcomes.append(Outcome(error=e))
    return outcomes


def _portable(outcome: Outcome) -> Outcome:
    if outcome.error is None:
        return outcome
    e = outcome.error
    return Outcome(
        error=RemoteError(type(e).__name__, "".join(traceback.format_tb(e.__traceback__)).rstrip())
    )


def _child(engine: Engine, conn: Connection) -> None:
    """The child's loop: jobs in, outcomes and timings out, until the pipe closes."""
    signal.set_wakeup_fd(-1)  # the server's event loop and signal handlers are not the child's
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which stops the child
    keep = conn.fileno()
    os.closerange(3, keep)  # the server's sockets: a client's connection must close when the server closes it
    os.closerange(keep + 1, _max_fd())
    while True:
        try:
            jobs = conn.recv()
        except (EOFError, OSError):
            return
        timings: list[Timing] = []
        outcomes = [_portable(o) for o in call_jobs(engine, jobs, timings)]
        conn.send((outcomes, timings))


def _max_fd() -> int:
    import resource

    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY and soft < 1_048_576 else 65_536


class LabelingProcess:
    """A forked child that runs :func:`call_jobs` with ``engine``; killed when its jobs are given up."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        self.restarts = 0
        self._lock = threading.Lock()  # one call at a time: the pipe carries one job list, and an
        # abandoned call must finish killing its child before the next call forks a new one

    def start(self) -> None:
        """Fork the child (the engine is loaded: it starts with it)."""
        context = multiprocessing.get_context("fork")
        mine, theirs = context.Pipe()
        process = context.Process(
            target=_child, args=(self.engine, theirs), daemon=True, name="reportlab-labeler"
        )
        process.start()
        theirs.close()
        self._process, self._conn = process, mine

    def call(self, jobs: Sequence[Job]) -> tuple[list[Outcome], list[Timing]]:
        """Run ``jobs`` in the child, from a worker thread: blocks until the answer, or :class:`Abandoned`."""
        with self._lock:
            return self._call(jobs)

    def _call(self, jobs: Sequence[Job]) -> tuple[list[Outcome], list[Timing]]:
        if self._process is None or not self._process.is_alive():
            self.stop()
            self.start()
        assert self._conn is not None and self._process is not None
        self._conn.send(list(jobs))
        while not self._conn.poll(POLL_S):
            if all(job.cancelled.is_set() for job in jobs):
                self.kill("given up")
                raise Abandoned
            if not self._process.is_alive():
                self.kill("died")
                raise RuntimeError("the labeling process died")
        try:
            outcomes, timings = self._conn.recv()
        except EOFError:
            self.kill("died")
            raise RuntimeError("the labeling process died") from None
        return outcomes, timings

    def kill(self, why: str) -> None:
        """Kill the child now (a new one is forked by the next call)."""
        if self._process is not None and self._process.is_alive():
            self._process.kill()
            self.restarts += 1
            log.warning("labeling process killed (%s); the next request starts a new one", why)
        self.stop()

    def stop(self) -> None:
        """Close the pipe and reap the child."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._process is not None:
            self._process.join(timeout=5)
            if self._process.is_alive():
                self._process.kill()
                self._process.join(timeout=5)
            self._process = None


__all__ = ["Abandoned", "Job", "LabelingProcess", "Outcome", "RemoteError", "call_jobs"]
