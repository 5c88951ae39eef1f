"""The ``reportlab-nlp`` command line. Thin: parsing, messages and exit codes.

A user's mistake (a missing column, invalid UTF-8, a bad rules file, ...)
prints one message on standard error and exits with status 2; an interrupted
run exits with 130 and leaves no partial output behind.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from typing import IO, TextIO

from . import __version__
from .errors import ReportlabError
from .io.readers import ReportSource, read_text_arg
from .io.writers import Writer, writer_for
from .labeler import Labeler, load
from .types import Assertion, LabelValue, ReportLabels

PROGRESS_MIN_REPORTS = 300


def _add_rules_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="a rules file (YAML/JSON) applied over the built-in rules; may be repeated",
    )
    p.add_argument("--scheme", default="full", help="label scheme: full (default), chexpert, chestxray14")


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
        help="output file; .jsonl is JSONL, anything else CSV unless --format says; may be repeated",
    )
    p.add_argument("--format", choices=("csv", "jsonl"), default=None, help="output format (default: by extension)")
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
    p.add_argument("--batch-size", type=int, default=256, help=argparse.SUPPRESS)
    _add_rules_args(p)

    p = sub.add_parser("explain", help="label one report and show the evidence, highlighted")
    p.add_argument("text", metavar="TEXT", help="the report's text, or - to read it from standard input")
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--all", action="store_true", help="also list blank labels")
    _add_rules_args(p)

    p = sub.add_parser("labels", help="list the label set of a scheme with definitions")
    _add_rules_args(p)
    return parser


# ---------------------------------------------------------------------------
# label
# ---------------------------------------------------------------------------


def _is_unread(report: ReportLabels) -> bool:
    return bool(report.warnings) and all(v is LabelValue.BLANK for v in report.labels.values())


def cmd_label(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    started = time.perf_counter()
    labeler = load(args.rules, scheme=args.scheme)
    columns = labeler.columns()
    source = ReportSource(
        args.input,
        id_col=args.id_col,
        text_cols=args.text_col,
        encoding_errors=args.encoding_errors,
        allow_duplicate_ids=args.allow_duplicate_ids,
        stdin=stdin,
    )
    total = source.check()
    writers: list[Writer] = []
    counts: dict[str, Counter[LabelValue]] = {c: Counter() for c in columns}
    n = n_unread = n_warned = 0
    try:
        for path in args.out:
            writers.append(writer_for(path, args.format, columns))
        progress = None
        if total >= PROGRESS_MIN_REPORTS and not args.no_progress:
            from tqdm import tqdm

            progress = tqdm(total=total, unit=" reports", file=stderr, mininterval=0.5, dynamic_ncols=True)
        pairs = ((r, r) for r in source.reports())
        for result, original in labeler.pipe_with(pairs, batch_size=args.batch_size):
            values = labeler.values(result)
            for w in writers:
                w.write(result, values, original)
            for col, _, v in values:
                counts[col][v] += 1
            n += 1
            n_warned += bool(result.warnings)
            n_unread += _is_unread(result)
            if progress is not None:
                progress.update(1)
        if progress is not None:
            progress.close()
        for w in writers:
            w.commit()
    except BaseException:
        for w in writers:
            w.abort()
        raise
    elapsed = time.perf_counter() - started
    if args.summary:
        print_summary(counts, stdout)
    rate = n / elapsed if elapsed > 0 else 0.0
    stderr.write(
        f"reportlab-nlp: {total} reports read, {n} labeled, {n_unread} empty or without readable text, "
        f"{n_warned} with warnings; {elapsed:.1f} s ({rate:.0f} reports/s); "
        f"wrote {', '.join(args.out)}\n"
    )
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

_ANSI = {
    "match": "\033[1;4m",
    "cue": "\033[3;35m",
    "reset": "\033[0m",
    Assertion.PRESENT: "\033[1;31m",
    Assertion.NEGATED: "\033[1;32m",
    Assertion.UNCERTAIN: "\033[1;33m",
    Assertion.HYPOTHETICAL: "\033[1;36m",
    Assertion.HISTORICAL: "\033[1;34m",
}
_VALUE_NAMES = {1: "positive", 0: "negative", -1: "uncertain", None: "blank"}


def highlight(sentence: str, offset: int, spans: Sequence[tuple[int, int, str]], color: bool) -> str:
    """Mark spans (absolute offsets) in a sentence starting at ``offset``.

    With colour: ANSI styles; without: ``[match]`` and ``{cue}``.
    """
    marks: list[tuple[int, int, str]] = sorted(
        (max(0, s - offset), min(len(sentence), e - offset), kind)
        for s, e, kind in spans
        if s >= offset and e <= offset + len(sentence) and e > s
    )
    out = []
    pos = 0
    for s, e, kind in marks:
        if s < pos:
            continue
        out.append(sentence[pos:s])
        piece = sentence[s:e]
        if color:
            out.append(f"{_ANSI[kind]}{piece}{_ANSI['reset']}")
        else:
            out.append(f"[{piece}]" if kind == "match" else f"{{{piece}}}")
        pos = e
    out.append(sentence[pos:])
    return "".join(out)


def render_explain(result: ReportLabels, labeler: Labeler, *, color: bool, show_all: bool) -> str:
    lines = []
    values = labeler.values(result)
    width = max(len(c) for c, _, _ in values) + 2
    for w in result.warnings:
        lines.append(f"warning: {w}")
    for col, label, value in values:
        if value is LabelValue.BLANK and not show_all:
            continue
        name = _VALUE_NAMES[value.value]
        lines.append(f"{col:<{width}}{value.to_csv() or '':>3}  {name}")
        for m in result.evidence.get(label, ()):
            spans = [(m.start, m.end, "match")]
            if m.cue_start >= 0 and not (m.cue_start == m.start and m.cue_end == m.end):
                spans.append((m.cue_start, m.cue_end, "cue"))
            sentence = highlight(m.sentence, m.sentence_start, spans, color)
            tag = m.assertion.value
            if color:
                tag = f"{_ANSI[m.assertion]}{tag}{_ANSI['reset']}"
            cue = f'; cue "{m.cue}"' if m.cue else ""
            lines.append(f"    - {tag} [{m.section} {m.start}:{m.end}{cue}] {sentence}")
    if not any(v is not LabelValue.BLANK for _, _, v in values):
        lines.append("(no labels)")
    return "\n".join(lines) + "\n"


def cmd_explain(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    labeler = load(args.rules, scheme=args.scheme)
    text = read_text_arg(args.text, stdin)
    result = labeler.label(text, id="explain")
    if args.color == "auto":
        color = stdout.isatty() and os.environ.get("NO_COLOR") is None
    else:
        color = args.color == "always"
    stdout.write(render_explain(result, labeler, color=color, show_all=args.all))
    return 0


def cmd_labels(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    labeler = load(args.rules, scheme=args.scheme)
    scheme = labeler.get_scheme()
    defs = {f.label: f for f in labeler.rules.findings}
    width = max(len(c) for c, _ in scheme.columns) + 2
    stdout.write(f"scheme {scheme.name}: {scheme.description}\n")
    for col, label in scheme.columns:
        f = defs.get(label)
        alias = f" (= {label})" if col != label else ""
        if f is None:
            stdout.write(f"{col:<{width}}computed: 1 when no pathology is present or possible{alias}\n")
            continue
        stdout.write(f"{col:<{width}}{f.definition}{alias} [{len(f.phrases)} phrases, {len(f.patterns)} patterns]\n")
    return 0


COMMANDS = {"label": cmd_label, "explain": cmd_explain, "labels": cmd_labels}


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
    try:
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
