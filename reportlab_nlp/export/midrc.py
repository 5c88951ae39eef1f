"""MIDRC export: Gen3 submission TSVs for the ``annotation`` and ``annotation_file`` nodes.

For each study the export writes one label file (``files/<StudyInstanceUID>.json``,
or ``.csv`` with ``--midrc-data-format csv``) holding the labels, evidence
and provenance of the study's reports, and two TSVs for the MIDRC data
commons' submission portal:

- ``annotation_file.tsv``: one row per label file: ``type``
  (``annotation_file``), ``submitter_id``, the link ``imaging_studies.submitter_id``
  (the StudyInstanceUID, which is the imaging study's submitter id in MIDRC),
  ``case_ids``, ``annotation_name``, ``annotation_method``
  (``Retrospective_auto``), ``annotator_id``, ``data_category``
  (``annotation_file``), ``data_format`` (``JSON`` or ``CSV``), ``data_type``
  (``External Annotation``: not validated by MIDRC's experts), ``file_name``,
  ``file_size`` and ``md5sum``;
- ``annotation.tsv``: one row per study: ``type`` (``annotation``),
  ``submitter_id``, the links ``imaging_studies.submitter_id`` and
  ``annotation_files.submitter_id``, ``case_ids``, ``annotation_method``,
  ``annotator_id``, ``software_version`` and ``class_covid19_pneumonia``.

Field names and enumerated values follow the MIDRC data dictionary's
``annotation`` and ``annotation_file`` node schemas; :mod:`.gen3` turns the TSV
rows into the JSON documents Gen3's submission service builds and validates
them against a copy of the dictionary (the tests use the vendored one in
``../shared/vendor/midrc_dictionary``). ``annotation_name`` is an enumeration
of names that MIDRC assigns: pass the registered name with
``--midrc-annotation-name``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..constants import TOOLKIT
from ..io.tables import read_tsv
from ..io.writers import AtomicFile
from ._csv import RowWriter
from .manifest import StudyLink
from .provenance import Provenance, md5_file
from .records import LabeledReport
from .tables import LONG_CSV_COLUMNS, STUDY_COLUMNS, evidence_json

ANNOTATION_METHOD = "Retrospective_auto"
DATA_CATEGORY = "annotation_file"
DATA_TYPE = "External Annotation"
"""The dictionary's ``data_type``: ``Internal Annotation`` is for annotations MIDRC's experts validated."""
ANNOTATOR_ID = TOOLKIT
DEFAULT_ANNOTATION_NAME = "reportlab_nlp_labels"

ANNOTATION_FILE_COLUMNS = (
    "type",
    "project_id",
    "submitter_id",
    "imaging_studies.submitter_id",
    "case_ids",
    "annotation_name",
    "annotation_method",
    "annotator_id",
    "data_category",
    "data_format",
    "data_type",
    "file_name",
    "file_size",
    "md5sum",
)
ANNOTATION_COLUMNS = (
    "type",
    "project_id",
    "submitter_id",
    "imaging_studies.submitter_id",
    "annotation_files.submitter_id",
    "case_ids",
    "annotation_method",
    "annotator_id",
    "software_version",
    "class_covid19_pneumonia",
)
"""``class_covid19_pneumonia`` is filled from the RSNA COVID-19 Category when a report of
the study states one (rules/categories.yaml maps the values to MIDRC's strings)."""


@dataclass(frozen=True)
class MidrcOptions:
    """Settings of the MIDRC export.

    ``project_id`` (``program-project``) fills the ``project_id`` column when
    given (the column is left out otherwise); ``annotation_name`` is the name
    MIDRC registered for these labels; ``data_format`` is ``json`` or ``csv``.
    """

    annotation_name: str = DEFAULT_ANNOTATION_NAME
    project_id: str | None = None
    data_format: str = "json"


def _study_fields(reports: Sequence[LabeledReport]) -> dict[str, str]:
    """The MIDRC annotation properties the study's reports state (the first report that states one wins)."""
    out: dict[str, str] = {}
    for report in reports:
        for name, value in report.midrc_fields.items():
            out.setdefault(name, value)
    return out


def software_version(provenance: Provenance) -> str:
    """The ``software_version`` value: toolkit, version, engine and hashes."""
    parts = [f"{provenance.toolkit} {provenance.toolkit_version}", f"engine {provenance.engine}"]
    parts.append(f"rules sha256 {provenance.rules_hash or 'unknown'}")
    if provenance.model_sha256:
        parts.append(f"model sha256 {provenance.model_sha256}")
    return "; ".join(parts)


def _submitter_prefix(provenance: Provenance) -> str:
    tag = (provenance.rules_hash or provenance.run_id.replace("-", ""))[:12]
    return f"rlnlp-{tag}"


def _label_file_json(
    study: StudyLink, reports: Sequence[LabeledReport], provenance: Provenance
) -> dict[str, Any]:
    return {
        "study": study.to_dict(),
        "provenance": provenance.to_dict(),
        "reports": [
            {
                "report_id": r.id,
                "labels": {col: v.to_json() for col, _, v in r.values},
                "evidence": {col: evidence_json(r, col) for col, _, v in r.labeled() if r.evidence.get(col)},
                "probabilities": dict(r.probabilities) or None,
                "categories": {k: c.to_dict() for k, c in r.categories.items()},
            }
            for r in reports
        ],
    }


def _write_label_file(
    path: Path, study: StudyLink, reports: Sequence[LabeledReport], provenance: Provenance, data_format: str
) -> None:
    with AtomicFile(path) as out:
        if data_format == "json":
            json.dump(_label_file_json(study, reports, provenance), out.handle, ensure_ascii=False, indent=1)
            out.handle.write("\n")
            return
        writer = RowWriter(out.handle)
        writer.writerow(LONG_CSV_COLUMNS)
        cells = [study.to_dict()[c] or "" for c in STUDY_COLUMNS]
        for r in reports:
            for col, _, value in r.values:
                p = r.probabilities.get(col)
                ev = json.dumps(evidence_json(r, col), ensure_ascii=False, separators=(",", ":"))
                writer.writerow([r.id, *cells, col, value.to_csv(), "" if p is None else repr(p), ev])


def _write_tsv(path: Path, columns: Sequence[str], rows: Sequence[Mapping[str, str]]) -> None:
    with AtomicFile(path) as out:
        writer = RowWriter(out.handle, delimiter="\t")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([row.get(c, "") for c in columns])


def write_midrc(
    studies: Mapping[str, tuple[StudyLink, list[LabeledReport]]],
    out_dir: Path,
    provenance: Provenance,
    options: MidrcOptions,
) -> tuple[Path, Path]:
    """Write the label files and the two TSVs into ``out_dir``; returns the TSV paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    files_dir = out_dir / "files"
    prefix = _submitter_prefix(provenance)
    ext = "json" if options.data_format == "json" else "csv"
    file_rows: list[dict[str, str]] = []
    annotation_rows: list[dict[str, str]] = []
    for uid, (study, reports) in studies.items():
        path = files_dir / f"{uid}.{ext}"
        _write_label_file(path, study, reports, provenance, options.data_format)
        file_id = f"{prefix}-file-{uid}"
        common = {
            "project_id": options.project_id or "",
            "imaging_studies.submitter_id": uid,
            "case_ids": study.case_id,
        }
        file_rows.append(
            {
                **common,
                "type": "annotation_file",
                "submitter_id": file_id,
                "annotation_name": options.annotation_name,
                "annotation_method": ANNOTATION_METHOD,
                "annotator_id": ANNOTATOR_ID,
                "data_category": DATA_CATEGORY,
                "data_format": options.data_format.upper(),
                "data_type": DATA_TYPE,
                "file_name": f"files/{path.name}",
                "file_size": str(path.stat().st_size),
                "md5sum": md5_file(path),
            }
        )
        annotation_rows.append(
            {
                **common,
                "type": "annotation",
                "submitter_id": f"{prefix}-{uid}",
                "annotation_files.submitter_id": file_id,
                "annotation_method": ANNOTATION_METHOD,
                "annotator_id": ANNOTATOR_ID,
                "software_version": software_version(provenance),
                **_study_fields(reports),
            }
        )

    def columns(all_columns: Sequence[str]) -> list[str]:
        return [c for c in all_columns if c != "project_id" or options.project_id]

    file_tsv = out_dir / "annotation_file.tsv"
    annotation_tsv = out_dir / "annotation.tsv"
    _write_tsv(file_tsv, columns(ANNOTATION_FILE_COLUMNS), file_rows)
    _write_tsv(annotation_tsv, columns(ANNOTATION_COLUMNS), annotation_rows)
    return annotation_tsv, file_tsv


__all__ = [
    "ANNOTATION_COLUMNS",
    "ANNOTATION_FILE_COLUMNS",
    "ANNOTATION_METHOD",
    "DATA_TYPE",
    "MidrcOptions",
    "read_tsv",
    "software_version",
    "write_midrc",
]
