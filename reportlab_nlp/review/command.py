"""``reportlab-nlp review LABELS.jsonl --top N``: the cells a curator should read first.

Scores every (report, label) cell of a labels JSONL (:mod:`reportlab_nlp.review.score`),
ranks them (highest score first; ties in file and column order) and writes the
top ``N`` cells (or ``N%`` of them) as a CSV and an HTML page, both atomically.
A rules-engine JSONL has no model probabilities: its cells are scored by the
combiner without model signals, and both outputs say so.
"""

from __future__ import annotations

import argparse
import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

from ..errors import ExtraNotInstalledError
from ..io.durable import AtomicFile
from .features import Cell, cells_of, has_model_signals
from .records import read_records
from .score import shipped

CSV_COLUMNS = ("rank", "report_id", "label", "value", "score", "reasons", "evidence")


@dataclass(frozen=True)
class Top:
    """``--top``: a number of cells or a percentage of them."""

    count: int | None = None
    percent: float | None = None

    def of(self, total: int) -> int:
        if self.percent is not None:
            return min(total, math.ceil(total * self.percent / 100))
        return min(total, self.count or 0)

    def __str__(self) -> str:
        return f"{self.percent:g}%" if self.percent is not None else str(self.count)


def parse_top(text: str) -> Top:
    """``50`` or ``2%`` (argparse type: a bad value exits 2 with the expected form)."""
    value = text.strip()
    try:
        if value.endswith("%"):
            pct = float(value[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return Top(percent=pct)
        count = int(value)
        if count < 1:
            raise ValueError
        return Top(count=count)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected a number of cells (e.g. 50) or a percentage of them (e.g. 2%), found {text!r}"
        ) from None


@dataclass(frozen=True)
class Ranked:
    rank: int
    cell: Cell
    score: float
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Queue:
    """The ranked top cells of one labels file."""

    source: str
    total: int
    reports: int
    with_model: bool
    top: Top
    cells: tuple[Ranked, ...]


def build_queue(path: str, records: Sequence[Mapping[str, Any]], top: Top) -> Queue:
    model = shipped()
    with_model = has_model_signals(records)
    scored = [
        (model.score_cell(c, with_model=with_model), i, c)
        for i, c in enumerate(c for r in records for c in cells_of(r))
    ]
    scored.sort(key=lambda t: (-t[0], t[1]))
    chosen = scored[: top.of(len(scored))]
    ranked = tuple(
        Ranked(n, c, s, tuple(model.reasons(c, with_model=with_model)))
        for n, (s, _, c) in enumerate(chosen, 1)
    )
    return Queue(path, len(scored), len(records), with_model, top, ranked)


def evidence_text(cell: Cell) -> str:
    """The cell's mentions as ``start-end "text" (assertion, cue "...")``, joined by `` | ``."""
    parts = []
    for m in cell.mentions:
        cue = f', cue "{m.get("cue")}"' if m.get("cue") else ""
        parts.append(f'{m.get("start")}-{m.get("end")} "{m.get("text", "")}" ({m.get("assertion", "")}{cue})')
    return " | ".join(parts)


def value_text(value: Any) -> str:
    return "blank" if value is None else str(value)


def render_csv(queue: Queue) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in queue.cells:
        w.writerow(
            [
                r.rank,
                r.cell.report_id,
                r.cell.column,
                value_text(r.cell.value),
                f"{r.score:.4f}",
                "; ".join(r.reasons),
                evidence_text(r.cell),
            ]
        )
    return buf.getvalue()


def signals_note(queue: Queue) -> str:
    if queue.with_model:
        return "model signals used (the JSONL has the model's probabilities and the hybrid's review flags)"
    return (
        "no model signals: the JSONL has no model probabilities (a rules-engine run); scored from the rules' "
        "signals only (values, cue and lexicon accuracies, conflicting and hedged mentions)"
    )


def add_review_parser(sub: Any) -> None:
    p = sub.add_parser(
        "review", help="rank a labels JSONL's cells by how likely each label is wrong (a CSV and HTML)"
    )
    p.add_argument("input", metavar="LABELS.jsonl", help="a labels JSONL written by `label` (any engine)")
    p.add_argument(
        "--top",
        type=parse_top,
        default=Top(count=50),
        metavar="N|N%",
        help="how many cells to list: a number, or a percentage of all cells (default: 50)",
    )
    p.add_argument("--csv", default="review.csv", metavar="PATH", help="the CSV (default: review.csv)")
    p.add_argument(
        "--html", default="review.html", metavar="PATH", help="the HTML page (default: review.html)"
    )


def run_review(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    try:
        from .page import render_html
    except ImportError as e:  # the HTML reuses compare's report pieces (the `compare` extra)
        raise ExtraNotInstalledError("review", "compare", (e.name or str(e)).split(".")[0]) from e
    records = read_records(args.input)
    queue = build_queue(args.input, records, args.top)
    page = render_html(queue)
    with AtomicFile(args.csv) as f:
        f.handle.write(render_csv(queue))
    with AtomicFile(args.html) as f:
        f.handle.write(page)
    stderr.write(
        f"reportlab-nlp: {queue.total:,} cells of {queue.reports:,} reports scored; top {len(queue.cells)} "
        f"written to {args.csv} and {args.html}; {signals_note(queue)}\n"
    )
    return 0
