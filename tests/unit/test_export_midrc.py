"""MIDRC export: every TSV row, as the JSON Gen3 builds from it, against the MIDRC dictionary itself.

The node schemas are the vendored copy of the MIDRC data dictionary in
../shared/vendor/midrc_dictionary (commit and licence in its README); the
tests skip, saying so, when that folder or ``dictionaryutils`` is absent.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from reportlab_nlp.export.gen3 import Gen3Dictionary, load_dictionary, row_to_document, validate_rows
from reportlab_nlp.export.manifest import StudyLink
from reportlab_nlp.export.midrc import (
    DATA_TYPE,
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

SCHEMAS = Path(__file__).resolve().parents[2] / ".." / "shared" / "vendor" / "midrc_dictionary" / "schemas"
S1 = StudyLink("2.25.1001", "C1", "ACC1", "CR", "CHEST", "2020-01-02")
S2 = StudyLink("2.25.1002", "C2", None, None, None, None)
REGISTERED = "midrc_mdai_chestxr"
"""A name of the dictionary's annotation_name enumeration, standing in for the one MIDRC registers."""


@pytest.fixture(scope="module")
def midrc() -> Gen3Dictionary:
    if not (SCHEMAS / "annotation.yaml").is_file():
        pytest.skip(f"the vendored MIDRC dictionary is absent ({SCHEMAS.resolve()})")
    pytest.importorskip("dictionaryutils", reason="dictionaryutils (dev extra) loads the MIDRC dictionary")
    return load_dictionary(SCHEMAS)


def without_placeholder(problems: list[str]) -> list[str]:
    """The problems other than the default (unregistered) annotation_name's."""
    return [p for p in problems if f"annotation_name: {DEFAULT_ANNOTATION_NAME!r} is not one of" not in p]


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


def test_tsvs_validate_against_the_dictionary(tmp_path: Path, studies, provenance, midrc) -> None:
    out = tmp_path / "midrc"
    options = MidrcOptions(annotation_name=REGISTERED, project_id="Open-A1")
    annotation_tsv, file_tsv = write_midrc(studies, out, provenance, options)
    annotations, files = read_tsv(annotation_tsv), read_tsv(file_tsv)
    assert validate_rows(midrc, annotations) == []
    assert validate_rows(midrc, files) == []
    # what Gen3 builds: typed values and links as lists of {"submitter_id": ...}
    doc = row_to_document(files[0], midrc.node("annotation_file"))
    assert doc["file_size"] == int(files[0]["file_size"]) and doc["case_ids"] == ["C1"]
    assert doc["imaging_studies"] == [{"submitter_id": S1.study_uid}]
    assert DATA_TYPE == "External Annotation"
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
            "External Annotation",
        )
        data = (out / f["file_name"]).read_bytes()
        assert int(f["file_size"]) == len(data)
        assert f["md5sum"] == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_the_default_annotation_name_is_the_only_rejection(tmp_path: Path, studies, provenance, midrc):
    # annotation_name is an enumeration of names MIDRC assigns: until one is registered and
    # passed with --midrc-annotation-name, the placeholder is rejected, and nothing else is
    annotation_tsv, file_tsv = write_midrc(studies, tmp_path / "midrc", provenance, MidrcOptions())
    problems = validate_rows(midrc, read_tsv(file_tsv))
    assert len(problems) == 2 and without_placeholder(problems) == []
    assert validate_rows(midrc, read_tsv(annotation_tsv)) == []


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


def test_csv_label_files(tmp_path: Path, studies, provenance, midrc) -> None:
    out = tmp_path / "midrc"
    # any name from the dictionary's enumeration passes (here one MIDRC registered for another tool)
    options = MidrcOptions(annotation_name="SIFT", data_format="csv")
    _, file_tsv = write_midrc(studies, out, provenance, options)
    files = read_tsv(file_tsv)
    assert validate_rows(midrc, files) == []
    assert {f["data_format"] for f in files} == {"CSV"}
    text = (out / "files" / f"{S1.study_uid}.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("report_id,study_uid,case_id")
    assert sum(1 for line in text.splitlines()[1:] if line.startswith("r1,")) == len(
        studies[S1.study_uid][1][0].values
    )


def test_the_validation_catches_mistakes(midrc) -> None:
    row = {
        "type": "annotation",
        "submitter_id": "x",
        "imaging_studies.submitter_id": "1.2.3",
        "annotation_method": "Automatic",
        "nonsense": "1",
        "bogus_link.submitter_id": "y",
    }
    problems = "\n".join(validate_rows(midrc, [row]))
    assert "annotation_method: 'Automatic' is not one of" in problems
    assert "'bogus_link', 'nonsense' were unexpected" in problems
    bad_file = {"type": "annotation_file", "md5sum": "XYZ", "file_size": "12kB", "cases.submitter_id": "C1"}
    problems = "\n".join(validate_rows(midrc, [bad_file]))
    assert "md5sum: 'XYZ' does not match" in problems
    assert "file_size: '12kB' is not of type 'integer'" in problems
    assert "'data_type' is a required property" in problems
    assert validate_rows(midrc, [{"type": "annotation", "submitter_id": "x"}]) == [
        "row 2: needs a link to one of: "
        + ", ".join(s["name"] for s in midrc.node("annotation")["links"][0]["subgroup"])
    ]
    with pytest.raises(Exception, match="no node 'nonsense'"):
        validate_rows(midrc, [{"type": "nonsense"}])


def test_rsna_category_fills_class_covid19_pneumonia(tmp_path: Path, provenance, midrc) -> None:
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
    assert validate_rows(midrc, list(rows.values())) == []
