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

from ..io.durable import PartialFile
from .chunks import ChunkLabeler, ChunkResult, Failure, csv_header, describe_failure
from .options import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHECKPOINT_EVERY,
    ON_ERROR,
    BatchOptions,
    BatchResult,
    Linkage,
    Output,
    available_cores,
)
from .run import label_corpus

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHECKPOINT_EVERY",
    "ON_ERROR",
    "BatchOptions",
    "BatchResult",
    "ChunkLabeler",
    "ChunkResult",
    "Failure",
    "Linkage",
    "Output",
    "PartialFile",
    "available_cores",
    "csv_header",
    "describe_failure",
    "label_corpus",
]
