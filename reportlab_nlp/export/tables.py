"""Tabular exports: long JSONL, wide CSV (CheXpert convention) and long CSV.

Every row carries the report's study ids (empty when the report has no
manifest row) and the run's provenance. A report linked to several studies
gets its rows once per study. Blank labels are rows too (value null / empty),
so the wide table can be rebuilt from the long one exactly.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..io.writers import AtomicFile, restore
from ..types import LabelValue
from ._csv import RowWriter
from .manifest import StudyLink
from .manifest_columns import STUDY_COLUMNS
from .provenance import PROVENANCE_FIELDS, Provenance
from .records import LabeledReport

LONG_CSV_COLUMNS = ("report_id", *STUDY_COLUMNS, "label", "value", "probability", "evidence")


def _study_cells(link: StudyLink | None) -> list[str]:
    if link is None:
        return [""] * len(STUDY_COLUMNS)
    d = link.to_dict()
    return ["" if d[c] is None else str(d[c]) for c in STUDY_COLUMNS]


def _links(report: LabeledReport) -> Sequence[StudyLink | None]:
    return report.studies or (None,)


def evidence_json(report: LabeledReport, column: str) -> list[dict[str, Any]]:
    """The evidence of one column as JSON objects (offsets into the report text)."""
    return [m.to_dict() for m in report.evidence.get(column, ())]


class TableWriter:
    """Base class: one output file, written atomically."""

    def __init__(
        self,
        path: str | Path,
        columns: Sequence[str],
        provenance: Provenance,
        *,
        file: AtomicFile | None = None,
        categories: Sequence[str] = (),
    ) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.categories = list(categories)
        self.provenance = provenance
        self.file = file if file is not None else AtomicFile(path)
        self._open()

    def _open(self) -> None:
        """Begin the file (a CSV table writes its header); nothing by default."""

    def write(self, report: LabeledReport) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.file.commit()

    def abort(self) -> None:
        self.file.abort()


def categories_json(report: LabeledReport, names: Sequence[str]) -> dict[str, Any]:
    """{category: {"value", "evidence"}} for ``names`` (value None: the report states none)."""
    out: dict[str, Any] = {}
    for name in names:
        found = report.categories.get(name)
        out[name] = {
            "value": found.value if found is not None else None,
            "evidence": [m.to_dict() for m in found.evidence] if found is not None else [],
        }
    return out


class LongJsonlWriter(TableWriter):
    """One JSON object per (report, study, label): value, evidence, probability, categories, study, provenance
    (the categorical labels with their evidence: the same on every line of a report).
    """

    def write(self, report: LabeledReport) -> None:
        prov = self.provenance.to_dict()
        categories = categories_json(report, self.categories or list(report.categories))
        for link in _links(report):
            study = link.to_dict() if link is not None else None
            for col, _, value in report.values:
                row = {
                    "report_id": report.id,
                    "label": col,
                    "value": value.to_json(),
                    "evidence": evidence_json(report, col),
                    "probability": report.probabilities.get(col),
                    "categories": categories,
                    "study": study,
                    "provenance": prov,
                }
                self.file.handle.write(json.dumps(row, ensure_ascii=False) + "\n")


class _CsvTableWriter(TableWriter):
    """A CSV table: its :meth:`header` row, then rows that end with the provenance cells."""

    def _open(self) -> None:
        self.csv = RowWriter(self.file.handle)
        self.csv.writerow(self.header())
        self.prov_cells = [self.provenance.flat()[k] for k in PROVENANCE_FIELDS]

    def header(self) -> list[str]:
        raise NotImplementedError


class WideCsvWriter(_CsvTableWriter):
    """report_id, the study ids, one column per label (1 / 0 / -1 / blank), one per categorical
    label (its value: ``Typical``, ..., blank when not stated), then the provenance fields."""

    def header(self) -> list[str]:
        return ["report_id", *STUDY_COLUMNS, *self.columns, *self.categories, *PROVENANCE_FIELDS]

    def write(self, report: LabeledReport) -> None:
        cells = [report.value(c).to_csv() for c in self.columns]
        cells += [
            (report.categories[c].value or "") if c in report.categories else "" for c in self.categories
        ]
        for link in _links(report):
            self.csv.writerow([report.id, *_study_cells(link), *cells, *self.prov_cells])


class LongCsvWriter(_CsvTableWriter):
    """One row per (report, study, label): value, probability, evidence (a JSON list), provenance."""

    def header(self) -> list[str]:
        return [*LONG_CSV_COLUMNS, *PROVENANCE_FIELDS]

    def write(self, report: LabeledReport) -> None:
        for link in _links(report):
            study = _study_cells(link)
            for col, _, value in report.values:
                p = report.probabilities.get(col)
                evidence = json.dumps(evidence_json(report, col), ensure_ascii=False, separators=(",", ":"))
                self.csv.writerow(
                    [
                        report.id,
                        *study,
                        col,
                        value.to_csv(),
                        "" if p is None else repr(p),
                        evidence,
                        *self.prov_cells,
                    ]
                )


# ---------------------------------------------------------------------------
# reading back (round trips, downstream tools)
# ---------------------------------------------------------------------------

Key = tuple[str, str]  # (report_id, study_uid or "")


def read_long_jsonl(path: str | Path) -> dict[Key, dict[str, LabelValue]]:
    """{(report_id, study_uid): {label column: value}} from a long JSONL export."""
    out: dict[Key, dict[str, LabelValue]] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            study = row.get("study") or {}
            key = (row["report_id"], study.get("study_uid") or "")
            out.setdefault(key, {})[row["label"]] = LabelValue.parse(row["value"])
    return out


def category_names() -> list[str]:
    """The categorical labels of the built-in rules (the category columns of a wide CSV)."""
    from ..rules import load_rules

    return [c.name for c in load_rules().categories]


def read_wide_csv(
    path: str | Path, categories: Sequence[str] | None = None
) -> tuple[list[str], dict[Key, dict[str, LabelValue]]]:
    """(label columns, {(report_id, study_uid): {column: value}}) from a wide CSV export.

    The category columns (``categories``; default: the built-in rules' categories) are left out.
    """
    skip = set(category_names() if categories is None else categories)
    with open(path, encoding="utf-8", newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        first = header.index(STUDY_COLUMNS[-1]) + 1
        last = header.index(PROVENANCE_FIELDS[0])
        while last > first and header[last - 1] in skip:
            last -= 1
        columns = header[first:last]
        out: dict[Key, dict[str, LabelValue]] = {}
        for row in reader:
            out[(restore(row[0]), row[1])] = {
                c: LabelValue.parse(v) for c, v in zip(columns, row[first:last], strict=True)
            }
    return columns, out


def read_long_csv(path: str | Path) -> dict[Key, dict[str, LabelValue]]:
    """{(report_id, study_uid): {label column: value}} from a long CSV export."""
    out: dict[Key, dict[str, LabelValue]] = {}
    with open(path, encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            out.setdefault((restore(row["report_id"]), row["study_uid"]), {})[row["label"]] = (
                LabelValue.parse(row["value"])
            )
    return out


def iter_long_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    """The rows of a long JSONL export as dicts."""
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield json.loads(line)


__all__ = [
    "LONG_CSV_COLUMNS",
    "STUDY_COLUMNS",
    "LongCsvWriter",
    "LongJsonlWriter",
    "TableWriter",
    "WideCsvWriter",
    "categories_json",
    "category_names",
    "iter_long_jsonl",
    "read_long_csv",
    "read_long_jsonl",
    "read_wide_csv",
]
