"""Writers: the wide CSV (CheXpert convention) and JSONL, written atomically.

Every output goes to a temporary file beside its destination and is renamed
over it only when the run completes, so an interrupted run never leaves a
file that looks complete (see :mod:`reportlab_nlp.io.durable`).

Every CSV/TSV the toolkit writes goes through :class:`RowWriter`, with two rules:

- a row with a cell that holds a carriage return is written fully quoted
  (Python's csv writer quotes a cell only when it holds the delimiter, the
  quote character or a character of the line terminator, so with ``\\n`` line
  ends a lone ``\\r`` would go out unquoted and split the row when read back);
- an identifier cell (the report id, first in every table we write) that a
  spreadsheet would read as a formula, one that begins with ``=``, ``+``,
  ``-``, ``@``, a tab or a carriage return, is written with a single quote
  before it (``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``), as OWASP recommends
  against CSV injection (:func:`neutralise`; :func:`restore` undoes it when
  our own CSV is read back). Label values (``-1``) are never changed; JSONL
  keeps every id as it was read.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from ..errors import OutputError
from ..types import LabelValue, Report, ReportLabels
from .durable import AtomicFile

Values = Sequence[tuple[str, str, LabelValue]]
"""(column, label, value) triples of a report under a scheme's columns."""
Extra = dict[str, Any] | None
"""What a model engine adds to a report's JSONL record (probabilities, the hybrid's review)."""

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
"""The first characters that make a spreadsheet read a cell as a formula (OWASP)."""


def neutralise(cell: str) -> str:
    """``cell`` with a single quote before it when a spreadsheet would read it as a formula.

    A cell that already begins with quotes before such a character gets one
    more, so that :func:`restore` gives back exactly what was written.
    """
    return "'" + cell if cell.lstrip("'").startswith(FORMULA_START) else cell


def restore(cell: str) -> str:
    """The id :func:`neutralise` was given (reading our own CSV back)."""
    return cell[1:] if cell.startswith("'") and cell[1:].lstrip("'").startswith(FORMULA_START) else cell


class RowWriter:
    """``writerow`` like :func:`csv.writer` with ``\\n`` line ends, safe for ``\\r`` and formulas.

    ``safe`` are the indexes of the identifier cells that :func:`neutralise` guards.
    """

    def __init__(self, handle: IO[str], *, delimiter: str = ",", safe: Sequence[int] = (0,)) -> None:
        self.plain = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        self.quoted = csv.writer(handle, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)
        self.safe = tuple(safe)

    def writerow(self, row: Iterable[Any]) -> None:
        cells = list(row)
        for i in self.safe:
            if i < len(cells) and isinstance(cells[i], str):
                cells[i] = neutralise(cells[i])
        risky = any(isinstance(c, str) and "\r" in c for c in cells)
        (self.quoted if risky else self.plain).writerow(cells)


class Writer:
    """Base class: write one labeled report at a time.

    ``extra`` is what a model engine adds to a JSONL record (``probabilities``,
    the hybrid's ``review``); formats without room for it ignore it.
    """

    def __init__(self, path: str | Path) -> None:
        self.file = AtomicFile(path)

    def write(self, report: ReportLabels, values: Values, source: Report, extra: Extra = None) -> None:
        raise NotImplementedError

    def commit(self) -> None:
        self.file.commit()

    def abort(self) -> None:
        self.file.abort()


class CsvWriter(Writer):
    """Wide CSV: ``report_id`` then the scheme's columns, values 1 / 0 / -1 / blank. No report text."""

    def __init__(self, path: str | Path, columns: Sequence[str], *, delimiter: str = ",") -> None:
        super().__init__(path)
        self.csv = RowWriter(self.file.handle, delimiter=delimiter)
        self.csv.writerow(["report_id", *columns])

    def write(self, report: ReportLabels, values: Values, source: Report, extra: Extra = None) -> None:
        self.csv.writerow([report.id, *(v.to_csv() for _, _, v in values)])


class JsonlWriter(Writer):
    """One JSON object per report: id, labels (scheme columns), evidence, warnings, sections."""

    def write(self, report: ReportLabels, values: Values, source: Report, extra: Extra = None) -> None:
        record = jsonl_record(report, values, source)
        record.update(extra or {})
        self.file.handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def jsonl_record(report: ReportLabels, values: Values, source: Report) -> dict[str, Any]:
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


FORMATS = ("csv", "tsv", "jsonl")
"""The output formats: the wide CSV, the same table tab-separated, JSONL."""
_BY_SUFFIX = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".tsv": "tsv", ".tab": "tsv"}
_NOT_WRITTEN = (".parquet", ".pq", ".feather", ".arrow", ".orc", ".avro", ".xlsx", ".xls", ".ods", ".db")


def output_format(path: str | Path, fmt: str | None = None) -> str:
    """The format of an output: ``fmt``, else by extension (``.jsonl``/``.ndjson``/``.json``,
    ``.tsv``/``.tab``; any other name is CSV), refusing the table formats we do not write."""
    if fmt is not None:
        if fmt not in FORMATS:
            raise OutputError(f"{path}: unknown output format {fmt!r}; expected one of: {', '.join(FORMATS)}")
        return fmt
    suffix = Path(path).suffix.lower()
    if suffix in _NOT_WRITTEN:
        raise OutputError(
            f"{path}: {suffix[1:]} is not an output format of reportlab-nlp; "
            "use .csv, .tsv or .jsonl (pandas reads each: read_csv, read_csv(sep='\\t'), "
            "read_json(lines=True)), or pass --format to write that format under this name"
        )
    return _BY_SUFFIX.get(suffix, "csv")


def writer_for(path: str | Path, fmt: str | None, columns: Sequence[str]) -> Writer:
    """A CSV, TSV or JSONL writer for ``path`` (format from ``fmt`` or the extension)."""
    kind = output_format(path, fmt)
    if kind == "jsonl":
        return JsonlWriter(path)
    return CsvWriter(path, columns, delimiter="\t" if kind == "tsv" else ",")


__all__ = [
    "FORMATS",
    "FORMULA_START",
    "AtomicFile",
    "CsvWriter",
    "Extra",
    "JsonlWriter",
    "RowWriter",
    "Values",
    "Writer",
    "jsonl_record",
    "neutralise",
    "output_format",
    "restore",
    "writer_for",
]
