"""Convention profiles (rules/profiles/): applied with their scheme, overridable, recorded."""

from __future__ import annotations

import pytest

import reportlab_nlp
from reportlab_nlp.cli import main
from reportlab_nlp.errors import RulesError
from reportlab_nlp.rules import load_rules, with_conventions
from reportlab_nlp.types import LabelValue


def _value(labeler: reportlab_nlp.Labeler, text: str, column: str) -> LabelValue:
    values = {c: v for c, _, v in labeler.values(labeler.label(text))}
    return values[column]


@pytest.fixture(scope="module")
def cxr14() -> reportlab_nlp.Labeler:
    return reportlab_nlp.load(scheme="chestxray14")


def test_each_scheme_names_its_profile() -> None:
    assert with_conventions([], "full") == ("full",)
    assert with_conventions([], "chexpert") == ("chexpert",)
    assert with_conventions(["x.yaml"], "chestxray14") == ("chestxray14", "x.yaml")
    assert with_conventions(["x.yaml"], "chestxray14", "none") == ("full", "x.yaml")
    # a resolved list is not resolved again
    assert with_conventions(["full", "x.yaml"], "chestxray14") == ("full", "x.yaml")
    assert with_conventions([], "full", "chexpert") == ("chexpert",)
    assert with_conventions(["chexpert-compat"], "full", "chexpert-compat") == ("chexpert-compat",)


def test_unknown_conventions_are_a_rules_error() -> None:
    with pytest.raises(RulesError, match="unknown conventions"):
        with_conventions([], "full", "nosuch")


def test_the_labeler_records_its_conventions(cxr14: reportlab_nlp.Labeler) -> None:
    assert reportlab_nlp.load().conventions == "full"
    assert reportlab_nlp.load(scheme="chexpert").conventions == "chexpert"
    assert cxr14.conventions == "chestxray14"
    assert reportlab_nlp.load(scheme="chestxray14", conventions="none").conventions == "full"
    # without a profile the rules are the guidelines: the same hash as the `full` profile
    assert load_rules().digest() == load_rules(["full"]).digest()


@pytest.mark.parametrize(
    ("text", "column", "expected"),
    [
        ("Right basilar opacity may represent atelectasis.", "Atelectasis", LabelValue.NEGATIVE),
        ("Patchy opacity, possibly pneumonia.", "Pneumonia", LabelValue.NEGATIVE),
        ("A small effusion cannot be excluded.", "Effusion", LabelValue.NEGATIVE),
        ("Bibasilar opacities, likely atelectasis.", "Atelectasis", LabelValue.POSITIVE),
        ("Findings consistent with emphysema.", "Emphysema", LabelValue.POSITIVE),
        ("Recommend CT to exclude a mass.", "Mass", LabelValue.NEGATIVE),
    ],
)
def test_chestxray14_codes_hedges_by_strength(
    cxr14: reportlab_nlp.Labeler, text: str, column: str, expected: LabelValue
) -> None:
    assert _value(cxr14, text, column) is expected
    guidelines = reportlab_nlp.load(scheme="chestxray14", conventions="none")
    assert _value(guidelines, text, column) is not expected


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("Mild pulmonary vascular congestion.", "Edema"),
        ("Nodular opacity in the right upper lobe.", "Nodule"),
        ("Right lower lobe infection.", "Pneumonia"),
        ("Biapical pleural-parenchymal scarring.", "Pleural_Thickening"),
    ],
)
def test_chestxray14_reads_labels_by_their_head_words(
    cxr14: reportlab_nlp.Labeler, text: str, column: str
) -> None:
    assert _value(cxr14, text, column) is LabelValue.BLANK
    assert _value(cxr14, text, "No Finding") is LabelValue.BLANK  # still not a normal report


def test_chestxray14_no_finding_is_broken_by_indexed_things(cxr14: reportlab_nlp.Labeler) -> None:
    assert (
        _value(cxr14, "Lungs are clear. Calcified right hilar lymph node.", "No Finding") is LabelValue.BLANK
    )
    assert _value(cxr14, "Lungs are clear. Heart size normal.", "No Finding") is LabelValue.POSITIVE


def test_chexpert_scheme_applies_its_profile() -> None:
    labeler = reportlab_nlp.load(scheme="chexpert")
    assert _value(labeler, "Heart size is stable.", "Cardiomegaly") is LabelValue.UNCERTAIN
    assert _value(reportlab_nlp.load(), "Heart size is stable.", "Cardiomegaly") is LabelValue.BLANK


def test_cli_conventions_option(capsys: pytest.CaptureFixture[str]) -> None:
    text = "Right basilar opacity may represent atelectasis."
    assert main(["explain", text, "--scheme", "chestxray14"]) == 0
    applied = capsys.readouterr().out
    assert main(["explain", text, "--scheme", "chestxray14", "--conventions", "none"]) == 0
    assert capsys.readouterr().out != applied
    assert main(["explain", text, "--conventions", "nosuch"]) == 2
    assert "unknown conventions" in capsys.readouterr().err
