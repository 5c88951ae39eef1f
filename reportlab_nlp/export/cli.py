"""Command-line parts of the exports: ``label --manifest`` and ``reportlab-nlp export``.

:mod:`reportlab_nlp.cli` stays thin: it adds these arguments
(:func:`add_manifest_args`, :func:`add_export_parser`), asks
:class:`LabelLinkage` for the ``label`` command's writers and calls
:func:`cmd_export`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, TextIO

from ..engine_args import add_engine_args, engine_from_args
from ..errors import InputError
from ..io.readers import ReportSource
from ..io.writers import Extra, JsonlWriter, Values, Writer, jsonl_record, writer_for
from ..labeler import Labeler, load
from ..rules import load_rules
from ..types import Report, ReportLabels
from .manifest import LinkageLog, Manifest, StudyLink, parse_column_map, read_manifest
from .midrc import DEFAULT_ANNOTATION_NAME, MidrcOptions
from .provenance import Provenance
from .records import LabeledReport, from_result, is_labels_file, read_labels_jsonl
from .run import (
    FORMATS,
    STUDY_FORMATS,
    WARNINGS_FILE,
    ExportOptions,
    check_formats,
    parse_formats,
    run_export,
)
from .tables import WideCsvWriter

if TYPE_CHECKING:
    from ..engines import Engine

PROGRESS_MIN_REPORTS = 300


def add_manifest_args(p: argparse.ArgumentParser, *, warnings_option: bool = True) -> None:
    """Add ``--manifest``, ``--manifest-col`` (and ``--link-warnings``) to a command's parser."""
    p.add_argument(
        "--manifest",
        default=None,
        metavar="CSV",
        help="study manifest CSV: report_id, study_uid (or StudyInstanceUID), case_id (or PatientID)"
        "[, accession_number, modality, body_part, study_date, study_time, study_id or their DICOM keywords]",
    )
    p.add_argument(
        "--manifest-col",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="the manifest's name for a field, e.g. study_uid=StudyInstanceUID; may be repeated",
    )
    if warnings_option:
        p.add_argument(
            "--link-warnings",
            default=None,
            metavar="PATH",
            help="where to list unlinked reports and manifest rows (default: beside the first --out)",
        )


def _read_manifest_arg(args: argparse.Namespace) -> Manifest | None:
    if args.manifest is None:
        if args.manifest_col:
            raise InputError("--manifest-col needs --manifest")
        return None
    return read_manifest(args.manifest, parse_column_map(args.manifest_col))


# ---------------------------------------------------------------------------
# label --manifest
# ---------------------------------------------------------------------------


class LabelLinkage:
    """The ``label`` command's study linkage; a no-op without ``--manifest``.

    Use :meth:`from_args`, create the output writers with :meth:`writer_for`
    and call :meth:`finish` after the writers committed. With a manifest, a
    CSV output is the wide export table (study ids and provenance columns,
    one row per (report, study)) and a JSONL record gains ``studies`` and
    ``provenance``; the linkage warnings go to ``--link-warnings`` (default:
    ``<first output>.link_warnings.tsv``).
    """

    def __init__(
        self, manifest: Manifest | None, provenance: Provenance | None, warnings_path: Path | None
    ) -> None:
        self.manifest = manifest
        self.provenance = provenance
        self.warnings_path = warnings_path
        self.log = LinkageLog(manifest)
        self._primary: Writer | None = None

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, labeler: Labeler, engine: Engine | None = None
    ) -> LabelLinkage:
        """Read ``--manifest`` (validating it before any labeling); ``engine``: a loaded model engine."""
        manifest = _read_manifest_arg(args)
        if manifest is None:
            return cls(None, None, None)
        provenance = Provenance.for_run(
            args.input,
            scheme=labeler.scheme,
            rules_hash=labeler.rules_hash,
            engine=engine.name if engine is not None else "rules",
            model_sha256=engine.model_sha256() if engine is not None else None,
        )
        if args.link_warnings:
            warnings_path = Path(args.link_warnings)
        else:
            first = Path(args.out[0])
            warnings_path = first.with_name(f"{first.stem}.link_warnings.tsv")
        return cls(manifest, provenance, warnings_path)

    def links(self, report_id: str) -> tuple[StudyLink, ...]:
        """The studies of a report (empty without a manifest)."""
        return self.manifest.links(report_id) if self.manifest is not None else ()

    def writer_for(self, path: str, fmt: str | None, columns: Sequence[str]) -> Writer:
        """The writer of one ``--out`` path (the plain one without a manifest)."""
        if self.manifest is None or self.provenance is None:
            return writer_for(path, fmt, columns)
        kind = fmt or ("jsonl" if str(path).lower().endswith((".jsonl", ".ndjson", ".json")) else "csv")
        writer: Writer
        if kind == "jsonl":
            writer = _LinkedJsonlWriter(path, self)
        else:
            writer = _LinkedCsvWriter(path, columns, self, self.provenance)
        if self._primary is None:
            self._primary = writer
        return writer

    def observe(self, writer: Writer, report_id: str, links: Sequence[StudyLink]) -> None:
        if writer is self._primary:
            self.log.seen(report_id, links)

    def finish(self, stderr: TextIO) -> None:
        """Write the warnings file and print the linkage counts (no-op without a manifest)."""
        if self.manifest is None or self.warnings_path is None:
            return
        self.log.write(self.warnings_path)
        stderr.write(f"reportlab-nlp: study linkage: {self.log.summary()}; listed in {self.warnings_path}\n")


class _LinkedJsonlWriter(JsonlWriter):
    def __init__(self, path: str, linkage: LabelLinkage) -> None:
        super().__init__(path)
        self.linkage = linkage

    def write(self, report: ReportLabels, values: Values, source: Report, extra: Extra = None) -> None:
        links = self.linkage.links(report.id)
        self.linkage.observe(self, report.id, links)
        record = jsonl_record(report, values, source)
        record.update(extra or {})  # a model engine's probabilities and review, as without --manifest
        record["studies"] = [link.to_dict() for link in links]
        if self.linkage.provenance is not None:
            record["provenance"] = self.linkage.provenance.to_dict()
        self.file.handle.write(json.dumps(record, ensure_ascii=False) + "\n")


class _LinkedCsvWriter(Writer):
    def __init__(
        self, path: str, columns: Sequence[str], linkage: LabelLinkage, provenance: Provenance
    ) -> None:
        super().__init__(path)
        self.linkage = linkage
        self.table = WideCsvWriter(path, columns, provenance, file=self.file)

    def write(self, report: ReportLabels, values: Values, source: Report, extra: Extra = None) -> None:
        links = self.linkage.links(report.id)
        self.linkage.observe(self, report.id, links)
        self.table.write(from_result(report, values, source).with_studies(links))


# ---------------------------------------------------------------------------
# export
# ---------------------------------------------------------------------------


def add_export_parser(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    add_rules_args: Callable[[argparse.ArgumentParser], None],
) -> argparse.ArgumentParser:
    """Add the ``export`` command to the CLI's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "export",
        help="write study-linked exports: jsonl, csv-wide, csv-long, midrc, dicom-sr, fhir",
        description=(
            "Export labels linked to imaging studies. INPUT is a labels JSONL file written by "
            "`reportlab-nlp label`, or a reports file (CSV/TSV, JSONL, folder of .txt) that is labeled first."
        ),
    )
    p.add_argument("input", metavar="INPUT")
    p.add_argument(
        "--to",
        action="append",
        required=True,
        metavar="FORMAT",
        help=f"export format: {', '.join(FORMATS)}, a comma list of them, or all; may be repeated",
    )
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    add_manifest_args(p, warnings_option=False)
    p.add_argument(
        "--fhir-bundle",
        choices=("transaction", "collection"),
        default="transaction",
        help="FHIR bundle type: transaction (conditional updates keyed on identifiers: re-submitting "
        "updates, never duplicates; default) or collection",
    )
    p.add_argument(
        "--strict-links",
        action="store_true",
        help="fail (exit 2, writing nothing) when a report is linked to no study",
    )
    p.add_argument(
        "--dicom-headers",
        default=None,
        metavar="DIR",
        help="DICOM files of the studies; their patient and study attributes go into the SRs",
    )
    p.add_argument(
        "--midrc-annotation-name",
        default=DEFAULT_ANNOTATION_NAME,
        metavar="NAME",
        help="annotation_name registered with MIDRC for these labels",
    )
    p.add_argument(
        "--midrc-project-id", default=None, metavar="PROGRAM-PROJECT", help="Gen3 project_id column"
    )
    p.add_argument(
        "--midrc-data-format", choices=("json", "csv"), default="json", help="MIDRC label file format"
    )
    p.add_argument(
        "--input-kind",
        choices=("auto", "labels", "reports"),
        default="auto",
        help="read INPUT as a labels JSONL file or as reports (default: auto)",
    )
    p.add_argument("--id-col", default=None, help="reports: id column or JSON key")
    p.add_argument("--text-col", action="append", default=[], metavar="COL", help="reports: text column(s)")
    p.add_argument("--encoding-errors", choices=("strict", "replace"), default="strict")
    p.add_argument("--allow-duplicate-ids", action="store_true")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--batch-size", type=int, default=256, help=argparse.SUPPRESS)
    add_engine_args(p)
    add_rules_args(p)
    p.set_defaults(scheme=None)
    return p


def _labeled_from_reports(
    args: argparse.Namespace, engine: Engine, scheme: str, stdin: IO[bytes] | None
) -> tuple[int, Iterator[LabeledReport]]:
    source = ReportSource(
        args.input,
        id_col=args.id_col,
        text_cols=args.text_col,
        encoding_errors=args.encoding_errors,
        allow_duplicate_ids=args.allow_duplicate_ids,
        stdin=stdin,
    )
    total = source.check()

    def gen() -> Iterator[LabeledReport]:
        for report, outcome in engine.stream(source.reports(), args.batch_size):
            if isinstance(outcome, Exception):
                raise outcome
            values = engine.values(outcome.labels, scheme)
            labeled = from_result(outcome.labels, values, report)
            if outcome.probabilities is not None:  # by column, rounded as `label` writes them
                labeled = replace(labeled, probabilities=outcome.extra_record(values)["probabilities"])
            yield labeled

    return total, gen()


def cmd_export(args: argparse.Namespace, stdout: TextIO, stderr: TextIO, stdin: IO[bytes] | None) -> int:
    """Run ``reportlab-nlp export``."""
    started = time.perf_counter()
    if args.input == "-":
        raise InputError(
            "export reads a file or a folder, not standard input (its sha256 goes into the provenance)"
        )
    if not Path(args.input).exists():
        raise InputError(f"{args.input}: no such file or folder")
    formats = check_formats(parse_formats(args.to))
    manifest = _read_manifest_arg(args)
    kind = args.input_kind
    if kind == "auto":
        kind = "labels" if is_labels_file(args.input) else "reports"
    study_formats = [f for f in formats if f in STUDY_FORMATS]
    if study_formats and manifest is None and kind == "reports":
        raise InputError(f"{', '.join(study_formats)} export needs --manifest to link reports to studies")
    if kind == "labels":
        # the labels are there: the rules give the schemes, no pipeline is built
        rules = load_rules(args.rules)
        labels_file = read_labels_jsonl(
            args.input, rules.schemes, args.scheme, allow_duplicate_ids=args.allow_duplicate_ids
        )
        scheme = labels_file.scheme
        prior = labels_file.provenance
        provenance = Provenance.for_run(
            args.input,
            scheme=scheme.name,
            rules_hash=str(prior["rules_hash"]) if prior and prior.get("rules_hash") else None,
            engine=str(prior.get("engine", "rules")) if prior else "rules",
            model_sha256=str(prior["model_sha256"]) if prior and prior.get("model_sha256") else None,
            labeled_by=prior,
        )
        if prior is None:
            stderr.write(
                f"reportlab-nlp: warning: {args.input} carries no provenance (it was not written by "
                "`label --manifest`); the exports record its sha256 but no rules hash\n"
            )
        total = labels_file.count
        reports: Iterator[LabeledReport] = labels_file.reports()
        columns = [c for c, _ in scheme.columns]
        labels = [lbl for _, lbl in scheme.columns]
        categories = [c.name for c in rules.categories]
    else:
        labeler = load(args.rules, scheme=args.scheme or "full")
        engine = engine_from_args(args, labeler)
        provenance = Provenance.for_run(
            args.input,
            scheme=labeler.scheme,
            rules_hash=labeler.rules_hash,
            engine=engine.name,
            model_sha256=engine.model_sha256(),
        )
        total, reports = _labeled_from_reports(args, engine, labeler.scheme, stdin)
        columns = labeler.columns()
        labels = [lbl for _, lbl in labeler.get_scheme().columns]
        categories = [c.name for c in labeler.rules.categories]
    options = ExportOptions(
        formats=formats,
        out_dir=Path(args.out),
        categories=categories,
        manifest=manifest,
        dicom_headers=Path(args.dicom_headers) if args.dicom_headers else None,
        midrc=MidrcOptions(args.midrc_annotation_name, args.midrc_project_id, args.midrc_data_format),
        strict_links=args.strict_links,
        fhir_bundle=args.fhir_bundle,
    )
    progress = None
    if total >= PROGRESS_MIN_REPORTS and not args.no_progress:
        from tqdm import tqdm

        progress = tqdm(total=total, unit=" reports", file=stderr, mininterval=0.5, dynamic_ncols=True)
    try:
        result = run_export(
            reports,
            columns=columns,
            labels=labels,
            provenance=provenance,
            options=options,
            on_report=(lambda: progress.update(1)) if progress is not None else None,
        )
    finally:
        if progress is not None:
            progress.close()
    elapsed = time.perf_counter() - started
    stderr.write(
        f"reportlab-nlp: exported {result.n_reports} reports ({result.n_studies} studies) as "
        f"{', '.join(formats)} to {args.out} in {elapsed:.1f} s; run {provenance.run_id}\n"
    )
    if "midrc" in formats and args.midrc_annotation_name == DEFAULT_ANNOTATION_NAME:
        stderr.write(
            f"reportlab-nlp: note: MIDRC annotation_name {DEFAULT_ANNOTATION_NAME!r} is a placeholder that "
            "MIDRC rejects; register a name and pass --midrc-annotation-name (docs/exports.md)\n"
        )
    if manifest is not None or result.log.entries:
        stderr.write(
            f"reportlab-nlp: study linkage: {result.log.summary()}; "
            f"listed in {Path(args.out) / WARNINGS_FILE}\n"
        )
    return 0


__all__ = ["LabelLinkage", "add_export_parser", "add_manifest_args", "cmd_export"]
