"""The ``Span._`` and ``Doc._`` attributes the ``reportlab_nlp`` component sets.

A mention's assertion is told with medspaCy's ConText names (``is_negated``,
``is_uncertain``, ``is_historical``, ``is_hypothetical``) and its section with
medspaCy's ``section_category``, so medspaCy's tools read our spans. medspaCy
registers these on import and keeps what is registered already, so either may come
first: the ConText flags are plain attributes (default False) in both, and
``section_category`` is a getter that gives our section, or else (on a span we did
not make) medspaCy's sectionizer's, when medspaCy is installed.
"""

from __future__ import annotations

from typing import Any

from spacy.tokens import Doc, Span, Token

from ..types import Assertion

CONTEXT_FLAGS = {
    Assertion.NEGATED: "is_negated",
    Assertion.UNCERTAIN: "is_uncertain",
    Assertion.HISTORICAL: "is_historical",
    Assertion.HYPOTHETICAL: "is_hypothetical",
}
"""The ``Span._`` flag of each assertion (a present mention has none set)."""

MENTION = "reportlab_mention"
"""``Span._``: the :class:`~reportlab_nlp.types.Mention` (rule, cue, sentence, attributes)."""
SECTION = "reportlab_section"
LABELS = "reportlab_labels"
"""``Doc._``: the report's :class:`~reportlab_nlp.types.ReportLabels` under the scheme."""
VALUES = "reportlab_values"
"""``Doc._``: the report's labels as ``{column: 1, 0, -1 or None}``."""


def section_category(span: Span) -> Any:
    """Our section of a mention, or medspaCy's sectionizer's for a span we did not make."""
    ours = span._.get(SECTION)
    if ours is not None or not len(span) or not Token.has_extension("section_category"):
        return ours
    return span[0]._.section_category


def register() -> None:
    """Register the attributes (once; keeps medspaCy's ConText flags if it came first)."""
    for flag in CONTEXT_FLAGS.values():
        if not Span.has_extension(flag):
            Span.set_extension(flag, default=False)
    for name in (MENTION, SECTION):
        if not Span.has_extension(name):
            Span.set_extension(name, default=None)
    if Span.get_extension("section_category") != (None, None, section_category, None):
        Span.set_extension("section_category", getter=section_category, force=True)
    for name in (LABELS, VALUES):
        if not Doc.has_extension(name):
            Doc.set_extension(name, default=None)
