"""Writers: the wide CSV (CheXpert convention) and JSONL, written atomically.

Every output goes to a temporary file beside its destination and is renamed
over it only when the run completes, so an interrupted run never leaves a
file that looks complete.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..types import LabelValue, Report, ReportLabels
from .durable import AtomicFile


class Writer:
    """Base class: write one labeled report at a time."""

    def __init__(self, path: str | Path) -> None:
        self.file = AtomicFile(path)

    def write(
        self, report: ReportLabels, values: Sequence[tuple[str, str, LabelValue]], source: Report
    ) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.file.commit()

    def abort(self) -> None:
        self.file.abort()


class CsvWriter(Writer):
    """Wide CSV: ``report_id`` then the scheme's columns, values 1 / 0 / -1 / blank. No report text."""

    def __init__(self, path: str | Path, columns: Sequence[str]) -> None:
        super().__init__(path)
        self.csv = csv.writer(self.file.handle, lineterminator="\n")
        # a bare carriage return in an id is not quoted by QUOTE_MINIMAL when the
        # line ends in "\n", and a reader would split the row there: quote such rows
        self.csv_quoted = csv.writer(self.file.handle, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.csv.writerow(["report_id", *columns])

    def write(
        self, report: ReportLabels, values: Sequence[tuple[str, str, LabelValue]], source: Report
    ) -> None:
        row = [report.id, *(v.to_csv() for _, _, v in values)]
        (self.csv_quoted if "\r" in report.id else self.csv).writerow(row)


class JsonlWriter(Writer):
    """One JSON object per report: id, labels (scheme columns), evidence, warnings, sections."""

    def write(
        self, report: ReportLabels, values: Sequence[tuple[str, str, LabelValue]], source: Report
    ) -> None:
        record = jsonl_record(report, values, source)
        self.file.handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def jsonl_record(
    report: ReportLabels, values: Sequence[tuple[str, str, LabelValue]], source: Report
) -> dict[str, Any]:
    """The JSONL record of one report under a scheme's columns.

    Evidence is keyed by the scheme's column names (a label of the full set
    under its column name); offsets index ``source.text``.
    """
    record = report.to_dict()
    record["labels"] = {col: v.to_json() for col, _, v in values}
    evidence = record.pop("evidence")
    record["evidence"] = {
        col: evidence[label] for col, label, v in values if v is not LabelValue.BLANK and label in evidence
    }
    record["text_length"] = len(source.text)
    if source.fields:
        record["fields"] = [{"name": n, "start": s, "end": e} for n, s, e in source.fields]
    return record


def writer_for(path: str | Path, fmt: str | None, columns: Sequence[str]) -> Writer:
    """A CSV or JSONL writer for ``path`` (format from ``fmt`` or the extension)."""
    kind = fmt or ("jsonl" if str(path).lower().endswith((".jsonl", ".ndjson", ".json")) else "csv")
    if kind == "jsonl":
        return JsonlWriter(path)
    if kind == "csv":
        return CsvWriter(path, columns)
    raise OutputError(f"{path}: unknown output format {kind!r}; expected csv or jsonl")


__all__ = ["AtomicFile", "CsvWriter", "JsonlWriter", "Writer", "jsonl_record", "writer_for"]
