"""The review queue's score: deterministic, in [0, 1], raised by conflicting mentions; cross-fitting.

Every record here is invented for the test.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import reportlab_nlp
from reportlab_nlp.io.writers import jsonl_record
from reportlab_nlp.review import review_scores, shipped
from reportlab_nlp.review.features import RISKS, Cell, cells_of, names
from reportlab_nlp.review.fit import GoldCells, crossfit_rows, is_error
from reportlab_nlp.review.score import QUEUE_MODEL, QueueModel
from reportlab_nlp.review.tables import AccuracyTables, measure
from reportlab_nlp.types import Report

TEXTS = {
    "r1": "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Possible pneumonia.",
    "r2": "FINDINGS: The lungs are clear. Heart size is normal. No pleural effusion.",
    "r3": "IMPRESSION: Mild cardiomegaly. Possible small right effusion versus atelectasis.",
}


def mention(assertion: str, cue: str, start: int) -> dict[str, Any]:
    return {
        "text": "pleural effusion",
        "start": start,
        "end": start + 16,
        "sentence": "x",
        "sentence_start": start,
        "sentence_end": start + 20,
        "section": "findings",
        "assertion": assertion,
        "cue": cue,
        "rule": "phrase: pleural effusion",
        "source": "rules",
    }


PRESENT = mention("present", "", 10)
NEGATED = mention("negated", "no", 60)


def record(mentions: list[dict[str, Any]], probabilities: dict[str, float] | None = None) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "id": "x",
        "labels": {"Pleural Effusion": 1},
        "evidence": {"Pleural Effusion": mentions},
    }
    if probabilities is not None:
        rec["probabilities"] = probabilities
        rec["review"] = []
    return rec


@pytest.fixture(scope="module")
def labeled() -> list[dict[str, Any]]:
    labeler = reportlab_nlp.load()
    out = []
    for rid, text in TEXTS.items():
        result = labeler.label(text, id=rid)
        out.append(jsonl_record(result, labeler.values(result), Report(rid, text)))
    return out


def test_scores_are_deterministic_and_in_the_unit_interval(labeled: list[dict[str, Any]]) -> None:
    first = [review_scores(r) for r in labeled]
    again = [
        review_scores(copy.deepcopy(r), QueueModel.from_dict(json.loads(QUEUE_MODEL.read_text())))
        for r in labeled
    ]
    assert first == again
    values = [s for scores in first for s in scores.values()]
    assert len(values) == sum(len(r["labels"]) for r in labeled)
    assert all(0.0 <= s <= 1.0 for s in values)
    assert len(set(values)) > 3  # the cells are told apart


def test_a_hedged_cell_scores_above_a_plain_negation(labeled: list[dict[str, Any]]) -> None:
    scores = review_scores(labeled[0])
    assert labeled[0]["labels"]["Pneumonia"] == -1 and labeled[0]["labels"]["Pneumothorax"] == 0
    assert scores["Pneumonia"] > scores["Pneumothorax"]


def test_conflicting_mentions_raise_the_score_of_an_otherwise_identical_cell() -> None:
    plain, conflict = review_scores(record([PRESENT])), review_scores(record([PRESENT, NEGATED]))
    assert conflict["Pleural Effusion"] > plain["Pleural Effusion"]
    # with model signals the fitted weight of a conflict may be zero, never negative
    probs = {"Pleural Effusion": 0.9}
    with_model = review_scores(record([PRESENT, NEGATED], probs))["Pleural Effusion"]
    assert with_model >= review_scores(record([PRESENT], probs))["Pleural Effusion"]


def test_the_model_disagreeing_raises_the_score() -> None:
    agree = review_scores(record([PRESENT], {"Pleural Effusion": 0.95}))["Pleural Effusion"]
    disagree = review_scores(record([PRESENT], {"Pleural Effusion": 0.05}))["Pleural Effusion"]
    assert disagree > agree


def test_shipped_model_says_how_it_was_made_and_keeps_risk_weights_non_negative() -> None:
    model = shipped()
    prov = model.provenance
    assert prov["made_by"].startswith("python -m reportlab_nlp.review.fit")
    assert len(prov["gold_sha256"]) == 64 and prov["folds"] == 5 and prov["cells"] > prov["rules_errors"] > 0
    for name, with_model in (("rules", False), ("model", True)):
        c = model.combiners[name]
        assert tuple(c.features) == names(with_model)
        assert all(w >= 0 for f, w in zip(c.features, c.weights, strict=True) if f in RISKS)
    # the cue table holds measured counts, right <= seen
    assert model.tables.cues and all(0 <= r <= n for r, n in model.tables.cues.values())


def test_cross_fitting_never_scores_a_report_with_its_own_gold() -> None:
    recs = [
        {
            "id": str(i),
            "labels": {"Edema": -1},
            "evidence": {"Edema": [mention("uncertain", "may represent", 0)]},
        }
        for i in range(10)
    ]
    gold = {str(i): {"Edema": 1} for i in range(10)}
    base = crossfit_rows(GoldCells.of(recs, gold), list(range(10)), with_model=False)
    flipped = dict(gold, **{"0": {"Edema": 0}})
    rows = crossfit_rows(GoldCells.of(recs, flipped), list(range(10)), with_model=False)
    assert rows[0] == base[0]  # report 0's own gold does not reach its features
    assert rows != base  # it does reach the other folds' features


def test_accuracy_tables_count_in_score_py_convention() -> None:
    cell = Cell("r", "Edema", -1, (mention("uncertain", "may", 0),), None, False)
    tables = measure([(cell, 1), (cell, 0), (cell, -1)])
    assert tables.classes == {"-1": [1, 2]}  # gold -1 is never counted
    assert is_error(cell, 0) and not is_error(cell, 1) and not is_error(cell, -1)
    assert AccuracyTables.from_dict(json.loads(json.dumps(tables.to_dict()))).cues == tables.cues


def test_cells_of_reads_model_signals_and_flags() -> None:
    rec = record([PRESENT], {"Pleural Effusion": 0.25})
    rec["review"] = [{"label": "Pleural Effusion"}]
    (cell,) = cells_of(rec)
    assert cell.probability == 0.25 and cell.flagged and cell.value == 1
