"""The rule pipeline: one spaCy component per stage, in data-flow order.

text -> sections -> metadata -> sentences -> mentions -> assertion -> attributes -> labels

Each component reads what the one before it set on the ``Doc`` (custom
attributes ``doc._.rl_*``) and sets its own. :func:`build_pipeline` assembles
them on a blank English tokenizer; nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Callable

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from ..rules import RuleSet
from .assertion import AssertionDetector
from .attributes import AttributeDetector
from .budget import with_budget
from .labels import LabelAggregator
from .mentions import MentionMatcher
from .metadata import MetadataReader
from .sections import SectionDetector
from .sentences import SentenceSplitter
from .tokenizer import FastTokenizer

STAGES = (
    ("rl_sections", "sections"),
    ("rl_metadata", "metadata"),
    ("rl_sentences", "sentences"),
    ("rl_mentions", "mentions"),
    ("rl_assertion", "assertion"),
    ("rl_attributes", "attributes"),
    ("rl_labels", "labels"),
)
"""(component name, what it sets) in the order the pipeline runs them."""

for _attr in (
    "rl_text",
    "rl_sections",
    "rl_metadata",
    "rl_sentences",
    "rl_mentions",
    "rl_category_hits",
    "rl_modifier_hits",
    "rl_asserted",
    "rl_labels",
):
    if not Doc.has_extension(_attr):
        Doc.set_extension(_attr, default=None)

MAX_LENGTH = 50_000_000


def build_pipeline(rules: RuleSet, *, tokenizer: str = "fast") -> Language:
    """Return a spaCy pipeline running the stages of :data:`STAGES` with ``rules``.

    Parameters
    ----------
    rules
        The validated rules.
    tokenizer
        ``fast`` (default; words, punctuation and white space) or ``spacy``
        (spaCy's English rules, about 15x slower). Labels do not depend on it.
    """
    nlp = spacy.blank("en")
    nlp.max_length = MAX_LENGTH
    if tokenizer == "fast":
        nlp.tokenizer = FastTokenizer(nlp.vocab)
    elif tokenizer != "spacy":
        raise ValueError(f"tokenizer must be 'fast' or 'spacy', got {tokenizer!r}")
    components: tuple[Callable[[Doc], Doc], ...] = (
        SectionDetector(rules),
        MetadataReader(rules),
        SentenceSplitter(),
        MentionMatcher(rules),
        AssertionDetector(rules),
        AttributeDetector(rules),
        LabelAggregator(rules),
    )
    for (name, _), component in zip(STAGES, with_budget(components), strict=True):
        Language.component(f"reportlab_{name}_{id(component)}", func=component)
        nlp.add_pipe(f"reportlab_{name}_{id(component)}", name=name)
    return nlp


__all__ = [
    "STAGES",
    "AssertionDetector",
    "AttributeDetector",
    "LabelAggregator",
    "MentionMatcher",
    "MetadataReader",
    "SectionDetector",
    "SentenceSplitter",
    "build_pipeline",
]
