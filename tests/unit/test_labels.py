"""Stage 5, labels: the aggregation function, No Finding policies and scheme projection."""

from __future__ import annotations

import itertools
import random

import pytest

from reportlab_nlp import Assertion, Labeler, LabelValue, ReportLabels
from reportlab_nlp.pipeline.labels import aggregate, no_finding, project
from reportlab_nlp.rules import RuleSet

A = Assertion
V = LabelValue


def _reference(kinds: set[Assertion]) -> LabelValue:
    """The guidelines' aggregation, written out: present > uncertain > negated; hypothetical
    alone is uncertain; historical asserts nothing now."""
    if A.PRESENT in kinds:
        return V.POSITIVE
    if A.UNCERTAIN in kinds:
        return V.UNCERTAIN
    if A.NEGATED in kinds:
        return V.NEGATIVE
    if A.HYPOTHETICAL in kinds:
        return V.UNCERTAIN
    return V.BLANK


SUBSETS = [set(c) for n in range(len(A) + 1) for c in itertools.combinations(list(A), n)]


@pytest.mark.parametrize("kinds", SUBSETS, ids=lambda k: "+".join(sorted(a.value for a in k)) or "none")
def test_aggregate_every_combination(kinds: set[Assertion]) -> None:
    expected = _reference(kinds)
    assert aggregate(kinds) is expected
    # the order and the number of mentions do not matter
    many = [a for a in kinds for _ in range(3)]
    random.Random(len(many)).shuffle(many)
    assert aggregate(iter(many)) is expected


@pytest.mark.parametrize(
    ("kinds", "expected"),
    [
        ([], V.BLANK),
        ([A.PRESENT], V.POSITIVE),
        ([A.NEGATED], V.NEGATIVE),
        ([A.UNCERTAIN], V.UNCERTAIN),
        ([A.HYPOTHETICAL], V.UNCERTAIN),  # hypothetical only: uncertain
        ([A.HISTORICAL], V.BLANK),  # historical only: not a mention now
        ([A.HISTORICAL, A.HISTORICAL], V.BLANK),
        ([A.HYPOTHETICAL, A.NEGATED], V.NEGATIVE),  # "no pneumonia; if pneumonia develops..."
        ([A.HISTORICAL, A.NEGATED], V.NEGATIVE),
        ([A.HISTORICAL, A.PRESENT], V.POSITIVE),
        ([A.NEGATED, A.PRESENT], V.POSITIVE),  # any positive wins
        ([A.NEGATED, A.UNCERTAIN], V.UNCERTAIN),
        ([A.UNCERTAIN, A.PRESENT], V.POSITIVE),
        ([A.HYPOTHETICAL, A.HISTORICAL], V.UNCERTAIN),
    ],
)
def test_aggregate_named_cases(kinds: list[Assertion], expected: LabelValue) -> None:
    assert aggregate(kinds) is expected


# ------------------------------------------------------------------ No Finding


PATHOLOGY = ["Cardiomegaly", "Pneumothorax", "Pleural Effusion"]


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, V.POSITIVE),
        ({"Cardiomegaly": V.NEGATIVE, "Pneumothorax": V.NEGATIVE}, V.POSITIVE),
        ({"Cardiomegaly": V.BLANK}, V.POSITIVE),
        ({"Cardiomegaly": V.POSITIVE}, V.BLANK),
        ({"Pleural Effusion": V.UNCERTAIN}, V.BLANK),
        ({"Support Devices": V.POSITIVE}, V.POSITIVE),  # not a blocker here
    ],
)
def test_no_finding(values: dict[str, LabelValue], expected: LabelValue) -> None:
    assert no_finding(values, PATHOLOGY) is expected


def _report(rules: RuleSet, **values: LabelValue) -> ReportLabels:
    labels = {label: V.BLANK for label in rules.labels}
    labels.update({k.replace("_", " "): v for k, v in values.items()})
    for k in labels:
        assert k in rules.labels, k
    return ReportLabels("r", labels)


def _projected(rules: RuleSet, scheme: str, report: ReportLabels) -> dict[str, LabelValue]:
    out = project(report, rules.schemes[scheme], rules.no_finding_blockers)
    assert [c for c, _, _ in out] == [c for c, _ in rules.schemes[scheme].columns]
    return {c: v for c, _, v in out}


@pytest.mark.parametrize(
    ("values", "full_nf", "nih_nf"),
    [
        ({"Pleural_Effusion": V.NEGATIVE}, V.POSITIVE, V.POSITIVE),  # all negative: normal
        ({"Cardiomegaly": V.POSITIVE}, V.BLANK, V.BLANK),
        ({"Pneumonia": V.UNCERTAIN}, V.BLANK, V.BLANK),
        ({"Fracture": V.POSITIVE}, V.BLANK, V.BLANK),
        # devices and chronic incidental findings block No Finding only in chestxray14
        ({"Support_Devices": V.POSITIVE}, V.POSITIVE, V.BLANK),
        ({"Calcified_Granuloma": V.POSITIVE}, V.POSITIVE, V.BLANK),
        ({"Scoliosis": V.UNCERTAIN}, V.POSITIVE, V.BLANK),
        ({"Lung_Nodule": V.POSITIVE, "Lung_Lesion": V.POSITIVE}, V.BLANK, V.BLANK),
        ({"Emphysema": V.NEGATIVE, "Hernia": V.NEGATIVE}, V.POSITIVE, V.POSITIVE),
    ],
)
def test_no_finding_policies(
    rules: RuleSet, values: dict[str, LabelValue], full_nf: LabelValue, nih_nf: LabelValue
) -> None:
    report = _report(rules, **values)
    assert _projected(rules, "full", report)["No Finding"] is full_nf
    assert _projected(rules, "chexpert", report)["No Finding"] is full_nf
    assert _projected(rules, "chestxray14", report)["No Finding"] is nih_nf


def test_project_full(rules: RuleSet) -> None:
    report = _report(rules, Cardiomegaly=V.POSITIVE, Pleural_Effusion=V.NEGATIVE, Pneumonia=V.UNCERTAIN)
    full = _projected(rules, "full", report)
    assert list(full) == rules.labels
    for label in rules.labels:
        if label != "No Finding":
            assert full[label] is report.labels[label]


def test_project_chexpert(rules: RuleSet) -> None:
    report = _report(rules, Cardiomegaly=V.POSITIVE, Emphysema=V.POSITIVE, Support_Devices=V.NEGATIVE)
    chexpert = _projected(rules, "chexpert", report)
    assert len(chexpert) == 14
    assert "Emphysema" not in chexpert
    assert chexpert["Cardiomegaly"] is V.POSITIVE
    assert chexpert["Support Devices"] is V.NEGATIVE
    assert chexpert["No Finding"] is V.BLANK


def test_project_chestxray14_aliases(rules: RuleSet) -> None:
    report = _report(
        rules,
        Pleural_Effusion=V.POSITIVE,
        Lung_Mass=V.UNCERTAIN,
        Lung_Nodule=V.NEGATIVE,
        Pulmonary_Fibrosis=V.POSITIVE,
        Pleural_Thickening=V.NEGATIVE,
        Lung_Lesion=V.POSITIVE,
    )
    nih = _projected(rules, "chestxray14", report)
    assert len(nih) == 15
    assert nih["Effusion"] is V.POSITIVE
    assert nih["Mass"] is V.UNCERTAIN
    assert nih["Nodule"] is V.NEGATIVE
    assert nih["Fibrosis"] is V.POSITIVE
    assert nih["Pleural_Thickening"] is V.NEGATIVE
    assert nih["Atelectasis"] is V.BLANK
    assert "Lung Lesion" not in nih
    assert nih["No Finding"] is V.BLANK


@pytest.mark.parametrize("scheme", ["full", "chexpert", "chestxray14"])
def test_nothing_read_keeps_no_finding_blank(rules: RuleSet, scheme: str) -> None:
    report = _report(rules)  # every label blank, No Finding too: the report was empty
    assert all(v is V.BLANK for v in _projected(rules, scheme, report).values())


# ------------------------------------------------------------------ through the labeler


@pytest.mark.parametrize("text", ["", " ", "\n\n\t  \r\n"])
def test_empty_report_is_all_blank_with_a_warning(labeler: Labeler, text: str) -> None:
    result = labeler.label(text, id="e1")
    assert result.id == "e1"
    assert list(result.labels) == labeler.labels
    assert all(v is V.BLANK for v in result.labels.values())
    assert result.evidence == {}
    assert len(result.warnings) == 1
    assert "empty" in result.warnings[0]
    for scheme in ("full", "chexpert", "chestxray14"):
        assert all(v is V.BLANK for _, _, v in labeler.values(result, scheme))


def test_report_without_mentions_is_no_finding(labeler: Labeler) -> None:
    result = labeler.label("Normal study.")
    assert result.labels["No Finding"] is V.POSITIVE
    assert [k for k, v in result.labels.items() if v is not V.BLANK] == ["No Finding"]
    assert result.warnings == ()


def test_labels_hold_the_full_set_in_order(labeler: Labeler) -> None:
    result = labeler.label("Mild cardiomegaly. No pleural effusion.")
    assert list(result.labels) == labeler.labels
    assert result.labels["Cardiomegaly"] is V.POSITIVE
    assert result.labels["Pleural Effusion"] is V.NEGATIVE
    assert result.labels["No Finding"] is V.BLANK
    assert set(result.evidence) == {
        k for k, v in result.labels.items() if v is not V.BLANK and k != "No Finding"
    }


def test_any_positive_mention_wins(labeler: Labeler) -> None:
    result = labeler.label("No pleural effusion on the right. Small left pleural effusion.")
    assert result.labels["Pleural Effusion"] is V.POSITIVE
    assert [m.assertion for m in result.evidence["Pleural Effusion"]] == [A.NEGATED, A.PRESENT]


def test_uncertain_beats_negative(labeler: Labeler) -> None:
    result = labeler.label("No pneumonia on the right. Possible left basilar pneumonia.")
    assert result.labels["Pneumonia"] is V.UNCERTAIN


def test_hypothetical_only_is_uncertain(labeler: Labeler) -> None:
    result = labeler.label("If pneumonia persists, recommend follow-up.")
    assert result.labels["Pneumonia"] is V.UNCERTAIN
    assert result.labels["No Finding"] is V.BLANK


def test_hypothetical_with_a_negation_is_negative(labeler: Labeler) -> None:
    result = labeler.label("No pneumonia. If pneumonia develops, recommend follow-up.")
    assert result.labels["Pneumonia"] is V.NEGATIVE


def test_historical_only_is_blank(labeler: Labeler) -> None:
    result = labeler.label("History of pneumothorax.")
    assert result.labels["Pneumothorax"] is V.BLANK
    assert "Pneumothorax" not in result.evidence
    assert result.labels["No Finding"] is V.POSITIVE


def test_historical_with_a_present_mention_is_positive(labeler: Labeler) -> None:
    result = labeler.label("History of pneumothorax. Small right pneumothorax.")
    assert result.labels["Pneumothorax"] is V.POSITIVE


def test_labeler_values_under_each_scheme(labeler: Labeler) -> None:
    result = labeler.label("Small left pleural effusion. Left chest tube.")
    full = {c: v for c, _, v in labeler.values(result)}
    nih = {c: v for c, _, v in labeler.values(result, "chestxray14")}
    chexpert = {c: v for c, _, v in labeler.values(result, "chexpert")}
    assert full["Pleural Effusion"] is nih["Effusion"] is chexpert["Pleural Effusion"] is V.POSITIVE
    assert full["Support Devices"] is V.POSITIVE
    assert full["No Finding"] is V.BLANK
    device_only = labeler.label("Left chest tube in place. Lungs are clear.")
    assert {c: v for c, _, v in labeler.values(device_only)}["No Finding"] is V.POSITIVE
    assert {c: v for c, _, v in labeler.values(device_only, "chestxray14")}["No Finding"] is V.BLANK
