"""Batch labeling: streaming, parallel, resumable. The engine of ``reportlab-nlp label``.

A corpus flows through in chunks (``batch_size`` reports): the reader yields
reports one at a time, a chunk goes to a worker, the worker labels it and
renders its output lines, and the main process appends them to the outputs in
input order. Memory does not grow with the corpus: at most a few chunks per
worker are in flight.

Parallel
    ``workers`` processes (default: every core this process may use), each
    building one pipeline once, in the worker (a :mod:`multiprocessing` pool
    with an initializer; spaCy's own ``n_process`` cannot pickle the rules).
    Chunks are submitted in a bounded window and collected in order, so the
    output is the same, byte for byte, whatever the number of workers. A
    corpus that fits in one chunk, or ``workers=1``, is labeled in this process.
    A worker writes its rendered lines to a spool folder beside the first
    output (``.<first out>.spool``), and the main process moves them into the
    outputs with a kernel copy (:func:`os.copy_file_range`), so hundreds of
    megabytes of JSONL do not pass through a pipe and the main process stays
    nearly idle; where the spool cannot be used the lines come through the pipe.

Resumable
    Outputs are written to ``<out>.partial`` files. At every checkpoint
    (``checkpoint_every`` reports) the partial files are flushed and fsync'ed,
    then a run manifest ``<first out>.run.json`` is replaced atomically: input
    sha256, the settings that shape the output, rules hash, reports done, the
    byte length of every partial file and the label counts so far. After an
    interruption (Ctrl-C, ``kill -9``, a full disk) the same command with
    ``resume=True`` checks that input and settings are unchanged, truncates the
    partial files to the last checkpoint, skips the reports already written and
    goes on; at the end the partial files are renamed over the final paths and
    the manifest is removed. The final outputs are identical to those of an
    uninterrupted run.

Per-report failures
    A report whose labeling raises is listed in ``<first out>.errors.jsonl``
    (id, position, error type and message; never the report's text) and left
    out of the outputs; the run goes on (``on_error="skip"``) or stops with
    :class:`~reportlab_nlp.errors.ReportFailedError` (``on_error="fail"``, exit
    status 1), resumable like any interruption.

No report text is ever logged: progress and summaries carry ids, counts and timings.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import io
import itertools
import json
import math
import multiprocessing as mp
import multiprocessing.pool
import os
import re
import signal
import sys
import threading
import time
import warnings
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, NamedTuple, Protocol, TextIO

from ._version import __version__
from .engines import Engine, Prediction, get_engine
from .errors import OutputError, ReportFailedError, ResumeError, SchemeError
from .export.provenance import sha256_input
from .io.durable import (
    PARTIAL_SUFFIX,
    PartialFile,
    beside,
    check_target,
    fsync_dir,
    write_bytes,
    write_json,
)
from .io.locks import OutputLock
from .io.readers import ReportSource
from .io.writers import RowWriter, Writer, jsonl_record, output_format
from .labeler import Labeler, load
from .rules import RuleSet, load_rules
from .types import LabelValue, Report, ReportLabels

DEFAULT_BATCH_SIZE = 256
"""Reports per chunk handed to a worker (and per spaCy batch)."""
DEFAULT_CHECKPOINT_EVERY = 5000
"""Reports between two checkpoints of a resumable run."""
PROGRESS_MIN_REPORTS = 300
"""No progress bar for fewer reports than this."""
ON_ERROR = ("skip", "fail")
SPOOL_SUFFIX = ".spool"
_SPOOLED = re.compile(r"[0-9]+\.[0-9]+")  # the name of a spooled chunk file: <first report>.<output>
RUN_SUFFIX = ".run.json"
ERRORS_SUFFIX = ".errors.jsonl"
RUN_FORMAT = "reportlab-nlp label run"
RUN_FORMAT_VERSION = 1
_DELIMITER = {"csv": ",", "tsv": "\t"}
_WINDOW_PER_WORKER = 4
_MAX_MESSAGE = 300
_VALUE_INDEX = {LabelValue.POSITIVE: 0, LabelValue.NEGATIVE: 1, LabelValue.UNCERTAIN: 2, LabelValue.BLANK: 3}

RawReport = tuple[str, str, tuple[tuple[str, int, int], ...]]
"""A report as it travels to a worker: (id, text, fields)."""


def available_cores() -> int:
    """The number of cores this process may run on (the default number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# ---------------------------------------------------------------------------
# settings and result
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Output:
    """One output file and its format (``csv`` or ``jsonl``)."""

    path: str
    format: str

    @classmethod
    def parse(cls, path: str | Path, fmt: str | None = None) -> Output:
        """The output for ``path``: format ``fmt``, or by extension (``.jsonl``, ``.ndjson``, ``.json``)."""
        return cls(str(path), output_format(path, fmt))


@dataclass(frozen=True)
class BatchOptions:
    """What to label, how, and where to write it.

    Parameters
    ----------
    input
        A CSV/TSV file, a JSONL file, a folder of ``.txt`` files, or ``-`` (standard input).
    outputs
        The output files (see :meth:`Output.parse`).
    id_col, text_cols, encoding_errors, allow_duplicate_ids
        How to read the input (see :class:`~reportlab_nlp.io.readers.ReportSource`).
    rules, scheme
        User rules files and the label scheme (see :func:`reportlab_nlp.load`).
    workers
        Worker processes; None: every core this process may use.
    batch_size
        Reports per chunk.
    checkpoint_every
        Reports between checkpoints.
    resume
        Continue the interrupted run recorded beside the first output.
    on_error
        ``skip`` (list a failing report in the errors file and go on) or ``fail`` (stop).
    progress
        Show a progress bar on standard error (for 300 reports or more).
    engine
        ``rules`` (default), ``model`` or ``hybrid`` (see :mod:`reportlab_nlp.engines`);
        the model engines label in this process (ONNX Runtime uses the cores).
    model_dir
        For ``model`` and ``hybrid``: the model folder, or a folder holding one (default ``models/``).
    delimiter, encoding
        How to read a CSV input (see :mod:`reportlab_nlp.io.tables`): None sniffs the delimiter.
    """

    input: str
    outputs: tuple[Output, ...]
    id_col: str | None = None
    text_cols: tuple[str, ...] = ()
    encoding_errors: str = "strict"
    allow_duplicate_ids: bool = False
    rules: tuple[str, ...] = ()
    scheme: str = "full"
    workers: int | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    checkpoint_every: int = DEFAULT_CHECKPOINT_EVERY
    resume: bool = False
    on_error: str = "skip"
    progress: bool = True
    engine: str = "rules"
    model_dir: str | None = None
    delimiter: str | None = None
    encoding: str = "utf-8"

    def __post_init__(self) -> None:
        if not self.outputs:
            raise ValueError("at least one output is needed")
        for name in ("batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.workers is not None and self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, got {self.on_error!r}")

    @property
    def run_manifest_path(self) -> Path:
        """``<first output>.run.json``."""
        return beside(self.outputs[0].path, RUN_SUFFIX)

    @property
    def errors_path(self) -> Path:
        """``<first output>.errors.jsonl``."""
        return beside(self.outputs[0].path, ERRORS_SUFFIX)


@dataclass
class BatchResult:
    """What a run did: counts (the whole run, resumed parts included), timings, files."""

    total: int
    labeled: int
    failed: int
    unread: int
    warned: int
    counts: dict[str, Counter[LabelValue]]
    elapsed: float
    processed: int
    """Reports labeled in this session (not counting those done before a resume)."""
    workers: int
    resumed_at: int | None
    outputs: tuple[Output, ...]
    errors_path: Path | None

    @property
    def rate(self) -> float:
        """Reports per second in this session, start-up included."""
        return self.processed / self.elapsed if self.elapsed > 0 else 0.0

    def summary_line(self) -> str:
        """One line for standard error: counts, failures, throughput, wall time, files."""
        line = (
            f"reportlab-nlp: {self.total} reports read, {self.labeled} labeled, "
            f"{self.unread} empty or without readable text, {self.warned} with warnings"
        )
        if self.failed:
            line += f", {self.failed} failed (listed in {self.errors_path})"
        how = "1 process" if self.workers == 1 else f"{self.workers} worker processes"
        line += f"; {self.elapsed:.1f} s ({self.rate:.0f} reports/s, {how})"
        if self.resumed_at is not None:
            line += f"; resumed at report {self.resumed_at + 1}"
        return line + f"; wrote {', '.join(o.path for o in self.outputs)}"


class Linkage(Protocol):
    """Study linkage of the outputs (``label --manifest``): its writers replace the plain ones."""

    def writer_for(self, path: str, fmt: str | None, columns: Sequence[str]) -> Writer: ...

    def finish(self, stderr: TextIO) -> None: ...


# ---------------------------------------------------------------------------
# the work of one chunk (in a worker, or in this process)
# ---------------------------------------------------------------------------


class Failure(NamedTuple):
    """A report that raised: its number in the input (1 = the first), id, error type and message.

    Never the report's text: a message that quotes it is withheld.
    """

    position: int
    id: str
    error: str
    message: str

    def to_json(self) -> str:
        """The line of the errors file (ASCII JSON)."""
        record = {"id": self.id, "position": self.position, "error": self.error, "message": self.message}
        return json.dumps(record, ensure_ascii=True) + "\n"


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk.

    ``blobs`` holds one bytes object per output (the chunk's lines, rendered),
    or ``spooled`` the path and length of the spool file that holds them;
    with a study linkage ``items`` holds ``(labels, values)`` per report
    instead (None for a failed one) and the main process writes them.
    """

    size: int
    blobs: tuple[bytes, ...] = ()
    spooled: tuple[tuple[str, int], ...] = ()
    items: list[tuple[ReportLabels, list[tuple[str, str, LabelValue]], dict[str, Any]] | None] = field(
        default_factory=list
    )
    counts: list[list[int]] = field(default_factory=list)
    labeled: int = 0
    warned: int = 0
    unread: int = 0
    failures: list[Failure] = field(default_factory=list)


def _quotes(message: str, text: str, width: int = 16) -> bool:
    """Whether ``message`` quotes ``text`` (a run of ``width`` characters, or all of a short text)."""
    if not text.strip():
        return False
    if len(text) <= width:
        return text in message
    return any(message[i : i + width] in text for i in range(len(message) - width + 1))


def describe_failure(position: int, report_id: str, exc: BaseException, text: str) -> Failure:
    """A :class:`Failure` for ``exc``; a message that quotes the report's text is withheld."""
    message = " ".join(str(exc).split())[:_MAX_MESSAGE]
    if _quotes(message, text):
        message = "(message withheld: it quotes the report's text)"
    return Failure(position, report_id, type(exc).__name__, message)


def csv_header(columns: Sequence[str], delimiter: str = ",") -> bytes:
    """The header line of the wide CSV (or TSV): ``report_id`` and the scheme's columns."""
    buf = io.StringIO()
    csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerow(["report_id", *columns])
    return buf.getvalue().encode("utf-8")


def _is_unread(report: ReportLabels) -> bool:
    return bool(report.warnings) and all(v is LabelValue.BLANK for v in report.labels.values())


class ChunkLabeler:
    """Label a chunk of reports and render each output's lines.

    Parameters
    ----------
    labeler
        The pipeline (one per process).
    formats
        The output formats, in order (``csv``/``jsonl``); None to return the
        labels themselves (for the study linkage's writers).
    """

    def __init__(
        self, labeler: Labeler, formats: tuple[str, ...] | None, engine: Engine | None = None
    ) -> None:
        self.labeler = labeler
        self.formats = formats
        self.engine = engine  # a model engine labels instead of the labeler (which gives the columns)
        self._predictions: list[Prediction | None] = []
        self.n_columns = len(labeler.columns())
        self.categories = labeler.category_columns()  # categorical columns (RSNA COVID-19 Category)
        self._buf = io.StringIO()
        self._csv = RowWriter(self._buf)
        self._tsv = RowWriter(
            self._buf, delimiter="\t"
        )  # the shared rules: ids with \r quoted, formula-like ids neutralised

    def _label_all(self, reports: list[Report]) -> list[ReportLabels | Exception]:
        if self.engine is not None:
            return self._predict_all(self.engine, reports)
        try:
            pairs = ((r, None) for r in reports)
            return [res for res, _ in self.labeler.pipe_with(pairs, batch_size=max(1, len(reports)))]
        except Exception:  # one report broke the batch: label one at a time to find it
            out: list[ReportLabels | Exception] = []
            for r in reports:
                try:
                    out.append(self.labeler.label_all(r.text, id=r.id))
                except Exception as e:
                    out.append(e)
            return out

    def _predict_all(self, engine: Engine, reports: list[Report]) -> list[ReportLabels | Exception]:
        try:
            predictions = engine.predict_many(reports)
            self._predictions = list(predictions)
            return [p.labels for p in predictions]
        except Exception:  # one report broke the batch: one at a time to find it
            out: list[ReportLabels | Exception] = []
            self._predictions = []
            for r in reports:
                try:
                    prediction = engine.predict_many([r])[0]
                except Exception as e:
                    self._predictions.append(None)
                    out.append(e)
                    continue
                self._predictions.append(prediction)
                out.append(prediction.labels)
            return out

    def _render(
        self,
        fmt: str,
        result: ReportLabels,
        values: list[tuple[str, str, LabelValue]],
        r: Report,
        index: int = -1,
    ) -> bytes:
        if fmt in ("csv", "tsv"):
            self._buf.seek(0)
            self._buf.truncate()
            cats = (result.category(c) or "" for c in self.categories)
            (self._csv if fmt == "csv" else self._tsv).writerow(
                [result.id, *(v.to_csv() for _, _, v in values), *cats]
            )
            line = self._buf.getvalue()
        else:
            record = jsonl_record(result, values, r)
            record.update(self._extra(index, values))
            line = json.dumps(record, ensure_ascii=False) + "\n"
        return line.encode("utf-8")

    def _extra(self, index: int, values: list[tuple[str, str, LabelValue]]) -> dict[str, Any]:
        """A model engine's additions to report ``index``'s JSONL record (probabilities, review)."""
        prediction = self._predictions[index] if 0 <= index < len(self._predictions) else None
        return prediction.extra_record(values) if prediction is not None else {}

    def __call__(self, chunk: Sequence[RawReport], first_index: int = 0) -> ChunkResult:
        """Label ``chunk`` (reports ``first_index``, ``first_index + 1``, ... of the input)."""
        reports = [Report(rid, text, fields) for rid, text, fields in chunk]
        outcomes = self._label_all(reports)
        res = ChunkResult(size=len(reports), counts=[[0, 0, 0, 0] for _ in range(self.n_columns)])
        pieces: list[list[bytes]] = [[] for _ in self.formats or ()]
        for i, (report, outcome) in enumerate(zip(reports, outcomes, strict=True)):
            try:
                if isinstance(outcome, Exception):
                    raise outcome
                values = self.labeler.values(outcome)
                lines = [self._render(fmt, outcome, values, report, i) for fmt in self.formats or ()]
            except Exception as e:
                res.failures.append(describe_failure(first_index + i + 1, report.id, e, report.text))
                if self.formats is None:
                    res.items.append(None)
                continue
            if self.formats is None:
                res.items.append((outcome, values, self._extra(i, values)))
            for k, line in enumerate(lines):
                pieces[k].append(line)
            for j, (_, _, v) in enumerate(values):
                res.counts[j][_VALUE_INDEX[v]] += 1
            res.labeled += 1
            res.warned += bool(outcome.warnings)
            res.unread += _is_unread(outcome)
        res.blobs = tuple(b"".join(p) for p in pieces)
        return res


# -- the worker processes ------------------------------------------------------

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
        _WORKER = ChunkLabeler(Labeler(rules, scheme=scheme), formats)
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


def _spool(folder: str, first_index: int, blobs: tuple[bytes, ...]) -> tuple[tuple[str, int], ...]:
    """Write a chunk's blobs to spool files; () if that fails (the blobs then go through the pipe)."""
    written: list[tuple[str, int]] = []
    try:
        for k, blob in enumerate(blobs):
            path = os.path.join(folder, f"{first_index}.{k}")
            written.append((path, len(blob)))
            with open(path, "wb") as f:
                f.write(blob)
    except OSError:  # a full disk, say: the main process's own write will report it
        for path, _ in written:
            with contextlib.suppress(OSError):
                os.unlink(path)
        return ()
    return tuple(written)


def _open_spool(path: Path) -> Path | None:
    """An empty spool folder at ``path`` (the files a killed run left there removed), or None.

    None (no spool; lines come through the pipe) when the folder cannot be
    made or holds anything but spooled chunk files: it is then not ours.
    """
    try:
        if path.is_dir():
            entries = list(path.iterdir())
            if any(not (e.is_file() and _SPOOLED.fullmatch(e.name)) for e in entries):
                return None
            for e in entries:
                e.unlink()
        else:
            path.mkdir()
    except OSError:
        return None
    return path


def _close_spool(path: Path | None) -> None:
    """Remove the spool folder and the chunk files still in it (an interrupted run's)."""
    if path is None:
        return
    with contextlib.suppress(OSError):
        for e in path.iterdir():
            if _SPOOLED.fullmatch(e.name):
                e.unlink()
        path.rmdir()


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


class _Engine:
    """Labels chunks in order: in this process, or in a pool with a bounded window of chunks in flight."""

    def __init__(
        self,
        workers: int,
        labeler: Labeler | None,
        rules: RuleSet,
        scheme: str,
        formats: tuple[str, ...] | None,
        engine: Engine | None = None,
        spool: Path | None = None,
    ) -> None:
        self.workers = workers
        self.pool: multiprocessing.pool.Pool | None = None
        self.local: ChunkLabeler | None = None
        if workers == 1:
            if labeler is None:
                raise ValueError("one worker labels in this process and needs a labeler")
            self.local = ChunkLabeler(labeler, formats, engine)
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


def _tasks(reports: Iterator[Report], size: int, first: int) -> Iterator[tuple[int, list[RawReport]]]:
    index = first
    while True:
        chunk = [(r.id, r.text, r.fields) for r in itertools.islice(reports, size)]
        if not chunk:
            return
        yield index, chunk
        index += len(chunk)


# ---------------------------------------------------------------------------
# files: partial outputs, the errors file, the run manifest
# ---------------------------------------------------------------------------


def _remove(path: Path) -> None:
    """Remove a file if it is there (clean-up: an error here must not hide the one being handled)."""
    with contextlib.suppress(OSError):
        path.unlink(missing_ok=True)


@dataclass
class _Progress:
    """The state a checkpoint records (the whole run, resumed parts included)."""

    done: int = 0
    labeled: int = 0
    warned: int = 0
    unread: int = 0
    failed: int = 0
    counts: list[list[int]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)

    def add(self, res: ChunkResult, sizes: list[int]) -> _Progress:
        return _Progress(
            done=self.done + res.size,
            labeled=self.labeled + res.labeled,
            warned=self.warned + res.warned,
            unread=self.unread + res.unread,
            failed=self.failed + len(res.failures),
            counts=[
                [a + b for a, b in zip(x, y, strict=True)]
                for x, y in zip(self.counts, res.counts, strict=True)
            ],
            sizes=sizes,
        )

    def to_dict(self, columns: Sequence[str], files: Sequence[Path]) -> dict[str, Any]:
        return {
            "reports_done": self.done,
            "labeled": self.labeled,
            "failed": self.failed,
            "empty": self.unread,
            "with_warnings": self.warned,
            "bytes": {str(p): n for p, n in zip(files, self.sizes, strict=True)},
            "counts": {
                c: dict(zip(("1", "0", "-1", "blank"), v, strict=True))
                for c, v in zip(columns, self.counts, strict=True)
            },
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], columns: Sequence[str], files: Sequence[Path]) -> _Progress:
        counts = data["counts"]
        return cls(
            done=int(data["reports_done"]),
            labeled=int(data["labeled"]),
            warned=int(data["with_warnings"]),
            unread=int(data["empty"]),
            failed=int(data["failed"]),
            counts=[[int(counts[c][k]) for k in ("1", "0", "-1", "blank")] for c in columns],
            sizes=[int(data["bytes"][str(p)]) for p in files],
        )


def _identity(
    options: BatchOptions, sha256: str | None, total: int, scheme: str, rules_hash: str
) -> dict[str, Any]:
    """What must not change between an interrupted run and its resumption."""
    return {
        "toolkit_version": __version__,
        "input_sha256": sha256,
        "reports": total,
        "id_col": options.id_col,
        "text_cols": list(options.text_cols),
        "encoding_errors": options.encoding_errors,
        "allow_duplicate_ids": options.allow_duplicate_ids,
        "scheme": scheme,
        "rules_hash": rules_hash,
        "outputs": [{"path": str(Path(o.path).resolve()), "format": o.format} for o in options.outputs],
        # recorded only when given, so that runs recorded before these options resume as before
        **({"delimiter": options.delimiter} if options.delimiter is not None else {}),
        **({"encoding": options.encoding} if options.encoding != "utf-8" else {}),
    }


_WHAT = {
    "toolkit_version": "the reportlab-nlp version",
    "input_sha256": "the input (its sha256)",
    "reports": "the number of reports in the input",
    "id_col": "--id-col",
    "text_cols": "--text-col",
    "encoding_errors": "--encoding-errors",
    "delimiter": "--delimiter",
    "encoding": "--encoding",
    "allow_duplicate_ids": "--allow-duplicate-ids",
    "scheme": "--scheme",
    "rules_hash": "the rules (their hash)",
    "conventions": "--conventions (the scheme's convention profile)",
    "engine": "--engine",
    "model_sha256": "the model (its sha256)",
    "outputs": "the outputs (--out/--format)",
}


def _short(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_resumable(prior: dict[str, Any], identity: dict[str, Any], path: Path) -> None:
    if prior.get("format") != RUN_FORMAT or prior.get("format_version") != RUN_FORMAT_VERSION:
        raise ResumeError(f"cannot resume: {path} is not a run manifest this version can read")
    was = prior.get("identity", {})
    for key in [*identity, *(k for k in was if k not in identity)]:  # a key only one side has differs too
        now = identity.get(key)
        if was.get(key) != now:
            raise ResumeError(
                f"cannot resume the run recorded in {path}: {_WHAT.get(key, key)} changed "
                f"(was {_short(was.get(key))}, now {_short(now)}); run without --resume to start again"
            )


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------


class _Stop(Exception):
    """Internal: a report failed under ``on_error="fail"``."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.id)
        self.failure = failure


class _Run:
    """The files of one run: partial outputs, the errors file, the run manifest; checkpoints and clean-up."""

    def __init__(
        self,
        options: BatchOptions,
        err: TextIO,
        *,
        total: int,
        columns: list[str],
        resumable: bool,
        identity: dict[str, Any],
        workers: int,
        categories: Sequence[str] = (),
    ) -> None:
        self.options = options
        self.err = err
        self.total = total
        self.columns = columns
        self.categories = list(categories)  # categorical CSV columns after the label columns
        self.resumable = resumable
        self.identity = identity
        self.workers = workers
        self.manifest_path = options.run_manifest_path
        self.errors_path = options.errors_path
        self.files = [Path(o.path) for o in options.outputs] + [self.errors_path]
        self.partials: list[PartialFile] = []
        self.writers: list[Writer] = []
        self.errors: PartialFile | None = None
        self.status = "running"
        self.state = _Progress(counts=[[0, 0, 0, 0] for _ in columns])

    # -- opening -----------------------------------------------------------------
    def open(self, prior: dict[str, Any] | None, link: Linkage | None) -> None:
        """Open the outputs: new ones, or the partial files of ``prior`` cut back to its last checkpoint."""
        sizes: list[int | None] = [None] * len(self.files)
        finishing = False
        if prior is not None:
            self.state = _Progress.from_dict(prior["progress"], self.columns, self.files)
            sizes = list(self.state.sizes)
            finishing = prior.get("state") == "finishing"
            self.status = "finishing" if finishing else "running"
        try:
            for o, size in zip(self.options.outputs, sizes, strict=False):
                if link is not None:
                    self.writers.append(link.writer_for(o.path, o.format, self.columns))
                else:
                    self.partials.append(PartialFile(o.path, resume_at=size, finishing=finishing))
            self.errors = PartialFile(self.errors_path, resume_at=sizes[-1], finishing=finishing)
        except BaseException:
            self.release(delete=prior is None)
            raise
        if prior is None:
            for o, pf in zip(self.options.outputs, self.partials, strict=False):
                if o.format in ("csv", "tsv"):
                    pf.write(csv_header([*self.columns, *self.categories], _DELIMITER[o.format]))
        self.state.sizes = self.sizes()

    def sizes(self) -> list[int]:
        outs = [pf.size for pf in self.partials] or [0] * len(self.options.outputs)
        return [*outs, self.errors.size if self.errors is not None else 0]

    def _files(self) -> list[PartialFile]:
        return [*self.partials, *([self.errors] if self.errors is not None else [])]

    # -- writing -----------------------------------------------------------------
    def checkpoint(self) -> None:
        """fsync the partial files, then replace the run manifest (raises OSError)."""
        if not self.resumable:
            return
        for pf in self._files():
            pf.sync()
        o = self.options
        write_json(
            self.manifest_path,
            {
                "format": RUN_FORMAT,
                "format_version": RUN_FORMAT_VERSION,
                "state": self.status,
                "identity": self.identity,
                "input": str(Path(o.input).resolve()),
                "settings": {
                    "rules": list(o.rules),
                    "workers": self.workers,
                    "batch_size": o.batch_size,
                    "checkpoint_every": o.checkpoint_every,
                    "on_error": o.on_error,
                },
                "progress": self.state.to_dict(self.columns, self.files),
                "updated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            },
            stable=True,
        )

    def _disk_error(self, e: OSError, what: str) -> OutputError:
        hint = "; free some space (or fix the problem) and run the same command with --resume"
        return OutputError(
            f"cannot write {what}: {e.strerror or e}; stopped after {self.state.done} of {self.total} reports"
            + (hint if self.resumable else "")
        )

    def safe_checkpoint(self) -> None:
        """:meth:`checkpoint`, with a write error as an :class:`OutputError` that says how to go on."""
        try:
            for pf in self._files():
                pf.sync()
        except OSError as e:
            raise self._disk_error(e, "the outputs") from e
        try:
            self.checkpoint()
        except OSError as e:
            raise self._disk_error(e, f"the run manifest {self.manifest_path}") from e

    def write(self, chunk: list[RawReport], res: ChunkResult, link: Linkage | None) -> None:
        """Append one chunk's lines and failures; then the state counts it."""
        if self.errors is None:
            raise RuntimeError("the outputs are not open")
        try:
            if res.spooled:
                for pf, (path, size) in zip(self.partials, res.spooled, strict=True):
                    pf.append_file(path, size)
            elif link is None:
                for pf, blob in zip(self.partials, res.blobs, strict=True):
                    pf.write(blob)
            else:
                for raw, item in zip(chunk, res.items, strict=True):
                    if item is not None:
                        for w in self.writers:
                            w.write(item[0], item[1], Report(*raw), item[2])
            for failure in res.failures:
                self.errors.write(failure.to_json().encode("utf-8"))
        except OSError as e:
            raise self._disk_error(e, "the outputs") from e
        self.state = self.state.add(res, self.sizes())

    def finish(self, link: Linkage | None) -> None:
        """Every report is written: rename the partial files over the outputs, remove the manifest."""
        self.status = "finishing"
        try:
            self.checkpoint()
            for pf in self.partials:
                pf.commit()
            for w in self.writers:
                w.commit()
            if link is not None:
                link.finish(self.err)
            if self.errors is not None:
                self.errors.commit(drop_if_empty=True)
            fsync_dir(Path(self.options.outputs[0].path).resolve().parent)
        except OSError as e:
            raise self._disk_error(e, "the outputs") from e
        if self.resumable:
            self.manifest_path.unlink(missing_ok=True)

    # -- stopping ----------------------------------------------------------------
    def release(self, *, delete: bool) -> None:
        """Close the files; ``delete``: remove the partial files and the manifest too."""
        for pf in self._files():
            if delete:
                pf.discard()
            else:
                pf.close()
        for w in self.writers:
            w.abort()
        if delete and self.resumable:
            _remove(self.manifest_path)

    def stopped(self, failure: Failure, *, kept: bool) -> ReportFailedError:
        """The error of ``on_error="fail"``; the errors file lists the failures so far and this one."""
        previous = b""
        if kept and self.errors is not None and self.errors.path.exists():
            with contextlib.suppress(OSError):
                previous = self.errors.path.read_bytes()[: self.state.sizes[-1]]
        with contextlib.suppress(OSError):
            write_bytes(self.errors_path, previous + failure.to_json().encode("utf-8"), stable=True)
        hint = (
            "; run the same command with --resume to go on (with --on-error skip to pass it)" if kept else ""
        )
        return ReportFailedError(
            f"report {failure.id!r} (number {failure.position} of {self.total}) failed: "
            f"{failure.error}: {failure.message}; stopped by --on-error fail after {self.state.done} "
            f"reports; listed in {self.errors_path}{hint}"
        )


def _read_prior(options: BatchOptions, identity: dict[str, Any], err: TextIO) -> dict[str, Any] | None:
    """The interrupted run to resume (checked against ``identity``), or None to start afresh."""
    path = options.run_manifest_path
    if not path.exists():
        if options.resume:
            err.write(
                f"reportlab-nlp: nothing to resume ({path} not found); starting from the first report\n"
            )
        return None
    if not options.resume:
        err.write(f"reportlab-nlp: starting afresh; the interrupted run recorded in {path} is discarded\n")
        return None
    try:
        prior: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ResumeError(
            f"cannot resume: {path} cannot be read ({e}); run without --resume to start again"
        ) from e
    _check_resumable(prior, identity, path)
    return prior


def label_corpus(
    options: BatchOptions,
    *,
    stderr: TextIO | None = None,
    stdin: IO[bytes] | None = None,
    load: Callable[..., Labeler] = load,
    linkage: Callable[[Labeler, Engine | None], Linkage] | None = None,
) -> BatchResult:
    """Label a corpus into the outputs: streaming, on ``options.workers`` processes, resumable.

    Parameters
    ----------
    options
        The input, outputs and settings.
    stderr
        Where the progress bar and notes go (default: ``sys.stderr``).
    stdin
        The stream read for input ``-``.
    load
        Builds the labeler of this process (:func:`reportlab_nlp.load`'s signature);
        worker processes build theirs from the same rules.
    linkage
        With a study manifest: makes the :class:`Linkage` whose writers replace
        the plain ones (such a run cannot be resumed).

    Returns
    -------
    BatchResult
        Counts, timings and files.

    Raises
    ------
    InputError, RulesError, SchemeError
        Bad input, rules or scheme (found before anything is written, except
        for an input error met while labeling, which removes the partial files).
    OutputError
        An output cannot be created, or a write failed (a full disk): the run
        can be resumed after the last checkpoint.
    ResumeError
        ``resume`` after the input or the settings changed.
    ReportFailedError
        A report raised under ``on_error="fail"`` (the run can be resumed).
    KeyboardInterrupt
        Ctrl-C: the state after the last written chunk is checkpointed.

    Examples
    --------
    >>> from reportlab_nlp.batch import BatchOptions, Output, label_corpus
    >>> options = BatchOptions("reports.csv", (Output.parse("labels.csv"),), workers=2)
    >>> result = label_corpus(options)  # doctest: +SKIP
    """
    for o in options.outputs:  # a symlink, FIFO, device or folder there: refused before any work
        check_target(o.path)
        check_target(beside(o.path, PARTIAL_SUFFIX))
    with OutputLock([o.path for o in options.outputs]):  # a second run on the same outputs is refused
        return _label_corpus(options, stderr=stderr, stdin=stdin, load=load, linkage=linkage)


def _note_ignored(options: BatchOptions, source: ReportSource, linked: bool, err: TextIO) -> None:
    """Say so on standard error when an option has no effect on this input; refuse what cannot be done."""
    if source.kind in ("folder", "stdin"):
        given = [
            name
            for name, value in (
                ("--id-col", options.id_col),
                ("--text-col", options.text_cols),
                ("--delimiter", options.delimiter),
            )
            if value
        ]
        if given:
            what = "a folder of .txt files (ids are the file names, texts their contents)"
            if source.kind == "stdin":
                what = "standard input (one report, id 'stdin')"
            err.write(f"reportlab-nlp: warning: {' and '.join(given)} ignored: the input is {what}\n")
    elif source.kind == "jsonl" and options.delimiter is not None:
        err.write("reportlab-nlp: warning: --delimiter ignored: the input is JSONL\n")
    if linked:
        for o in options.outputs:
            if o.format not in ("csv", "jsonl"):
                raise OutputError(f"{o.path}: --manifest writes .csv or .jsonl outputs, not {o.format}")


def _label_corpus(
    options: BatchOptions,
    *,
    stderr: TextIO | None = None,
    stdin: IO[bytes] | None = None,
    load: Callable[..., Labeler] = load,
    linkage: Callable[[Labeler, Engine | None], Linkage] | None = None,
) -> BatchResult:
    """:func:`label_corpus` once its outputs are checked and locked."""
    err = stderr if stderr is not None else sys.stderr
    started = time.perf_counter()
    resumable = options.input != "-" and linkage is None
    if options.resume and options.input == "-":
        raise ResumeError("--resume needs an input file or folder: standard input cannot be read again")
    if options.resume and linkage is not None:
        raise ResumeError("--resume does not work with --manifest; run the study-linked labeling again")
    source = ReportSource(
        options.input,
        id_col=options.id_col,
        text_cols=options.text_cols,
        encoding_errors=options.encoding_errors,
        allow_duplicate_ids=options.allow_duplicate_ids,
        stdin=stdin,
        delimiter=options.delimiter,
        encoding=options.encoding,
    )
    _note_ignored(options, source, linkage is not None, err)
    total = source.check()
    workers = min(options.workers or available_cores(), max(1, math.ceil(total / options.batch_size)))
    model_engine: Engine | None = None
    if options.engine != "rules":  # checked before any work; one process (ONNX Runtime uses the cores)
        model_engine = get_engine(options.engine, rules=list(options.rules), model_dir=options.model_dir)
        workers = 1
    if options.workers is not None and options.workers > workers:
        why = (
            f"--engine {options.engine} labels in one process (ONNX Runtime uses the cores)"
            if options.engine != "rules"
            else f"{total} reports fill {workers} chunk{'s' if workers > 1 else ''} of {options.batch_size}"
        )
        how = "one process" if workers == 1 else f"{workers} worker processes"
        err.write(f"reportlab-nlp: note: --workers {options.workers} runs {how}: {why}\n")
    labeler: Labeler | None = None
    if workers == 1 or linkage is not None:
        labeler = load(list(options.rules), scheme=options.scheme)
        rules, scheme, rules_hash = labeler.rules, labeler.scheme, labeler.rules_hash
    else:  # the workers build the pipelines; this process needs only the rules
        rules = load_rules(options.rules)
        if options.scheme not in rules.schemes:
            raise SchemeError(options.scheme, rules.schemes)
        scheme, rules_hash = options.scheme, rules.digest()
    columns = [c for c, _ in rules.schemes[scheme].columns]
    if model_engine is not None and labeler is not None:
        model_engine = get_engine(
            options.engine, rules=list(options.rules), model_dir=options.model_dir, labeler=labeler
        )
        model_engine.load()  # sha256 checks, model extra: fail before anything is written
    # the linkage's provenance records the engine and its model
    link = linkage(labeler, model_engine) if linkage is not None and labeler is not None else None

    identity: dict[str, Any] = {}
    prior: dict[str, Any] | None = None
    if resumable:
        identity = _identity(options, sha256_input(options.input), total, scheme, rules_hash)
        identity["conventions"] = rules.conventions.name
        if model_engine is not None:
            identity["engine"] = options.engine
            identity["model_sha256"] = model_engine.model_sha256()
        prior = _read_prior(options, identity, err)
    run = _Run(
        options,
        err,
        total=total,
        columns=columns,
        resumable=resumable,
        identity=identity,
        workers=workers,
        categories=rules.schemes[scheme].categories,
    )
    run.open(prior, link)
    resumed_at = run.state.done if prior is not None else None
    if resumed_at is not None:
        err.write(
            f"reportlab-nlp: resuming the run recorded in {options.run_manifest_path}: "
            f"{resumed_at} of {total} reports done\n"
        )

    bar: Any = None
    engine: _Engine | None = None
    spool: Path | None = None
    processed = 0
    try:
        run.safe_checkpoint()
        if run.status == "running":
            # the pool first: a progress bar starts a thread, and fork wants none
            formats = None if link is not None else tuple(o.format for o in options.outputs)
            if workers > 1 and formats is not None:
                first = Path(options.outputs[0].path)
                spool = _open_spool(first.with_name(f".{first.name}{SPOOL_SUFFIX}"))
            engine = _Engine(workers, labeler, rules, scheme, formats, model_engine, spool)
            if options.progress and total - run.state.done >= PROGRESS_MIN_REPORTS:
                from tqdm import tqdm

                bar = tqdm(
                    total=total,
                    initial=run.state.done,
                    unit=" reports",
                    file=err,
                    mininterval=0.5,
                    dynamic_ncols=True,
                    smoothing=0.1,
                )
            reports = itertools.islice(source.reports(), run.state.done, None)
            last = run.state.done
            for chunk, res in engine.map(_tasks(reports, options.batch_size, run.state.done)):
                if res.failures and options.on_error == "fail":
                    raise _Stop(res.failures[0])
                run.write(chunk, res, link)
                processed += res.size
                if bar is not None:
                    bar.update(res.size)
                if run.state.done - last >= options.checkpoint_every:
                    run.safe_checkpoint()
                    last = run.state.done
            engine.close(ok=True)
            engine = None
            _close_spool(spool)
            spool = None
            if bar is not None:
                bar.close()
                bar = None
        run.finish(link)
    except BaseException as exc:
        if bar is not None:
            bar.close()
        if engine is not None:
            engine.close(ok=False)
        _close_spool(spool)
        keep = resumable and isinstance(exc, KeyboardInterrupt | OutputError | _Stop)
        if keep:
            with contextlib.suppress(OSError):
                run.checkpoint()
        run.release(delete=not keep)
        if isinstance(exc, _Stop):
            raise run.stopped(exc.failure, kept=keep) from None
        if keep and isinstance(exc, KeyboardInterrupt):
            err.write(
                f"reportlab-nlp: interrupted after {run.state.done} of {total} reports; "
                "run the same command with --resume to continue\n"
            )
        raise
    state = run.state
    return BatchResult(
        total=total,
        labeled=state.labeled,
        failed=state.failed,
        unread=state.unread,
        warned=state.warned,
        counts={
            c: Counter(dict(zip(_VALUE_INDEX, v, strict=True)))
            for c, v in zip(columns, state.counts, strict=True)
        },
        elapsed=time.perf_counter() - started,
        processed=processed,
        workers=workers,
        resumed_at=resumed_at,
        outputs=options.outputs,
        errors_path=run.errors_path if state.failed else None,
    )


__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHECKPOINT_EVERY",
    "BatchOptions",
    "BatchResult",
    "ChunkLabeler",
    "ChunkResult",
    "Failure",
    "Linkage",
    "Output",
    "PartialFile",
    "available_cores",
    "label_corpus",
]
