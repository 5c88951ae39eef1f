"""A CSV/TSV row writer with ``\\n`` line ends that stays readable when a cell holds a carriage return.

Python's csv writer quotes a cell only when it holds the delimiter, the quote
character or a character of the line terminator; with ``\\n`` line ends a
lone ``\\r`` (possible in a report id) would go out unquoted and split the row
when read back. Rows with such a cell are written fully quoted instead.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from typing import IO, Any


class RowWriter:
    """``writerow`` like :func:`csv.writer`, safe for cells with ``\\r``."""

    def __init__(self, handle: IO[str], *, delimiter: str = ",") -> None:
        self.plain = csv.writer(handle, delimiter=delimiter, lineterminator="\n")
        self.quoted = csv.writer(handle, delimiter=delimiter, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, row: Iterable[Any]) -> None:
        cells = list(row)
        risky = any(isinstance(c, str) and "\r" in c for c in cells)
        (self.quoted if risky else self.plain).writerow(cells)
