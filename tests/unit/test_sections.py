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


@pytest.mark.parametrize(
    ("header", "category"),
    [
        ("REASON FOR EXAM", "indication"),
        ("HISTORY", "history"),
        ("INDICATION", "indication"),
        ("CLINICAL INFORMATION", "history"),
        ("COMPARISON", "comparison"),
    ],
)
def test_skipped_section_ends_at_a_blank_line(detector: SectionDetector, header: str, category: str) -> None:
    text = f"{header}: Evaluate for pneumonia.\n\nThe lungs are clear.\n\nIMPRESSION: Normal."
    assert _found(detector, text) == [
        (category, header, "Evaluate for pneumonia."),
        ("body", "", "The lungs are clear."),
        ("impression", "IMPRESSION", "Normal."),
    ]
    assert [s.read for s in detector.find(text)] == [False, True, True]


def test_skipped_header_alone_on_its_line_keeps_its_first_paragraph(detector: SectionDetector) -> None:
    text = "INDICATION:\n\nRule out pneumonia.\n\nThe lungs are clear."
    assert _found(detector, text) == [
        ("indication", "INDICATION", "Rule out pneumonia."),
        ("body", "", "The lungs are clear."),
    ]


def test_skipped_section_without_text_after_its_blank_line_is_kept_whole(detector: SectionDetector) -> None:
    text = "INDICATION: Cough.\n\n\nIMPRESSION: Normal."
    assert [c for c, _, _ in _found(detector, text)] == ["indication", "impression"]


def test_body_part_section_is_not_split_at_a_blank_line(detector: SectionDetector) -> None:
    text = "Left knee: Joint effusion.\n\nSevere narrowing.\nChest: Clear lungs."
    assert _found(detector, text) == [
        ("other_exam", "Left knee", "Joint effusion.\n\nSevere narrowing."),
        ("chest", "Chest", "Clear lungs."),
    ]


def test_one_line_skipped_section_ends_before_a_line_of_prose(detector: SectionDetector) -> None:
    text = (
        "HISTORY: Dyspnea.\nThe heart is enlarged.  No effusion.  Lungs are clear.\nIMPRESSION: Cardiomegaly."
    )
    assert _found(detector, text) == [
        ("history", "HISTORY", "Dyspnea."),
        ("body", "", "The heart is enlarged.  No effusion.  Lungs are clear."),
        ("impression", "IMPRESSION", "Cardiomegaly."),
    ]


@pytest.mark.parametrize(
    "text",
    [
        # one sentence, then two on the next line: the rest of the question
        "INDICATION: Cough.\nEvaluate for pneumonia.\nFINDINGS: Clear lungs.",
        "INDICATION: Cough.\nFever. Evaluate for pneumonia.\nFINDINGS: Clear lungs.",
        # a line wrapped inside a sentence, and text not on the header's line
        "INDICATION: Cough and\nfever. Rule out pneumonia. Smoker. Weight loss.\nFINDINGS: Clear lungs.",
        "INDICATION:\nCough.\nFever. Rule out pneumonia. Smoker.\nFINDINGS: Clear lungs.",
    ],
)
def test_skipped_section_runs_on_over_its_own_lines(detector: SectionDetector, text: str) -> None:
    assert [s.category for s in detector.find(text)] == ["indication", "findings"]


@pytest.mark.parametrize(
    "title",
    [
        "PORTABLE AP CHEST RADIOGRAPH",
        "CHEST, AP AND LATERAL",
        "CHEST (PA AND LAT)",
        "CHEST 1 VIEW",
        "CHEST PA AND LATERAL VIEWS",
        "FRONTAL AND LATERAL CHEST RADIOGRAPHS",
        "PA AND LATERAL VIEWS OF THE CHEST",
        "Chest, AP upright portable",
    ],
)
def test_exam_title_line_is_a_read_body_part_header(detector: SectionDetector, title: str) -> None:
    text = f"COMPARISON: ___.\n{title}:  The heart is enlarged."
    assert _found(detector, text) == [
        ("comparison", "COMPARISON", "___."),
        ("chest", title, "The heart is enlarged."),
    ]
    assert detector.find(text)[-1].read


def test_exam_title_of_another_body_part_is_skipped(detector: SectionDetector) -> None:
    text = "LEFT KNEE, 3 VIEWS: Joint effusion.\nCHEST, 2 VIEWS: Clear lungs."
    sections = detector.find(text)
    assert [(s.category, s.header, s.read) for s in sections] == [
        ("other_exam", "LEFT KNEE, 3 VIEWS", False),
        ("chest", "CHEST, 2 VIEWS", True),
    ]


@pytest.mark.parametrize(
    "text",
    [
        "EXAM: XR CHEST 2 VIEWS\nFINDINGS: Clear lungs.",  # a title after a header: the exam section
        "Chest wall: Subcutaneous emphysema.\nFINDINGS: Clear lungs.",  # not a title word
        "PA and lateral views of the chest were obtained.\nFINDINGS: Clear lungs.",  # no colon
    ],
)
def test_lines_that_are_not_exam_titles(detector: SectionDetector, text: str) -> None:
    assert "chest" not in [s.category for s in detector.find(text)]


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
