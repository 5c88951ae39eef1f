"""``reportlab-nlp explain``: one report's labels with their evidence, highlighted.

``explain TEXT`` labels one report. TEXT is read from standard input when it
is ``-``, from the file when it names an existing file, and is otherwise the
report's text itself. ``explain --id ID LABELS.jsonl`` shows the labels and
evidence of report ID from a labels JSONL written by ``label`` (nothing is
relabeled: what is shown is what was written).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

from .engine_args import add_engine_args
from .errors import EncodingError, InputError
from .io.readers import first_bad_utf8, read_text_arg
from .types import Assertion, LabelValue, ReportLabels

EXPLAIN_HELP = (
    "the report's text; - reads it from standard input, and a TEXT that names an existing file "
    "reads that file (UTF-8); with --id: a labels JSONL written by `label`"
)

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

Values = Sequence[tuple[str, str, LabelValue]]


def add_explain_parser(sub: Any, add_rules_args: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "explain",
        help="label one report (text, file or -) and show the evidence, highlighted",
        description="Label one report and show each label's evidence. TEXT: - reads standard input; "
        "a TEXT naming an existing file reads the file; anything else is the report's text. "
        "With --id ID, TEXT is a labels JSONL (from `label`) and report ID's labels are shown as written.",
    )
    p.add_argument("text", metavar="TEXT", help=EXPLAIN_HELP)
    p.add_argument(
        "--id", default=None, metavar="ID", help="show report ID of the labels JSONL TEXT (no relabeling)"
    )
    p.add_argument("--color", choices=("auto", "always", "never"), default="auto")
    p.add_argument("--all", action="store_true", help="also list blank labels")
    add_engine_args(p)
    add_rules_args(p)


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


def render_explain(
    result: ReportLabels,
    values: Values,
    *,
    color: bool,
    show_all: bool,
    probabilities: Mapping[str, float] | None = None,
) -> str:
    """The text ``explain`` prints: per (column, label, value), the value and each mention's evidence.

    A value the model decided (``--engine model|hybrid``) shows the model and,
    given ``probabilities`` (by label), its probability of presence.
    """
    lines = []
    width = max((len(c) for c, _, _ in values), default=0) + 2
    for w in result.warnings:
        lines.append(f"warning: {w}")
    for col, label, value in values:
        if value is LabelValue.BLANK and not show_all:
            continue
        name = _VALUE_NAMES[value.value]
        lines.append(f"{col:<{width}}{value.to_csv() or '':>3}  {name}")
        for m in result.evidence.get(label, ()):
            if m.source == "model":
                p = f", p={probabilities[label]:.3f}" if probabilities and label in probabilities else ""
                lines.append(f"    - {m.assertion.value} [{m.rule}{p}]")
                continue
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


def explain_text(value: str, stdin: IO[bytes] | None) -> str:
    """The report ``explain TEXT`` labels: standard input for ``-``, a file's text, or TEXT itself."""
    if value == "-" or not _is_file(value):
        return read_text_arg(value, stdin)
    data = Path(value).read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        bad = first_bad_utf8(value)
        raise EncodingError(value, bad[0] if bad else e.start, bad[1] if bad else e.reason) from None


def _is_file(value: str) -> bool:
    # a report's text may be long or hold characters no path can: only a plausible path is tried
    if "\n" in value or "\0" in value or len(value) > 4096:
        return False
    try:
        return Path(value).is_file()
    except (OSError, ValueError):
        return False


def find_record(path: str, report_id: str) -> ReportLabels:
    """Report ``report_id``'s record in a labels JSONL (``label --out x.jsonl``)."""
    if not _is_file(path):
        raise InputError(
            f"{path}: no such labels file (explain --id reads a labels JSONL written by `label`)"
        )
    count = 0
    with open(path, encoding="utf-8-sig", errors="replace") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise InputError(
                    f"{path}: line {number} is not JSON ({e.msg}); expected a labels JSONL"
                ) from None
            if not isinstance(record, dict) or "id" not in record or "labels" not in record:
                raise InputError(
                    f"{path}: line {number}: expected a labels record with 'id' and 'labels', found "
                    f"{', '.join(map(repr, record)) if isinstance(record, dict) else type(record).__name__}"
                )
            count += 1
            if str(record["id"]) == report_id:
                return ReportLabels.from_dict(record)
    raise InputError(f"{path}: no report with id {report_id!r} (the file holds {count} reports)")


def record_values(result: ReportLabels) -> list[tuple[str, str, LabelValue]]:
    """A written record's labels as (column, column, value): its columns are the scheme it was written in."""
    return [(col, col, value) for col, value in result.labels.items()]


def use_color(choice: str, stdout: TextIO) -> bool:
    if choice == "auto":
        return stdout.isatty() and os.environ.get("NO_COLOR") is None
    return choice == "always"
