"""Which manifest column holds which field: our names, DICOM keywords, ``--manifest-col``.

A manifest's column for a field is, in this order: the column named with
``--manifest-col FIELD=COLUMN``; the field's own name (``study_uid``); the
DICOM attribute keyword of the field (``StudyInstanceUID``, ``PatientID``,
``AccessionNumber``, ``Modality``, ``BodyPartExamined``, ``StudyDate``,
``StudyTime``, ``StudyID``), so that a manifest exported from a PACS or a
DICOM header dump needs no option. Every column that cannot be found is
reported at once, each with the option that names it, together with the
columns the file has.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..errors import ColumnNotFoundError, InputError

STUDY_FIELDS = (
    "case_id",
    "accession_number",
    "modality",
    "body_part",
    "study_date",
    "study_time",
    "study_id",
)
"""What a manifest row says about its study, besides the StudyInstanceUID."""
STUDY_COLUMNS = ("study_uid", *STUDY_FIELDS)
"""The study columns of the tables, in order."""
FIELDS = ("report_id", *STUDY_COLUMNS)
REQUIRED_FIELDS = ("report_id", "study_uid", "case_id")
DICOM_KEYWORDS = {
    "study_uid": "StudyInstanceUID",
    "case_id": "PatientID",
    "accession_number": "AccessionNumber",
    "modality": "Modality",
    "body_part": "BodyPartExamined",
    "study_date": "StudyDate",
    "study_time": "StudyTime",
    "study_id": "StudyID",
}


class ManifestColumnsError(ColumnNotFoundError):
    """Manifest columns that are missing: every one, each with the option that names it."""

    def __init__(self, path: str, missing: Sequence[tuple[str, list[str]]], header: Sequence[str]) -> None:
        self.column = missing[0][0]
        self.missing = [name for name, _ in missing]
        parts = []
        for name, tried in missing:
            looked = " or ".join(repr(t) for t in tried)
            parts.append(f"{name} (looked for {looked}; name it with --manifest-col {name}=COLUMN)")
        listed = ", ".join(repr(c) for c in header) or "(none)"
        InputError.__init__(
            self,
            f"{path}: manifest column{'s' if len(parts) > 1 else ''} not found: {'; '.join(parts)}; "
            f"columns are: {listed}",
        )


def resolve_columns(path: str, header: Sequence[str], explicit: Mapping[str, str]) -> dict[str, int]:
    """{field: column index} for the fields this header has (see the module docstring).

    Raises
    ------
    ManifestColumnsError
        Naming every required column not found and every ``--manifest-col`` column not in the header.
    """
    index: dict[str, int] = {}
    missing: list[tuple[str, list[str]]] = []
    for name in FIELDS:
        if name in explicit:
            tried = [explicit[name]]
        else:
            tried = [name] + ([DICOM_KEYWORDS[name]] if name in DICOM_KEYWORDS else [])
        found = next((c for c in tried if c in header), None)
        if found is not None:
            index[name] = list(header).index(found)
        elif name in REQUIRED_FIELDS or name in explicit:
            missing.append((name, tried))
    if missing:
        raise ManifestColumnsError(path, missing, header)
    return index


__all__ = ["DICOM_KEYWORDS", "FIELDS", "REQUIRED_FIELDS", "ManifestColumnsError", "resolve_columns"]
