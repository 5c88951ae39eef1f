"""FHIR export: every bundle parses back with fhir.resources into the values it was built from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fhir.resources", reason="the fhir export needs the 'export' extra (fhir.resources)")

from fhir.resources.R4B.bundle import Bundle

from reportlab_nlp.export.codes import load_codes
from reportlab_nlp.export.fhir import (
    CASE_ID_SYSTEM,
    DICOM_UID_SYSTEM,
    EVIDENCE_URL,
    PROVENANCE_URL,
    REPORT_ID_SYSTEM,
    build_bundle,
    bundle_json,
    read_bundle,
)
from reportlab_nlp.export.manifest import StudyLink
from reportlab_nlp.export.provenance import Provenance
from reportlab_nlp.export.records import LabeledReport
from reportlab_nlp.rules import RuleSet
from reportlab_nlp.types import Assertion, Mention

TEXT = "FINDINGS: Small left pleural effusion. No pneumothorax."
S1 = StudyLink("2.25.1001", "C1", "ACC1", "CR", "CHEST", "2020-01-02")
S2 = StudyLink("2.25.1002", "C1", None, None, None, None)


@pytest.fixture
def provenance(tmp_path: Path) -> Provenance:
    src = tmp_path / "reports.csv"
    src.write_text("report_id,text\n", encoding="utf-8")
    return Provenance.for_run(src, scheme="full", rules_hash="ef" * 32)


@pytest.fixture
def report(rules: RuleSet) -> LabeledReport:
    start = TEXT.index("pleural effusion")
    effusion = Mention(
        "Pleural Effusion",
        "pleural effusion",
        start,
        start + 16,
        TEXT,
        10,
        len(TEXT),
        "findings",
        Assertion.PRESENT,
    )
    return LabeledReport.from_labels(
        "r1",
        {"Pleural Effusion": 1, "Pneumothorax": 0, "Atelectasis": -1, "Pleural Other": 1},
        rules.schemes["full"],
        evidence={"Pleural Effusion": [effusion]},
        studies=[S1],
    )


def resources(bundle: Bundle, kind: str) -> list[Any]:
    return [e.resource for e in bundle.entry if e.resource.get_resource_type() == kind]


def test_bundle_round_trip(tmp_path: Path, report, provenance) -> None:
    codes = load_codes()
    path = tmp_path / "r1.json"
    bundle = build_bundle(report, provenance, codes, bundle_type="collection")
    path.write_text(bundle_json(bundle), encoding="utf-8")
    parsed = Bundle.model_validate_json(path.read_text(encoding="utf-8"))  # validates
    assert parsed.type == "collection"
    (dr,) = resources(parsed, "DiagnosticReport")
    assert [(i.system, i.value) for i in dr.identifier] == [(REPORT_ID_SYSTEM, "r1")]
    assert (dr.code.coding[0].system, dr.code.coding[0].code) == ("http://loinc.org", "18748-4")
    (patient,) = resources(parsed, "Patient")
    assert [(i.system, i.value) for i in patient.identifier] == [(CASE_ID_SYSTEM, "C1")]
    assert dr.subject.reference == f"urn:uuid:{patient.id}"
    assert str(dr.effectiveDateTime) == "2020-01-02"
    (study,) = resources(parsed, "ImagingStudy")
    assert dr.imagingStudy[0].reference == f"urn:uuid:{study.id}"
    ids = {(i.system, i.value) for i in study.identifier if i.system}
    assert (DICOM_UID_SYSTEM, "urn:oid:2.25.1001") in ids
    (acsn,) = [i for i in study.identifier if i.type is not None]
    assert (acsn.type.coding[0].code, acsn.value) == ("ACSN", "ACC1")
    observations = resources(parsed, "Observation")
    assert {f"urn:uuid:{o.id}" for o in observations} == {r.reference for r in dr.result}
    got = {}
    for o in observations:
        scheme = codes.scheme_for_system(o.code.coding[0].system)
        label = codes.label_for(scheme, o.code.coding[0].code)
        vscheme = codes.scheme_for_system(o.valueCodeableConcept.coding[0].system)
        got[label] = codes.value_for(vscheme, o.valueCodeableConcept.coding[0].code)
        assert o.derivedFrom[0].reference == f"urn:uuid:{study.id}"
    assert got == {label: v for _, label, v in report.labeled()}
    # and through the module's reader
    assert read_bundle(path, codes) == ("r1", ["2.25.1001"], got)


def test_evidence_span_and_provenance_extensions(report, provenance) -> None:
    bundle = build_bundle(report, provenance, load_codes())
    data = json.loads(bundle_json(bundle))
    obs = next(
        e["resource"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "Observation"
        and e["resource"]["code"]["text"] == "Pleural Effusion"
    )
    (ev,) = [x for x in obs["extension"] if x["url"] == EVIDENCE_URL]
    parts = {p["url"]: next(v for k, v in p.items() if k.startswith("value")) for p in ev["extension"]}
    assert TEXT[parts["start"] : parts["end"]] == parts["text"] == "pleural effusion"
    assert parts["assertion"] == "present" and parts["section"] == "findings"
    assert obs["valueCodeableConcept"]["coding"][0]["code"] == "52101004"
    dr = data["entry"][0]["resource"]
    (prov,) = [x for x in dr["extension"] if x["url"] == PROVENANCE_URL]
    fields = {p["url"]: p["valueString"] for p in prov["extension"]}
    assert fields["rules_hash"] == "ef" * 32 and fields["run_id"] == provenance.run_id
    assert fields["input_sha256"] == provenance.input_sha256 and "model_sha256" not in fields


def test_local_codes_use_the_local_system(report, provenance) -> None:
    codes = load_codes()
    data = json.loads(bundle_json(build_bundle(report, provenance, codes)))
    other = next(
        e["resource"]
        for e in data["entry"]
        if e["resource"]["resourceType"] == "Observation" and e["resource"]["code"]["text"] == "Pleural Other"
    )
    assert other["code"]["coding"][0] == {
        "system": codes.fhir_system("99RLNLP"),
        "code": "PLEURALOTHER",
        "display": codes.labels["Pleural Other"].code.meaning,
    }


def test_two_studies_without_accession_and_an_unlinked_report(tmp_path: Path, rules, provenance) -> None:
    codes = load_codes()
    full = rules.schemes["full"]
    two = LabeledReport.from_labels("r2", {"Cardiomegaly": 1}, full, studies=[S1, S2])
    bundle = build_bundle(two, provenance, codes)
    studies = resources(bundle, "ImagingStudy")
    assert len(studies) == 2
    no_accession = next(s for s in studies if s.identifier[0].value == "urn:oid:2.25.1002")
    assert len(no_accession.identifier) == 1
    (dr,) = resources(bundle, "DiagnosticReport")
    assert len(dr.imagingStudy) == 2
    alone = LabeledReport.from_labels("r3", {"Edema": 0}, full)
    path = tmp_path / "r3.json"
    path.write_text(bundle_json(build_bundle(alone, provenance, codes)), encoding="utf-8")
    assert read_bundle(path, codes)[1:] == ([], {"Edema": alone.labeled()[0][2]})
    nothing = LabeledReport.from_labels("r4", {}, full)
    assert resources(build_bundle(nothing, provenance, codes), "Observation") == []


def test_every_code_used_is_in_the_code_table(report, provenance) -> None:
    codes = load_codes()
    data = json.loads(bundle_json(build_bundle(report, provenance, codes)))
    clinical_systems = {s.fhir_system for s in codes.schemes.values()}
    used = set()
    for entry in data["entry"]:
        res = entry["resource"]
        for field in ("code", "valueCodeableConcept"):
            for coding in res.get(field, {}).get("coding", []):
                if coding["system"] in clinical_systems:
                    used.add((codes.scheme_for_system(coding["system"]), coding["code"]))
    assert used and used <= codes.all_codes()


def test_transaction_bundles_update_by_identifier(tmp_path: Path, report, provenance) -> None:
    codes = load_codes()
    data = json.loads(bundle_json(build_bundle(report, provenance, codes)))
    assert data["type"] == "transaction"
    Bundle.model_validate(data)  # fhir.resources R4B
    urls = {}
    for entry in data["entry"]:
        resource, request = entry["resource"], entry["request"]
        assert request["method"] == "PUT" and "id" not in resource
        urls[resource["resourceType"], request["url"]] = resource
    kinds = sorted({k for k, _ in urls})
    assert kinds == ["DiagnosticReport", "ImagingStudy", "Observation", "Patient"]
    assert ("Patient", "Patient?identifier=urn:reportlab-nlp:case-id|C1") in urls
    assert ("ImagingStudy", "ImagingStudy?identifier=urn:dicom:uid|urn%3Aoid%3A2.25.1001") in urls
    assert ("DiagnosticReport", "DiagnosticReport?identifier=urn:reportlab-nlp:report-id|r1") in urls
    assert len({u for _, u in urls}) == len(data["entry"])  # one key per resource
    (dr,) = [r for (k, _), r in urls.items() if k == "DiagnosticReport"]
    patient_url = next(e["fullUrl"] for e in data["entry"] if e["resource"]["resourceType"] == "Patient")
    assert dr["subject"] == {"reference": patient_url} and dr["effectiveDateTime"] == "2020-01-02"
    # a second export (a new run) keys every resource the same way: a server updates, not duplicates
    again = Provenance.for_run(tmp_path / "reports.csv", scheme="full", rules_hash=provenance.rules_hash)
    data2 = json.loads(bundle_json(build_bundle(report, again, codes)))
    assert sorted(e["request"]["url"] for e in data2["entry"]) == sorted(u for _, u in urls)
