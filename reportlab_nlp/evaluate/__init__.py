"""Evaluation: compare our labels with another set (a donor's, or gold), label by label.

Needs the ``compare`` extra (scikit-learn and matplotlib):
``pip install 'reportlab-nlp[compare]'``.

>>> from reportlab_nlp.evaluate import compare
>>> result = compare("their_labels.csv", "our_labels.jsonl")  # doctest: +SKIP
>>> result.label("Edema").kappa.value  # doctest: +SKIP
"""

from __future__ import annotations

from .compare import VERDICTS, Comparison, Disagreement, LabelResult, Settings, compare
from .conventions import CONVENTIONS
from .disagreements import read_disagreements
from .mapping import LabelMap, pair_labels, read_label_map
from .outputs import write_outputs
from .tables import LabelTable, read_labels, table_from_mapping

__all__ = [
    "CONVENTIONS",
    "VERDICTS",
    "Comparison",
    "Disagreement",
    "LabelMap",
    "LabelResult",
    "LabelTable",
    "Settings",
    "compare",
    "pair_labels",
    "read_disagreements",
    "read_label_map",
    "read_labels",
    "table_from_mapping",
    "write_outputs",
]
