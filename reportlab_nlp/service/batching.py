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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.to_thread

from ..engines import Engine, Prediction
from ..types import Report
from .metrics import Metrics
from .worker import Abandoned, Job, LabelingProcess, Outcome, Timing, call_jobs

T = TypeVar("T")


@dataclass
class _Queued:
    job: Job
    future: asyncio.Future[Any] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(frozen=True)
class Batching:
    """How a :class:`Dispatcher` combines concurrent requests.

    Attributes
    ----------
    enabled
        Combine concurrent requests into one engine call.
    max_reports
        Most reports in one combined call (a single request larger than this runs alone).
    wait_s
        How long to wait for more requests after the first (0: none).
    """

    enabled: bool
    max_reports: int = 64
    wait_s: float = 0.0


class Dispatcher:
    """Runs an engine's inference in a worker thread (or a child process), one call at a time.

    Parameters
    ----------
    engine
        The loaded engine.
    metrics
        Where engine calls are counted.
    batching
        Whether and how concurrent requests share one engine call (:class:`Batching`).
    isolate
        Run the engine calls in a forked child process (:mod:`.worker`), which
        is killed when its requests give up (time budget, client gone).
    """

    def __init__(
        self,
        engine: Engine,
        metrics: Metrics,
        batching: Batching,
        *,
        isolate: bool = False,
    ) -> None:
        self.engine = engine
        self.metrics = metrics
        self.batching = batching
        self.process = LabelingProcess(engine) if isolate else None
        self._limiter = anyio.CapacityLimiter(1)
        self._queue: collections.deque[_Queued] = collections.deque()
        self._wakeup: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the child process and (with batching) the consumer task, from the serving event loop."""
        if self.process is not None:
            await anyio.to_thread.run_sync(self.process.start)
        if self.batching.enabled and self._task is None:
            self._wakeup = asyncio.Event()
            self._task = asyncio.create_task(self._consume(), name="reportlab-micro-batcher")

    async def stop(self) -> None:
        """Stop the consumer task and the child; requests still queued fail (the server has drained them)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while self._queue:
            queued = self._queue.popleft()
            if not queued.future.done():
                queued.future.set_exception(RuntimeError("the service is shutting down"))
        if self.process is not None:
            await anyio.to_thread.run_sync(self.process.stop)

    async def run(self, reports: Sequence[Report], render: Callable[[Engine, list[Prediction]], T]) -> T:
        """Label ``reports`` and return ``render(engine, predictions)``, off the event loop.

        Cancelling the caller (its time budget, its client gone) gives the job
        up at once: a queued job is dropped, a running one's child is killed
        when every job of its call is given up (a thread cannot be stopped: it
        runs on, and the answer is dropped).
        """
        job = Job(reports, render)
        try:
            if not self.batching.enabled or self._task is None:
                outcome = (
                    await anyio.to_thread.run_sync(
                        self._call, [job], limiter=self._limiter, abandon_on_cancel=True
                    )
                )[0]
                if outcome.error is not None:
                    raise outcome.error
                return outcome.value  # type: ignore[no-any-return]
            queued = _Queued(job)
            self._queue.append(queued)
            assert self._wakeup is not None
            self._wakeup.set()
            return await queued.future  # type: ignore[no-any-return]
        except BaseException:
            job.cancelled.set()
            raise

    # -- internals ---------------------------------------------------------

    async def _consume(self) -> None:
        assert self._wakeup is not None
        while True:
            if not self._queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            batch = [self._queue.popleft()]
            count = len(batch[0].job.reports)
            wait_s, most = self.batching.wait_s, self.batching.max_reports
            if wait_s > 0 and count < most:
                await asyncio.sleep(wait_s)
            while self._queue and count + len(self._queue[0].job.reports) <= most:
                queued = self._queue.popleft()
                batch.append(queued)
                count += len(queued.job.reports)
            live = [q for q in batch if not q.future.done() and not q.job.cancelled.is_set()]
            if not live:
                continue
            try:
                outcomes = await anyio.to_thread.run_sync(
                    self._call, [q.job for q in live], limiter=self._limiter
                )
            except Abandoned:
                continue
            except Exception as e:  # the child died: every request of the call fails
                outcomes = [Outcome(error=e) for _ in live]
            for queued, outcome in zip(live, outcomes, strict=True):
                if queued.future.done():
                    continue
                if outcome.error is not None:
                    queued.future.set_exception(outcome.error)
                else:
                    queued.future.set_result(outcome.value)

    def _call(self, jobs: Sequence[Job]) -> list[Outcome]:
        """In the worker thread: one engine call for all jobs (in the child process, if any), then renders."""
        timings: list[Timing] = []
        if self.process is not None:
            outcomes, timings = self.process.call(jobs)
        else:
            outcomes = call_jobs(self.engine, jobs, timings)
        for count, seconds in timings:
            self.metrics.observe_inference(self.engine.name, count, seconds)
        return outcomes


__all__ = ["Batching", "Dispatcher"]
