"""DICOM SR export: read back with pydicom, required attributes, codes from the table, a validator.

The `dicom-validator` package's IOD check downloads the DICOM standard at run
time, which tests may not do; so ``check_required`` below is our own check of
the attributes the Comprehensive 3D SR IOD requires (PS3.3 A.35.13), and when
David Clunie's ``dciodvfy`` (Debian package dicom3tools) is installed every SR
is also run through it and must report no error.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("highdicom", reason="the dicom-sr export needs the 'export' extra (highdicom)")

from pydicom import Dataset, dcmread
from pydicom.dataset import FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from reportlab_nlp.errors import InputError
from reportlab_nlp.export.codes import load_codes
from reportlab_nlp.export.dicom_sr import (
    build_sr,
    load_headers,
    read_findings,
    used_codes,
    write_study_srs,
)
from reportlab_nlp.export.manifest import StudyLink
from reportlab_nlp.export.provenance import Provenance
from reportlab_nlp.export.records import LabeledReport
from reportlab_nlp.rules import RuleSet
from reportlab_nlp.types import LabelValue

COMPREHENSIVE_3D_SR = "1.2.840.10008.5.1.4.1.1.88.34"
S1 = StudyLink("2.25.1001", "C1", "ACC1", "CR", "CHEST", "2020-01-02")
S2 = StudyLink("2.25.1002", "C2", None, None, None, None)

# (keyword, type) per module of the Comprehensive 3D SR IOD
REQUIRED = {
    "Patient": [("PatientName", 2), ("PatientID", 2), ("PatientBirthDate", 2), ("PatientSex", 2)],
    "General Study": [
        ("StudyInstanceUID", 1),
        ("StudyDate", 2),
        ("StudyTime", 2),
        ("ReferringPhysicianName", 2),
        ("StudyID", 2),
        ("AccessionNumber", 2),
    ],
    "SR Document Series": [
        ("Modality", 1),
        ("SeriesInstanceUID", 1),
        ("SeriesNumber", 1),
        ("ReferencedPerformedProcedureStepSequence", 2),
    ],
    "General Equipment": [("Manufacturer", 2)],
    "Enhanced General Equipment": [
        ("Manufacturer", 1),
        ("ManufacturerModelName", 1),
        ("DeviceSerialNumber", 1),
        ("SoftwareVersions", 1),
    ],
    "SR Document General": [
        ("InstanceNumber", 1),
        ("CompletionFlag", 1),
        ("VerificationFlag", 1),
        ("ContentDate", 1),
        ("ContentTime", 1),
        ("PerformedProcedureCodeSequence", 2),
    ],
    "SR Document Content": [
        ("ValueType", 1),
        ("ConceptNameCodeSequence", 1),
        ("ContinuityOfContent", 1),
        ("ContentTemplateSequence", 1),
        ("ContentSequence", 1),
    ],
    "SOP Common": [("SOPClassUID", 1), ("SOPInstanceUID", 1)],
}


def _code_ok(seq: object) -> bool:
    items = list(seq or [])  # type: ignore[call-overload]
    return len(items) == 1 and all(
        items[0].get(k) not in (None, "") for k in ("CodeValue", "CodingSchemeDesignator", "CodeMeaning")
    )


def check_required(ds: Dataset) -> list[str]:
    """Problems with the attributes the IOD requires and with each content item's required attributes."""
    problems = []
    for module, attrs in REQUIRED.items():
        for keyword, kind in attrs:
            if keyword not in ds:
                problems.append(f"{module}: {keyword} (type {kind}) missing")
            elif kind == 1 and ds[keyword].value in (None, "", []):
                problems.append(f"{module}: {keyword} (type 1) empty")
    if ds.get("Modality") != "SR":
        problems.append("Modality is not SR")
    if ds.get("SOPClassUID") != COMPREHENSIVE_3D_SR:
        problems.append("not a Comprehensive 3D SR")
    if ds.file_meta.MediaStorageSOPClassUID != ds.SOPClassUID:
        problems.append("file meta SOP class differs")
    tid = ds.ContentTemplateSequence[0]
    if (tid.TemplateIdentifier, tid.MappingResource) != ("1500", "DCMR"):
        problems.append("root template is not TID 1500")
    if not _code_ok(ds.ConceptNameCodeSequence):
        problems.append("root concept name")

    def walk(items: list[Dataset], path: str) -> None:
        for i, item in enumerate(items):
            where = f"{path}[{i}]"
            for keyword in ("RelationshipType", "ValueType"):
                if not item.get(keyword):
                    problems.append(f"{where}: {keyword} missing")
            if not _code_ok(item.get("ConceptNameCodeSequence")):
                problems.append(f"{where}: concept name")
            kind = item.get("ValueType")
            if kind == "CODE" and not _code_ok(item.get("ConceptCodeSequence")):
                problems.append(f"{where}: CODE without a concept code")
            if kind == "TEXT" and not item.get("TextValue"):
                problems.append(f"{where}: TEXT without a value")
            if kind == "CONTAINER" and not item.get("ContinuityOfContent"):
                problems.append(f"{where}: CONTAINER without ContinuityOfContent")
            walk(list(item.get("ContentSequence", [])), where)

    walk(list(ds.ContentSequence), "content")
    return problems


def findings_with_pydicom(path: Path) -> dict[str, dict[tuple[str, str], tuple[str, str]]]:
    """{report id: {(scheme, finding code): (scheme, value code)}}, read with pydicom alone."""
    ds = dcmread(path)
    out = {}

    def key(seq: object) -> tuple[str, str]:
        c = seq[0]  # type: ignore[index]
        return (c.CodingSchemeDesignator, c.CodeValue)

    def groups(items: list[Dataset]):  # type: ignore[no-untyped-def]
        for item in items:
            if item.ValueType == "CONTAINER" and key(item.ConceptNameCodeSequence) == ("DCM", "125007"):
                yield item
            yield from groups(list(item.get("ContentSequence", [])))

    for group in groups(list(ds.ContentSequence)):
        rid = next(
            i.TextValue for i in group.ContentSequence if key(i.ConceptNameCodeSequence) == ("DCM", "112039")
        )
        out[rid] = {
            key(i.ConceptNameCodeSequence): key(i.ConceptCodeSequence)
            for i in group.ContentSequence
            if i.ValueType == "CODE" and i.RelationshipType == "CONTAINS"
        }
    return out


@pytest.fixture
def provenance(tmp_path: Path) -> Provenance:
    src = tmp_path / "reports.csv"
    src.write_text("report_id,text\n", encoding="utf-8")
    return Provenance.for_run(src, scheme="full", rules_hash="cd" * 32)


@pytest.fixture
def studies(rules: RuleSet) -> dict[str, tuple[StudyLink, list[LabeledReport]]]:
    full = rules.schemes["full"]
    r1 = LabeledReport.from_labels(
        "r1",
        {"Pleural Effusion": 1, "Pneumothorax": 0, "Atelectasis": -1, "Enlarged Cardiomediastinum": 1},
        full,
    )
    r1b = LabeledReport.from_labels("r1-addendum", {"Lung Opacity": 1, "Pleural Other": -1}, full)
    r2 = LabeledReport.from_labels("r2", {"No Finding": 1, "Cardiomegaly": 0, "Support Devices": 1}, full)
    r3 = LabeledReport.from_labels("r3", {}, full)  # nothing labeled
    return {S1.study_uid: (S1, [r1, r1b]), S2.study_uid: (S2, [r2, r3])}


@pytest.fixture
def written(tmp_path: Path, studies, provenance) -> list[Path]:
    return write_study_srs(studies, tmp_path / "sr", provenance, load_codes())


def test_findings_read_back_with_pydicom_equal_the_labels(written, studies) -> None:
    codes = load_codes()
    for path in written:
        uid = path.stem
        _, reports = studies[uid]
        got = findings_with_pydicom(path)
        want = {
            r.id: {codes.label_code(label).key: codes.value_code(v).key for _, label, v in r.labeled()}
            for r in reports
        }
        assert got == want
        # and through the module's own reader, as labels
        assert read_findings(path, codes) == {
            r.id: {label: v for _, label, v in r.labeled()} for r in reports
        }


def test_values_are_present_absent_undetermined(written) -> None:
    by_report = findings_with_pydicom(written[0])
    r1 = by_report["r1"]
    assert r1[("SCT", "60046008")] == ("SCT", "52101004")  # pleural effusion: present
    assert r1[("SCT", "36118008")] == ("SCT", "272519000")  # pneumothorax: absent
    assert r1[("SCT", "46621007")] == ("SCT", "373068000")  # atelectasis: undetermined
    assert r1[("99RLNLP", "ENLCARDIOMED")] == ("SCT", "52101004")


def test_every_code_used_is_in_the_code_table(written) -> None:
    table = load_codes().all_codes()
    for path in written:
        used = used_codes(path)
        assert used, "no codes found"
        assert used <= table, f"codes not in codes.yaml: {used - table}"


def test_required_attributes(written) -> None:
    for path in written:
        ds = dcmread(path)
        assert check_required(ds) == []


def test_the_required_attribute_check_catches_omissions(written) -> None:
    ds = dcmread(written[0])
    del ds.ContentDate
    del ds.PatientID
    ds.ContentSequence[0].ConceptCodeSequence[0].CodeMeaning = ""  # the language item
    problems = check_required(ds)
    assert "SR Document General: ContentDate (type 1) missing" in problems
    assert "Patient: PatientID (type 2) missing" in problems
    assert any("CODE without a concept code" in p for p in problems)


def test_uids_and_study_attributes(written, provenance) -> None:
    a, b = (dcmread(p) for p in written)
    assert a.StudyInstanceUID == S1.study_uid and b.StudyInstanceUID == S2.study_uid
    uids = {a.SeriesInstanceUID, a.SOPInstanceUID, b.SeriesInstanceUID, b.SOPInstanceUID}
    assert len(uids) == 4 and not uids & {S1.study_uid, S2.study_uid}
    assert (a.PatientID, a.AccessionNumber, a.StudyDate) == ("C1", "ACC1", "20200102")
    assert (b.PatientID, b.AccessionNumber, b.StudyDate) == ("C2", "", "")
    # the minimal evidence stands for no real instance: none is referenced
    assert "CurrentRequestedProcedureEvidenceSequence" not in a
    # the local coding scheme is identified
    assert "99RLNLP" in {item.CodingSchemeDesignator for item in a.CodingSchemeIdentificationSequence}


def test_algorithm_identification_carries_the_provenance(written, provenance) -> None:
    ds = dcmread(written[0])
    texts: dict[str, list[str]] = {}

    def walk(items: list[Dataset]) -> None:
        for item in items:
            if item.ValueType == "TEXT":
                texts.setdefault(item.ConceptNameCodeSequence[0].CodeMeaning, []).append(item.TextValue)
            walk(list(item.get("ContentSequence", [])))

    walk(list(ds.ContentSequence))
    assert set(texts["Algorithm Name"]) == {"reportlab-nlp"}
    assert set(texts["Algorithm Version"]) == {provenance.toolkit_version}
    params = set(texts["Algorithm Parameters"])
    assert f"rules_hash={provenance.rules_hash}" in params
    assert f"run_id={provenance.run_id}" in params and "engine=rules" in params


@pytest.mark.skipif(
    shutil.which("dciodvfy") is None, reason="dciodvfy (Debian package dicom3tools) is not installed"
)
def test_dciodvfy_reports_no_error(written) -> None:
    for path in written:
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60, check=False)
        output = run.stdout + run.stderr
        errors = [line for line in output.splitlines() if line.startswith("Error")]
        assert errors == [], output


def _header(tmp_path: Path, study_uid: str) -> Path:
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = study_uid
    ds.SeriesInstanceUID = generate_uid()
    ds.Modality = "CR"
    ds.PatientName = "Synthetic^Patient"
    ds.PatientID = "HDR-PID"
    ds.PatientBirthDate = "19700101"
    ds.PatientSex = "O"
    ds.AccessionNumber = "HDRACC"
    ds.StudyID = "7"
    ds.StudyDate = "20200102"
    ds.StudyTime = "101500"
    ds.ReferringPhysicianName = ""
    path = tmp_path / "headers" / "image.dcm"
    path.parent.mkdir(exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    (tmp_path / "headers" / "notes.txt").write_text("not dicom", encoding="utf-8")
    return path


def test_study_attributes_from_a_dicom_header(tmp_path: Path, studies, provenance) -> None:
    _header(tmp_path, S1.study_uid)
    headers = load_headers(tmp_path / "headers")
    assert list(headers) == [S1.study_uid]
    header = headers[S1.study_uid]
    study, reports = studies[S1.study_uid]
    sr = build_sr(study, reports, provenance, load_codes(), header=header)
    assert (str(sr.PatientName), sr.PatientID, sr.StudyID, sr.StudyTime) == (
        "Synthetic^Patient",
        "HDR-PID",
        "7",
        "101500",
    )
    (evidence,) = sr.CurrentRequestedProcedureEvidenceSequence
    referenced = evidence.ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPInstanceUID
    assert referenced == header.SOPInstanceUID
    assert check_required(sr) == []
    if shutil.which("dciodvfy"):
        path = tmp_path / "with_header.dcm"
        sr.save_as(path, enforce_file_format=True)
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60, check=False)
        assert not [line for line in (run.stdout + run.stderr).splitlines() if line.startswith("Error")]
    with pytest.raises(InputError, match="DICOM header of study"):
        build_sr(S2, reports, provenance, load_codes(), header=header)


def test_read_findings_rejects_unknown_value_codes(written) -> None:
    ds = dcmread(written[0])

    def first_evaluation(items: list[Dataset]) -> Dataset | None:
        for item in items:
            if item.get("ValueType") == "CODE" and item.ConceptNameCodeSequence[0].CodeValue == "60046008":
                return item
            found = first_evaluation(list(item.get("ContentSequence", [])))
            if found is not None:
                return found
        return None

    item = first_evaluation(list(ds.ContentSequence))
    assert item is not None
    item.ConceptCodeSequence[0].CodeValue = "999999"
    with pytest.raises(InputError, match=r"not in codes\.yaml"):
        read_findings(ds, load_codes())


def test_blank_values_are_not_evaluations(written) -> None:
    assert findings_with_pydicom(written[1])["r3"] == {}
    assert LabelValue.BLANK not in read_findings(written[1], load_codes())["r2"].values()


def test_the_same_export_twice_gives_the_same_uids(tmp_path: Path, studies, provenance) -> None:
    first = write_study_srs(studies, tmp_path / "a", provenance, load_codes())
    again = Provenance.for_run(tmp_path / "reports.csv", scheme="full", rules_hash=provenance.rules_hash)
    assert again.run_id != provenance.run_id
    second = write_study_srs(studies, tmp_path / "b", again, load_codes())

    def uids(path: Path) -> tuple[str, str, list[str]]:
        ds = dcmread(path)
        tracking: list[str] = []

        def walk(items: list[Dataset]) -> None:
            for item in items:
                if item.ValueType == "UIDREF":
                    tracking.append(str(item.UID))
                walk(list(item.get("ContentSequence", [])))

        walk(list(ds.ContentSequence))
        return str(ds.SeriesInstanceUID), str(ds.SOPInstanceUID), tracking

    assert [uids(p) for p in first] == [uids(p) for p in second]
    assert all(uids(p)[0].startswith("2.25.") and len(uids(p)[1]) <= 64 for p in first)
    changed = Provenance.for_run(tmp_path / "reports.csv", scheme="full", rules_hash="ef" * 32)
    third = write_study_srs(studies, tmp_path / "c", changed, load_codes())
    for old, new in zip(first, third, strict=True):
        (s1, i1, t1), (s2, i2, t2) = uids(old), uids(new)
        assert s1 != s2 and i1 != i2 and set(t1).isdisjoint(t2)


def test_study_time_and_id_come_from_the_manifest(tmp_path: Path, rules, provenance) -> None:
    study = StudyLink(
        "2.25.4242", "C4", "ACC4", "CR", "CHEST", "2021-02-03", study_time="101530", study_id="S77"
    )
    report = LabeledReport.from_labels("r4", {"Edema": 1}, rules.schemes["full"])
    (path,) = write_study_srs({study.study_uid: (study, [report])}, tmp_path / "sr", provenance, load_codes())
    ds = dcmread(path)
    assert (ds.StudyTime, ds.StudyID, ds.StudyDate) == ("101530", "S77", "20210203")
    if shutil.which("dciodvfy") is not None:
        run = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60, check=False)
        output = run.stdout + run.stderr
        assert [line for line in output.splitlines() if line.startswith("Error")] == [], output
        assert "Study Time" not in output  # empty Study Time was one of the two warnings
