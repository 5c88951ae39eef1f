"""The run: :func:`label_corpus`, from the options to the finished outputs."""

from __future__ import annotations

import contextlib
import itertools
import math
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TextIO

from ..engines import Engine, get_engine
from ..errors import OutputError, ResumeError, SchemeError
from ..io.digest import sha256_input
from ..io.durable import PARTIAL_SUFFIX, beside, check_target
from ..io.locks import OutputLock
from ..io.readers import ReportSource
from ..labeler import Labeler, load
from ..rules import load_rules
from .chunks import _VALUE_INDEX, Failure
from .options import PROGRESS_MIN_REPORTS, BatchOptions, BatchResult, Linkage, available_cores
from .pool import _Engine
from .resume import _identity, _read_prior
from .spool import SPOOL_SUFFIX, _close_spool, _open_spool
from .stream import _note_ignored, _Run, _tasks


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
