"""reportlab-nlp: label findings in radiology reports, with the evidence for each.

>>> import reportlab_nlp
>>> labeler = reportlab_nlp.load()
>>> result = labeler.label("FINDINGS: Small left pleural effusion. No pneumothorax.")
"""

from __future__ import annotations

from ._version import __version__
from .labeler import Labeler, load
from .types import Assertion, LabelValue, Mention, Report, ReportLabels, Section


def label(text: str, *, rules: list[str] | None = None) -> ReportLabels:
    """Label one report with a labeler built for the call (use :func:`load` for many)."""
    return load(rules).label(text)


__all__ = [
    "Assertion",
    "LabelValue",
    "Labeler",
    "Mention",
    "Report",
    "ReportLabels",
    "Section",
    "__version__",
    "label",
    "load",
]
