"""The ``reportlab-nlp`` command line. Thin: parsing, messages and exit codes.

A user's mistake (a missing column, invalid UTF-8, a bad rules file, ...)
prints one message on standard error and exits with status 2; an interrupted
run exits with 130 and leaves no output file that looks complete (``label``
keeps its checkpointed ``.partial`` files for ``--resume``).
"""

from __future__ import annotations

import argparse
import functools
import sys
from collections import Counter
from collections.abc import Sequence
from typing import IO, TextIO

from . import __version__
from ._argtypes import positive_int as _positive_int
from .batch import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_CHECKPOINT_EVERY,
    ON_ERROR,
    BatchOptions,
    Output,
    available_cores,
    label_corpus,
)
from .classifier.command import add_train_parsers
from .engine_args import add_engine_args, engine_from_args
from .errors import ExtraNotInstalledError, ReportlabError
from .explain import add_explain_parser, explain_text, find_record, record_values, render_explain, use_color
from .export.cli import LabelLinkage, add_export_parser, add_manifest_args, cmd_export
from .io.tables import check_encoding, parse_delimiter
from .io.writers import FORMATS
from .labeler import load
from .review.command import add_review_parser
from .rules import with_conventions
from .service.command import add_serve_parser
from .spark import add_spark_parser
from .types import LabelValue, Report


def _add_rules_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="a rules file (YAML/JSON) applied over the built-in rules; may be repeated",
    )
    p.add_argument("--scheme", default="full", help="label scheme: full (default), chexpert, chestxray14")
    p.add_argument(
        "--conventions",
        default=None,
        metavar="NAME|none",
        help="convention profile (default: the scheme's own; full, chexpert, chestxray14, a file, or none)",
    )


def _apply_conventions(args: argparse.Namespace) -> None:
    """Put the convention profile of the chosen scheme (or --conventions) before the --rules files."""
    if hasattr(args, "conventions") and hasattr(args, "rules"):
        args.rules = [str(p) for p in with_conventions(args.rules, args.scheme, args.conventions)]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reportlab-nlp",
        description="Label findings in de-identified radiology reports, with the evidence for each.",
    )
    parser.add_argument("--version", action="version", version=f"reportlab-nlp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("label", help="label a corpus: CSV/TSV, JSONL, a folder of .txt files, or - (stdin)")
    p.add_argument("input", metavar="INPUT")
    p.add_argument(
        "--out",
        action="append",
        required=True,
        metavar="PATH",
        help="output file: .jsonl JSONL, .tsv TSV, anything else CSV unless --format says; may be repeated",
    )
    p.add_argument("--format", choices=FORMATS, default=None, help="output format (default: by extension)")
    p.add_argument(
        "--delimiter",
        default=None,
        metavar="CHAR",
        help="CSV input delimiter (e.g. ';' or tab; default: .tsv is tab, else sniffed from the header line)",
    )
    p.add_argument(
        "--encoding",
        default="utf-8",
        help="input encoding (default: utf-8; e.g. cp1252, latin-1)",
    )
    p.add_argument("--id-col", default=None, help="id column or JSON key (default: report_id, id or uid)")
    p.add_argument(
        "--text-col",
        action="append",
        default=[],
        metavar="COL",
        help="text column; several are read as sections named after their columns",
    )
    p.add_argument("--encoding-errors", choices=("strict", "replace"), default="strict")
    p.add_argument("--allow-duplicate-ids", action="store_true")
    p.add_argument("--summary", action="store_true", help="print a table of label counts on standard output")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--batch-size", type=_positive_int, default=DEFAULT_BATCH_SIZE, help=argparse.SUPPRESS)
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        metavar="N",
        help=f"worker processes, one pipeline each (default: all cores, here {available_cores()})",
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run (Ctrl-C, kill, full disk) from its last checkpoint",
    )
    p.add_argument(
        "--on-error",
        choices=ON_ERROR,
        default="skip",
        help="a report that fails: list it in OUT.errors.jsonl and go on (skip, default) or stop (fail)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_positive_int,
        default=DEFAULT_CHECKPOINT_EVERY,
        metavar="N",
        help=f"reports between checkpoints of a resumable run (default: {DEFAULT_CHECKPOINT_EVERY})",
    )
    add_engine_args(p)
    add_manifest_args(p)
    _add_rules_args(p)

    add_export_parser(sub, _add_rules_args)
    add_train_parsers(sub)
    add_spark_parser(sub, _add_rules_args)
    add_serve_parser(sub)

    add_explain_parser(sub, _add_rules_args)
    add_review_parser(sub)

    p = sub.add_parser("labels", help="list the label set of a scheme with definitions")
    p.add_argument(
        "--format",
        choices=("text", "markdown"),
        default="text",
        help="text (default): one line per column; markdown: the full label reference (docs/labels.md)",
    )
    p.add_argument("--out", default=None, metavar="PATH", help="write to PATH instead of standard output")
    _add_rules_args(p)

    p = sub.add_parser(
        "compare",
        help="compare our labels with a donor's: agreement, kappa, F1, disagreements, an HTML report",
        description="Compare OURS (our JSONL or CSV, or a file of reports, labeled first) with THEIRS "
        "(a wide or long CSV of labels); writes DIR/report.html, DIR/summary.json and DIR/disagreements.csv.",
    )
    p.add_argument("ours", metavar="OURS", help="our labels (.jsonl or .csv) or a file/folder of reports")
    p.add_argument("theirs", metavar="THEIRS", help="their labels: wide CSV, or long CSV (id, label, value)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for report.html, summary.json, ...")
    p.add_argument("--map", metavar="MAP.yaml", help="their label names to ours ('their: our' per line)")
    p.add_argument(
        "--reports", action="append", metavar="INPUT", help="the reports behind a CSV OURS, to show evidence"
    )
    p.add_argument(
        "--id-col", default=None, help="id column of OURS and --reports (default: report_id, id, uid)"
    )
    p.add_argument("--text-col", action="append", default=[], metavar="COL", help="text column of reports")
    p.add_argument("--their-id-col", default=None, help="id column of THEIRS (default: report_id, id, uid)")
    p.add_argument(
        "--convention",
        choices=("auto", "chexpert", "binary", "text"),
        default="auto",
        help="their value convention (default: detected per column)",
    )
    p.add_argument(
        "--basis",
        choices=("auto", "exact", "presence"),
        default="auto",
        help="agree on the four values (exact) or on presence (default: from THEIRS)",
    )
    p.add_argument(
        "--reference",
        choices=("theirs", "none"),
        default="theirs",
        help="with theirs as the reference, report precision, recall and F1",
    )
    p.add_argument("--our-uncertain", choices=("present", "absent"), default="present")
    p.add_argument("--their-uncertain", choices=("exclude", "present", "absent"), default="exclude")
    p.add_argument(
        "--missing",
        choices=("skip", "blank"),
        default="skip",
        help="reports only in THEIRS: listed (skip) or compared as blank (as score.py)",
    )
    p.add_argument(
        "--min-pos", type=int, default=10, help="labels in micro/macro P/R/F1 need this many positives"
    )
    p.add_argument(
        "--bootstrap", type=int, default=1000, metavar="N", help="bootstrap resamples for kappa's CI"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--top", type=int, default=50, metavar="N", help="disagreements shown in report.html")
    p.add_argument("--verdicts", metavar="CSV", help="a reviewed disagreements.csv whose verdicts carry over")
    p.add_argument("--title", default=None, help="heading of report.html")
    p.add_argument("--rules", action="append", default=[], metavar="PATH", help="rules file for labeling")
    p.add_argument("--scheme", default=None, help="scheme for labeling (default: the one matching THEIRS)")
    add_engine_args(p)
    p.add_argument("--encoding-errors", choices=("strict", "replace"), default="strict")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return parser


# ---------------------------------------------------------------------------
# label
# ---------------------------------------------------------------------------


def cmd_label(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    options = BatchOptions(
        input=args.input,
        outputs=tuple(Output.parse(path, args.format) for path in args.out),
        id_col=args.id_col,
        text_cols=tuple(args.text_col),
        encoding_errors=args.encoding_errors,
        allow_duplicate_ids=args.allow_duplicate_ids,
        rules=tuple(args.rules),
        scheme=args.scheme,
        workers=args.workers,
        batch_size=args.batch_size,
        checkpoint_every=args.checkpoint_every,
        resume=args.resume,
        on_error=args.on_error,
        progress=not args.no_progress,
        engine=args.engine,
        model_dir=args.model,
        delimiter=None if args.delimiter is None else parse_delimiter(args.delimiter),
        encoding=check_encoding(args.encoding),
    )
    linked = args.manifest is not None or bool(args.manifest_col)
    result = label_corpus(
        options,
        stderr=stderr,
        stdin=stdin,
        load=load,
        linkage=functools.partial(LabelLinkage.from_args, args) if linked else None,
    )
    if args.summary:
        print_summary(result.counts, stdout)
    stderr.write(result.summary_line() + "\n")
    if result.total and result.failed == result.total:
        # --on-error skip passes failures, but a run that labeled nothing is not a success
        stderr.write(f"reportlab-nlp: error: every report failed (listed in {result.errors_path})\n")
        return 1
    return 0


def print_summary(counts: dict[str, Counter[LabelValue]], out: TextIO) -> None:
    """A table of how many reports got each value per column."""
    width = max(len(c) for c in counts) + 2
    out.write(f"{'label':<{width}}{'1':>7}{'0':>7}{'-1':>7}{'blank':>7}\n")
    for col, c in counts.items():
        out.write(
            f"{col:<{width}}{c[LabelValue.POSITIVE]:>7}{c[LabelValue.NEGATIVE]:>7}"
            f"{c[LabelValue.UNCERTAIN]:>7}{c[LabelValue.BLANK]:>7}\n"
        )


# ---------------------------------------------------------------------------
# explain
# ---------------------------------------------------------------------------


def cmd_explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    if args.id is not None:  # a labels JSONL: show what was written, nothing is relabeled
        result = find_record(args.text, args.id)
        values = record_values(result)
        probabilities = None
    else:
        labeler = load(args.rules, scheme=args.scheme)
        engine = engine_from_args(args, labeler)
        (prediction,) = engine.predict_many([Report("explain", explain_text(args.text, stdin))])
        result = labeler.shape(prediction.labels)
        values = labeler.values(result)
        probabilities = prediction.probabilities
    color = use_color(args.color, stdout)
    stdout.write(render_explain(result, values, color=color, show_all=args.all, probabilities=probabilities))
    return 0


def cmd_labels(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    from .errors import SchemeError
    from .io.writers import AtomicFile
    from .rules import load_rules, reference

    rules = load_rules(args.rules)
    if args.scheme not in rules.schemes:
        raise SchemeError(args.scheme, rules.schemes)
    # name, parent, definition, codes and phrase count per column; markdown: docs/labels.md
    content = reference.markdown(rules) if args.format == "markdown" else reference.text(rules, args.scheme)
    if args.out is None:
        stdout.write(content)
        return 0
    with AtomicFile(args.out) as f:
        f.handle.write(content)
    return 0


def cmd_compare(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    try:
        import matplotlib  # noqa: F401  (report.html's chart; checked before any work is done)

        from .evaluate.command import run_compare
    except ImportError as e:  # the optional `compare` extra (scikit-learn, matplotlib)
        raise ExtraNotInstalledError("compare", "compare", (e.name or str(e)).split(".")[0]) from e
    return run_compare(args, stdout, stderr)


def cmd_spark_label(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    from .spark import run_spark_label  # pyspark is imported there, when present (the `spark` extra)

    return run_spark_label(args, stdout, stderr)


def cmd_train(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    from .classifier.command import run_train  # torch is imported there (the `train` extra)

    return run_train(args, stdout, stderr)


def cmd_export_model(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None
) -> int:
    from .classifier.command import run_export  # torch and onnx are imported there (the `train` extra)

    return run_export(args, stdout, stderr)


def cmd_cross_validate(
    args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None
) -> int:
    from .classifier.command import run_cross_validate  # torch is imported there (the `train` extra)

    return run_cross_validate(args, stdout, stderr)


def cmd_serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    from .service.command import run_serve  # fastapi and uvicorn are imported there (the `serve` extra)

    return run_serve(args, stdout, stderr)


def cmd_review(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    from .review.command import run_review

    return run_review(args, stdout, stderr)


COMMANDS = {
    "label": cmd_label,
    "explain": cmd_explain,
    "labels": cmd_labels,
    "export": cmd_export,
    "compare": cmd_compare,
    "spark-label": cmd_spark_label,
    "serve": cmd_serve,
    "train": cmd_train,
    "export-model": cmd_export_model,
    "cross-validate": cmd_cross_validate,
    "review": cmd_review,
}


def main(
    argv: Sequence[str] | None = None,
    *,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    stdin: IO[bytes] | None = None,
) -> int:
    """Run the command line; returns the exit status."""
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    args = build_parser().parse_args(argv)
    args.argv = list(argv) if argv is not None else sys.argv[1:]  # recorded by train/export-model
    try:
        _apply_conventions(args)
        return COMMANDS[args.command](args, stdout, stderr, stdin)
    except ReportlabError as e:
        stderr.write(f"reportlab-nlp: error: {e}\n")
        return e.exit_code
    except KeyboardInterrupt:
        stderr.write("reportlab-nlp: interrupted; no output file was written\n")
        return 130
    except BrokenPipeError:
        return 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
