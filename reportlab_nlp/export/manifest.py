"""Study linkage: a manifest that maps each report to the imaging study it describes.

A manifest is a CSV or TSV file with one row per (report, study) pair::

    report_id,study_uid,case_id,accession_number,modality,body_part,study_date
    demo-001,2.25.1234...,DEMO-C001,DEMOACC0001,CR,CHEST,2020-01-01

``report_id``, ``study_uid`` (the StudyInstanceUID) and ``case_id`` are
required; the others are optional columns. Column names can be remapped
(``--manifest-col study_uid=StudyInstanceUID``).

Reading validates every row before anything is written: a malformed UID, an
empty required value, a bad date or two rows that disagree about the same
study are a :class:`~reportlab_nlp.errors.ManifestError` naming the rows.
Rows that repeat exactly, and a report listed under several studies, are
warnings: the repeat is read once and the report is linked to each of its
studies. Reports without a row and rows without a report are counted and
listed by :class:`LinkageLog` in a warnings file; nothing is dropped silently.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, ManifestError
from ..io.tables import Table, read_tsv
from ..io.writers import AtomicFile
from ._csv import RowWriter
from .manifest_columns import FIELDS, REQUIRED_FIELDS, STUDY_FIELDS, resolve_columns

UID_MAX_LENGTH = 64
_UID_CHARS = re.compile(r"[0-9.]+")
_CS = re.compile(r"[A-Z0-9 _]+")


def uid_problem(uid: str) -> str | None:
    """Why ``uid`` is not a valid DICOM UID (PS3.5 section 9.1), or None when it is.

    A UID is made of numeric components separated by dots: digits and dots
    only, no empty component, no component with a leading zero (``0`` alone
    is allowed), at most 64 characters.

    Examples
    --------
    >>> uid_problem("1.2.840.10008.1.1") is None
    True
    >>> uid_problem("1.2.03")
    "component '03' has a leading zero"
    """
    if not uid:
        return "it is empty"
    if len(uid) > UID_MAX_LENGTH:
        return f"it has {len(uid)} characters (at most {UID_MAX_LENGTH})"
    if not _UID_CHARS.fullmatch(uid):
        bad = next(c for c in uid if c not in "0123456789.")
        return f"character {bad!r} is not a digit or a dot"
    for part in uid.split("."):
        if part == "":
            return "it has an empty component (two dots in a row, or a dot at an end)"
        if len(part) > 1 and part[0] == "0":
            return f"component {part!r} has a leading zero"
    return None


def is_valid_uid(uid: str) -> bool:
    """Whether ``uid`` is a valid DICOM UID (see :func:`uid_problem`)."""
    return uid_problem(uid) is None


@dataclass(frozen=True)
class StudyLink:
    """One imaging study a report belongs to, as the manifest says.

    ``rows`` are the manifest's row numbers (the header is row 1) that name
    this (report, study) pair; ``study_date`` is ISO ``YYYY-MM-DD``.
    """

    study_uid: str
    case_id: str
    accession_number: str | None = None
    modality: str | None = None
    body_part: str | None = None
    study_date: str | None = None
    rows: tuple[int, ...] = ()
    study_time: str | None = None
    """DICOM TM (``HHMMSS`` with optional fraction), from the manifest's ``study_time`` / ``StudyTime``."""
    study_id: str | None = None
    """The DICOM Study ID (SH, at most 16 characters), from ``study_id`` / ``StudyID``."""

    def to_dict(self) -> dict[str, Any]:
        """The study ids as a JSON object (no row numbers)."""
        return {
            "study_uid": self.study_uid,
            "case_id": self.case_id,
            "accession_number": self.accession_number,
            "modality": self.modality,
            "body_part": self.body_part,
            "study_date": self.study_date,
            "study_time": self.study_time,
            "study_id": self.study_id,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "") -> StudyLink:
        """Rebuild from :meth:`to_dict` (for example the ``studies`` of a labels JSONL record)."""
        uid = str(data.get("study_uid") or "")
        problem = uid_problem(uid)
        if problem is not None:
            raise InputError(f"{where}: study_uid {uid!r} is not a valid DICOM UID: {problem}")
        case_id = str(data.get("case_id") or "")
        if not case_id:
            raise InputError(f"{where}: study {uid} has no case_id")

        def opt(key: str) -> str | None:
            value = data.get(key)
            return None if value in (None, "") else str(value)

        return cls(
            uid,
            case_id,
            opt("accession_number"),
            opt("modality"),
            opt("body_part"),
            opt("study_date"),
            study_time=opt("study_time"),
            study_id=opt("study_id"),
        )

    def study_key(self) -> tuple[str | None, ...]:
        """The study-level attributes that every row of one study must agree on."""
        return tuple(getattr(self, name) for name in STUDY_FIELDS)

    @property
    def dicom_date(self) -> str:
        """``study_date`` as DICOM DA (``YYYYMMDD``), or empty."""
        return (self.study_date or "").replace("-", "")


@dataclass(frozen=True)
class LinkWarning:
    """One line of the linkage warnings file."""

    kind: str
    report_id: str
    study_uid: str
    rows: tuple[int, ...]
    detail: str


WARNING_KINDS = {
    "duplicate_row": "a manifest row repeats an earlier one exactly; read once",
    "report_in_several_studies": "a report is listed under several studies; its labels go under each",
    "report_without_study": "a labeled report has no manifest row; exported without study ids",
    "row_without_report": "a manifest row names a report that is not in the input",
    "not_exported": "a report left out of a study-level export (no study); its labels are in the others",
}


@dataclass
class Manifest:
    """The report -> study links of a manifest file.

    Use :func:`read_manifest` to build one; :meth:`links` gives a report's
    studies (empty for a report the manifest does not name).
    """

    path: str
    by_report: dict[str, tuple[StudyLink, ...]]
    warnings: list[LinkWarning] = field(default_factory=list)
    n_rows: int = 0

    def links(self, report_id: str) -> tuple[StudyLink, ...]:
        """The studies of a report, in manifest order (empty if it has none)."""
        return self.by_report.get(report_id, ())

    @property
    def studies(self) -> dict[str, StudyLink]:
        """One link per study uid (study-level attributes; rows of its first report)."""
        out: dict[str, StudyLink] = {}
        for links in self.by_report.values():
            for link in links:
                out.setdefault(link.study_uid, link)
        return out


def parse_column_map(specs: Iterable[str]) -> dict[str, str]:
    """Read ``--manifest-col FIELD=COLUMN`` options into {field: column} (only the fields given).

    Raises
    ------
    InputError
        For a spec without ``=`` or an unknown field.
    """
    columns: dict[str, str] = {}
    for spec in specs:
        name, sep, column = spec.partition("=")
        name, column = name.strip(), column.strip()
        if not sep or not name or not column:
            raise InputError(
                f"--manifest-col {spec!r}: expected FIELD=COLUMN, for example study_uid=StudyInstanceUID"
            )
        if name not in FIELDS:
            raise InputError(
                f"--manifest-col {spec!r}: unknown field {name!r}; fields are: {', '.join(FIELDS)}"
            )
        columns[name] = column
    return columns


def _parse_date(raw: str) -> str | None:
    text = raw.strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return _dt.datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def _rows_text(rows: Sequence[int]) -> str:
    return ("row " if len(rows) == 1 else "rows ") + ", ".join(str(r) for r in rows)


def read_manifest(path: str | Path, columns: Mapping[str, str] | None = None) -> Manifest:
    """Read and validate a study manifest.

    Parameters
    ----------
    path
        A CSV (or TSV: by extension, or a header with more tabs than commas) file, UTF-8.
    columns
        {field: column name in the file} for the fields named with ``--manifest-col``; the others
        are found under their own name or their DICOM keyword (see :mod:`.manifest_columns`).

    Returns
    -------
    Manifest
        The links, with the warnings found while reading (exact duplicate rows,
        reports under several studies).

    Raises
    ------
    ManifestError
        For malformed values or rows that contradict each other; the message names every row.
    ColumnNotFoundError
        When required columns (``report_id``, ``study_uid``, ``case_id``) or named ones are
        missing: all of them, each with the option that names it.
    InputError
        For a missing, empty or undecodable file.
    """
    path = str(path)
    p = Path(path)
    if not p.is_file():
        raise InputError(f"{path}: no such manifest file")
    with Table(path, what="the manifest") as table:
        index = resolve_columns(path, table.header, columns or {})
        raw_rows: list[tuple[int, dict[str, str]]] = []
        for row_no, row in table.rows():
            values = {name: (row[i].strip() if i < len(row) else "") for name, i in index.items()}
            raw_rows.append((row_no, values))
    return _build(path, raw_rows)


def _build(path: str, raw_rows: Sequence[tuple[int, dict[str, str]]]) -> Manifest:
    problems: list[str] = []
    warnings: list[LinkWarning] = []
    parsed: list[tuple[int, str, StudyLink]] = []
    for row_no, values in raw_rows:
        where = f"row {row_no}"
        row_problems = []
        for name in REQUIRED_FIELDS:
            if not values.get(name):
                row_problems.append(f"{where}: empty {name}")
        uid = values.get("study_uid", "")
        if uid:
            why = uid_problem(uid)
            if why is not None:
                row_problems.append(f"{where}: study_uid {uid!r} is not a valid DICOM UID: {why}")
        accession = values.get("accession_number") or None
        if accession is not None and len(accession) > 16:
            row_problems.append(
                f"{where}: accession_number {accession!r} has {len(accession)} characters "
                "(DICOM allows at most 16)"
            )
        modality = (values.get("modality") or "").upper() or None
        if modality is not None and (len(modality) > 16 or not _CS.fullmatch(modality)):
            row_problems.append(
                f"{where}: modality {values['modality']!r} is not a DICOM code string (e.g. CR, DX, CT)"
            )
        body_part = (values.get("body_part") or "").upper() or None
        if body_part is not None and (len(body_part) > 16 or not _CS.fullmatch(body_part)):
            row_problems.append(
                f"{where}: body_part {values['body_part']!r} is not a DICOM code string "
                "(at most 16 letters, digits, spaces or underscores, e.g. CHEST)"
            )
        raw_date = values.get("study_date") or ""
        study_date = None
        if raw_date:
            study_date = _parse_date(raw_date)
            if study_date is None:
                row_problems.append(
                    f"{where}: study_date {raw_date!r} is not a date (expected YYYY-MM-DD or YYYYMMDD)"
                )
        if row_problems:
            problems.extend(row_problems)
            continue
        study_time, study_id = _time_and_id(values, where, row_problems)
        if row_problems:
            problems.extend(row_problems)
            continue
        link = StudyLink(
            uid,
            values["case_id"],
            accession,
            modality,
            body_part,
            study_date,
            rows=(row_no,),
            study_time=study_time,
            study_id=study_id,
        )
        parsed.append((row_no, values["report_id"], link))

    # study-level attributes must agree across every row of a study
    first_of_study: dict[str, tuple[int, StudyLink]] = {}
    conflicts: dict[str, list[int]] = {}
    for row_no, _, link in parsed:
        seen = first_of_study.get(link.study_uid)
        if seen is None:
            first_of_study[link.study_uid] = (row_no, link)
        elif seen[1].study_key() != link.study_key():
            conflicts.setdefault(link.study_uid, [seen[0]]).append(row_no)
    for uid, rows in conflicts.items():
        base = first_of_study[uid][1]
        differ = [
            name
            for name in STUDY_FIELDS
            if any(getattr(link, name) != getattr(base, name) for r, _, link in parsed if r in rows)
        ]
        problems.append(
            f"{_rows_text(rows)}: study {uid} is given different {', '.join(differ)} "
            "(duplicate study rows must agree)"
        )

    by_report: dict[str, list[StudyLink]] = {}
    for row_no, report_id, link in parsed:
        links = by_report.setdefault(report_id, [])
        same = next((i for i, old in enumerate(links) if old.study_uid == link.study_uid), None)
        if same is not None:
            old = links[same]
            links[same] = dataclasses.replace(old, rows=(*old.rows, row_no))
            warnings.append(
                LinkWarning(
                    "duplicate_row",
                    report_id,
                    link.study_uid,
                    (*old.rows, row_no),
                    "same report and study again",
                )
            )
            continue
        links.append(link)
    for report_id, links in by_report.items():
        if len(links) > 1:
            several_rows = tuple(r for link in links for r in link.rows)
            uids = ", ".join(link.study_uid for link in links)
            warnings.append(
                LinkWarning(
                    "report_in_several_studies",
                    report_id,
                    uids,
                    several_rows,
                    f"linked to {len(links)} studies; labels are exported under each",
                )
            )
    if problems:
        raise ManifestError(path, problems)
    return Manifest(path, {k: tuple(v) for k, v in by_report.items()}, warnings, len(raw_rows))


_TM = re.compile(r"(?:[01]\d|2[0-3])(?:[0-5]\d(?:[0-5]\d(?:\.\d{1,6})?)?)?")


def _time_and_id(values: Mapping[str, str], where: str, problems: list[str]) -> tuple[str | None, str | None]:
    """The row's study time (as DICOM TM; ``HH:MM:SS`` accepted) and study id, checked."""
    raw_time = values.get("study_time") or ""
    study_time = raw_time.replace(":", "") or None
    if study_time is not None and not _TM.fullmatch(study_time):
        problems.append(f"{where}: study_time {raw_time!r} is not a time (expected HHMMSS or HH:MM:SS)")
    study_id = values.get("study_id") or None
    if study_id is not None and (len(study_id) > 16 or "\\" in study_id):
        problems.append(
            f"{where}: study_id {study_id!r} is not a DICOM SH (at most 16 characters, no backslash)"
        )
    return study_time, study_id


class LinkageLog:
    """Counts and lists what the linkage could not do, for the warnings file.

    Feed it every report id seen (:meth:`seen`) and the links found; at the
    end :meth:`finish` adds the manifest rows that named no report and
    :meth:`write` writes a TSV: ``kind, report_id, study_uid, rows, detail``.
    """

    def __init__(self, manifest: Manifest | None) -> None:
        self.manifest = manifest
        self.entries: list[LinkWarning] = list(manifest.warnings) if manifest else []
        self.seen_ids: set[str] = set()
        self.n_reports = 0
        self.n_unlinked = 0
        self.n_rows_without_report = 0
        self._finished = False

    def seen(self, report_id: str, links: Sequence[StudyLink]) -> None:
        """Record one labeled report and the studies it was linked to."""
        self.n_reports += 1
        self.seen_ids.add(report_id)
        if not links:
            self.n_unlinked += 1
        if not links and self.manifest is not None:
            self.entries.append(
                LinkWarning(
                    "report_without_study", report_id, "", (), f"no row in {Path(self.manifest.path).name}"
                )
            )

    def not_exported(self, report_id: str, export: str, why: str) -> None:
        """Record a report left out of one study-level export."""
        self.entries.append(LinkWarning("not_exported", report_id, "", (), f"{export}: {why}"))

    def finish(self) -> None:
        """Add the manifest rows whose report never came."""
        if self._finished or self.manifest is None:
            return
        self._finished = True
        for report_id, links in self.manifest.by_report.items():
            if report_id in self.seen_ids:
                continue
            for link in links:
                self.n_rows_without_report += len(link.rows)
                self.entries.append(
                    LinkWarning(
                        "row_without_report", report_id, link.study_uid, link.rows, "report not in the input"
                    )
                )

    def count(self, kind: str) -> int:
        """Number of entries of a kind."""
        return sum(1 for e in self.entries if e.kind == kind)

    def summary(self) -> str:
        """One line for standard error (counts only, no report text)."""
        parts = [
            f"{self.n_unlinked} of {self.n_reports} reports without a study",
            f"{self.n_rows_without_report} manifest rows without a report",
        ]
        for kind in ("duplicate_row", "report_in_several_studies", "not_exported"):
            n = self.count(kind)
            if n:
                parts.append(f"{n} {kind.replace('_', ' ')}")
        return "; ".join(parts)

    def write(self, path: str | Path) -> None:
        """Write the warnings TSV atomically (a header line even when there is nothing to report)."""
        self.finish()
        with AtomicFile(path) as out:
            writer = RowWriter(out.handle, delimiter="\t")
            writer.writerow(["kind", "report_id", "study_uid", "rows", "detail"])
            for e in self.entries:
                writer.writerow(
                    [e.kind, e.report_id, e.study_uid, ",".join(str(r) for r in e.rows), e.detail]
                )


def read_link_warnings(path: str | Path) -> list[dict[str, str]]:
    """Read a warnings file written by :meth:`LinkageLog.write` (for tests and tools)."""
    return read_tsv(path)


__all__ = [
    "FIELDS",
    "REQUIRED_FIELDS",
    "WARNING_KINDS",
    "LinkageLog",
    "Manifest",
    "StudyLink",
    "is_valid_uid",
    "parse_column_map",
    "read_link_warnings",
    "read_manifest",
    "uid_problem",
]
