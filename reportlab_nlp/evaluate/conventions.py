"""Value conventions of label files: detect them, state them, read values in them.

A donor's labels come in one of three conventions:

========== ===================================================== ==========================
convention values                                                 read as
========== ===================================================== ==========================
chexpert   ``1``, ``0``, ``-1``, blank (also ``1.0``, ``-1.0``)  themselves
binary     ``1``/``0``, ``true``/``false`` or ``yes``/``no``     1 and 0; blank stays blank
text       ``positive``/``present``, ``negative``/``absent``,    1, 0 and -1
           ``uncertain``
========== ===================================================== ==========================

Case and surrounding spaces do not matter. One column keeps to one spelling:
a column with both ``1`` and ``yes`` (or ``-1`` and ``absent``) is a mistake
somewhere upstream, and reading it would hide that, so it is an error that
names the file, the column and the rows of each spelling.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from ..errors import LabelFileError
from ..types import LabelValue

CONVENTIONS = ("chexpert", "binary", "text")
"""The conventions a column can be read in (``auto`` detects one per column)."""

# A spelling family: the values one column may use together.
NUMBER = "numbers"
TRUE_FALSE = "true/false"
YES_NO = "yes/no"
WORDS = "words"

_TRUE_FALSE = {"true": LabelValue.POSITIVE, "false": LabelValue.NEGATIVE}
_YES_NO = {"yes": LabelValue.POSITIVE, "no": LabelValue.NEGATIVE}
_WORDS = {
    "positive": LabelValue.POSITIVE,
    "present": LabelValue.POSITIVE,
    "negative": LabelValue.NEGATIVE,
    "absent": LabelValue.NEGATIVE,
    "uncertain": LabelValue.UNCERTAIN,
}
_NUMBERS = {1.0: LabelValue.POSITIVE, 0.0: LabelValue.NEGATIVE, -1.0: LabelValue.UNCERTAIN}

EXPECTED = {
    "chexpert": "1, 0, -1 or blank",
    "binary": "1/0, true/false or yes/no (or blank)",
    "text": "positive, present, negative, absent, uncertain (or blank)",
    "auto": (
        "CheXpert 1/0/-1/blank, binary 1/0, true/false or yes/no, "
        "or text positive/present/negative/absent/uncertain"
    ),
}

DESCRIPTIONS = {
    "chexpert": "CheXpert (1 positive, 0 negative, -1 uncertain, blank not mentioned)",
    "binary": "binary (1 present, 0 absent)",
    "text": "text (positive/present, negative/absent, uncertain)",
    "empty": "no values",
}

MAX_ROWS_SHOWN = 8


def classify(raw: str) -> tuple[str, LabelValue] | None:
    """Spelling family and value of one cell; ``("", BLANK)`` for a blank, None if unknown.

    Examples
    --------
    >>> classify(" Yes ")
    ('yes/no', <LabelValue.POSITIVE: 1>)
    >>> classify("-1.0")
    ('numbers', <LabelValue.UNCERTAIN: -1>)
    """
    text = raw.strip()
    if not text:
        return "", LabelValue.BLANK
    low = text.lower()
    if low in _TRUE_FALSE:
        return TRUE_FALSE, _TRUE_FALSE[low]
    if low in _YES_NO:
        return YES_NO, _YES_NO[low]
    if low in _WORDS:
        return WORDS, _WORDS[low]
    try:
        number = float(low)
    except ValueError:
        return None
    value = _NUMBERS.get(number)
    return None if value is None else (NUMBER, value)


def format_rows(rows: Sequence[int]) -> str:
    """``rows 2, 5, 9`` (the first few, then how many more)."""
    shown = ", ".join(str(r) for r in rows[:MAX_ROWS_SHOWN])
    more = f" and {len(rows) - MAX_ROWS_SHOWN} more" if len(rows) > MAX_ROWS_SHOWN else ""
    return f"{'row' if len(rows) == 1 else 'rows'} {shown}{more}"


@dataclass(frozen=True)
class ColumnConvention:
    """The convention a column was read in, as stated in the report.

    ``spelling`` is the family of values seen (``numbers``, ``true/false``,
    ``yes/no``, ``words`` or empty); ``has_blank`` says whether blank cells
    occur (a file that leaves cells blank separates "not mentioned" from
    "negative"); ``detected`` is False when the convention was set by the user.
    """

    column: str
    convention: str
    spelling: str
    has_blank: bool
    detected: bool = True

    def to_dict(self) -> dict[str, object]:
        return {
            "column": self.column,
            "convention": self.convention,
            "spelling": self.spelling,
            "has_blank": self.has_blank,
            "detected": self.detected,
        }


def read_column(
    path: str, column: str, cells: Sequence[str], rows: Sequence[int], *, convention: str = "auto"
) -> tuple[list[LabelValue], ColumnConvention]:
    """Read one column's cells as label values.

    Parameters
    ----------
    path, column
        The file and column, for messages.
    cells
        Raw cell texts (blank for a missing value).
    rows
        The row number of each cell in the file (the header is row 1).
    convention
        ``auto`` (detect), ``chexpert``, ``binary`` or ``text``.

    Returns
    -------
    values, convention
        One :class:`~reportlab_nlp.types.LabelValue` per cell, and what was read.

    Raises
    ------
    LabelFileError
        A value that no convention (or not the one asked for) knows, or a
        column that mixes spellings; the message names the rows.
    """
    if convention not in ("auto", *CONVENTIONS):
        raise ValueError(f"convention must be auto or one of {', '.join(CONVENTIONS)}, got {convention!r}")
    values: list[LabelValue] = []
    unknown: dict[str, list[int]] = {}
    families: dict[str, list[int]] = {}
    has_blank = False
    has_minus_one = False
    for raw, row in zip(cells, rows, strict=True):
        found = classify(raw)
        if found is None:
            unknown.setdefault(raw.strip(), []).append(row)
            values.append(LabelValue.BLANK)
            continue
        family, value = found
        if not family:
            has_blank = True
        else:
            families.setdefault(family, []).append(row)
            has_minus_one |= value is LabelValue.UNCERTAIN
        values.append(value)
    where = f"{path}: column {column!r}"
    if unknown:
        listed = "; ".join(f"{v!r} in {format_rows(r)}" for v, r in list(unknown.items())[:5])
        more = f" (and {len(unknown) - 5} other values)" if len(unknown) > 5 else ""
        raise LabelFileError(
            f"{where}: unrecognised label values: {listed}{more}; expected {EXPECTED[convention]}"
        )
    if len(families) > 1:
        listed = "; ".join(f"{fam} in {format_rows(r)}" for fam, r in families.items())
        raise LabelFileError(
            f"{where}: the column mixes value conventions: {listed}; use one convention per column"
        )
    family = next(iter(families), "")
    if convention == "auto":
        if not family:
            stated = "empty"
        elif family == WORDS:
            stated = "text"
        elif family == NUMBER and (has_minus_one or has_blank):
            stated = "chexpert"
        else:
            stated = "binary"
        return values, ColumnConvention(column, stated, family, has_blank)
    allowed = {"chexpert": (NUMBER,), "binary": (NUMBER, TRUE_FALSE, YES_NO), "text": (WORDS,)}[convention]
    bad = [
        (row, raw.strip())
        for raw, row, value in zip(cells, rows, values, strict=True)
        if raw.strip()
        and (
            (classify(raw) or ("", value))[0] not in allowed or (convention == "binary" and value.value == -1)
        )
    ]
    if bad:
        bad_rows = [r for r, _ in bad]
        seen = sorted({v for _, v in bad[:MAX_ROWS_SHOWN]})
        raise LabelFileError(
            f"{where}: values {', '.join(repr(s) for s in seen)} in {format_rows(bad_rows)} are not in the "
            f"{convention} convention; expected {EXPECTED[convention]}"
        )
    return values, ColumnConvention(column, convention, family, has_blank, detected=False)


def harmonise(conventions: Sequence[ColumnConvention]) -> list[ColumnConvention]:
    """State one convention for a file's number columns.

    A column of only 1s and 0s reads the same in the CheXpert and the binary
    conventions; when another number column of the file has -1 or blanks, the
    file is CheXpert, and so is that column.
    """
    if not any(c.spelling == NUMBER and c.convention == "chexpert" for c in conventions):
        return list(conventions)
    return [
        replace(c, convention="chexpert")
        if c.detected and c.spelling == NUMBER and c.convention == "binary"
        else c
        for c in conventions
    ]


def describe(conventions: Iterable[ColumnConvention]) -> str:
    """One sentence for the report: the file's convention, or its columns' conventions."""
    items = list(conventions)
    if not items:
        return "no label columns"
    by_name: dict[str, list[str]] = {}
    for c in items:
        if c.convention != "empty":
            by_name.setdefault(c.convention, []).append(c.column)
    how = "detected" if all(c.detected for c in items) else "set by --convention"
    if not by_name:
        return "no values in any compared column"
    if len(by_name) == 1:
        name = next(iter(by_name))
        spellings = sorted({c.spelling for c in items if c.spelling})
        spelled = f", written as {' and '.join(spellings)}" if name == "binary" else ""
        return f"{DESCRIPTIONS[name]}{spelled}; {how}"
    parts = [f"{DESCRIPTIONS[name]}: {', '.join(cols)}" for name, cols in by_name.items()]
    return f"mixed by column ({how}): " + "; ".join(parts)


def aggregate(values: Iterable[LabelValue]) -> LabelValue:
    """Combine several columns mapped to one label: any 1, else any -1, else any 0, else blank."""
    seen = set(values)
    for v in (LabelValue.POSITIVE, LabelValue.UNCERTAIN, LabelValue.NEGATIVE):
        if v in seen:
            return v
    return LabelValue.BLANK


__all__ = [
    "CONVENTIONS",
    "DESCRIPTIONS",
    "ColumnConvention",
    "aggregate",
    "classify",
    "describe",
    "format_rows",
    "harmonise",
    "read_column",
]
