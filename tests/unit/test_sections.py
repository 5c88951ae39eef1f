"""Stage 1, sections: headers, their variants, and which sections are read."""

from __future__ import annotations

import pytest

from reportlab_nlp import Labeler, LabelValue, Section
from reportlab_nlp.pipeline import SectionDetector
from reportlab_nlp.rules import RuleSet


@pytest.fixture(scope="module")
def detector(rules: RuleSet) -> SectionDetector:
    return SectionDetector(rules)


def _check_offsets(text: str, sections: tuple[Section, ...]) -> None:
    """Sections are in order, do not overlap, and their offsets index the text."""
    pos = 0
    for s in sections:
        if s.header:
            assert text[s.header_start : s.header_end] == s.header
            assert pos <= s.header_start < s.header_end <= s.start
        assert pos <= s.start <= s.end <= len(text)
        pos = s.end
    assert sections[-1].end == len(text)


def _found(detector: SectionDetector, text: str) -> list[tuple[str, str, str]]:
    """(category, header, stripped body) of each section."""
    sections = detector.find(text)
    _check_offsets(text, sections)
    return [(s.category, s.header, text[s.start : s.end].strip()) for s in sections]


def test_headed_report(detector: SectionDetector) -> None:
    text = "FINDINGS: The lungs are clear. No effusion.\nIMPRESSION: No acute disease."
    assert _found(detector, text) == [
        ("findings", "FINDINGS", "The lungs are clear. No effusion."),
        ("impression", "IMPRESSION", "No acute disease."),
    ]
    assert all(s.read for s in detector.find(text))


@pytest.mark.parametrize(
    ("header", "category"),
    [
        ("FINDINGS", "findings"),
        ("Findings", "findings"),
        ("findings", "findings"),
        ("FINDING", "findings"),
        ("IMPRESSION", "impression"),
        ("Impression", "impression"),
        ("IMPRESSIONS", "impression"),
        ("CONCLUSION", "impression"),
        ("FINDINGS/IMPRESSION", "findings"),
        ("FINDINGS AND IMPRESSION", "findings"),
    ],
)
def test_header_variants(detector: SectionDetector, header: str, category: str) -> None:
    text = f"{header}: Small left pleural effusion."
    assert _found(detector, text) == [(category, header, "Small left pleural effusion.")]


@pytest.mark.parametrize(
    "text",
    [
        "IMPRESSION:No acute disease.",
        "IMPRESSION :  No acute disease.",
        "IMPRESSION:\nNo acute disease.",
        "  IMPRESSION: No acute disease.",
    ],
)
def test_header_spacing(detector: SectionDetector, text: str) -> None:
    found = [f for f in _found(detector, text) if f[2]]
    assert found == [("impression", "IMPRESSION", "No acute disease.")]


def test_header_alone_on_its_line_without_colon(detector: SectionDetector) -> None:
    text = "FINDINGS\nThe lungs are clear.\nIMPRESSION\nNo acute disease."
    assert _found(detector, text) == [
        ("findings", "FINDINGS", "The lungs are clear."),
        ("impression", "IMPRESSION", "No acute disease."),
    ]


def test_header_alone_on_its_line_with_trailing_spaces_and_crlf(detector: SectionDetector) -> None:
    text = "FINDINGS   \r\nThe lungs are clear.\r\nIMPRESSION\r\nNo acute disease.\r\n"
    assert _found(detector, text) == [
        ("findings", "FINDINGS", "The lungs are clear."),
        ("impression", "IMPRESSION", "No acute disease."),
    ]


def test_header_sharing_a_line_with_text(detector: SectionDetector) -> None:
    text = "Findings: The lungs are clear.\nImpression: Normal chest."
    assert _found(detector, text) == [
        ("findings", "Findings", "The lungs are clear."),
        ("impression", "Impression", "Normal chest."),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "Findings: The heart is normal. IMPRESSION: No acute disease.",
        "Findings: The heart is normal. Impression: No acute disease.",
        "Findings: The heart is normal.IMPRESSION: No acute disease.",
    ],
)
def test_run_on_header_after_a_sentence_end(detector: SectionDetector, text: str) -> None:
    found = _found(detector, text)
    assert [(c, b) for c, _, b in found] == [
        ("findings", "The heart is normal."),
        ("impression", "No acute disease."),
    ]


def test_unheaded_text_is_a_read_body(detector: SectionDetector) -> None:
    text = "The heart is normal. No pleural effusion.\nNo pneumothorax."
    sections = detector.find(text)
    assert sections == (Section("body", 0, len(text), read=True),)


def test_text_before_the_first_header_is_a_read_body(detector: SectionDetector) -> None:
    text = "PA and lateral chest radiograph.\nFINDINGS: Clear lungs."
    sections = detector.find(text)
    assert [(s.category, s.read) for s in sections] == [("body", True), ("findings", True)]


def test_empty_section_keeps_its_header(detector: SectionDetector) -> None:
    text = "FINDINGS:\nIMPRESSION: Normal."
    assert _found(detector, text) == [("findings", "FINDINGS", ""), ("impression", "IMPRESSION", "Normal.")]


@pytest.mark.parametrize(
    ("header", "category"),
    [
        ("INDICATION", "indication"),
        ("Indication", "indication"),
        ("REASON FOR EXAM", "indication"),
        ("HISTORY", "history"),
        ("CLINICAL HISTORY", "history"),
        ("CLINICAL INFORMATION", "history"),
        ("COMPARISON", "comparison"),
        ("TECHNIQUE", "technique"),
    ],
)
def test_clinical_question_comparison_and_technique_are_not_read(
    detector: SectionDetector, header: str, category: str
) -> None:
    text = f"{header}: Evaluate for pneumonia.\nFINDINGS: Clear lungs."
    sections = detector.find(text)
    assert [(s.category, s.header, s.read) for s in sections] == [
        (category, header, False),
        ("findings", "FINDINGS", True),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "History of pneumonia. Now clear lungs.",  # a header word starting a sentence, no colon
        "Comparison is made to the prior study. No effusion.",
        "The patient has a history: of smoking.",  # a colon, but mid-sentence and lower case
        "Findings are consistent with edema.",
    ],
)
def test_header_words_inside_sentences_are_not_headers(detector: SectionDetector, text: str) -> None:
    assert [s.category for s in detector.find(text)] == ["body"]


def test_dash_header_on_a_one_line_report(detector: SectionDetector) -> None:
    assert _found(detector, "Impression - No acute disease.") == [
        ("impression", "Impression", "No acute disease.")
    ]


def test_dash_header_in_a_longer_report(detector: SectionDetector) -> None:
    text = "Findings - Clear lungs.\nImpression - No acute disease."
    assert [c for c, _, _ in _found(detector, text)] == ["findings", "impression"]


# ------------------------------------------------------------------ through the labeler


def test_unread_sections_give_no_mentions(labeler: Labeler) -> None:
    text = (
        "INDICATION: Evaluate for pneumonia.\n"
        "HISTORY: Pleural effusion.\n"
        "REASON FOR EXAM: rule out pneumothorax.\n"
        "CLINICAL INFORMATION: cardiomegaly.\n"
        "COMPARISON: Chest radiograph showing atelectasis.\n"
        "TECHNIQUE: PA and lateral views, fracture protocol.\n"
        "FINDINGS: No focal consolidation."
    )
    result = labeler.label(text)
    for label in ("Pneumonia", "Pleural Effusion", "Pneumothorax", "Cardiomegaly", "Atelectasis", "Fracture"):
        assert result.labels[label] is LabelValue.BLANK, label
    assert result.labels["Consolidation"] is LabelValue.NEGATIVE
    for mentions in result.evidence.values():
        assert all(m.section == "findings" for m in mentions)
    assert not result.warnings


def test_only_unread_sections_is_a_warning(labeler: Labeler) -> None:
    result = labeler.label("INDICATION: Pneumonia?\nHISTORY: cough.")
    assert all(v is LabelValue.BLANK for v in result.labels.values())
    assert result.warnings


def test_mentions_record_their_section(labeler: Labeler) -> None:
    result = labeler.label("FINDINGS: Small left pleural effusion.\nIMPRESSION: Mild cardiomegaly.")
    assert [m.section for m in result.evidence["Pleural Effusion"]] == ["findings"]
    assert [m.section for m in result.evidence["Cardiomegaly"]] == ["impression"]
    body = labeler.label("Mild cardiomegaly.")
    assert [m.section for m in body.evidence["Cardiomegaly"]] == ["body"]
