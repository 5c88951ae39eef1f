"""One typed schema for the long tables, whatever the engine.

A rules export has no probabilities (``probability`` null on every row) and a
model or hybrid export has floats, so a reader that infers types gives the
column a null type in one and float64 in the other, and two exports of one
corpus do not concatenate. :data:`LONG_TYPES` fixes the column types;
:func:`arrow_schema` gives them as a pyarrow schema and :func:`read_long_csv_arrow`
reads an export with them (pyarrow, the
``spark`` extra), so that ``pyarrow.concat_tables`` of a rules and a model
export works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .provenance import PROVENANCE_FIELDS
from .tables import STUDY_COLUMNS

LONG_TYPES: dict[str, str] = {
    "report_id": "string",
    **{c: "string" for c in STUDY_COLUMNS},
    "label": "string",
    "value": "int8",
    "probability": "float64",
    "evidence": "string",
    **{c: "string" for c in PROVENANCE_FIELDS},
}
"""Column -> type of ``labels_long.csv`` (``value`` 1 / 0 / -1 or null; ``probability`` null for rules)."""


def arrow_schema() -> Any:
    """:data:`LONG_TYPES` as a ``pyarrow.Schema`` (every column nullable)."""
    import pyarrow as pa

    kinds = {"string": pa.string(), "int8": pa.int8(), "float64": pa.float64()}
    return pa.schema([(name, kinds[kind]) for name, kind in LONG_TYPES.items()])


def read_long_csv_arrow(path: str | Path) -> Any:
    """``labels_long.csv`` as a ``pyarrow.Table`` of :func:`arrow_schema` (empty cells: null)."""
    from pyarrow import csv as pacsv

    schema = arrow_schema()
    options = pacsv.ConvertOptions(
        column_types=schema, strings_can_be_null=True, include_columns=schema.names
    )
    return pacsv.read_csv(str(path), convert_options=options).select(schema.names).cast(schema)


__all__ = ["LONG_TYPES", "arrow_schema", "read_long_csv_arrow"]
