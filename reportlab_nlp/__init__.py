"""reportlab-nlp: label findings in radiology reports, with the evidence for each.

>>> import reportlab_nlp
>>> labeler = reportlab_nlp.load()
>>> result = labeler.label("FINDINGS: Small left pleural effusion. No pneumothorax.")
"""

from __future__ import annotations

import os as _os
import sys as _sys


def _import_spacy_without_torch() -> None:
    """Import spaCy with torch hidden, when torch is installed but not yet imported.

    spaCy's thinc imports torch whenever it is installed (the ``train`` extra),
    which costs about 1.5 s and 180 MB in every process, and the rule pipeline
    uses no thinc model. torch is hidden only while spaCy is first imported;
    ``import torch`` afterwards works as usual. Set REPORTLAB_NLP_THINC_TORCH=1
    to let thinc see torch.
    """
    if "spacy" in _sys.modules or "torch" in _sys.modules or _os.environ.get("REPORTLAB_NLP_THINC_TORCH"):
        return
    _sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy  # noqa: F401
    finally:
        if _sys.modules.get("torch", 0) is None:
            del _sys.modules["torch"]


_import_spacy_without_torch()

from ._version import __version__  # noqa: E402
from .labeler import Labeler, load  # noqa: E402
from .spacy_pipe import ReportLabComponent  # noqa: E402  (registers the "reportlab_nlp" factory)
from .types import Assertion, LabelValue, Mention, Report, ReportLabels, Section  # noqa: E402


def label(text: str, *, rules: list[str] | None = None) -> ReportLabels:
    """Label one report with a labeler built for the call (use :func:`load` for many)."""
    return load(rules).label(text)


__all__ = [
    "Assertion",
    "LabelValue",
    "Labeler",
    "Mention",
    "Report",
    "ReportLabComponent",
    "ReportLabels",
    "Section",
    "__version__",
    "label",
    "load",
]
