"""MIDRC export: the TSVs against a copy of the annotation / annotation_file node schemas.

tests/data/midrc_nodes.json is the contract: field names, links, required
fields and allowed values written from the MIDRC data dictionary (see its
"about" and docs/exports.md).
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from reportlab_nlp.export.manifest import StudyLink
from reportlab_nlp.export.midrc import (
    DEFAULT_ANNOTATION_NAME,
    MidrcOptions,
    read_tsv,
    software_version,
    write_midrc,
)
from reportlab_nlp.export.provenance import Provenance
from reportlab_nlp.export.records import LabeledReport
from reportlab_nlp.rules import RuleSet
from reportlab_nlp.types import LabelValue

CONTRACT = json.loads(
    (Path(__file__).resolve().parents[1] / "data" / "midrc_nodes.json").read_text(encoding="utf-8")
)
S1 = StudyLink("2.25.1001", "C1", "ACC1", "CR", "CHEST", "2020-01-02")
S2 = StudyLink("2.25.1002", "C2", None, None, None, None)


def violations(node: str, rows: list[dict[str, str]]) -> list[str]:
    """Where the TSV rows break the node's contract (column names, links, required fields, values)."""
    schema: dict[str, Any] = CONTRACT["nodes"][node]
    props: dict[str, Any] = schema["properties"]
    out = []
    for i, row in enumerate(rows, start=2):
        for column, value in row.items():
            if column.endswith(".submitter_id"):
                if column.split(".")[0] not in schema["links"]:
                    out.append(f"row {i}: unknown link {column}")
                continue
            if column not in props:
                out.append(f"row {i}: unknown field {column}")
                continue
            if value == "":
                continue
            spec = props[column]
            if "enum" in spec and value not in spec["enum"]:
                out.append(f"row {i}: {column}={value!r} not in enum")
            if "const" in spec and value != spec["const"]:
                out.append(f"row {i}: {column}={value!r} != {spec['const']!r}")
            if spec.get("type") == "integer" and not re.fullmatch(r"\d+", value):
                out.append(f"row {i}: {column} not an integer")
            if "pattern" in spec and not re.fullmatch(spec["pattern"], value):
                out.append(f"row {i}: {column} does not match {spec['pattern']}")
        for name in schema["required"]:
            if not row.get(name):
                out.append(f"row {i}: required {name} missing")
        if not any(c.endswith(".submitter_id") and v for c, v in row.items()):
            out.append(f"row {i}: no link to a parent node")
    return out


@pytest.fixture
def provenance(tmp_path: Path) -> Provenance:
    src = tmp_path / "reports.csv"
    src.write_text("report_id,text\n", encoding="utf-8")
    return Provenance.for_run(src, scheme="full", rules_hash="12" * 32)


@pytest.fixture
def studies(rules: RuleSet) -> dict[str, tuple[StudyLink, list[LabeledReport]]]:
    full = rules.schemes["full"]
    r1 = LabeledReport.from_labels("r1", {"Pleural Effusion": 1, "Pneumothorax": 0}, full)
    r1b = LabeledReport.from_labels("r1b", {"Edema": -1}, full)
    r2 = LabeledReport.from_labels("r2", {"No Finding": 1}, full)
    return {S1.study_uid: (S1, [r1, r1b]), S2.study_uid: (S2, [r2])}


def test_tsvs_follow_the_node_schemas(tmp_path: Path, studies, provenance) -> None:
    out = tmp_path / "midrc"
    annotation_tsv, file_tsv = write_midrc(studies, out, provenance, MidrcOptions(project_id="Open-A1"))
    annotations, files = read_tsv(annotation_tsv), read_tsv(file_tsv)
    assert violations("annotation", annotations) == []
    # annotation_name is an enumeration of names MIDRC assigns: the only permitted
    # difference is the placeholder name until one is registered and passed
    assert violations("annotation_file", files) == [
        f"row {i}: annotation_name={DEFAULT_ANNOTATION_NAME!r} not in enum" for i in (2, 3)
    ]
    assert [a["imaging_studies.submitter_id"] for a in annotations] == [S1.study_uid, S2.study_uid]
    assert [a["case_ids"] for a in annotations] == ["C1", "C2"]
    assert {a["annotation_method"] for a in annotations + files} == {"Retrospective_auto"}
    assert {a["project_id"] for a in annotations + files} == {"Open-A1"}
    assert annotations[0]["software_version"] == software_version(provenance)
    assert "12" * 32 in annotations[0]["software_version"]
    by_id = {f["submitter_id"]: f for f in files}
    for a in annotations:
        f = by_id[a["annotation_files.submitter_id"]]
        assert f["imaging_studies.submitter_id"] == a["imaging_studies.submitter_id"]
        assert (f["data_category"], f["data_format"], f["data_type"]) == (
            "annotation_file",
            "JSON",
            "Other Annotation",
        )
        data = (out / f["file_name"]).read_bytes()
        assert int(f["file_size"]) == len(data)
        assert f["md5sum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_label_files_hold_every_label_of_every_report(tmp_path: Path, studies, provenance) -> None:
    out = tmp_path / "midrc"
    write_midrc(studies, out, provenance, MidrcOptions())
    for uid, (study, reports) in studies.items():
        data = json.loads((out / "files" / f"{uid}.json").read_text(encoding="utf-8"))
        assert data["study"] == study.to_dict()
        assert data["provenance"]["run_id"] == provenance.run_id
        got = {
            r["report_id"]: {k: LabelValue.parse(v) for k, v in r["labels"].items()} for r in data["reports"]
        }
        assert got == {r.id: {c: v for c, _, v in r.values} for r in reports}
    assert "project_id" not in read_tsv(out / "annotation.tsv")[0]


def test_csv_label_files(tmp_path: Path, studies, provenance) -> None:
    out = tmp_path / "midrc"
    # any name from the dictionary's enumeration passes (here one MIDRC registered for another tool)
    options = MidrcOptions(annotation_name="SIFT", data_format="csv")
    _, file_tsv = write_midrc(studies, out, provenance, options)
    files = read_tsv(file_tsv)
    assert violations("annotation_file", files) == []
    assert {f["data_format"] for f in files} == {"CSV"}
    text = (out / "files" / f"{S1.study_uid}.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("report_id,study_uid,case_id")
    assert sum(1 for line in text.splitlines()[1:] if line.startswith("r1,")) == len(
        studies[S1.study_uid][1][0].values
    )


def test_the_contract_check_catches_mistakes() -> None:
    row = {
        "type": "annotation",
        "submitter_id": "x",
        "imaging_studies.submitter_id": "1.2.3",
        "annotation_method": "Automatic",
        "nonsense": "1",
        "bogus_link.submitter_id": "y",
    }
    problems = violations("annotation", [row])
    assert "row 2: annotation_method='Automatic' not in enum" in problems
    assert "row 2: unknown field nonsense" in problems
    assert "row 2: unknown link bogus_link.submitter_id" in problems
    assert violations("annotation_file", [{"type": "annotation_file", "md5sum": "XYZ"}])


def test_rsna_category_fills_class_covid19_pneumonia(tmp_path: Path, provenance) -> None:
    import reportlab_nlp
    from reportlab_nlp.export.records import from_result

    labeler = reportlab_nlp.load()
    texts = {
        "r1": "IMPRESSION: Commonly reported imaging features of COVID-19 pneumonia are present.",
        "r2": "IMPRESSION: No acute cardiopulmonary process.",
    }
    reports = {
        rid: from_result(labeler.label(t, id=rid), labeler.values(labeler.label(t)))
        for rid, t in texts.items()
    }
    assert reports["r1"].midrc_fields == {"class_covid19_pneumonia": "typical"}
    assert reports["r2"].midrc_fields == {}
    studies = {S1.study_uid: (S1, [reports["r1"]]), S2.study_uid: (S2, [reports["r2"]])}
    annotation_tsv, _ = write_midrc(studies, tmp_path / "midrc", provenance, MidrcOptions())
    rows = {r["imaging_studies.submitter_id"]: r for r in read_tsv(annotation_tsv)}
    assert rows[S1.study_uid]["class_covid19_pneumonia"] == "typical"
    assert rows[S2.study_uid]["class_covid19_pneumonia"] == ""
    assert violations("annotation", list(rows.values())) == []
