"""The hybrid policy on hand-made rule and model outputs (no model file, no torch).

Rules decide definite mentions (1, 0); the model decides where the rules gave
-1 or blank, at the label's threshold; labels with the model off stay with the
rules; every presence disagreement is flagged; model-decided values carry a
span-free ``source: "model"`` evidence record; No Finding is derived again.
"""

from __future__ import annotations

import pytest

from reportlab_nlp.classifier.hybrid import (
    ReviewFlag,
    choose_thresholds,
    combine,
    hybrid_present,
    model_mention,
    model_value,
)
from reportlab_nlp.engines import Prediction
from reportlab_nlp.types import Assertion, LabelValue, Mention, ReportLabels

P, N, U, B = LabelValue.POSITIVE, LabelValue.NEGATIVE, LabelValue.UNCERTAIN, LabelValue.BLANK
BLOCKERS = ("Edema", "Pneumonia", "Pleural Effusion", "Atelectasis")

# class probabilities (blank, positive, negative, uncertain)
PRESENT_POS = [0.05, 0.80, 0.05, 0.10]  # present 0.90, positive outweighs uncertain
PRESENT_UNC = [0.10, 0.20, 0.05, 0.65]  # present 0.85, uncertain outweighs positive
ABSENT_NEG = [0.20, 0.05, 0.70, 0.05]  # present 0.10, negative likelier than blank
ABSENT_BLANK = [0.85, 0.05, 0.05, 0.05]  # present 0.10, blank likelier


def _mention(label: str, assertion: Assertion) -> Mention:
    return Mention(label, "effusion", 10, 18, "No effusion.", 7, 19, "findings", assertion, rule="r")


def _rules(values: dict[str, LabelValue]) -> ReportLabels:
    labels = {"No Finding": B, **values}
    evidence = {
        k: (_mention(k, Assertion.UNCERTAIN if v is U else Assertion.PRESENT),)
        for k, v in values.items()
        if v is not B
    }
    return ReportLabels("r1", labels, evidence, sections=())


def _combine(
    values: dict[str, LabelValue], probs: dict[str, list[float]], thresholds: dict[str, float | None]
):
    present = {k: p[1] + p[3] for k, p in probs.items()}
    return combine(
        _rules(values), probs=probs, present=present, thresholds=thresholds, blockers=BLOCKERS, model_name="m"
    )


def test_model_value_at_a_threshold() -> None:
    assert model_value(PRESENT_POS, 0.9, 0.5) is P
    assert model_value(PRESENT_UNC, 0.85, 0.5) is U
    assert model_value(ABSENT_NEG, 0.1, 0.5) is N
    assert model_value(ABSENT_BLANK, 0.1, 0.5) is B
    assert model_value(PRESENT_POS, 0.9, 0.95) is B  # below a high threshold: absent, blank likelier


def test_rules_decide_definite_mentions_but_disagreements_are_flagged() -> None:
    result, flags = _combine(
        {"Edema": P, "Pleural Effusion": N},
        {"Edema": ABSENT_BLANK, "Pleural Effusion": PRESENT_POS},
        {"Edema": 0.5, "Pleural Effusion": 0.5},
    )
    assert result.labels["Edema"] is P and result.labels["Pleural Effusion"] is N
    assert result.evidence == _rules({"Edema": P, "Pleural Effusion": N}).evidence  # untouched
    assert {f.label: (f.rules, f.model, f.final, f.decided_by) for f in flags} == {
        "Edema": (P, B, P, "rules"),
        "Pleural Effusion": (N, P, N, "rules"),
    }


def test_model_fills_a_blank_above_its_threshold_with_span_free_evidence() -> None:
    result, flags = _combine({"Atelectasis": B}, {"Atelectasis": PRESENT_POS}, {"Atelectasis": 0.6})
    assert result.labels["Atelectasis"] is P
    (record,) = result.evidence["Atelectasis"]
    assert record.source == "model" and record.rule == "model:m"
    assert (record.text, record.start, record.end, record.sentence_start, record.cue_start) == (
        "",
        -1,
        -1,
        -1,
        -1,
    )
    assert record.assertion is Assertion.PRESENT
    assert [(f.label, f.decided_by, f.threshold) for f in flags] == [("Atelectasis", "model", 0.6)]
    # No Finding is derived again: a blocker is now present
    assert result.labels["No Finding"] is B


def test_model_below_threshold_leaves_a_blank_blank_and_writes_no_negation() -> None:
    result, flags = _combine({"Atelectasis": B}, {"Atelectasis": ABSENT_NEG}, {"Atelectasis": 0.5})
    assert result.labels["Atelectasis"] is B and "Atelectasis" not in result.evidence
    assert flags == ()


def test_model_decides_an_uncertain_either_way() -> None:
    up, _ = _combine({"Pneumonia": U}, {"Pneumonia": PRESENT_POS}, {"Pneumonia": 0.5})
    assert up.labels["Pneumonia"] is P
    sources = [m.source for m in up.evidence["Pneumonia"]]
    assert sources == ["rules", "model"]  # the rules' uncertain mention is kept beside the model's record
    down, flags = _combine({"Pneumonia": U}, {"Pneumonia": ABSENT_NEG}, {"Pneumonia": 0.5})
    assert down.labels["Pneumonia"] is N
    assert [(f.rules, f.model, f.final, f.decided_by) for f in flags] == [(U, N, N, "model")]
    blank, _ = _combine({"Pneumonia": U}, {"Pneumonia": ABSENT_BLANK}, {"Pneumonia": 0.5})
    assert blank.labels["Pneumonia"] is B


def test_labels_with_the_model_off_stay_with_the_rules_and_are_flagged_at_one_half() -> None:
    result, flags = _combine(
        {"Edema": B, "Pneumonia": U}, {"Edema": PRESENT_POS, "Pneumonia": ABSENT_NEG}, {}
    )
    assert result.labels["Edema"] is B and result.labels["Pneumonia"] is U
    assert result.labels["No Finding"] is B  # unchanged: nothing was changed
    assert {(f.label, f.threshold, f.decided_by) for f in flags} == {
        ("Edema", None, "rules"),
        ("Pneumonia", None, "rules"),
    }


def test_no_finding_is_derived_after_the_model_removes_the_only_blocker() -> None:
    rules = ReportLabels("r", {"No Finding": B, "Pneumonia": U, "Edema": N}, {})
    result, _ = combine(
        rules,
        probs={"Pneumonia": ABSENT_NEG, "Edema": ABSENT_NEG},
        present={"Pneumonia": 0.1, "Edema": 0.1},
        thresholds={"Pneumonia": 0.5, "Edema": 0.5},
        blockers=BLOCKERS,
        model_name="m",
    )
    assert result.labels["Pneumonia"] is N and result.labels["No Finding"] is P


def test_a_label_the_model_does_not_know_is_left_to_the_rules() -> None:
    result, flags = _combine({"Quokka Sign": U}, {}, {})
    assert result.labels["Quokka Sign"] is U and flags == ()


def test_review_flags_render_under_output_columns() -> None:
    flag = ReviewFlag("Pleural Effusion", N, P, 0.91234, 0.4, N, "rules")
    assert flag.to_dict("Effusion") == {
        "label": "Effusion",
        "rules": 0,
        "model": 1,
        "probability": 0.9123,
        "threshold": 0.4,
        "final": 0,
        "decided_by": "rules",
    }
    labels = ReportLabels("r", {"Pleural Effusion": N})
    pred = Prediction(labels, {"Pleural Effusion": 0.91234}, (flag,))
    record = pred.extra_record([("Effusion", "Pleural Effusion", N)])
    score = record.pop("review_score")  # the review queue's score of each cell (reportlab_nlp/review)
    assert record == {"probabilities": {"Effusion": 0.9123}, "review": [flag.to_dict("Effusion")]}
    assert list(score) == ["Effusion"] and 0.0 <= score["Effusion"] <= 1.0
    assert Prediction(labels).extra_record([("Effusion", "Pleural Effusion", N)]) == {}


def test_model_mention_rejects_a_blank() -> None:
    with pytest.raises(KeyError):
        model_mention("Edema", B, "m")


def test_thresholds_beat_the_rules_or_stay_off() -> None:
    labels = ["Edema", "Pneumonia", "No Finding"]
    # Edema: the rules miss two positives (blank) that the model rates 0.7 and 0.8; a true negative at 0.3
    rules = [[B, U, P], [B, B, B], [P, N, B], [B, N, B]]
    present = [[0.8, 0.9, 0.5], [0.7, 0.2, 0.5], [0.9, 0.1, 0.5], [0.3, 0.6, 0.5]]
    truth = [[True, True, False], [True, False, True], [True, False, True], [False, False, True]]
    thresholds, details = choose_thresholds(labels, rules, present, truth, min_positives=1, min_net_cells=2)
    # Edema: any threshold in (0.3, 0.7] makes the hybrid perfect; high-to-low search keeps the highest
    assert thresholds["Edema"] == 0.7
    assert details["Edema"] == {
        "positives": 3,
        "rules_f1": 0.5,
        "hybrid_f1": 1.0,
        "cells_fixed": 2,
        "cells_broken": 0,
    }
    # Pneumonia: the rules are already perfect: the model stays off
    assert (
        thresholds["Pneumonia"] is None
        and details["Pneumonia"]["hybrid_f1"] == details["Pneumonia"]["rules_f1"]
    )
    assert thresholds["No Finding"] is None  # derived, never decided by the model
    assert hybrid_present([B, U, P, N], [0.8, 0.1, 0.1, 0.9], 0.5) == [True, False, True, False]
    few, _ = choose_thresholds(labels, rules, present, truth, min_positives=4, min_net_cells=2)
    assert few["Edema"] is None  # too few positives to trust a threshold
    # two cells put right is not enough when three are asked for: one lucky cell more is noise
    strict, why = choose_thresholds(labels, rules, present, truth, min_positives=1, min_net_cells=3)
    assert strict["Edema"] is None and why["Edema"]["cells_fixed"] == 0


def test_a_threshold_needs_a_net_gain_in_cells() -> None:
    # at 0.8 the model puts one blank right and one wrong (net 0); at 0.9 one right and none wrong (net 1)
    rules = [[B], [B], [P], [P], [B]]
    present = [[0.9], [0.8], [0.5], [0.5], [0.1]]
    truth = [[True], [False], [True], [True], [False]]
    plain = hybrid_present([r[0] for r in rules], [p[0] for p in present], None)
    mixed = hybrid_present([r[0] for r in rules], [p[0] for p in present], 0.8)
    assert plain == [False, False, True, True, False] and mixed == [True, True, True, True, False]
    loose, details = choose_thresholds(["Edema"], rules, present, truth, min_positives=1, min_net_cells=1)
    assert loose["Edema"] == 0.9 and details["Edema"]["cells_fixed"] == 1  # 0.9 fixes one, breaks none
    assert details["Edema"]["cells_broken"] == 0
    default, _ = choose_thresholds(["Edema"], rules, present, truth, min_positives=1)
    assert default["Edema"] is None  # one cell of net gain is below the default of three
