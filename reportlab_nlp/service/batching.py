"""Inference off the event loop, one engine call at a time, with optional micro-batching.

The :class:`Dispatcher` is the only place the service calls an engine. Each
request hands it its reports and a ``render`` function (predictions -> the
response body); the engine call and the rendering run in a worker thread, so
the event loop only moves bytes.

Without micro-batching, requests take turns (a capacity limiter of one: on a
small machine two labeling threads only fight over the interpreter lock).
With it, a single consumer task takes the first waiting request and every
request queued behind it (up to ``max_reports`` reports; optionally waiting
``wait_s`` for more) and labels them in one :meth:`Engine.predict_many` call:
at low load a request waits for nobody; under load, requests share calls. If a
combined call raises, each request is retried alone, so one bad request fails
only itself.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import anyio
import anyio.to_thread

from ..engines import Engine, Prediction
from ..types import Report
from .metrics import Metrics

T = TypeVar("T")


@dataclass
class _Job(Generic[T]):
    reports: Sequence[Report]
    render: Callable[[list[Prediction]], T]
    future: asyncio.Future[T] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass
class _Outcome:
    value: Any = None
    error: BaseException | None = None


class Dispatcher:
    """Runs an engine's inference in a worker thread, one call at a time.

    Parameters
    ----------
    engine
        The loaded engine.
    metrics
        Where engine calls are counted.
    batching
        Combine concurrent requests into one engine call.
    max_reports
        Most reports in one combined call (a single request larger than this runs alone).
    wait_s
        With batching: how long to wait for more requests after the first (0: none).
    """

    def __init__(
        self, engine: Engine, metrics: Metrics, *, batching: bool, max_reports: int = 64, wait_s: float = 0.0
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.batching = batching
        self.max_reports = max_reports
        self.wait_s = wait_s
        self._limiter = anyio.CapacityLimiter(1)
        self._queue: collections.deque[_Job[Any]] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the consumer task (with batching); call from the event loop that serves requests."""
        if self.batching and self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._consume(), name="reportlab-micro-batcher")

    async def stop(self) -> None:
        """Stop the consumer task; requests still queued fail (the server has drained them by then)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_exception(RuntimeError("the service is shutting down"))

    async def run(self, reports: Sequence[Report], render: Callable[[list[Prediction]], T]) -> T:
        """Label ``reports`` and return ``render(predictions)``, both computed in a worker thread."""
        if not self.batching or self._task is None:
            outcome = await anyio.to_thread.run_sync(
                self._call, [_Plain(reports, render)], limiter=self._limiter
            )
            result = outcome[0]
            if result.error is not None:
                raise result.error
            return result.value  # type: ignore[no-any-return]
        job: _Job[T] = _Job(reports, render)
        self._queue.append(job)
        assert self._wakeup is not None
        self._wakeup.set()
        return await job.future

    # -- internals ---------------------------------------------------------

    async def _consume(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            jobs = [self._queue.popleft()]
            count = len(jobs[0].reports)
            if self.wait_s > 0 and count < self.max_reports:
                await asyncio.sleep(self.wait_s)
            while self._queue and count + len(self._queue[0].reports) <= self.max_reports:
                job = self._queue.popleft()
                jobs.append(job)
                count += len(job.reports)
            live = [j for j in jobs if not j.future.done()]
            if not live:
                continue
            outcomes = await anyio.to_thread.run_sync(self._call, live, limiter=self._limiter)
            for job, outcome in zip(live, outcomes, strict=True):
                if job.future.done():
                    continue
                if outcome.error is not None:
                    job.future.set_exception(outcome.error)
                else:
                    job.future.set_result(outcome.value)

    def _call(self, jobs: Sequence[_Plain | _Job[Any]]) -> list[_Outcome]:
        """In the worker thread: one engine call for all jobs, then each job's render."""
        reports = [r for job in jobs for r in job.reports]
        try:
            predictions = self._predict(reports)
        except Exception as e:
            if len(jobs) == 1:
                return [_Outcome(error=e)]
            return [self._call([job])[0] for job in jobs]  # find the request that fails, alone
        outcomes = []
        start = 0
        for job in jobs:
            part = predictions[start : start + len(job.reports)]
            start += len(job.reports)
            try:
                outcomes.append(_Outcome(value=job.render(part)))
            except Exception as e:
                outcomes.append(_Outcome(error=e))
        return outcomes

    def _predict(self, reports: Sequence[Report]) -> list[Prediction]:
        started = time.perf_counter()
        predictions = self.engine.predict_many(reports)
        self.metrics.observe_inference(self.engine.name, len(reports), time.perf_counter() - started)
        return predictions


@dataclass
class _Plain:
    """A job that needs no future (the caller awaits the thread itself)."""

    reports: Sequence[Report]
    render: Callable[[list[Prediction]], Any]


__all__ = ["Dispatcher"]
