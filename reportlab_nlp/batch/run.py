"""The run: :func:`label_corpus`, from the options to the finished outputs."""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TextIO

from ..engines import Engine, get_engine
from ..errors import OutputError, ReportFailedError, ResumeError, SchemeError
from ..io.digest import sha256_input
from ..io.durable import PARTIAL_SUFFIX, beside, check_target
from ..io.locks import OutputLock
from ..io.readers import ReportSource
from ..labeler import Labeler, load
from ..rules import RuleSet, load_rules
from .chunks import _VALUE_INDEX, Failure
from .options import PROGRESS_MIN_REPORTS, BatchOptions, BatchResult, Linkage, available_cores
from .pool import Workers
from .resume import _identity, _read_prior
from .spool import SPOOL_SUFFIX, _close_spool, _open_spool
from .stream import _open_source, _Run, _tasks

MakeLinkage = Callable[[Labeler, Engine | None], Linkage]
"""Makes the study linkage of a run from its labeler and engine (``label --manifest``)."""


class _Stop(Exception):
    """Internal: a report failed under ``on_error="fail"``."""

    def __init__(self, failure: Failure) -> None:
        super().__init__(failure.id)
        self.failure = failure


def label_corpus(
    options: BatchOptions,
    *,
    stderr: TextIO | None = None,
    stdin: IO[bytes] | None = None,
    load: Callable[..., Labeler] = load,
    linkage: MakeLinkage | None = None,
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
        return _label_corpus(options, sys.stderr if stderr is None else stderr, stdin, load, linkage)


@dataclass
class _Setup:
    """What a run needs, checked before anything is written: the input, the rules, the engine."""

    source: ReportSource
    total: int
    workers: int
    rules: RuleSet
    scheme: str
    rules_hash: str
    labeler: Labeler | None
    engine: Engine | None
    """This process's labeler and engine (one worker, or a study linkage); None: the workers build theirs."""


def _label_corpus(
    options: BatchOptions,
    err: TextIO,
    stdin: IO[bytes] | None,
    load: Callable[..., Labeler],
    linkage: MakeLinkage | None,
) -> BatchResult:
    """:func:`label_corpus` once its outputs are checked and locked."""
    started = time.perf_counter()
    setup = _prepare(options, err, stdin, load, linkage is not None)
    link = None
    if linkage is not None and setup.labeler is not None:  # its provenance records the engine, its model
        link = linkage(setup.labeler, setup.engine if options.engine != "rules" else None)
    run, resumed_at = _open_run(options, setup, err, link)
    processed = 0
    try:
        run.safe_checkpoint()
        if run.status == "running":
            processed = _stream(options, setup, run, link)
        run.finish(link)
    except BaseException as exc:
        stop = _give_up(exc, run, err)
        if stop is not None:
            raise stop from None
        raise
    return _result(options, setup, run, time.perf_counter() - started, processed, resumed_at)


def _prepare(
    options: BatchOptions, err: TextIO, stdin: IO[bytes] | None, load: Callable[..., Labeler], linked: bool
) -> _Setup:
    """Check the input, the rules, the scheme and the engine; count the reports and the workers."""
    if options.resume and options.input == "-":
        raise ResumeError("--resume needs an input file or folder: standard input cannot be read again")
    if options.resume and linked:
        raise ResumeError("--resume does not work with --manifest; run the study-linked labeling again")
    source = _open_source(options, stdin, linked, err)
    total = source.check()
    workers = _count_workers(options, total, err)
    if workers > 1 and not linked:  # the workers build the pipelines; this process needs only the rules
        rules = load_rules(options.rules)
        if options.scheme not in rules.schemes:
            raise SchemeError(options.scheme, rules.schemes)
        return _Setup(source, total, workers, rules, options.scheme, rules.digest(), None, None)
    labeler = load(list(options.rules), scheme=options.scheme)
    engine = get_engine(options.engine, rules=labeler.rules, model_dir=options.model_dir, labeler=labeler)
    engine.load()  # a model's sha256 checks and extra: fail before anything is written
    return _Setup(source, total, workers, labeler.rules, labeler.scheme, labeler.rules_hash, labeler, engine)


def _count_workers(options: BatchOptions, total: int, err: TextIO) -> int:
    """The number of worker processes: no more than chunks, one for a model engine (noted when fewer)."""
    workers = min(options.workers or available_cores(), max(1, math.ceil(total / options.batch_size)))
    if options.engine != "rules":  # checked before any work; one process (ONNX Runtime uses the cores)
        get_engine(options.engine, rules=list(options.rules), model_dir=options.model_dir)
        workers = 1
    if options.workers is not None and options.workers > workers:
        why = (
            f"--engine {options.engine} labels in one process (ONNX Runtime uses the cores)"
            if options.engine != "rules"
            else f"{total} reports fill {workers} chunk{'s' if workers > 1 else ''} of {options.batch_size}"
        )
        how = "one process" if workers == 1 else f"{workers} worker processes"
        err.write(f"reportlab-nlp: note: --workers {options.workers} runs {how}: {why}\n")
    return workers


def _open_run(
    options: BatchOptions, setup: _Setup, err: TextIO, link: Linkage | None
) -> tuple[_Run, int | None]:
    """The files of the run, opened (those of the interrupted run when resuming); where it resumes."""
    resumable = options.input != "-" and link is None
    identity: dict[str, Any] = {}
    prior: dict[str, Any] | None = None
    if resumable:
        identity = _identity(
            options, sha256_input(options.input), setup.total, setup.scheme, setup.rules_hash
        )
        identity["conventions"] = setup.rules.conventions.name
        if setup.engine is not None and options.engine != "rules":
            identity["engine"] = options.engine
            identity["model_sha256"] = setup.engine.model_sha256()
        prior = _read_prior(options, identity, err)
    scheme = setup.rules.schemes[setup.scheme]
    run = _Run(
        options,
        err,
        total=setup.total,
        columns=[c for c, _ in scheme.columns],
        resumable=resumable,
        identity=identity,
        workers=setup.workers,
        categories=scheme.categories,
    )
    run.open(prior, link)
    resumed_at = run.state.done if prior is not None else None
    if resumed_at is not None:
        err.write(
            f"reportlab-nlp: resuming the run recorded in {options.run_manifest_path}: "
            f"{resumed_at} of {setup.total} reports done\n"
        )
    return run, resumed_at


def _stream(options: BatchOptions, setup: _Setup, run: _Run, link: Linkage | None) -> int:
    """Label the reports not done yet into the run's files; the number labeled."""
    formats = None if link is not None else tuple(o.format for o in options.outputs)
    spool: Path | None = None
    if setup.workers > 1 and formats is not None:
        first = Path(options.outputs[0].path)
        spool = _open_spool(first.with_name(f".{first.name}{SPOOL_SUFFIX}"))
    try:
        # the pool first: a progress bar starts a thread, and fork wants none
        workers = Workers(setup.workers, setup.engine, setup.rules, setup.scheme, formats, spool)
        try:
            with _progress(options, run.state.done, setup.total, run.err) as bar:
                processed = _write_chunks(options, setup.source, workers, run, link, bar)
        except BaseException:
            workers.close(ok=False)
            raise
        workers.close(ok=True)
    finally:
        _close_spool(spool)
    return processed


@contextlib.contextmanager
def _progress(options: BatchOptions, done: int, total: int, err: TextIO) -> Iterator[Any]:
    """A progress bar on ``err`` (closed at the end), or None for a short run or ``progress=False``."""
    if not options.progress or total - done < PROGRESS_MIN_REPORTS:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(
        total=total,
        initial=done,
        unit=" reports",
        file=err,
        mininterval=0.5,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    try:
        yield bar
    finally:
        bar.close()


def _write_chunks(
    options: BatchOptions, source: ReportSource, workers: Workers, run: _Run, link: Linkage | None, bar: Any
) -> int:
    """Label the chunks in order and append each to the run's files, checkpointing as it goes."""
    processed = 0
    reports = itertools.islice(source.reports(), run.state.done, None)
    last = run.state.done
    for chunk, res in workers.map(_tasks(reports, options.batch_size, run.state.done)):
        if res.failures and options.on_error == "fail":
            raise _Stop(res.failures[0])
        run.write(chunk, res, link)
        processed += res.size
        if bar is not None:
            bar.update(res.size)
        if run.state.done - last >= options.checkpoint_every:
            run.safe_checkpoint()
            last = run.state.done
    return processed


def _give_up(exc: BaseException, run: _Run, err: TextIO) -> ReportFailedError | None:
    """Clean up after ``exc``: keep a resumable state (Ctrl-C, a write error, a failed report) or remove it.

    Returns the error to raise instead of ``exc`` (a failed report under ``on_error="fail"``), or None.
    """
    keep = run.resumable and isinstance(exc, KeyboardInterrupt | OutputError | _Stop)
    if keep:
        with contextlib.suppress(OSError):
            run.checkpoint()
    run.release(delete=not keep)
    if isinstance(exc, _Stop):
        return run.stopped(exc.failure, kept=keep)
    if keep and isinstance(exc, KeyboardInterrupt):
        err.write(
            f"reportlab-nlp: interrupted after {run.state.done} of {run.total} reports; "
            "run the same command with --resume to continue\n"
        )
    return None


def _result(
    options: BatchOptions, setup: _Setup, run: _Run, elapsed: float, processed: int, resumed_at: int | None
) -> BatchResult:
    state = run.state
    return BatchResult(
        total=setup.total,
        labeled=state.labeled,
        failed=state.failed,
        unread=state.unread,
        warned=state.warned,
        counts={
            c: Counter(dict(zip(_VALUE_INDEX, v, strict=True)))
            for c, v in zip(run.columns, state.counts, strict=True)
        },
        elapsed=elapsed,
        processed=processed,
        workers=setup.workers,
        resumed_at=resumed_at,
        outputs=options.outputs,
        errors_path=run.errors_path if state.failed else None,
    )
