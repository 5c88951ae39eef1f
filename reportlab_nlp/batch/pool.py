"""The worker processes: one pipeline each, chunks handed out in a bounded window and collected in order."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing as mp
import multiprocessing.pool
import signal
import sys
import threading
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..engines import Engine, RulesEngine
from ..labeler import Labeler
from ..rules import RuleSet
from .chunks import ChunkLabeler, ChunkResult, RawReport
from .spool import _spool

_WINDOW_PER_WORKER = 4

_WORKER: ChunkLabeler | None = None
_WORKER_ERROR: BaseException | None = None
_WORKER_SPOOL: str | None = None


def _exit_with_parent() -> None:
    """Linux: have the kernel end this worker when its parent dies (after ``kill -9``, say)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _init_worker(
    rules: RuleSet, scheme: str, formats: tuple[str, ...] | None, spool: str | None = None
) -> None:
    """Pool initializer: build this worker's pipeline once."""
    global _WORKER, _WORKER_ERROR, _WORKER_SPOOL
    _WORKER_SPOOL = spool
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's business
    _exit_with_parent()
    # spaCy's W028 (Doc.from_array dtype) would be printed once per worker, through the progress bar
    warnings.filterwarnings("ignore", message=r"\[W028\]")
    try:
        _WORKER = ChunkLabeler(RulesEngine.from_labeler(Labeler(rules, scheme=scheme)), scheme, formats)
    except BaseException as e:  # a failing initializer makes the pool restart workers forever
        _WORKER_ERROR = e


def _work(task: tuple[int, list[RawReport]]) -> ChunkResult:
    if _WORKER is None:
        raise RuntimeError(f"the worker's pipeline could not be built: {_WORKER_ERROR!r}")
    first_index, chunk = task
    res = _WORKER(chunk, first_index)
    if _WORKER_SPOOL is not None and res.blobs:
        res.spooled = _spool(_WORKER_SPOOL, first_index, res.blobs)
        if res.spooled:
            res.blobs = ()
    return res


def _mp_context() -> mp.context.BaseContext:
    """fork when this process runs no other thread (a quick start), else forkserver, else spawn.

    Forking a process that runs threads (a JVM bridge, a server) can deadlock
    the child; the fork server imports the pipeline code once for all workers
    but, like spawn, needs the ``if __name__ == "__main__":`` guard in a script.
    """
    methods = mp.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return mp.get_context("fork")
    if "forkserver" in methods:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])
        return ctx
    return mp.get_context("spawn")


class Workers:
    """Labels chunks in order: in this process, or in a pool with a bounded window of chunks in flight.

    One worker labels with ``engine`` in this process; several build their own
    rules engine from ``rules`` (``engine`` is then not used).
    """

    def __init__(
        self,
        workers: int,
        engine: Engine | None,
        rules: RuleSet,
        scheme: str,
        formats: tuple[str, ...] | None,
        spool: Path | None = None,
    ) -> None:
        self.workers = workers
        self.pool: multiprocessing.pool.Pool | None = None
        self.local: ChunkLabeler | None = None
        if workers == 1:
            if engine is None:
                raise ValueError("one worker labels in this process and needs an engine")
            self.local = ChunkLabeler(engine, scheme, formats)
        else:
            self.pool = _mp_context().Pool(
                workers,
                initializer=_init_worker,
                initargs=(rules, scheme, formats, None if spool is None else str(spool)),
            )

    def map(
        self, tasks: Iterable[tuple[int, list[RawReport]]]
    ) -> Iterator[tuple[list[RawReport], ChunkResult]]:
        if self.local is not None:
            for first, chunk in tasks:
                yield chunk, self.local(chunk, first)
            return
        if self.pool is None:
            raise RuntimeError("the pool is closed")
        window = self.workers * _WINDOW_PER_WORKER
        pending: deque[tuple[list[RawReport], multiprocessing.pool.AsyncResult[ChunkResult]]] = deque()
        for task in tasks:
            pending.append((task[1], self.pool.apply_async(_work, (task,))))
            if len(pending) >= window:
                chunk, result = pending.popleft()
                yield chunk, result.get()
        while pending:
            chunk, result = pending.popleft()
            yield chunk, result.get()

    def close(self, *, ok: bool) -> None:
        if self.pool is not None:
            if ok:
                self.pool.close()
            else:
                self.pool.terminate()
            self.pool.join()
            self.pool = None
