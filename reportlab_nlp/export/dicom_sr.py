"""DICOM Structured Report export: one Comprehensive 3D SR per imaging study (highdicom).

Each SR holds a TID 1500 Measurement Report whose Imaging Measurements hold
one TID 1501 measurement group per report of the study. A group's tracking
identifier is the report id, its algorithm identification (TID 4019) names
the labeler, its version and, as parameters, the engine, rules hash, model
sha256, scheme, run id and input sha256; and it holds one qualitative
evaluation per labeled (non-blank) finding: the finding's code from
``rules/codes.yaml`` with the value Present (SCT 52101004), Absent (SCT
272519000) or Undetermined (SCT 373068000).

Study-level attributes (patient id, accession number, study date) come from
a DICOM header of the study when ``--dicom-headers DIR`` has one, and from
the manifest otherwise. highdicom builds an SR from evidence datasets; without
a header the exporter builds a minimal one from the manifest row (study uid,
case id as Patient ID, accession number, study date) and removes the evidence
reference highdicom derives from it, because that instance does not exist.
An SR keeps the study's StudyInstanceUID; its Series and SOP Instance UIDs
(and each group's tracking UID) are derived (:func:`derived_uid`: ``2.25.``
and a hash) from the study, its report ids and what made the labels (rules
hash, engine, model sha256, scheme), so that exporting the same labels again
gives the same UIDs (a PACS updates the SR instead of stacking a duplicate)
and a changed rule set gives new ones.

highdicom and pydicom come with the optional ``export`` extra; this module
imports them, so import it only when the dicom-sr format is asked for.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ..constants import TOOLKIT
from ..errors import ExtraNotInstalledError, InputError
from ..types import LabelValue
from .codes import Code, CodeTable
from .manifest import StudyLink
from .provenance import Provenance
from .records import LabeledReport

try:
    import highdicom as hd
    from highdicom.coding_schemes import CodingSchemeIdentificationItem
    from pydicom import Dataset, dcmread
    from pydicom.errors import InvalidDicomError
    from pydicom.sr.codedict import codes as dcm_codes
    from pydicom.uid import generate_uid
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ExtraNotInstalledError("export --to dicom-sr", "export", e.name or "highdicom") from e

SR_SERIES_NUMBER = 9001
MANUFACTURER = "reportlab-nlp developers"
ALGORITHM_NAME = TOOLKIT
# The SOP class of the placeholder instance in a minimal evidence dataset
# (never referenced in the written SR).
_PLACEHOLDER_SOP_CLASS = "1.2.840.10008.5.1.4.1.1.7"  # Secondary Capture Image Storage


def coded(code: Code) -> hd.sr.CodedConcept:
    """A highdicom coded concept from a table code."""
    return hd.sr.CodedConcept(value=code.value, scheme_designator=code.scheme, meaning=code.meaning)


def labels_key(provenance: Provenance) -> list[str]:
    """What made the labels: a change to any of these gives the SRs new UIDs (run id and time do not)."""
    return [
        provenance.toolkit,
        provenance.engine,
        provenance.rules_hash or "",
        provenance.model_sha256 or "",
        provenance.scheme,
    ]


def derived_uid(*parts: str) -> str:
    """A UID derived from ``parts``: ``2.25.`` and the integer of a name-based UUID (PS3.5 B.2).

    The UUID is version 5 (SHA-1) of the parts joined with a separator, so the same
    parts give the same UID and different parts (in practice) different ones. (pydicom's
    ``generate_uid(prefix=None, entropy_srcs=...)`` ignores the sources and is random.)
    """
    name = "urn:reportlab-nlp:dicom-sr/" + "\x1f".join(parts)
    return f"2.25.{uuid.uuid5(uuid.NAMESPACE_URL, name).int}"


def sr_uids(study: StudyLink, reports: Sequence[LabeledReport], provenance: Provenance) -> tuple[str, str]:
    """(Series Instance UID, SOP Instance UID) of a study's SR (see the module docstring)."""
    key = [study.study_uid, *sorted(r.id for r in reports), *labels_key(provenance)]
    return derived_uid("series", *key), derived_uid("sop", *key)


def device_uid(provenance: Provenance) -> str:
    """A stable UID for the labeler as an observer device (same toolkit version and rules: same UID)."""
    return str(
        generate_uid(
            entropy_srcs=[provenance.toolkit, provenance.toolkit_version, provenance.rules_hash or ""]
        )
    )


def algorithm_parameters(provenance: Provenance) -> list[str]:
    """The TID 4019 parameters: ``name=value`` for each provenance field that identifies the run."""
    out = [
        f"engine={provenance.engine}",
        f"rules_hash={provenance.rules_hash or 'unknown'}",
    ]
    if provenance.model_sha256:
        out.append(f"model_sha256={provenance.model_sha256}")
    out += [
        f"scheme={provenance.scheme}",
        f"run_id={provenance.run_id}",
        f"input_sha256={provenance.input_sha256}",
    ]
    return out


def load_headers(folder: str | Path) -> dict[str, Dataset]:
    """Read DICOM headers (no pixel data) from the files under ``folder``, keyed by StudyInstanceUID.

    Files that are not DICOM are skipped; the first file of a study wins.

    Raises
    ------
    InputError
        When ``folder`` is not a folder.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"--dicom-headers {folder}: not a folder")
    out: dict[str, Dataset] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        try:
            ds = dcmread(path, stop_before_pixels=True)
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        uid = str(ds.get("StudyInstanceUID", "") or "")
        if uid and uid not in out:
            out[uid] = ds
    return out


def minimal_evidence(study: StudyLink) -> Dataset:
    """A stand-in evidence dataset built from the manifest (see the module docstring)."""
    ds = Dataset()
    ds.StudyInstanceUID = study.study_uid
    ds.SeriesInstanceUID = derived_uid("placeholder-series", study.study_uid)
    ds.SOPInstanceUID = derived_uid("placeholder-sop", study.study_uid)
    ds.SOPClassUID = _PLACEHOLDER_SOP_CLASS
    ds.Modality = study.modality or "OT"
    ds.PatientID = study.case_id
    ds.PatientName = ""
    ds.PatientBirthDate = ""
    ds.PatientSex = ""
    ds.AccessionNumber = study.accession_number or ""
    ds.StudyID = study.study_id or ""
    ds.StudyDate = study.dicom_date
    ds.StudyTime = study.study_time or ""
    ds.ReferringPhysicianName = ""
    return ds


def _evidence_from_header(header: Dataset) -> Dataset:
    ds = Dataset()
    for keyword in (
        "StudyInstanceUID",
        "SeriesInstanceUID",
        "SOPInstanceUID",
        "SOPClassUID",
        "PatientID",
        "PatientName",
        "PatientBirthDate",
        "PatientSex",
        "AccessionNumber",
        "StudyID",
        "StudyDate",
        "StudyTime",
        "ReferringPhysicianName",
        "SpecificCharacterSet",
    ):
        value = header.get(keyword)
        if value is not None:
            setattr(ds, keyword, value)
        elif keyword not in ("SpecificCharacterSet",):
            setattr(ds, keyword, "")
    return ds


def measurement_group(
    report: LabeledReport, provenance: Provenance, codes: CodeTable
) -> hd.sr.MeasurementsAndQualitativeEvaluations:
    """The TID 1501 group of one report: tracking id = report id, one evaluation per labeled finding."""
    evaluations = [
        hd.sr.QualitativeEvaluation(name=coded(codes.label_code(label)), value=coded(codes.value_code(value)))
        for _, label, value in report.labeled()
    ]
    for category, answer, _ in report.category_values():
        pair = codes.category_codes(category, answer)
        if pair is not None:
            evaluations.append(hd.sr.QualitativeEvaluation(name=coded(pair[0]), value=coded(pair[1])))
    return hd.sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=hd.sr.TrackingIdentifier(
            uid=derived_uid("tracking", report.id, *labels_key(provenance)), identifier=report.id
        ),
        algorithm_id=hd.sr.AlgorithmIdentification(
            name=ALGORITHM_NAME,
            version=provenance.toolkit_version,
            parameters=algorithm_parameters(provenance),
            manufacturer=MANUFACTURER,
        ),
        qualitative_evaluations=evaluations or None,
    )


def _local_schemes(codes: CodeTable, used: Iterable[str]) -> list[CodingSchemeIdentificationItem]:
    items = []
    for designator in sorted(set(used)):
        scheme = codes.schemes[designator]
        if scheme.local:
            items.append(
                CodingSchemeIdentificationItem(
                    designator=designator,
                    name=scheme.name,
                    responsible_organization=scheme.responsible_organization or None,
                )
            )
    return items


def build_sr(
    study: StudyLink,
    reports: Sequence[LabeledReport],
    provenance: Provenance,
    codes: CodeTable,
    *,
    header: Dataset | None = None,
) -> hd.sr.Comprehensive3DSR:
    """Build the SR of one study from the reports linked to it.

    Parameters
    ----------
    study
        The study (from the manifest).
    reports
        Its reports, each becoming one measurement group.
    provenance
        The run's provenance (algorithm identification, content date).
    codes
        The code table.
    header
        A DICOM header of one of the study's instances, when one was given;
        the SR then copies patient and study attributes from it and lists the
        instance as evidence.
    """
    if header is not None and str(header.get("StudyInstanceUID", "")) != study.study_uid:
        raise InputError(
            f"DICOM header of study {header.get('StudyInstanceUID')!r} given for study {study.study_uid}"
        )
    evidence = _evidence_from_header(header) if header is not None else minimal_evidence(study)
    groups = [measurement_group(r, provenance, codes) for r in reports]
    observer = hd.sr.ObserverContext(
        observer_type=dcm_codes.cid270.Device,
        observer_identifying_attributes=hd.sr.DeviceObserverIdentifyingAttributes(
            uid=device_uid(provenance),
            name=ALGORITHM_NAME,
            manufacturer_name=MANUFACTURER,
            model_name=ALGORITHM_NAME,
        ),
    )
    report = hd.sr.MeasurementReport(
        observation_context=hd.sr.ObservationContext(observer_device_context=observer),
        procedure_reported=coded(codes.concept("procedure_reported")),
        imaging_measurements=groups,
    )
    used = {codes.label_code(label).scheme for r in reports for _, label, _ in r.labeled()}
    used |= {
        c.scheme for r in reports for k, v, _ in r.category_values() for c in codes.category_codes(k, v) or ()
    }
    when = _dt.datetime.fromisoformat(provenance.timestamp.replace("Z", "+00:00"))
    series_uid, sop_uid = sr_uids(study, reports, provenance)
    sr = hd.sr.Comprehensive3DSR(
        evidence=[evidence],
        content=report,
        series_instance_uid=series_uid,
        series_number=SR_SERIES_NUMBER,
        sop_instance_uid=sop_uid,
        instance_number=1,
        manufacturer=MANUFACTURER,
        is_complete=True,
        is_final=False,
        series_description="reportlab-nlp report labels",
        manufacturer_model_name=ALGORITHM_NAME,
        software_versions=provenance.toolkit_version,
        device_serial_number=(provenance.rules_hash or "unknown")[:16],
        content_date=when.date(),
        content_time=when.time(),
        series_date=when.date(),
        series_time=when.time(),
        coding_schemes=_local_schemes(codes, used) or None,
        content_qualification="RESEARCH",
    )
    sr.TimezoneOffsetFromUTC = "+0000"  # content, series dates and times are the run's UTC time
    if header is None:
        # the minimal evidence stands for no real instance: reference none
        for keyword in ("CurrentRequestedProcedureEvidenceSequence", "PertinentOtherEvidenceSequence"):
            if keyword in sr:
                delattr(sr, keyword)
    return sr


# ---------------------------------------------------------------------------
# reading back
# ---------------------------------------------------------------------------


def _code_key(item: Dataset, attr: str) -> tuple[str, str]:
    c = getattr(item, attr)[0]
    return (
        str(c.CodingSchemeDesignator),
        str(c.get("CodeValue") or c.get("LongCodeValue") or c.get("URNCodeValue")),
    )


def _walk(items: Iterable[Dataset]) -> Iterable[Dataset]:
    for item in items:
        yield item
        yield from _walk(item.get("ContentSequence", []))


def read_findings(source: str | Path | Dataset, codes: CodeTable) -> dict[str, dict[str, LabelValue]]:
    """{report id: {label: value}} read from an SR written by this module, with pydicom alone.

    Raises
    ------
    InputError
        For a code that is not in the code table.
    """
    ds = source if isinstance(source, Dataset) else dcmread(source)
    out: dict[str, dict[str, LabelValue]] = {}
    for group in _walk(ds.ContentSequence):
        if group.get("ValueType") != "CONTAINER" or _code_key(group, "ConceptNameCodeSequence") != (
            "DCM",
            "125007",
        ):
            continue
        report_id: str | None = None
        findings: dict[str, LabelValue] = {}
        for item in group.get("ContentSequence", []):
            name = _code_key(item, "ConceptNameCodeSequence")
            if item.ValueType == "TEXT" and name == ("DCM", "112039"):  # Tracking Identifier
                report_id = str(item.TextValue)
            elif item.ValueType == "CODE":
                label = codes.label_for(*name)
                if label is None:
                    continue  # a structural code of the template (finding category, method, ...)
                value = codes.value_for(*_code_key(item, "ConceptCodeSequence"))
                if value is None:
                    raise InputError(f"SR: finding {label!r} has a value code that is not in codes.yaml")
                findings[label] = value
        if report_id is None:
            raise InputError("SR: a measurement group without a tracking identifier")
        out[report_id] = findings
    return out


def read_categories(source: str | Path | Dataset, codes: CodeTable) -> dict[str, dict[str, str]]:
    """{report id: {category: value}}: the categorical labels' evaluations of an SR written here."""
    ds = source if isinstance(source, Dataset) else dcmread(source)
    out: dict[str, dict[str, str]] = {}
    for group in _walk(ds.ContentSequence):
        if group.get("ValueType") != "CONTAINER" or "ContentSequence" not in group:
            continue
        items = list(group.ContentSequence)
        rid = next(
            (
                str(i.TextValue)
                for i in items
                if i.ValueType == "TEXT" and _code_key(i, "ConceptNameCodeSequence") == ("DCM", "112039")
            ),
            None,
        )
        for item in items:
            if rid is not None and item.ValueType == "CODE":
                found = codes.category_for(*_code_key(item, "ConceptCodeSequence"))
                if found is not None:
                    out.setdefault(rid, {})[found[0]] = found[1]
    return out


def used_codes(source: str | Path | Dataset) -> set[tuple[str, str]]:
    """Every (scheme, code) of the qualitative evaluations and the procedure reported of an SR."""
    ds = source if isinstance(source, Dataset) else dcmread(source)
    out: set[tuple[str, str]] = set()
    for item in _walk(ds.ContentSequence):
        if item.get("ValueType") != "CODE":
            continue
        name = _code_key(item, "ConceptNameCodeSequence")
        if name == ("DCM", "121058"):  # Procedure reported
            out.add(_code_key(item, "ConceptCodeSequence"))
        elif item.get("RelationshipType") == "CONTAINS":
            out.add(name)
            out.add(_code_key(item, "ConceptCodeSequence"))
    return out


def write_study_srs(
    studies: Mapping[str, tuple[StudyLink, list[LabeledReport]]],
    out_dir: Path,
    provenance: Provenance,
    codes: CodeTable,
    headers: Mapping[str, Dataset] | None = None,
) -> list[Path]:
    """Write one ``<StudyInstanceUID>.dcm`` per study into ``out_dir``; returns the paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for uid, (study, reports) in studies.items():
        sr = build_sr(study, reports, provenance, codes, header=(headers or {}).get(uid))
        path = out_dir / f"{uid}.dcm"
        sr.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


__all__ = [
    "algorithm_parameters",
    "build_sr",
    "coded",
    "derived_uid",
    "device_uid",
    "load_headers",
    "measurement_group",
    "minimal_evidence",
    "read_categories",
    "read_findings",
    "sr_uids",
    "used_codes",
    "write_study_srs",
]
