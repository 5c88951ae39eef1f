"""Reports in, lines out: the input's chunks, and the files of a run they are appended to in order."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

from ..errors import OutputError, ReportFailedError
from ..io.durable import PartialFile, fsync_dir, write_bytes, write_json
from ..io.readers import ReportSource
from ..io.writers import Writer
from ..types import Report
from .chunks import ChunkResult, Failure, RawReport, csv_header
from .options import BatchOptions, Linkage
from .resume import _Progress, _remove, run_record

_DELIMITER = {"csv": ",", "tsv": "\t"}


def _tasks(reports: Iterator[Report], size: int, first: int) -> Iterator[tuple[int, list[RawReport]]]:
    index = first
    while True:
        chunk = [(r.id, r.text, r.fields) for r in itertools.islice(reports, size)]
        if not chunk:
            return
        yield index, chunk
        index += len(chunk)


_READ_OPTIONS = ("id_col", "text_cols", "encoding_errors", "allow_duplicate_ids", "delimiter", "encoding")
"""The :class:`BatchOptions` that say how to read the input (:class:`ReportSource`'s keywords)."""


def _open_source(options: BatchOptions, stdin: IO[bytes] | None, linked: bool, err: TextIO) -> ReportSource:
    """The reader of the input (not read yet); notes on ``err`` the options this input ignores."""
    read = {name: getattr(options, name) for name in _READ_OPTIONS}
    source = ReportSource(options.input, stdin=stdin, **read)
    _note_ignored(options, source, linked, err)
    return source


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
        progress = self.state.to_dict(self.columns, self.files)
        record = run_record(self.options, self.status, self.identity, self.workers, progress)
        write_json(self.manifest_path, record, stable=True)

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
