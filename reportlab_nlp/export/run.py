"""Run an export: link reports to studies, write the asked formats, commit them together.

Everything is written into a staging folder inside the output folder and
moved into place only when every format has been written, so an interrupted
or failed run leaves the output folder as it was. Each format owns its own
names in the output folder (see :data:`OUTPUT_NAMES`); a new run replaces
them and leaves anything else alone.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError, OutputError
from ..io.durable import replace_path
from ..io.writers import AtomicFile
from .codes import load_codes
from .manifest import LinkageLog, Manifest, StudyLink
from .midrc import MidrcOptions
from .provenance import Provenance
from .records import LabeledReport
from .tables import LongCsvWriter, LongJsonlWriter, TableWriter, WideCsvWriter

FORMATS = ("jsonl", "csv-wide", "csv-long", "midrc", "dicom-sr", "fhir")
OUTPUT_NAMES = {
    "jsonl": "labels_long.jsonl",
    "csv-wide": "labels_wide.csv",
    "csv-long": "labels_long.csv",
    "midrc": "midrc",
    "dicom-sr": "dicom-sr",
    "fhir": "fhir",
}
PROVENANCE_FILE = "provenance.json"
WARNINGS_FILE = "link_warnings.tsv"
STUDY_FORMATS = ("midrc", "dicom-sr")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


@dataclass
class ExportOptions:
    """What to write, where, and with which settings."""

    formats: Sequence[str]
    out_dir: Path
    categories: Sequence[str] = ()
    """The categorical labels (csv-wide columns, the jsonl ``categories`` object)."""
    manifest: Manifest | None = None
    dicom_headers: Path | None = None
    midrc: MidrcOptions = field(default_factory=MidrcOptions)
    fhir_bundle: str = "transaction"
    """``transaction`` (conditional updates keyed on identifiers) or ``collection``."""
    strict_links: bool = False
    """Fail (writing nothing) when a report is linked to no study."""


@dataclass
class ExportResult:
    """What a run wrote and the linkage it found."""

    out_dir: Path
    written: list[Path]
    log: LinkageLog
    n_reports: int
    n_studies: int


def parse_formats(specs: Sequence[str]) -> list[str]:
    """The formats of ``--to`` options: each a format, a comma list (``dicom-sr,fhir``) or ``all``.

    Raises
    ------
    InputError
        For an unknown format (naming it and the formats).
    """
    out: list[str] = []
    for spec in specs:
        for name in (part.strip() for part in spec.split(",")):
            if name == "all":
                out.extend(FORMATS)
            elif name in FORMATS:
                out.append(name)
            else:
                raise InputError(
                    f"--to {spec!r}: unknown export format {name!r}; formats are: {', '.join(FORMATS)}, "
                    "or all (a comma list such as dicom-sr,fhir is accepted)"
                )
    return out


def check_formats(formats: Sequence[str]) -> list[str]:
    """Validate the asked formats (in a stable order, without repeats) and import their modules now.

    Importing early makes a missing optional dependency fail before any
    labeling starts.

    Raises
    ------
    InputError
        For an unknown format.
    ExtraNotInstalledError
        When dicom-sr or fhir is asked for without the ``export`` extra.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"unknown export format {unknown[0]!r}; formats are: {', '.join(FORMATS)}")
    chosen = [f for f in FORMATS if f in formats]
    if "dicom-sr" in chosen:
        from . import dicom_sr  # noqa: F401
    if "fhir" in chosen:
        from . import fhir  # noqa: F401
    return chosen


def safe_name(report_id: str, taken: set[str]) -> str:
    """A file name for a report id: unsafe characters replaced, made unique within ``taken``."""
    base = _UNSAFE.sub("_", report_id).strip("._") or "report"
    base = base[:120]
    name = base
    n = 1
    while name.lower() in taken:
        n += 1
        name = f"{base}-{n}"
    taken.add(name.lower())
    return name


class _Staging:
    def __init__(self, out_dir: Path, run_id: str) -> None:
        self.out_dir = out_dir
        self.created = not out_dir.exists()
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise OutputError(f"{out_dir}: cannot create the output folder: {e.strerror}") from e
        if not out_dir.is_dir():
            raise OutputError(f"{out_dir}: not a folder")
        self.root = out_dir / f".export-{run_id}.partial"
        self.root.mkdir()

    def path(self, name: str) -> Path:
        return self.root / name

    def commit(self) -> list[Path]:
        moved = []
        for item in sorted(self.root.iterdir()):
            target = self.out_dir / item.name
            replace_path(item, target)  # fsync, rename (a folder there is replaced whole)
            moved.append(target)
        self.root.rmdir()
        return moved

    def abort(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self.created:
            with contextlib.suppress(OSError):
                self.out_dir.rmdir()  # only when empty


def link_reports(
    reports: Iterable[LabeledReport], manifest: Manifest | None, log: LinkageLog
) -> Iterable[LabeledReport]:
    """Attach each report's studies (from the manifest, else those it carries) and log the linkage."""
    for report in reports:
        linked = report.with_studies(manifest.links(report.id)) if manifest is not None else report
        log.seen(linked.id, linked.studies)
        yield linked


def unlinked_message(unlinked: Sequence[str], n: int, manifest: Manifest | None) -> str:
    """The ``--strict-links`` error: how many reports have no study, and the first ids."""
    shown = ", ".join(repr(r) for r in unlinked[:5])
    more = f" and {len(unlinked) - 5} more" if len(unlinked) > 5 else ""
    where = f"no row in {manifest.path}" if manifest is not None else "no studies in their records"
    return (
        f"--strict-links: {len(unlinked)} of {n} reports are linked to no study ({where}): {shown}{more}; "
        "nothing was written (add their manifest rows, or drop --strict-links to export them unlinked)"
    )


def run_export(
    reports: Iterable[LabeledReport],
    *,
    columns: Sequence[str],
    labels: Sequence[str],
    provenance: Provenance,
    options: ExportOptions,
    on_report: Callable[[], None] | None = None,
) -> ExportResult:
    """Write every asked format for ``reports``.

    Parameters
    ----------
    reports
        The labeled reports (not yet linked: the manifest in ``options`` links them).
    columns
        The scheme's label columns, in order.
    labels
        The labels of the full set behind those columns (to check the code table covers them).
    provenance
        The run's provenance record.
    options
        Formats, output folder, manifest and format settings.
    on_report
        Called once per report (for a progress bar).

    Raises
    ------
    RulesError
        When dicom-sr or fhir is asked for and the code table lacks a label.
    InputError
        When a study-level format is asked for and no report is linked to a study.
    """
    formats = check_formats(options.formats)
    codes = load_codes() if {"dicom-sr", "fhir"} & set(formats) else None
    if codes is not None:
        codes.check_covers(labels)
    headers: Mapping[str, Any] = {}
    if "dicom-sr" in formats and options.dicom_headers is not None:
        from .dicom_sr import load_headers

        headers = load_headers(options.dicom_headers)
    log = LinkageLog(options.manifest)
    staging = _Staging(options.out_dir, provenance.run_id)
    tables: list[TableWriter] = []
    by_study: dict[str, tuple[StudyLink, list[LabeledReport]]] = {}
    study_uids: set[str] = set()  # every linked study, whatever the formats
    unlinked: list[str] = []
    n = 0
    try:
        for fmt, cls in (
            ("jsonl", LongJsonlWriter),
            ("csv-wide", WideCsvWriter),
            ("csv-long", LongCsvWriter),
        ):
            if fmt in formats:
                tables.append(
                    cls(staging.path(OUTPUT_NAMES[fmt]), columns, provenance, categories=options.categories)
                )
        fhir_dir = staging.path(OUTPUT_NAMES["fhir"])
        taken: set[str] = set()
        if "fhir" in formats:
            from . import fhir

            fhir_dir.mkdir()
        for report in link_reports(reports, options.manifest, log):
            n += 1
            study_uids.update(link.study_uid for link in report.studies)
            if not report.studies:
                unlinked.append(report.id)
            for t in tables:
                t.write(report)
            if "fhir" in formats and codes is not None:
                bundle = fhir.build_bundle(
                    report, provenance, codes, ordinal=n, bundle_type=options.fhir_bundle
                )
                with AtomicFile(fhir_dir / f"{safe_name(report.id, taken)}.json") as out:
                    out.handle.write(fhir.bundle_json(bundle) + "\n")
            if any(f in formats for f in STUDY_FORMATS):
                if not report.studies:
                    for f in STUDY_FORMATS:
                        if f in formats:
                            log.not_exported(report.id, f, "no study (no manifest row)")
                for link in report.studies:
                    by_study.setdefault(link.study_uid, (link, []))[1].append(report)
            if on_report is not None:
                on_report()
        if options.strict_links and unlinked:
            raise InputError(unlinked_message(unlinked, n, options.manifest))
        for t in tables:
            t.commit()
        tables = []
        if any(f in formats for f in STUDY_FORMATS) and not by_study:
            raise InputError(
                f"{', '.join(f for f in formats if f in STUDY_FORMATS)} export needs reports "
                "linked to studies: "
                "pass --manifest (or a labels file written by `label --manifest`)"
            )
        if "midrc" in formats:
            from .midrc import write_midrc

            write_midrc(by_study, staging.path(OUTPUT_NAMES["midrc"]), provenance, options.midrc)
        if "dicom-sr" in formats and codes is not None:
            from .dicom_sr import write_study_srs

            write_study_srs(by_study, staging.path(OUTPUT_NAMES["dicom-sr"]), provenance, codes, headers)
        with AtomicFile(staging.path(PROVENANCE_FILE)) as out:
            record = {**provenance.to_dict(), "formats": formats, "reports": n, "studies": len(study_uids)}
            if options.manifest is not None:
                record["manifest"] = Path(options.manifest.path).name
            json.dump(record, out.handle, indent=1)
            out.handle.write("\n")
        log.write(staging.path(WARNINGS_FILE))
        written = staging.commit()
    except BaseException:
        for t in tables:
            t.abort()
        staging.abort()
        raise
    return ExportResult(options.out_dir, written, log, n, len(study_uids))


__all__ = [
    "FORMATS",
    "OUTPUT_NAMES",
    "PROVENANCE_FILE",
    "STUDY_FORMATS",
    "WARNINGS_FILE",
    "ExportOptions",
    "ExportResult",
    "check_formats",
    "link_reports",
    "parse_formats",
    "run_export",
    "safe_name",
    "unlinked_message",
]
