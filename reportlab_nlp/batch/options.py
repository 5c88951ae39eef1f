"""The settings of a batch run (:class:`BatchOptions`, :class:`Output`) and its :class:`BatchResult`."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TextIO

from ..io.durable import beside
from ..io.writers import Writer, output_format
from ..types import LabelValue

DEFAULT_BATCH_SIZE = 256
"""Reports per chunk handed to a worker (and per spaCy batch)."""
DEFAULT_CHECKPOINT_EVERY = 5000
"""Reports between two checkpoints of a resumable run."""
PROGRESS_MIN_REPORTS = 300
"""No progress bar for fewer reports than this."""
ON_ERROR = ("skip", "fail")
RUN_SUFFIX = ".run.json"
ERRORS_SUFFIX = ".errors.jsonl"


def available_cores() -> int:
    """The number of cores this process may run on (the default number of workers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


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
