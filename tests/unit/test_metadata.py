"""Stage metadata: modality and body region from the exam line, the title or the technique."""

from __future__ import annotations

import pytest

import reportlab_nlp
from reportlab_nlp import Labeler

LABELER: Labeler = reportlab_nlp.load()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "EXAMINATION: CHEST, PA AND LATERAL\nFINDINGS: Clear lungs.",
            {"modality": "radiograph", "body_region": "chest", "source": "examination"},
        ),
        (
            "EXAM: CT CHEST WITHOUT CONTRAST\nFINDINGS: No nodules.",
            {"modality": "CT", "body_region": "chest", "source": "examination"},
        ),
        (
            "CT CHEST ABDOMEN AND PELVIS WITH CONTRAST\nFINDINGS: No effusion.",
            {"modality": "CT", "body_region": "chest/abdomen/pelvis", "source": "title"},
        ),
        ("MRI BRAIN\nIMPRESSION: Normal.", {"modality": "MR", "body_region": "head", "source": "title"}),
        (
            "US ABDOMEN\nIMPRESSION: Normal liver.",
            {"modality": "ultrasound", "body_region": "abdomen", "source": "title"},
        ),
        (
            "XR THORACIC SPINE 2 VIEWS\nFINDINGS: Mild spondylosis.",
            {"modality": "radiograph", "body_region": "spine", "source": "title"},
        ),
        (
            "FINDINGS: No effusion.\nTECHNIQUE: Axial CT images of the chest without contrast.",
            {"modality": "CT", "body_region": "chest", "source": "technique"},
        ),
        (
            # the exam line wins over the technique; a field missing there comes from the next source
            "EXAMINATION: Portable chest\nTECHNIQUE: Single AP view.\nFINDINGS: Clear.",
            {"modality": "radiograph", "body_region": "chest", "source": "examination"},
        ),
    ],
)
def test_metadata_is_read(text: str, expected: dict[str, str]) -> None:
    assert LABELER.label(text).metadata == expected


@pytest.mark.parametrize(
    "text",
    [
        "No pleural effusion.",  # one line: no title
        "FINDINGS: The lungs are clear.\nIMPRESSION: Normal chest.",  # no exam line or title
        "The heart size is normal and the lungs are clear.\nNo pneumothorax.",  # a sentence is no title
        "INDICATION: CT chest showed a nodule.\nFINDINGS: Clear lungs.",  # the indication is no exam line
    ],
)
def test_no_metadata_without_an_exam_line_or_title(text: str) -> None:
    assert LABELER.label(text).metadata == {}


def test_metadata_does_not_change_labels_or_offsets() -> None:
    text = "CT CHEST\nFINDINGS: Small left pleural effusion."
    result = LABELER.label(text)
    assert result.metadata is not None and result.metadata["modality"] == "CT"
    (m,) = result.evidence["Pleural Effusion"]
    assert text[m.start : m.end] == m.text
    assert result.to_dict()["metadata"] == {"modality": "CT", "body_region": "chest", "source": "title"}


def test_uppercase_only_abbreviations() -> None:
    """'US' and 'MR' are modalities in capitals only; 'us' and 'Mr' are words."""
    assert LABELER.label("Images sent to us\nFINDINGS: Clear.").metadata == {}
    assert LABELER.label("EXAMINATION: MR CARDIAC\nFINDINGS: Normal.").metadata == {
        "modality": "MR",
        "body_region": "heart",
        "source": "examination",
    }
