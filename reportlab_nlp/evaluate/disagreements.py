"""``disagreements.csv``: the reports where we and the donor differ, for review and re-import.

One row per (report, label), most informative first, with our evidence (the
sentence, the matched phrase, the cue) and two columns for the reviewer:
``verdict`` (one of ``ours``, ``theirs``, ``both``, ``neither``, ``unclear``,
or blank) and ``note``. Reading the file back (:func:`read_disagreements`)
and running the comparison again (``compare --verdicts FILE``, or the same
``--out`` folder) carries the verdicts over to the rows whose report, label
and two values are unchanged.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ..errors import ColumnNotFoundError, LabelFileError
from ..types import LabelValue
from .compare import KINDS, VERDICTS, Disagreement
from .conventions import format_rows
from .tables import check_file

COLUMNS = (
    "rank",
    "report_id",
    "label",
    "their_label",
    "ours",
    "theirs",
    "their_value",
    "kind",
    "section",
    "sentence",
    "matched",
    "cue",
    "assertion",
    "evidence_note",
    "verdict",
    "note",
)
REQUIRED = ("report_id", "label", "ours", "theirs", "verdict")


def value_text(value: LabelValue) -> str:
    """``1``, ``0``, ``-1`` or ``blank`` (spelled out, so a reviewer sees it)."""
    return "blank" if value is LabelValue.BLANK else value.to_csv()


def parse_value(text: str) -> LabelValue:
    """Inverse of :func:`value_text` (an empty cell is blank too)."""
    t = text.strip().lower()
    return LabelValue.BLANK if t in ("", "blank") else LabelValue.parse(t)


def write_disagreements(handle: IO[str], disagreements: Sequence[Disagreement]) -> None:
    """Write the CSV to an open text handle (the caller makes it atomic)."""
    w = csv.writer(handle, lineterminator="\n")
    w.writerow(COLUMNS)
    for d in disagreements:
        w.writerow(
            [
                d.rank,
                d.report_id,
                d.label,
                d.their_label,
                value_text(d.ours),
                value_text(d.theirs),
                d.their_value,
                d.kind,
                d.section,
                d.sentence,
                d.matched,
                d.cue,
                d.assertion,
                d.evidence_note,
                d.verdict,
                d.note,
            ]
        )


def read_disagreements(path: str | Path) -> list[Disagreement]:
    """Read a (reviewed) ``disagreements.csv`` back.

    Raises
    ------
    ColumnNotFoundError
        A required column (report_id, label, ours, theirs, verdict) is missing.
    LabelFileError
        A verdict or value that is not allowed, naming the rows.
    """
    name = str(path)
    p = check_file(path)
    out: list[Disagreement] = []
    bad_verdicts: dict[str, list[int]] = {}
    with open(p, encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in (reader.fieldnames or [])]
        if not header:
            raise LabelFileError(f"{name}: the file is empty (expected the header of disagreements.csv)")
        for column in REQUIRED:
            if column not in header:
                raise ColumnNotFoundError(
                    name,
                    "disagreements",
                    column,
                    header,
                    hint=f"--verdicts reads a disagreements.csv written by compare ({', '.join(REQUIRED)})",
                )
        for row_no, row in enumerate(reader, start=2):
            cells = {k.strip(): (v or "") for k, v in row.items() if k is not None}
            verdict = cells.get("verdict", "").strip().lower()
            if verdict and verdict not in VERDICTS:
                bad_verdicts.setdefault(cells.get("verdict", "").strip(), []).append(row_no)
                continue
            try:
                ours, theirs = parse_value(cells["ours"]), parse_value(cells["theirs"])
            except ValueError as e:
                raise LabelFileError(f"{name}: row {row_no}, columns 'ours'/'theirs': {e}") from e
            kind = cells.get("kind", "").strip()
            rank_text = cells.get("rank", "").strip()
            out.append(
                Disagreement(
                    report_id=cells["report_id"].strip(),
                    label=cells["label"].strip(),
                    their_label=cells.get("their_label", "").strip(),
                    ours=ours,
                    theirs=theirs,
                    their_value=cells.get("their_value", "").strip(),
                    kind=kind if kind in KINDS else "",
                    section=cells.get("section", ""),
                    sentence=cells.get("sentence", ""),
                    matched=cells.get("matched", ""),
                    cue=cells.get("cue", ""),
                    assertion=cells.get("assertion", ""),
                    evidence_note=cells.get("evidence_note", ""),
                    verdict=verdict,
                    note=cells.get("note", "").strip(),
                    rank=int(rank_text) if rank_text.isdigit() else 0,
                )
            )
    if bad_verdicts:
        listed = "; ".join(f"{v!r} in {format_rows(r)}" for v, r in bad_verdicts.items())
        raise LabelFileError(
            f"{name}: column 'verdict': {listed}; expected one of {', '.join(VERDICTS)} or blank"
        )
    return out


__all__ = ["COLUMNS", "parse_value", "read_disagreements", "value_text", "write_disagreements"]
