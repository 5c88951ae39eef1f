"""The CSV/TSV row writer of the exports: :class:`reportlab_nlp.io.writers.RowWriter` (one for all).

Rows with a cell that holds a carriage return are written fully quoted, and a
report id that a spreadsheet would read as a formula gets a single quote
before it (see :mod:`reportlab_nlp.io.writers`).
"""

from __future__ import annotations

from ..io.writers import RowWriter

__all__ = ["RowWriter"]
