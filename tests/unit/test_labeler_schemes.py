"""A scheme given to ``load`` shapes what ``label`` and ``pipe`` return (the Python API)."""

from __future__ import annotations

import pytest

import reportlab_nlp
from reportlab_nlp import LabelValue

TEXT = (
    "FINDINGS: Small left pleural effusion. No pneumothorax. Calcified granuloma.\n"
    "IMPRESSION: Mild cardiomegaly."
)


@pytest.fixture(scope="module")
def full() -> reportlab_nlp.Labeler:
    return reportlab_nlp.load()


@pytest.mark.parametrize("scheme", ["chexpert", "chestxray14", "chest-ct"])
def test_label_is_keyed_by_the_schemes_columns(full: reportlab_nlp.Labeler, scheme: str) -> None:
    labeler = reportlab_nlp.Labeler(full.rules, scheme=scheme)
    result = labeler.label(TEXT, id="r1")
    assert list(result.labels) == labeler.columns()
    assert len(result.labels) < len(full.labels)
    assert set(result.evidence) <= set(result.labels)
    assert all(result.labels[c] is not LabelValue.BLANK for c in result.evidence)
    record = result.to_dict()
    assert list(record["labels"]) == labeler.columns() and record["id"] == "r1"
    assert set(record.get("categories", {})) == set(labeler.category_columns())
    # the same values as projecting the full result
    expected = full.values(full.label(TEXT), scheme)
    assert [(c, v) for c, _, v in expected] == list(result.labels.items())


def test_chestxray14_names_and_evidence(full: reportlab_nlp.Labeler) -> None:
    result = reportlab_nlp.Labeler(full.rules, scheme="chestxray14").label(TEXT)
    assert result.labels["Effusion"] is LabelValue.POSITIVE
    assert "Pleural Effusion" not in result.labels
    assert [m.text for m in result.evidence["Effusion"]] == ["pleural effusion"]
    assert result.to_dict()["evidence"]["Effusion"][0]["text"] == "pleural effusion"


def test_values_works_across_schemes(full: reportlab_nlp.Labeler) -> None:
    chexpert = reportlab_nlp.Labeler(full.rules, scheme="chexpert")
    shaped = chexpert.label(TEXT)
    for scheme in ("full", "chestxray14", "chexpert"):
        assert chexpert.values(shaped, scheme) == full.values(full.label(TEXT), scheme)
    assert chexpert.shape(shaped, "full").labels == full.label(TEXT).labels


def test_full_scheme_and_pipe(full: reportlab_nlp.Labeler) -> None:
    result = full.label(TEXT)
    assert list(result.labels) == full.labels and result.full is None
    chexpert = reportlab_nlp.Labeler(full.rules, scheme="chexpert")
    piped = list(chexpert.pipe([TEXT, "No acute disease."]))
    assert [list(r.labels) for r in piped] == [chexpert.columns()] * 2
    assert list(chexpert.label_all(TEXT).labels) == full.labels
