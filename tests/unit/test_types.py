"""Value types: LabelValue parsing and rendering, Mention/ReportLabels round trips."""

from __future__ import annotations

import json

import pytest

from reportlab_nlp import Assertion, Labeler, LabelValue, Mention, ReportLabels, Section

# --------------------------------------------------------------------- LabelValue


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (1, LabelValue.POSITIVE),
        (0, LabelValue.NEGATIVE),
        (-1, LabelValue.UNCERTAIN),
        (None, LabelValue.BLANK),
        ("1", LabelValue.POSITIVE),
        ("0", LabelValue.NEGATIVE),
        ("-1", LabelValue.UNCERTAIN),
        ("", LabelValue.BLANK),
        ("   ", LabelValue.BLANK),
        (" 1 ", LabelValue.POSITIVE),
        ("1.0", LabelValue.POSITIVE),
        ("-1.0", LabelValue.UNCERTAIN),
        ("0.0", LabelValue.NEGATIVE),
        (1.0, LabelValue.POSITIVE),
        (-1.0, LabelValue.UNCERTAIN),
    ],
)
def test_parse_accepts_the_chexpert_values(raw: object, expected: LabelValue) -> None:
    assert LabelValue.parse(raw) is expected


@pytest.mark.parametrize(
    "raw", ["2", "-2", "0.5", "yes", "positive", "nan", "1,0", "x", 2, 0.5, True, False, [], "1 0"]
)
def test_parse_rejects_anything_else(raw: object) -> None:
    with pytest.raises(ValueError, match=r"expected 1, 0, -1 or blank"):
        LabelValue.parse(raw)


@pytest.mark.parametrize(
    ("value", "csv", "js"),
    [
        (LabelValue.POSITIVE, "1", 1),
        (LabelValue.NEGATIVE, "0", 0),
        (LabelValue.UNCERTAIN, "-1", -1),
        (LabelValue.BLANK, "", None),
    ],
)
def test_to_csv_and_to_json(value: LabelValue, csv: str, js: int | None) -> None:
    assert value.to_csv() == csv
    assert value.to_json() == js
    assert type(value.to_json()) is type(js)  # an int, not a float or a bool
    # each rendering parses back to the same member
    assert LabelValue.parse(value.to_csv()) is value
    assert LabelValue.parse(value.to_json()) is value
    assert LabelValue.parse(json.loads(json.dumps(value.to_json()))) is value


# ------------------------------------------------------------------ Mention / ReportLabels


def _mention(label: str = "Pleural Effusion", **changes: object) -> Mention:
    # offsets into "FINDINGS: No pleural effusion."
    fields: dict[str, object] = {
        "label": label,
        "text": "pleural effusion",
        "start": 13,
        "end": 29,
        "sentence": "No pleural effusion.",
        "sentence_start": 10,
        "sentence_end": 30,
        "section": "findings",
        "assertion": Assertion.NEGATED,
        "cue": "No",
        "cue_start": 10,
        "cue_end": 12,
        "rule": "phrase: pleural effusion",
        "source": "rules",
    }
    fields.update(changes)
    return Mention(**fields)  # type: ignore[arg-type]


def test_mention_dict_has_every_evidence_field() -> None:
    d = _mention().to_dict()
    assert set(d) == {
        "text",
        "start",
        "end",
        "sentence",
        "sentence_start",
        "sentence_end",
        "section",
        "assertion",
        "cue",
        "cue_start",
        "cue_end",
        "rule",
        "source",
    }
    assert d["assertion"] == "negated"
    json.dumps(d)  # JSON-serialisable as is


@pytest.mark.parametrize("assertion", list(Assertion))
def test_mention_round_trip(assertion: Assertion) -> None:
    m = _mention(assertion=assertion)
    back = Mention.from_dict(m.label, json.loads(json.dumps(m.to_dict())))
    assert back == m


def test_mention_from_minimal_dict_uses_defaults() -> None:
    m = Mention.from_dict("Pneumothorax", {"text": "pneumothorax", "start": 3, "end": 15})
    assert m.assertion is Assertion.PRESENT
    assert (m.cue, m.cue_start, m.cue_end) == ("", -1, -1)
    assert m.source == "rules"


def test_mention_from_dict_rejects_an_unknown_assertion() -> None:
    d = _mention().to_dict()
    d["assertion"] = "perhaps"
    with pytest.raises(ValueError):
        Mention.from_dict("Pleural Effusion", d)


def _report() -> ReportLabels:
    labels = {
        "No Finding": LabelValue.BLANK,
        "Cardiomegaly": LabelValue.POSITIVE,
        "Pleural Effusion": LabelValue.NEGATIVE,
        "Pneumonia": LabelValue.UNCERTAIN,
        "Fracture": LabelValue.BLANK,
    }
    evidence = {
        "Pleural Effusion": (_mention(),),
        "Cardiomegaly": (
            _mention(
                "Cardiomegaly",
                text="cardiomegaly",
                assertion=Assertion.PRESENT,
                cue="",
                cue_start=-1,
                cue_end=-1,
            ),
        ),
        "Pneumonia": (
            _mention("Pneumonia", assertion=Assertion.UNCERTAIN, cue="possible"),
            _mention("Pneumonia", assertion=Assertion.HYPOTHETICAL, cue="if"),
        ),
    }
    sections = (
        Section("indication", 12, 30, "INDICATION", 0, 10, read=False),
        Section("findings", 41, 90, "FINDINGS", 31, 39, read=True),
        Section("body", 0, 5),
    )
    return ReportLabels("r-1", labels, evidence, ("a warning",), sections)


def test_report_labels_round_trip_through_json() -> None:
    report = _report()
    record = json.loads(json.dumps(report.to_dict()))
    back = ReportLabels.from_dict(record)
    assert back.id == report.id
    assert dict(back.labels) == dict(report.labels)
    assert list(back.labels) == list(report.labels)  # order kept
    assert {k: tuple(v) for k, v in back.evidence.items()} == dict(report.evidence)
    assert back.warnings == report.warnings
    assert back.sections == report.sections
    assert back.to_dict() == record


def test_report_labels_dict_shape() -> None:
    d = _report().to_dict()
    assert set(d) == {"id", "labels", "evidence", "warnings", "sections"}
    assert d["labels"] == {
        "No Finding": None,
        "Cardiomegaly": 1,
        "Pleural Effusion": 0,
        "Pneumonia": -1,
        "Fracture": None,
    }
    assert [m["assertion"] for m in d["evidence"]["Pneumonia"]] == ["uncertain", "hypothetical"]
    assert d["sections"][0]["read"] is False


def test_report_labels_from_dict_rejects_a_bad_value() -> None:
    d = _report().to_dict()
    d["labels"]["Cardiomegaly"] = 3
    with pytest.raises(ValueError):
        ReportLabels.from_dict(d)


def test_report_labels_helpers() -> None:
    report = _report()
    assert report.value("Cardiomegaly") is LabelValue.POSITIVE
    assert report.value("Not A Label") is LabelValue.BLANK
    assert report.positives() == ["Cardiomegaly"]


def test_labeler_output_round_trips(labeler: Labeler) -> None:
    text = "FINDINGS: No pneumothorax. Possible left basilar pneumonia.\nIMPRESSION: Mild cardiomegaly."
    report = labeler.label(text, id="x1")
    back = ReportLabels.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.to_dict() == report.to_dict()
    assert dict(back.labels) == dict(report.labels)
