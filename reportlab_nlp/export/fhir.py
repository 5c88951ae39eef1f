"""FHIR export: one R4 Bundle per report (fhir.resources).

A bundle (type ``collection``) holds:

- a ``DiagnosticReport`` (code: LOINC 18748-4 Diagnostic Imaging Report) with
  the report id as identifier, ``imagingStudy`` references, one ``result`` per
  labeled finding and the run's provenance as an extension;
- one ``ImagingStudy`` per study of the report, identified by
  ``urn:dicom:uid`` / ``urn:oid:<StudyInstanceUID>`` and, when the manifest has
  one, the accession number as an ``ACSN`` identifier;
- one ``Observation`` per labeled (non-blank) finding: ``code`` is the
  finding's code from ``rules/codes.yaml`` (``text``: the label column),
  ``valueCodeableConcept`` is Present / Absent / Undetermined (SNOMED CT), and
  each evidence span (offsets into the report text, the matched text, its
  assertion and section) is an extension.

The patient is referenced logically by the manifest's case id
(``urn:reportlab-nlp:case-id``). fhir.resources ships the R5 (default), R4B and
STU3 models but no 4.0.1 package; the bundles are built and checked with the
R4B models, whose Bundle, DiagnosticReport, ImagingStudy and Observation have
the same elements as R4 for everything written here.

fhir.resources comes with the optional ``export`` extra.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import ExtraNotInstalledError, InputError
from ..types import LabelValue, Mention
from .codes import VALUE_NAMES, Code, CodeTable
from .fhir_transaction import BUNDLE_TYPES, as_transaction
from .manifest import StudyLink
from .provenance import PROVENANCE_FIELDS, Provenance
from .records import LabeledReport

try:
    from fhir.resources.R4B.bundle import Bundle
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ExtraNotInstalledError("export --to fhir", "export", e.name or "fhir.resources") from e

# FHIR infrastructure identifiers (not clinical codes: those are in codes.yaml)
REPORT_ID_SYSTEM = "urn:reportlab-nlp:report-id"
CASE_ID_SYSTEM = "urn:reportlab-nlp:case-id"
DICOM_UID_SYSTEM = "urn:dicom:uid"
PROVENANCE_URL = "urn:reportlab-nlp:fhir:provenance"
EVIDENCE_URL = "urn:reportlab-nlp:fhir:evidence"
PROBABILITY_URL = "urn:reportlab-nlp:fhir:probability"
OBSERVATION_ID_SYSTEM = "urn:reportlab-nlp:observation-id"
STUDY_ID_SYSTEM = "urn:reportlab-nlp:dicom-study-id"
_V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
_V2_0074 = "http://terminology.hl7.org/CodeSystem/v2-0074"
_OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
_DCM = "http://dicom.nema.org/resources/ontology/DCM"
STATUS = "preliminary"  # machine-derived, unverified


def _coding(code: Code, codes: CodeTable) -> dict[str, Any]:
    return {"system": codes.fhir_system(code.scheme), "code": code.value, "display": code.meaning}


def _uuid(provenance: Provenance, *parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join([provenance.run_id, *(str(p) for p in parts)])))


def patient_resource(case_id: str, resource_id: str) -> dict[str, Any]:
    """The Patient of a case: only its identifier (the commons' case id), no demographics."""
    return {
        "resourceType": "Patient",
        "id": resource_id,
        "identifier": [{"system": CASE_ID_SYSTEM, "value": case_id}],
    }


def _evidence_extension(m: Mention) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [
        {"url": "text", "valueString": m.text},
        {"url": "start", "valueInteger": m.start},
        {"url": "end", "valueInteger": m.end},
        {"url": "assertion", "valueString": m.assertion.value},
    ]
    if m.section:
        parts.append({"url": "section", "valueString": m.section})
    if m.cue:
        parts.append({"url": "cue", "valueString": m.cue})
    return {"url": EVIDENCE_URL, "extension": parts}


def _provenance_extension(provenance: Provenance) -> dict[str, Any]:
    flat = provenance.flat()
    return {
        "url": PROVENANCE_URL,
        "extension": [{"url": k, "valueString": flat[k]} for k in PROVENANCE_FIELDS if flat[k]],
    }


def imaging_study(link: StudyLink, resource_id: str, codes: CodeTable) -> dict[str, Any]:
    """The ImagingStudy resource (as a dict) of one study."""
    identifiers: list[dict[str, Any]] = [{"system": DICOM_UID_SYSTEM, "value": f"urn:oid:{link.study_uid}"}]
    if link.accession_number:
        identifiers.append(
            {"type": {"coding": [{"system": _V2_0203, "code": "ACSN"}]}, "value": link.accession_number}
        )
    resource: dict[str, Any] = {
        "resourceType": "ImagingStudy",
        "id": resource_id,
        "identifier": identifiers,
        "status": "unknown",
        "subject": {"identifier": {"system": CASE_ID_SYSTEM, "value": link.case_id}},
    }
    if link.study_id:
        identifiers.append({"system": STUDY_ID_SYSTEM, "value": link.study_id})
    if link.modality:
        resource["modality"] = [{"system": _DCM, "code": link.modality}]
    if link.study_date:
        resource["started"] = link.study_date
    return resource


def _effective(studies: Sequence[StudyLink]) -> str | None:
    return next((s.study_date for s in studies if s.study_date), None)


def _add_context(
    res: dict[str, Any], subject: dict[str, Any] | None, effective: str | None, refs: tuple[str, list[Any]]
) -> None:
    """Add the optional subject, effective time and study references (under the key ``refs[0]``)."""
    if subject is not None:
        res["subject"] = subject
    if effective:
        res["effectiveDateTime"] = effective
    if refs[1]:
        res[refs[0]] = refs[1]


def build_bundle(
    report: LabeledReport,
    provenance: Provenance,
    codes: CodeTable,
    *,
    ordinal: int = 0,
    bundle_type: str = "transaction",
) -> Bundle:
    """The FHIR bundle of one report (validated by fhir.resources on construction).

    ``bundle_type`` ``transaction`` gives every entry a conditional update
    (:mod:`.fhir_transaction`); ``collection`` none.
    """
    key = (report.id, ordinal)
    entries: list[dict[str, Any]] = []
    subject: dict[str, Any] | None = None
    if report.studies:
        pid = _uuid(provenance, *key, "patient", report.studies[0].case_id)
        entries.append(
            {"fullUrl": f"urn:uuid:{pid}", "resource": patient_resource(report.studies[0].case_id, pid)}
        )
        subject = {"reference": f"urn:uuid:{pid}"}
    effective = _effective(report.studies)
    study_refs = []
    for link in report.studies:
        sid = _uuid(provenance, *key, "study", link.study_uid)
        study = imaging_study(link, sid, codes)
        if subject is not None:
            study["subject"] = subject
        entries.append({"fullUrl": f"urn:uuid:{sid}", "resource": study})
        study_refs.append({"reference": f"urn:uuid:{sid}"})
    results = []
    observations = []
    for column, label, value in report.labeled():
        extensions = [_evidence_extension(m) for m in report.evidence.get(column, ())]
        p = report.probabilities.get(column)
        if p is not None:
            extensions.append({"url": PROBABILITY_URL, "valueDecimal": p})
        value_code = codes.value_code(value)
        observations.append(
            (
                _uuid(provenance, *key, "finding", column),
                column,
                {"coding": [_coding(codes.label_code(label), codes)], "text": column},
                {"coding": [_coding(value_code, codes)], "text": VALUE_NAMES[value]},
                extensions,
            )
        )
    for category, answer, evidence in report.category_values():
        pair = codes.category_codes(category, answer)
        if pair is None:
            continue
        observations.append(
            (
                _uuid(provenance, *key, "category", category),
                category,
                {"coding": [_coding(pair[0], codes)], "text": category},
                {"coding": [_coding(pair[1], codes)], "text": answer},
                [_evidence_extension(m) for m in evidence],
            )
        )
    for oid, name, code, value_concept, extensions in observations:
        obs: dict[str, Any] = {
            "resourceType": "Observation",
            "id": oid,
            "identifier": [{"system": OBSERVATION_ID_SYSTEM, "value": f"{report.id}/{name}"}],
            "status": STATUS,
            "category": [{"coding": [{"system": _OBS_CATEGORY, "code": "imaging"}]}],
            "code": code,
            "valueCodeableConcept": value_concept,
        }
        _add_context(obs, subject, effective, ("derivedFrom", study_refs))
        if extensions:
            obs["extension"] = extensions
        entries.append({"fullUrl": f"urn:uuid:{oid}", "resource": obs})
        results.append({"reference": f"urn:uuid:{oid}"})
    did = _uuid(provenance, *key, "report")
    diagnostic: dict[str, Any] = {
        "resourceType": "DiagnosticReport",
        "id": did,
        "extension": [_provenance_extension(provenance)],
        "identifier": [{"system": REPORT_ID_SYSTEM, "value": report.id}],
        "status": STATUS,
        "category": [{"coding": [{"system": _V2_0074, "code": "RAD", "display": "Radiology"}]}],
        "code": {"coding": [_coding(codes.concept("diagnostic_report"), codes)]},
        "issued": provenance.timestamp,
    }
    _add_context(diagnostic, subject, effective, ("imagingStudy", study_refs))
    if results:
        diagnostic["result"] = results
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": _uuid(provenance, *key, "bundle"),
        "type": bundle_type,
        "timestamp": provenance.timestamp,
        "entry": [{"fullUrl": f"urn:uuid:{did}", "resource": diagnostic}, *entries],
    }
    if bundle_type == "transaction":
        bundle["entry"] = as_transaction(bundle["entry"])
    elif bundle_type != "collection":
        raise ValueError(f"bundle type {bundle_type!r}: expected one of {', '.join(BUNDLE_TYPES)}")
    return Bundle.model_validate(bundle)


def bundle_json(bundle: Bundle) -> str:
    """The bundle as compact JSON (no nulls)."""
    return bundle.model_dump_json(exclude_none=True)


def read_categories(source: str | Path, codes: CodeTable) -> dict[str, str]:
    """{category: value} of the categorical labels' Observations in a bundle written here."""
    data = json.loads(Path(source).read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for entry in data.get("entry", []):
        resource = entry.get("resource", {})
        if resource.get("resourceType") != "Observation":
            continue
        coding = resource["valueCodeableConcept"]["coding"][0]
        scheme = codes.scheme_for_system(coding["system"])
        found = codes.category_for(scheme, coding["code"]) if scheme else None
        if found is not None:
            out[found[0]] = found[1]
    return out


def read_bundle(source: str | Path, codes: CodeTable) -> tuple[str, list[str], dict[str, LabelValue]]:
    """(report id, study uids, {label: value}) from a bundle file written by this module.

    The file is parsed with fhir.resources (which validates it).

    Raises
    ------
    InputError
        For a bundle without a DiagnosticReport, or a code not in the code table.
    """
    bundle = Bundle.model_validate_json(Path(source).read_text(encoding="utf-8"))
    report_id: str | None = None
    studies: list[str] = []
    findings: dict[str, LabelValue] = {}
    for entry in bundle.entry or []:
        resource: Any = entry.resource
        kind = resource.get_resource_type()
        if kind == "DiagnosticReport":
            for ident in resource.identifier or []:
                if ident.system == REPORT_ID_SYSTEM:
                    report_id = ident.value
        elif kind == "ImagingStudy":
            for ident in resource.identifier or []:
                if ident.system == DICOM_UID_SYSTEM and ident.value.startswith("urn:oid:"):
                    studies.append(ident.value[len("urn:oid:") :])
        elif kind == "Observation":
            vc = resource.valueCodeableConcept.coding[0]
            vs = codes.scheme_for_system(vc.system)
            if vs is not None and codes.category_for(vs, vc.code) is not None:
                continue  # a categorical label: read_categories
            coding = resource.code.coding[0]
            scheme = codes.scheme_for_system(coding.system)
            label = codes.label_for(scheme, coding.code) if scheme else None
            vcoding = resource.valueCodeableConcept.coding[0]
            vscheme = codes.scheme_for_system(vcoding.system)
            value = codes.value_for(vscheme, vcoding.code) if vscheme else None
            if label is None or value is None:
                raise InputError(f"{source}: an Observation with a code that is not in codes.yaml")
            findings[label] = value
    if report_id is None:
        raise InputError(f"{source}: no DiagnosticReport with a report id")
    return report_id, studies, findings


__all__ = [
    "CASE_ID_SYSTEM",
    "DICOM_UID_SYSTEM",
    "EVIDENCE_URL",
    "PROVENANCE_URL",
    "REPORT_ID_SYSTEM",
    "build_bundle",
    "bundle_json",
    "imaging_study",
    "read_bundle",
    "read_categories",
]
