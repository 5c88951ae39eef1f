"""Tabular exports (long JSONL, wide and long CSV) and labels-file records: re-read equal."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reportlab_nlp.errors import InputError
from reportlab_nlp.export.manifest import StudyLink
from reportlab_nlp.export.provenance import PROVENANCE_FIELDS, Provenance
from reportlab_nlp.export.records import LabeledReport, from_record, infer_scheme, read_labels_jsonl
from reportlab_nlp.export.tables import (
    LongCsvWriter,
    LongJsonlWriter,
    WideCsvWriter,
    read_long_csv,
    read_long_jsonl,
    read_wide_csv,
)
from reportlab_nlp.rules import RuleSet
from reportlab_nlp.types import Assertion, LabelValue, Mention

S1 = StudyLink("1.2.3.4", "C1", "ACC1", "CR", "CHEST", "2020-01-02")
S2 = StudyLink("1.2.3.5", "C1", None, None, None, None)
TEXT = "Small left pleural effusion. No pneumothorax."


def mention(label: str, start: int, end: int, assertion: Assertion) -> Mention:
    return Mention(label, TEXT[start:end], start, end, TEXT, 0, len(TEXT), "body", assertion)


@pytest.fixture
def reports(rules: RuleSet) -> list[LabeledReport]:
    full = rules.schemes["full"]
    effusion = mention("Pleural Effusion", 11, 27, Assertion.PRESENT)
    pneumothorax = mention("Pneumothorax", 32, 44, Assertion.NEGATED)
    return [
        LabeledReport.from_labels(
            "r1",
            {"Pleural Effusion": 1, "Pneumothorax": 0, "Atelectasis": -1},
            full,
            evidence={"Pleural Effusion": [effusion], "Pneumothorax": [pneumothorax]},
            studies=[S1],
        ),
        LabeledReport.from_labels("r2, with a comma", {"No Finding": 1}, full, studies=[S1, S2]),
        LabeledReport.from_labels("r3", {}, full),  # unlinked, all blank
    ]


@pytest.fixture
def provenance(tmp_path: Path) -> Provenance:
    src = tmp_path / "reports.csv"
    src.write_text("report_id,text\n", encoding="utf-8")
    return Provenance.for_run(src, scheme="full", rules_hash="ab" * 32)


def expected(reports: list[LabeledReport]) -> dict[tuple[str, str], dict[str, LabelValue]]:
    out = {}
    for r in reports:
        for link in r.studies or [None]:
            out[(r.id, link.study_uid if link else "")] = {c: v for c, _, v in r.values}
    return out


def write_all(
    writer_cls: type, path: Path, reports: list[LabeledReport], prov: Provenance, rules: RuleSet
) -> None:
    columns = [c for c, _ in rules.schemes["full"].columns]
    w = writer_cls(path, columns, prov)
    for r in reports:
        w.write(r)
    w.commit()


def test_long_jsonl_round_trip(tmp_path: Path, reports, provenance, rules) -> None:
    path = tmp_path / "long.jsonl"
    write_all(LongJsonlWriter, path, reports, provenance, rules)
    assert read_long_jsonl(path) == expected(reports)
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    n_labels = len(rules.schemes["full"].columns)
    assert len(rows) == n_labels * 4  # r1 once, r2 under two studies, r3 unlinked
    row = next(r for r in rows if r["report_id"] == "r1" and r["label"] == "Pleural Effusion")
    assert row["value"] == 1 and row["probability"] is None
    (ev,) = row["evidence"]
    assert TEXT[ev["start"] : ev["end"]] == ev["text"] == "pleural effusion"
    assert row["study"]["study_uid"] == "1.2.3.4" and row["study"]["accession_number"] == "ACC1"
    assert row["provenance"] == provenance.to_dict()
    blank = next(r for r in rows if r["report_id"] == "r3")
    assert blank["study"] is None and blank["value"] is None


def test_wide_csv_round_trip(tmp_path: Path, reports, provenance, rules) -> None:
    path = tmp_path / "wide.csv"
    write_all(WideCsvWriter, path, reports, provenance, rules)
    columns, values = read_wide_csv(path)
    assert columns == [c for c, _ in rules.schemes["full"].columns]
    assert values == expected(reports)
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["report_id"] for r in rows] == ["r1", "r2, with a comma", "r2, with a comma", "r3"]
    assert rows[0]["case_id"] == "C1" and rows[0]["study_date"] == "2020-01-02"
    for field in PROVENANCE_FIELDS:
        assert rows[0][field] == provenance.flat()[field]
    assert rows[0]["rules_hash"] == "ab" * 32 and rows[0]["run_id"] == provenance.run_id


def test_long_csv_round_trip(tmp_path: Path, reports, provenance, rules) -> None:
    path = tmp_path / "long.csv"
    write_all(LongCsvWriter, path, reports, provenance, rules)
    assert read_long_csv(path) == expected(reports)
    with open(path, encoding="utf-8", newline="") as f:
        row = next(r for r in csv.DictReader(f) if r["label"] == "Pneumothorax" and r["report_id"] == "r1")
    (ev,) = json.loads(row["evidence"])
    assert ev["assertion"] == "negated" and TEXT[ev["start"] : ev["end"]] == "pneumothorax"


def test_a_failed_write_leaves_no_file(tmp_path: Path, reports, provenance, rules) -> None:
    path = tmp_path / "wide.csv"
    w = WideCsvWriter(path, [c for c, _ in rules.schemes["full"].columns], provenance)
    w.write(reports[0])
    w.abort()
    assert not path.exists() and list(tmp_path.iterdir()) == [tmp_path / "reports.csv"]


def test_labels_records_map_columns_back_to_labels(rules: RuleSet) -> None:
    nih = rules.schemes["chestxray14"]
    columns = [c for c, _ in nih.columns]
    assert infer_scheme(columns, rules.schemes, where="x").name == "chestxray14"
    record = {"id": "r1", "labels": dict.fromkeys(columns), "evidence": {}}
    record["labels"]["Effusion"] = 1
    report = from_record(record, nih, where="x")
    assert ("Effusion", "Pleural Effusion", LabelValue.POSITIVE) in report.labeled()


@pytest.mark.parametrize(
    ("record", "match"),
    [
        ({"labels": {}}, "not a labels record"),
        ({"id": "r1", "labels": {"Cardiomegaly": 1}}, "differ from scheme"),
        ({"id": "r1", "labels": "x"}, "not a labels record"),
    ],
)
def test_bad_labels_records(rules: RuleSet, record: dict, match: str) -> None:
    with pytest.raises(InputError, match=match):
        from_record(record, rules.schemes["full"], where="f: line 1")


def test_bad_value_names_the_label(rules: RuleSet) -> None:
    full = rules.schemes["full"]
    record = {"id": "r1", "labels": {c: None for c, _ in full.columns}}
    record["labels"]["Cardiomegaly"] = 2
    with pytest.raises(InputError, match="f: line 1: label 'Cardiomegaly'"):
        from_record(record, full, where="f: line 1")


def test_labels_file_checks(tmp_path: Path, rules: RuleSet) -> None:
    full = rules.schemes["full"]
    rec = {"id": "r1", "labels": {c: None for c, _ in full.columns}}
    path = tmp_path / "labels.jsonl"
    path.write_text(json.dumps(rec) + "\n" + json.dumps(rec) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="duplicate report ids"):
        read_labels_jsonl(path, rules.schemes)
    path.write_text(json.dumps(rec) + "\nnot json\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        read_labels_jsonl(path, rules.schemes)
    path.write_text(json.dumps({"id": "r1", "labels": {"Foo": 1}}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match="match no scheme"):
        read_labels_jsonl(path, rules.schemes)


VALUES = st.sampled_from([1, 0, -1, None])


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    ids=st.lists(st.text(min_size=1, max_size=12).filter(str.strip), min_size=1, max_size=4, unique=True),
    data=st.data(),
)
def test_tables_round_trip_any_ids_and_values(tmp_path_factory, rules: RuleSet, ids, data) -> None:
    """Ids with commas, quotes, newlines or any unicode, and any values: all three tables re-read equal."""
    full = rules.schemes["full"]
    columns = [c for c, _ in full.columns]
    reports = [
        LabeledReport.from_labels(
            rid,
            {c: data.draw(VALUES) for c in columns[:6]},
            full,
            studies=data.draw(st.sampled_from([[], [S1]])),
        )
        for rid in ids
    ]
    folder = tmp_path_factory.mktemp("tables")
    src = folder / "in.csv"
    src.write_text("x", encoding="utf-8")
    prov = Provenance.for_run(src, scheme="full", rules_hash=None)
    want = expected(reports)
    for cls, name, reader in (
        (LongJsonlWriter, "t.jsonl", read_long_jsonl),
        (LongCsvWriter, "t.csv", read_long_csv),
        (WideCsvWriter, "w.csv", lambda p: read_wide_csv(p)[1]),
    ):
        write_all(cls, folder / name, reports, prov, rules)
        assert reader(folder / name) == want
