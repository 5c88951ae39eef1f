"""``reportlab-nlp compare``: read both sides (label OURS first if it is reports), compare, write.

OURS is one of:

* our JSONL (``label --out x.jsonl``): labels and evidence;
* our wide CSV (``label --out x.csv``): labels only; with ``--reports``,
  the reports behind the disagreements are labeled again to show evidence;
* a file (or folder) of reports: anything :class:`~reportlab_nlp.io.readers.ReportSource`
  reads, recognised by a text column (``--text-col``, or ``text``, ``report``,
  ...); it is labeled first, in the scheme whose names match THEIRS best
  (or ``--scheme``).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TextIO

from ..engine_args import engine_from_args
from ..engines import Engine
from ..errors import InputError, ReportlabError
from ..io.readers import DEFAULT_ID_COLUMNS, DEFAULT_TEXT_COLUMNS, ReportSource
from ..labeler import Labeler
from ..rules import RuleSet, load_rules
from ..types import LabelValue, Mention, Report
from .compare import Comparison, average_scope, compare
from .disagreements import read_disagreements
from .mapping import LabelMap, choose_scheme, read_label_map
from .outputs import DISAGREEMENTS, write_outputs
from .tables import (
    JSONL_SUFFIXES,
    TEXT_COLUMNS,
    Evidence,
    LabelTable,
    TableBuilder,
    csv_header,
    read_labels,
)

PROGRESS_MIN_REPORTS = 300


def ours_kind(path: str, text_cols: Sequence[str]) -> str:
    """``labels`` (our JSONL or CSV) or ``reports`` (to be labeled first)."""
    p = Path(path)
    if p.is_dir():
        return "reports"
    if not p.exists():
        raise InputError(f"{path}: no such file or folder")
    if p.suffix.lower() in JSONL_SUFFIXES:
        with open(p, encoding="utf-8-sig", errors="replace") as f:
            for line in f:
                if line.strip():
                    try:
                        first = json.loads(line)
                    except json.JSONDecodeError:
                        return "labels"  # the labels reader names the line
                    return "labels" if isinstance(first, dict) and "labels" in first else "reports"
        return "labels"
    header = csv_header(path)
    if text_cols or any(c in header for c in TEXT_COLUMNS):
        return "reports"
    return "labels"


def report_source(path: str, args: argparse.Namespace) -> ReportSource:
    """The reports of ``path``; a CSV in CheXpert's layout is read by its ``Path`` and ``Reports`` columns.

    CheXpert's names are ours: when no ``--id-col``/``--text-col`` is given and none
    of our default columns is there, ``Path`` is the id and ``Reports`` the text.
    """
    id_col, text_cols = args.id_col, list(args.text_col)
    header: list[str] = []
    p = Path(path)
    if p.is_file() and p.suffix.lower() not in JSONL_SUFFIXES:
        try:
            header = csv_header(path)
        except InputError:
            header = []  # the reader names what is wrong
    if id_col is None and "Path" in header and not any(c in header for c in DEFAULT_ID_COLUMNS):
        id_col = "Path"
    if not text_cols and "Reports" in header and not any(c in header for c in DEFAULT_TEXT_COLUMNS):
        text_cols = ["Reports"]
    return ReportSource(path, id_col=id_col, text_cols=text_cols, encoding_errors=args.encoding_errors)


def _scheme_columns(rules: RuleSet) -> dict[str, list[str]]:
    return {name: [c for c, _ in scheme.columns] for name, scheme in rules.schemes.items()}


def _engine(args: argparse.Namespace, rules: RuleSet, scheme: str) -> tuple[Engine, str]:
    """The ``--engine`` that labels OURS (around a rule labeler of ``scheme``), and the scheme's name."""
    labeler = Labeler(rules, scheme=scheme)
    return engine_from_args(args, labeler), labeler.scheme


def _labeled(
    engine: Engine, scheme: str, reports: Iterator[Report]
) -> Iterator[tuple[str, dict[str, LabelValue], dict[str, tuple[Mention, ...]]]]:
    """(id, values by column, evidence by column) of each report, labeled."""
    for _, outcome in engine.stream(reports):
        if isinstance(outcome, Exception):
            raise outcome
        result = outcome.labels
        values = engine.values(result, scheme)
        evidence = {
            col: result.evidence[label]
            for col, label, v in values
            if v is not LabelValue.BLANK and result.evidence.get(label)
        }
        yield result.id, {col: v for col, _, v in values}, evidence


def label_reports(
    args: argparse.Namespace, theirs: LabelTable, label_map: LabelMap | None, stderr: TextIO
) -> LabelTable:
    """Label OURS (a file of reports) into a table with evidence."""
    rules = load_rules(args.rules)
    scheme = args.scheme or choose_scheme(_scheme_columns(rules), theirs.columns, label_map)
    engine, scheme = _engine(args, rules, scheme)
    source = report_source(args.ours, args)
    total = source.check()
    label = f"reports, labeled ({scheme} scheme{_by(engine)})"
    builder = TableBuilder(args.ours, label, engine.columns(scheme), with_evidence=True)
    progress = None
    if total >= PROGRESS_MIN_REPORTS and not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(total=total, unit=" reports", file=stderr, mininterval=0.5, dynamic_ncols=True)
    for n, (rid, values, evidence) in enumerate(_labeled(engine, scheme, source.reports()), start=1):
        builder.add(rid, values, row=n, evidence=evidence)
        if progress is not None:
            progress.update(1)
    if progress is not None:
        progress.close()
    return builder.build(id_column=args.id_col or "")


def _by(engine: Engine) -> str:
    return "" if engine.name == "rules" else f", engine {engine.name}"


class ReportsEvidence:
    """Evidence for a labels CSV: label again, from ``--reports``, the reports that have disagreements."""

    def __init__(self, args: argparse.Namespace, ours: LabelTable) -> None:
        self.args = args
        self.ours = ours
        self.labeled = 0

    def __call__(self, ids: set[str]) -> Evidence:
        args = self.args
        rules = load_rules(args.rules)
        schemes = _scheme_columns(rules)
        # the scheme whose columns are OURS' columns (most in common; `full` on ties)
        scheme = args.scheme or max(
            schemes, key=lambda s: (len(set(schemes[s]) & set(self.ours.columns)), s == "full")
        )
        engine, scheme = _engine(args, rules, scheme)
        out: dict[str, dict[str, tuple[Mention, ...]]] = {}
        for path in args.reports:
            source = report_source(path, args)
            source.check()
            wanted = (r for r in source.reports() if r.id in ids and r.id not in out)
            for rid, _, evidence in _labeled(engine, scheme, wanted):
                out[rid] = evidence
                self.labeled += 1
        return out


def print_table(c: Comparison, out: TextIO) -> None:
    """Per-label figures on standard output (no report text)."""

    def f(v: float | None, digits: int = 3) -> str:
        return "-" if v is None else f"{v:.{digits}f}"

    width = max([len(r.label) for r in c.labels] + [10]) + 2
    ref = c.settings.reference
    head = f"{'label':<{width}}{'n':>6}{'agree':>8}{'kappa':>8}{'95% CI':>16}"
    if ref:
        head += f"{'P':>7}{'R':>7}{'F1':>7}"
    out.write(head + f"{'differ':>8}\n")
    for r in c.labels:
        k = r.kappa
        ci = f"[{k.ci[0]:.2f}, {k.ci[1]:.2f}]" if k.ci else "-"
        n = r.n if c.basis == "exact" else r.presence.n
        line = f"{r.label:<{width}}{n:>6}{f(r.agreement):>8}{f(k.value):>8}{ci:>16}"
        if ref:
            line += "".join(f"{'n/a' if v is None else f(v):>7}" for v in r.presence.scores.shown())
        out.write(line + f"{r.disagreements:>8}\n")
    o = c.overall
    line = (
        f"basis {c.basis}: agreement micro {f(o['agreement_micro'])} macro {f(o['agreement_macro'])}; "
        f"kappa micro {f(o['kappa_micro'])} macro {f(o['kappa_macro'])}"
    )
    if ref:
        p = o["presence"]
        line += f"; F1 micro {f(p['f1_micro'])} macro {f(p['f1_macro'])} ({average_scope(p)})"
    out.write(line + "\n")


def run_compare(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """The ``compare`` command; returns the exit status."""
    started = time.perf_counter()
    for option, value in (("--bootstrap", args.bootstrap), ("--min-pos", args.min_pos), ("--top", args.top)):
        if value < 0:
            raise ReportlabError(f"{option} must be 0 or more, got {value}")
    theirs = read_labels(args.theirs, id_col=args.their_id_col, option="--their-id-col")
    label_map = read_label_map(args.map) if args.map else None
    provider = None
    if ours_kind(args.ours, args.text_col) == "reports":
        ours = label_reports(args, theirs, label_map, stderr)
    else:
        ours = read_labels(args.ours, id_col=args.id_col)
        if ours.evidence is None and args.reports:
            provider = ReportsEvidence(args, ours)
    if args.reports and provider is None:
        stderr.write(
            "reportlab-nlp: note: --reports is not needed here (OURS carries its evidence); ignored\n"
        )
    comparison = compare(
        theirs,
        ours,
        label_map=label_map,
        reference=args.reference == "theirs",
        basis=args.basis,
        our_uncertain=args.our_uncertain,
        their_uncertain=args.their_uncertain,
        missing=args.missing,
        min_pos=args.min_pos,
        n_boot=args.bootstrap,
        seed=args.seed,
        convention=args.convention,
        evidence=provider,
    )
    verdicts = args.verdicts or (Path(args.out) / DISAGREEMENTS)
    if args.verdicts or Path(verdicts).is_file():
        comparison.apply_verdicts(read_disagreements(verdicts))
    paths = write_outputs(comparison, args.out, top=args.top, title=args.title)
    print_table(comparison, stdout)
    elapsed = time.perf_counter() - started
    carried = f"; {comparison.verdicts_carried} verdicts carried over" if comparison.verdicts_carried else ""
    stderr.write(
        f"reportlab-nlp: compared {comparison.compared} reports on {len(comparison.labels)} labels "
        f"({len(comparison.only_ours)} only in OURS, {len(comparison.only_theirs)} only in THEIRS); "
        f"{len(comparison.disagreements)} disagreements{carried}; {elapsed:.1f} s; "
        f"wrote {', '.join(str(p) for p in paths.values())}\n"
    )
    return 0


__all__ = ["ReportsEvidence", "label_reports", "ours_kind", "print_table", "run_compare"]
