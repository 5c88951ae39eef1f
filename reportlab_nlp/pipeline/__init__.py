"""The rule pipeline: one spaCy component per stage, in data-flow order.

text -> sections -> metadata -> sentences -> mentions -> assertion -> attributes -> labels

Each component reads what the one before it set on the ``Doc`` (custom
attributes ``doc._.rl_*``) and sets its own. :func:`build_pipeline` assembles
them on a blank English tokenizer; nothing is downloaded. The stages are spaCy
factories registered once (:mod:`.components`); :mod:`reportlab_nlp.spacy_pipe`
is the component for a user's own pipeline.
"""

from __future__ import annotations

import spacy
from spacy.language import Language

from ..rules import RuleSet
from .assertion import AssertionDetector
from .attributes import AttributeDetector
from .components import STAGES, add_stages
from .labels import LabelAggregator
from .mentions import MentionMatcher
from .metadata import MetadataReader
from .sections import SectionDetector
from .sentences import SentenceSplitter
from .tokenizer import FastTokenizer

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
    add_stages(nlp, rules)
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
