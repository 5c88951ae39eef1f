"""The stages' spaCy factories, registered once, when this module is imported.

Each stage of :data:`STAGES` is a factory ``reportlab_nlp_<stage>`` with the ``doc._``
attributes it ``requires`` and ``assigns`` (``nlp.analyze_pipes()`` shows the flow).
A stage is built from one loaded :class:`~reportlab_nlp.rules.RuleSet`, which is no
config value: :func:`add_stages` hands the stages, built under one time budget, to
the factories as it adds them. To label inside your own pipeline, add the public
``reportlab_nlp`` component (:mod:`reportlab_nlp.spacy_pipe`), which takes its rules
as config and saves them with the pipeline.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

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

Stage = Callable[[Doc], Doc]

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

_TEXT, _SECTIONS, _SENTENCES = "rl_text", "rl_sections", "rl_sentences"
FLOW: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "rl_sections": ((_TEXT, _SECTIONS), ()),
    "rl_metadata": (("rl_metadata",), (_TEXT, _SECTIONS)),
    "rl_sentences": ((_SENTENCES,), (_TEXT, _SECTIONS)),
    "rl_mentions": (("rl_mentions", "rl_category_hits", "rl_modifier_hits"), (_TEXT, _SECTIONS, _SENTENCES)),
    "rl_assertion": (("rl_asserted",), (_TEXT, "rl_mentions", _SENTENCES)),
    "rl_attributes": (("rl_asserted",), (_TEXT, "rl_asserted", "rl_modifier_hits")),
    "rl_labels": (
        ("rl_labels",),
        (_TEXT, _SECTIONS, _SENTENCES, "rl_metadata", "rl_asserted", "rl_category_hits"),
    ),
}
"""Each stage's ``doc._`` attributes: (those it sets, those it reads)."""

for _sets, _ in FLOW.values():
    for _attr in _sets:
        if not Doc.has_extension(_attr):
            Doc.set_extension(_attr, default=None)

_pending = threading.local()


def factory_name(stage: str) -> str:
    """The spaCy factory of a stage (``sections`` -> ``reportlab_nlp_sections``)."""
    return f"reportlab_nlp_{stage}"


def build_stages(rules: RuleSet) -> list[Stage]:
    """The stages of :data:`STAGES` for ``rules``, in order, under the time budget."""
    stages: tuple[Stage, ...] = (
        SectionDetector(rules),
        MetadataReader(rules),
        SentenceSplitter(),
        MentionMatcher(rules),
        AssertionDetector(rules),
        AttributeDetector(rules),
        LabelAggregator(rules),
    )
    return with_budget(stages)


@contextmanager
def _handing(stages: dict[str, Stage]) -> Iterator[None]:
    _pending.stages = stages
    try:
        yield
    finally:
        _pending.stages = {}


def add_stages(nlp: Language, rules: RuleSet) -> None:
    """Add the stages of :data:`STAGES` for ``rules`` to ``nlp``, through their factories."""
    built = build_stages(rules)
    with _handing({name: stage for (name, _), stage in zip(STAGES, built, strict=True)}):
        for name, stage in STAGES:
            nlp.add_pipe(factory_name(stage), name=name)


def _stage_factory(name: str) -> Callable[[Language, str], Stage]:
    def make(nlp: Language, name: str) -> Stage:
        stages: dict[str, Stage] = getattr(_pending, "stages", {})
        stage = stages.pop(name, None)
        if stage is None:
            raise ValueError(
                f"{name!r} is one stage of the reportlab_nlp pipeline and needs its rules: "
                'add the whole pipeline with nlp.add_pipe("reportlab_nlp")'
            )
        return stage

    return make


for _name, _stage in STAGES:
    Language.factory(
        factory_name(_stage),
        assigns=[f"doc._.{a}" for a in FLOW[_name][0]]
        + (["token.is_sent_start"] if _stage == "sentences" else []),
        requires=[f"doc._.{a}" for a in FLOW[_name][1]],
        func=_stage_factory(_name),
    )
