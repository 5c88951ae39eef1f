"""Stage attributes: laterality, severity, temporal change and location of each mention."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reportlab_nlp
from reportlab_nlp import Labeler
from reportlab_nlp.pipeline import STAGES
from reportlab_nlp.pipeline.attributes import AttributeDetector, Modifier
from reportlab_nlp.rules import load_rules

LABELER: Labeler = reportlab_nlp.load()
RULES = load_rules()
DETECTOR = AttributeDetector(RULES)
VALUES = {a.name: set(a.values) for a in RULES.modifiers.attributes}


def attrs(text: str, label: str) -> list[dict[str, str]]:
    return [dict(m.attributes or {}) for m in LABELER.label(text).evidence.get(label, ())]


def test_the_stage_runs_after_assertion_and_before_labels() -> None:
    names = [name for name, _ in STAGES]
    assert names.index("rl_assertion") < names.index("rl_attributes") < names.index("rl_labels")
    assert LABELER.nlp.pipe_names == names


def test_every_mention_gets_attributes_even_when_none_is_stated() -> None:
    result = LABELER.label("No pneumothorax. Small left effusion.")
    for mentions in result.evidence.values():
        for m in mentions:
            assert m.attributes is not None and m.attribute_spans is not None
            assert set(m.attributes) == set(m.attribute_spans)
    assert attrs("No pneumothorax.", "Pneumothorax") == [{}]


@pytest.mark.parametrize(
    ("text", "label", "expected"),
    [
        # a modifier describes the mention after it unless a boundary says otherwise
        ("Stable left pleural effusion.", "Pleural Effusion", {"laterality": "left", "temporal": "stable"}),
        # ... or the one before it when the boundary comes after it
        (
            "The effusion is unchanged and the pneumothorax is new.",
            "Pleural Effusion",
            {"temporal": "stable"},
        ),
        ("The effusion is unchanged and the pneumothorax is new.", "Pneumothorax", {"temporal": "new"}),
        # a boundary between a modifier and the mention before it sends it forward
        ("Right pleural effusion, left lower lobe atelectasis.", "Pleural Effusion", {"laterality": "right"}),
        # left and right for one mention make bilateral
        ("Left greater than right pleural effusions.", "Pleural Effusion", {"laterality": "bilateral"}),
        # a stop ends the reach
        ("Pleural effusion; the left lung is otherwise clear.", "Pleural Effusion", {}),
        # too far away
        (
            "Left sided chest wall pain reported by the patient today with pneumothorax.",
            "Pneumothorax",
            {},
        ),
        # temporal words inside the matched wording are no change over time
        (
            "Increased density at the left base.",
            "Lung Opacity",
            {"laterality": "left", "location": "lower zone"},
        ),
        # severity inside the matched wording counts
        ("The heart is mildly enlarged.", "Cardiomegaly", {"severity": "mild"}),
        # the nearest of several values of one attribute wins
        (
            "Small to moderate right pleural effusion.",
            "Pleural Effusion",
            {"laterality": "right", "severity": "moderate"},
        ),
    ],
)
def test_assignment(text: str, label: str, expected: dict[str, str]) -> None:
    assert attrs(text, label) == [expected]


def test_attributes_do_not_change_labels() -> None:
    for text in ("Small left effusion.", "Left effusion, increased.", "No new effusion."):
        with_attrs = LABELER.label(text)
        values = {k: v for k, v in with_attrs.labels.items()}
        # the same labels with the attributes stage removed from the pipeline
        nlp = LABELER.nlp
        with nlp.select_pipes(disable=["rl_attributes"]):
            doc = nlp(text)
        assert dict(doc._.rl_labels.labels) == values


def test_decide_combines_before_choosing_the_nearest() -> None:
    left, right = Modifier("laterality", "left", 0, 4), Modifier("laterality", "right", 9, 14)
    values, spans = DETECTOR.decide({"laterality": [(3, left), (1, right)]})
    assert values == {"laterality": "bilateral"} and spans == {"laterality": (0, 14)}
    values, spans = DETECTOR.decide(
        {"laterality": [(3, left)], "severity": [(5, Modifier("severity", "small", 20, 25))]}
    )
    assert values == {"laterality": "left", "severity": "small"}


WORDS = [
    "left",
    "right",
    "bilateral",
    "small",
    "large",
    "trace",
    "mild",
    "severe",
    "new",
    "increased",
    "decreased",
    "stable",
    "resolved",
    "unchanged",
    "right lower lobe",
    "lingula",
    "base",
    "apex",
    "pleural effusion",
    "pneumothorax",
    "opacity",
    "atelectasis",
    "cardiomegaly",
    "no",
    "possible",
    "and",
    "with",
    "in the",
    "is",
    ",",
    ";",
    ".",
    "\n",
    "but",
    "the heart is mildly enlarged",
    "increased density",
]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.sampled_from(WORDS), min_size=1, max_size=30),
    st.sampled_from(["", "FINDINGS: ", "IMPRESSION:\n"]),
)
def test_attributes_never_point_outside_their_sentence(words: list[str], header: str) -> None:
    text = header + " ".join(words)
    result = LABELER.label(text)
    for mentions in result.evidence.values():
        for m in mentions:
            assert m.attributes is not None and m.attribute_spans is not None
            assert set(m.attributes) == set(m.attribute_spans)
            for name, value in m.attributes.items():
                assert value in VALUES[name]
                start, end = m.attribute_spans[name]
                assert m.sentence_start <= start < end <= m.sentence_end
                assert text[start:end].strip() == text[start:end] and text[start:end]
