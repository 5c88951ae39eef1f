"""Label tables: report-level labels read from a file (ours or a donor's), before mapping.

Three shapes are read:

* a wide CSV/TSV: an id column and one column per label (our ``label --out
  x.csv``, or a donor's export);
* a long CSV/TSV: an id column and ``label`` and ``value`` columns, one row
  per (report, label); a pair that is not listed is blank, and a row with an
  empty label and value lists a report that has no labels;
* our JSONL (``label --out x.jsonl``): labels and the evidence behind them.

Cells are kept as text until the label map says which columns are compared;
only those are read in a value convention (see
:mod:`~reportlab_nlp.evaluate.conventions`), so a donor's extra columns (age,
view, path) never stop a comparison. Every message names the file, the
column and the rows.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ColumnNotFoundError, EncodingError, LabelFileError
from ..io.readers import DEFAULT_ID_COLUMNS, DEFAULT_TEXT_COLUMNS, first_bad_utf8, json_objects
from ..io.tables import Table
from ..types import LabelValue, Mention
from .conventions import ColumnConvention, format_rows, read_column

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
LONG_COLUMNS = ("label", "value")

csv.field_size_limit(2**31 - 1)

Evidence = Mapping[str, Mapping[str, Sequence[Mention]]]
"""Per report id, per column: the mentions behind our value."""


_DIGITS = re.compile(r"(\d+)")


def natural_key(value: str) -> tuple[tuple[int, int, str], ...]:
    """Sort key that puts ``"x2"`` before ``"x10"`` (runs of digits compare as numbers)."""
    return tuple((0, int(t), "") if t.isdigit() else (1, 0, t) for t in _DIGITS.split(value) if t)


@dataclass
class LabelTable:
    """Report-level labels from one source, as raw cells.

    Parameters
    ----------
    name
        The file (or a name for an in-memory table), used in every message.
    kind
        ``wide CSV``, ``long CSV``, ``JSONL``, ``labeled reports`` or ``in memory``.
    ids
        Report ids in source order.
    columns
        Label columns in source order.
    cells
        Per column, the raw text of each report's cell (blank when missing),
        aligned with ``ids``.
    rows
        Per column, the file row of each cell (the header is row 1; in a
        long file, the row that gave the value).
    evidence
        Our mentions per report and column, when the source carries them.
    """

    name: str
    kind: str
    ids: list[str]
    columns: list[str]
    cells: dict[str, list[str]]
    rows: dict[str, list[int]]
    evidence: dict[str, dict[str, tuple[Mention, ...]]] | None = None
    id_column: str = ""
    notes: list[str] = field(default_factory=list)
    _read: dict[tuple[str, str], tuple[list[LabelValue], ColumnConvention]] = field(
        default_factory=dict, repr=False
    )

    def __len__(self) -> int:
        return len(self.ids)

    def read(self, column: str, convention: str = "auto") -> tuple[list[LabelValue], ColumnConvention]:
        """The values of one column in a convention (``auto`` detects it); cached.

        Raises
        ------
        LabelFileError
            Unknown values or mixed conventions (naming the rows).
        """
        key = (column, convention)
        if key not in self._read:
            self._read[key] = read_column(
                self.name, column, self.cells[column], self.rows[column], convention=convention
            )
        return self._read[key]

    def raw(self, column: str, index: int) -> str:
        """The raw text of one cell."""
        return self.cells[column][index].strip()


# ---------------------------------------------------------------------------
# builders
# ---------------------------------------------------------------------------


class TableBuilder:
    """Build a :class:`LabelTable` one report at a time (labels in memory, or as they are labeled)."""

    def __init__(self, name: str, kind: str, columns: Sequence[str], *, with_evidence: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.columns = list(columns)
        self.ids: list[str] = []
        self.row_numbers: list[int] = []
        self.cells: dict[str, list[str]] = {c: [] for c in self.columns}
        self.evidence: dict[str, dict[str, tuple[Mention, ...]]] | None = {} if with_evidence else None
        self.first_row: dict[str, int] = {}
        self.duplicates: dict[str, list[int]] = {}

    def add(
        self,
        report_id: str,
        values: Mapping[str, object],
        *,
        row: int,
        evidence: Mapping[str, Sequence[Mention]] | None = None,
    ) -> None:
        """Add one report's values (``1``, ``0``, ``-1``, None, strings, LabelValue)."""
        if report_id in self.first_row:
            self.duplicates.setdefault(report_id, [self.first_row[report_id]]).append(row)
            return
        self.first_row[report_id] = row
        self.ids.append(report_id)
        self.row_numbers.append(row)
        for c in self.columns:
            self.cells[c].append(cell_text(values.get(c)))
        if self.evidence is not None and evidence:
            kept = {c: tuple(ms) for c, ms in evidence.items() if ms}
            if kept:
                self.evidence[report_id] = kept

    def build(self, *, id_column: str = "") -> LabelTable:
        """The table; raises :class:`LabelFileError` on duplicate ids or no reports."""
        if self.duplicates:
            raise duplicate_error(self.name, self.duplicates)
        if not self.ids:
            raise LabelFileError(f"{self.name}: no reports in the file")
        return LabelTable(
            name=self.name,
            kind=self.kind,
            ids=self.ids,
            columns=self.columns,
            cells=self.cells,
            rows={c: self.row_numbers for c in self.columns},
            evidence=self.evidence,
            id_column=id_column,
        )


def cell_text(value: object) -> str:
    """The text of a value from JSON, a mapping or a CSV (None is blank)."""
    if value is None:
        return ""
    if isinstance(value, LabelValue):
        return value.to_csv()
    if isinstance(value, float) and value != value:  # NaN from pandas
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def duplicate_error(name: str, duplicates: Mapping[str, Sequence[int]]) -> LabelFileError:
    items = list(duplicates.items())
    shown = "; ".join(f"{rid!r} in {format_rows(rows)}" for rid, rows in items[:5])
    more = f" and {len(items) - 5} more ids" if len(items) > 5 else ""
    return LabelFileError(f"{name}: duplicate report ids: {shown}{more}; each report must appear once")


def table_from_mapping(labels: Mapping[str, Mapping[str, object]], *, name: str = "<labels>") -> LabelTable:
    """A table from ``{report_id: {label: value}}`` (values in any convention).

    Rows in messages count reports from 1, in the mapping's order.
    """
    columns: list[str] = []
    seen: set[str] = set()
    for values in labels.values():
        for c in values:
            if c not in seen:
                seen.add(c)
                columns.append(str(c))
    builder = TableBuilder(name, "in memory", columns)
    for n, (rid, values) in enumerate(labels.items(), start=1):
        builder.add(str(rid), values, row=n)
    return builder.build()


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------


def check_file(path: str | os.PathLike[str]) -> Path:
    """A readable UTF-8 file, or an :class:`~reportlab_nlp.errors.InputError`."""
    p = Path(path)
    if not p.exists():
        raise LabelFileError(f"{path}: no such file")
    if p.is_dir():
        raise LabelFileError(f"{path}: is a folder; expected a CSV, TSV or JSONL file of labels")
    bad = first_bad_utf8(p)
    if bad is not None:
        raise EncodingError(str(path), bad[0], bad[1])
    return p


def csv_header(path: str | os.PathLike[str]) -> list[str]:
    """The header row of a CSV/TSV file (stripped), or an error for an empty file."""
    with Table(check_file(path), error=LabelFileError, check=False) as table:
        return table.header


def is_long(header: Sequence[str]) -> bool:
    """Whether a header is a long table's: it has ``label`` and ``value`` columns."""
    lowered = {h.lower() for h in header}
    return all(c in lowered for c in LONG_COLUMNS)


ID_COLUMNS: tuple[str, ...] = (*DEFAULT_ID_COLUMNS, "Path")
"""Id columns found without ``--id-col``: ours, then CheXpert's (``Path``, the image its labels are of)."""

TEXT_COLUMNS: tuple[str, ...] = (*DEFAULT_TEXT_COLUMNS, "Reports")
"""Report text columns: ours, then the CheXpert labeler's ``Reports``; never label columns."""


def pick_id_column(path: str, header: Sequence[str], id_col: str | None, option: str = "--id-col") -> str:
    """The id column of a table: ``id_col``, else the first of :data:`ID_COLUMNS` in the header.

    A missing one is a :class:`ColumnNotFoundError` naming ``option`` and the columns found.
    """
    if id_col is not None:
        if id_col not in header:
            raise ColumnNotFoundError(path, "id", id_col, header, option=option)
        return id_col
    for c in ID_COLUMNS:
        if c in header:
            return c
    raise ColumnNotFoundError(
        path,
        "id",
        DEFAULT_ID_COLUMNS[0],
        header,
        option=option,
        hint=f"without {option} the first of {', '.join(ID_COLUMNS)} is used",
    )


def read_labels(
    path: str | os.PathLike[str], *, id_col: str | None = None, option: str = "--id-col"
) -> LabelTable:
    """Read a file of labels: wide or long CSV/TSV, or our JSONL.

    Parameters
    ----------
    path
        The file. ``.jsonl``/``.ndjson``/``.json`` is read as our JSONL; any
        other name as CSV (TSV when tabs outnumber commas in the header).
    id_col
        The id column (default: the first of ``report_id``, ``id``, ``uid``,
        ``study_id``, ``accession_number`` and CheXpert's ``Path``; for JSONL, ``id``).
        Report text columns (``text``, ..., CheXpert's ``Reports``) are not labels.
    option
        The option that sets ``id_col``, named in the error when the column is missing.

    Raises
    ------
    LabelFileError
        An empty file, no rows, duplicate ids, a ragged row, a bad JSON line.
    ColumnNotFoundError
        The id column (or the long table's columns) is missing.
    """
    name = str(path)
    p = check_file(path)
    if p.suffix.lower() in JSONL_SUFFIXES:
        return _read_jsonl(p, name, id_col or "id")
    header = csv_header(p)
    if len(set(header)) != len(header):
        dups = sorted({h for h in header if header.count(h) > 1})
        raise LabelFileError(f"{name}: line 1: repeated column names: {', '.join(repr(d) for d in dups)}")
    if is_long(header):
        return _read_long(p, name, header, id_col, option)
    return _read_wide(p, name, header, id_col, option)


def _rows(p: Path, name: str) -> Iterable[tuple[int, list[str]]]:
    """(row number, cells) of each non-empty data row; the header is row 1."""
    with Table(p, error=LabelFileError, check=False) as table:
        yield from table.rows()


def _read_wide(p: Path, name: str, header: list[str], id_col: str | None, option: str) -> LabelTable:
    id_column = pick_id_column(name, header, id_col, option)
    id_index = header.index(id_column)
    columns = [h for h in header if h != id_column and h not in TEXT_COLUMNS]
    if not columns:
        raise LabelFileError(f"{name}: no label columns besides the id column {id_column!r}")
    builder = TableBuilder(name, "wide CSV", columns)
    index = {h: i for i, h in enumerate(header)}
    for row_no, row in _rows(p, name):
        if len(row) > len(header) and any(c.strip() for c in row[len(header) :]):
            raise LabelFileError(
                f"{name}: row {row_no} has {len(row)} cells; the header has {len(header)} columns"
            )
        rid = row[id_index].strip() if id_index < len(row) else ""
        if not rid:
            raise LabelFileError(f"{name}: row {row_no}: empty id in column {id_column!r}")
        values = {c: (row[index[c]] if index[c] < len(row) else "") for c in columns}
        builder.add(rid, values, row=row_no)
    if not builder.ids and not builder.duplicates:
        raise LabelFileError(f"{name}: no rows after the header (the file has labels for no report)")
    return builder.build(id_column=id_column)


def _read_long(p: Path, name: str, header: list[str], id_col: str | None, option: str) -> LabelTable:
    lowered = [h.lower() for h in header]
    label_index = lowered.index("label")
    value_index = lowered.index("value")
    candidates = [h for i, h in enumerate(header) if i not in (label_index, value_index)]
    id_column = pick_id_column(name, candidates, id_col, option)
    id_index = header.index(id_column)
    ids: list[str] = []
    id_rows: dict[str, int] = {}
    columns: list[str] = []
    column_set: set[str] = set()
    found: dict[tuple[str, str], tuple[str, int]] = {}
    duplicates: dict[str, list[int]] = {}
    for row_no, row in _rows(p, name):
        cells = row + [""] * (len(header) - len(row))
        rid = cells[id_index].strip()
        label = cells[label_index].strip()
        value = cells[value_index]
        if not rid:
            raise LabelFileError(f"{name}: row {row_no}: empty id in column {id_column!r}")
        if rid not in id_rows:
            id_rows[rid] = row_no
            ids.append(rid)
        if not label:
            if value.strip():
                raise LabelFileError(
                    f"{name}: row {row_no}: value {value.strip()!r} with an empty label "
                    f"in column {header[label_index]!r}"
                )
            continue
        if label not in column_set:
            column_set.add(label)
            columns.append(label)
        key = (rid, label)
        if key in found:
            duplicates.setdefault(f"{rid}, {label}", [found[key][1]]).append(row_no)
            continue
        found[key] = (value, row_no)
    if duplicates:
        items = list(duplicates.items())
        shown = "; ".join(f"({k}) in {format_rows(r)}" for k, r in items[:5])
        more = f" and {len(items) - 5} more" if len(items) > 5 else ""
        raise LabelFileError(f"{name}: the same (report, label) pair is given more than once: {shown}{more}")
    if not ids:
        raise LabelFileError(f"{name}: no rows after the header (the file has labels for no report)")
    cells_by_col: dict[str, list[str]] = {}
    rows_by_col: dict[str, list[int]] = {}
    for c in columns:
        cells_by_col[c] = [found.get((rid, c), ("", 0))[0] for rid in ids]
        rows_by_col[c] = [found.get((rid, c), ("", id_rows[rid]))[1] for rid in ids]
    return LabelTable(name, "long CSV", ids, columns, cells_by_col, rows_by_col, id_column=id_column)


def _read_jsonl(p: Path, name: str, id_key: str) -> LabelTable:
    builder: TableBuilder | None = None
    with open(p, encoding="utf-8-sig") as f:
        for line_no, where, obj in json_objects(f, name, error=LabelFileError):
            labels = obj.get("labels")
            if not isinstance(labels, dict):
                raise LabelFileError(
                    f"{where}: no 'labels' object; expected a record of `reportlab-nlp label --out x.jsonl` "
                    "(a file of reports is labeled first when given as OURS)"
                )
            rid = obj.get(id_key)
            if rid is None or isinstance(rid, (dict, list)) or not str(rid).strip():
                raise LabelFileError(f"{where}: empty or missing id in key {id_key!r}")
            if builder is None:
                builder = TableBuilder(name, "JSONL", [str(k) for k in labels], with_evidence=True)
            missing = [c for c in builder.columns if c not in labels]
            if missing:
                raise LabelFileError(
                    f"{where}: labels {', '.join(repr(m) for m in missing[:5])} are missing; "
                    "every record must have the same labels"
                )
            builder.add(str(rid).strip(), labels, row=line_no, evidence=_evidence(obj, where))
    if builder is None:
        raise LabelFileError(f"{name}: the file is empty (expected one JSON record per report)")
    return builder.build(id_column=id_key)


def _evidence(obj: Mapping[str, Any], where: str) -> dict[str, tuple[Mention, ...]]:
    raw = obj.get("evidence") or {}
    if not isinstance(raw, dict):
        raise LabelFileError(f"{where}: 'evidence' must be an object, got {type(raw).__name__}")
    out: dict[str, tuple[Mention, ...]] = {}
    for column, mentions in raw.items():
        try:
            out[str(column)] = tuple(Mention.from_dict(str(column), m) for m in mentions)
        except (KeyError, TypeError, ValueError) as e:
            raise LabelFileError(
                f"{where}: evidence of {column!r} is not a list of mention records ({e})"
            ) from e
    return out


_SPACE = re.compile(r"[\s_\-]+")


def normalise_name(name: str) -> str:
    """A label name compared loosely: case, spaces, ``_`` and ``-`` do not matter."""
    return _SPACE.sub(" ", name).strip().casefold()


__all__ = [
    "ID_COLUMNS",
    "TEXT_COLUMNS",
    "Evidence",
    "LabelTable",
    "TableBuilder",
    "csv_header",
    "is_long",
    "natural_key",
    "normalise_name",
    "read_labels",
    "table_from_mapping",
]
