"""What every export consumes: one labeled report under a scheme, with its studies.

:class:`LabeledReport` is built either from the labeler's output
(:func:`from_result`) or from a record of a labels JSONL file written by
``reportlab-nlp label`` (:func:`from_record`); :func:`read_labels_jsonl`
streams such a file. The exports read nothing else.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io.readers import first_bad_utf8, json_objects
from ..rules import Scheme
from ..types import CategoryValue, LabelValue, Mention, Report, ReportLabels
from .manifest import StudyLink


@dataclass(frozen=True)
class LabeledReport:
    """One report's labels under a scheme, ready to export.

    ``values`` are (column, label, value) triples in the scheme's order
    (``label`` is the label of the full set, which the code table is keyed
    by); ``evidence`` maps a column to its mentions (offsets into the report
    text); ``probabilities`` maps a column to a model's probability (empty
    for the rule engine); ``studies`` are the report's studies (empty when
    unlinked).
    """

    id: str
    values: tuple[tuple[str, str, LabelValue], ...]
    evidence: Mapping[str, tuple[Mention, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    text_length: int | None = None
    probabilities: Mapping[str, float] = field(default_factory=dict)
    studies: tuple[StudyLink, ...] = ()
    midrc_fields: Mapping[str, str] = field(default_factory=dict)
    """MIDRC annotation properties from categorical labels (``class_covid19_pneumonia``)."""
    categories: Mapping[str, CategoryValue] = field(default_factory=dict)
    """The categorical labels (``RSNA COVID-19 Category``), with their evidence; value None: not stated."""

    def category_values(self) -> list[tuple[str, str, tuple[Mention, ...]]]:
        """(category, value, evidence) of each categorical label the report states."""
        return [(k, c.value, c.evidence) for k, c in self.categories.items() if c.value is not None]

    def value(self, column: str) -> LabelValue:
        """The value of a column (BLANK if the scheme has no such column)."""
        for col, _, v in self.values:
            if col == column:
                return v
        return LabelValue.BLANK

    def labeled(self) -> list[tuple[str, str, LabelValue]]:
        """The non-blank (column, label, value) triples: the labeled findings."""
        return [t for t in self.values if t[2] is not LabelValue.BLANK]

    @classmethod
    def from_labels(
        cls,
        report_id: str,
        labels: Mapping[str, object],
        scheme: Scheme,
        *,
        evidence: Mapping[str, Sequence[Mention]] | None = None,
        studies: Sequence[StudyLink] = (),
    ) -> LabeledReport:
        """Build from {column: value} (1 / 0 / -1 / None or :class:`LabelValue`); other columns are blank.

        Raises
        ------
        KeyError
            For a column the scheme does not have.
        """
        unknown = [c for c in labels if c not in {col for col, _ in scheme.columns}]
        if unknown:
            raise KeyError(f"columns not in scheme {scheme.name!r}: {unknown}")
        values = tuple(
            (col, label, v if isinstance(v := labels.get(col), LabelValue) else LabelValue.parse(v))
            for col, label in scheme.columns
        )
        return cls(
            report_id,
            values,
            {k: tuple(v) for k, v in (evidence or {}).items()},
            studies=tuple(studies),
        )

    def with_studies(self, studies: Sequence[StudyLink]) -> LabeledReport:
        """A copy linked to ``studies`` (everything else kept: categories and MIDRC fields too)."""
        return dataclasses.replace(self, studies=tuple(studies))


def from_result(
    result: ReportLabels,
    values: Sequence[tuple[str, str, LabelValue]],
    source: Report | None = None,
) -> LabeledReport:
    """Build from the labeler's result and :meth:`~reportlab_nlp.Labeler.values`."""
    evidence = {
        col: tuple(result.evidence[label])
        for col, label, v in values
        if v is not LabelValue.BLANK and result.evidence.get(label)
    }
    return LabeledReport(
        id=result.id,
        values=tuple(values),
        evidence=evidence,
        warnings=tuple(result.warnings),
        text_length=len(source.text) if source is not None else None,
        midrc_fields=_midrc_fields({k: c.to_dict() for k, c in (result.categories or {}).items()}),
        categories=dict(result.categories or {}),
    )


def _midrc_fields(categories: Mapping[str, Any]) -> dict[str, str]:
    """MIDRC field -> value from JSONL ``categories`` records (those with a value and a MIDRC export)."""
    out: dict[str, str] = {}
    for record in categories.values():
        if not isinstance(record, Mapping):
            continue
        target = (record.get("export") or {}).get("midrc")
        if isinstance(target, Mapping) and target.get("field") and target.get("value"):
            out[str(target["field"])] = str(target["value"])
    return out


def infer_scheme(columns: Sequence[str], schemes: Mapping[str, Scheme], *, where: str) -> Scheme:
    """The scheme whose columns are exactly ``columns`` (in any order).

    Raises
    ------
    InputError
        When no scheme has these columns.
    """
    wanted = set(columns)
    for name in ("full", *sorted(k for k in schemes if k != "full")):
        scheme = schemes.get(name)
        if scheme is not None and {c for c, _ in scheme.columns} == wanted:
            return scheme
    raise InputError(
        f"{where}: the label columns match no scheme ({', '.join(sorted(schemes))}); "
        f"got {len(wanted)} columns such as {sorted(wanted)[:3]}"
    )


def from_record(record: Mapping[str, Any], scheme: Scheme, *, where: str) -> LabeledReport:
    """Build from one record of a labels JSONL file (see :func:`reportlab_nlp.io.writers.jsonl_record`).

    Raises
    ------
    InputError
        For a record without id or labels, a value outside 1 / 0 / -1 / null,
        or label columns that differ from the scheme's.
    """
    if "id" not in record or "labels" not in record or not isinstance(record["labels"], Mapping):
        raise InputError(f"{where}: not a labels record (expected the keys 'id' and 'labels')")
    labels = record["labels"]
    expected = [c for c, _ in scheme.columns]
    if set(labels) != set(expected):
        missing = [c for c in expected if c not in labels]
        extra = [c for c in labels if c not in expected]
        raise InputError(
            f"{where}: label columns differ from scheme {scheme.name!r}: "
            f"missing {missing}, unexpected {extra}"
        )
    values = []
    for col, label in scheme.columns:
        try:
            values.append((col, label, LabelValue.parse(labels[col])))
        except ValueError as e:
            raise InputError(f"{where}: label {col!r}: {e}") from None
    evidence: dict[str, tuple[Mention, ...]] = {}
    raw_evidence = record.get("evidence") or {}
    if not isinstance(raw_evidence, Mapping):
        raise InputError(f"{where}: 'evidence' must be an object keyed by label column")
    by_col = {c: lbl for c, lbl in scheme.columns}
    for col, mentions in raw_evidence.items():
        if col not in by_col:
            raise InputError(f"{where}: evidence for unknown column {col!r}")
        try:
            evidence[col] = tuple(Mention.from_dict(by_col[col], m) for m in mentions)
        except (KeyError, TypeError, ValueError) as e:
            raise InputError(f"{where}: evidence of {col!r} is malformed ({e})") from None
    studies: list[StudyLink] = []
    for i, s in enumerate(record.get("studies") or []):
        if not isinstance(s, Mapping):
            raise InputError(f"{where}: studies[{i}] must be an object")
        studies.append(StudyLink.from_dict(s, where=f"{where}: studies[{i}]"))
    probabilities = record.get("probabilities") or {}
    text_length = record.get("text_length")
    return LabeledReport(
        id=str(record["id"]),
        values=tuple(values),
        evidence=evidence,
        warnings=tuple(str(w) for w in record.get("warnings") or ()),
        text_length=int(text_length) if isinstance(text_length, int) else None,
        probabilities={str(k): float(v) for k, v in probabilities.items() if v is not None},
        studies=tuple(studies),
        midrc_fields=_midrc_fields(record.get("categories") or {}),
        categories=_categories(record.get("categories"), where),
    )


def _categories(raw: Any, where: str) -> dict[str, CategoryValue]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise InputError(f"{where}: 'categories' must be an object keyed by category")
    try:
        return {str(k): CategoryValue.from_dict(str(k), v) for k, v in raw.items()}
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise InputError(f"{where}: 'categories' is malformed ({e})") from None


def is_labels_file(path: str | Path) -> bool:
    """Whether ``path`` is a labels JSONL file (its first record has ``id`` and a ``labels`` object).

    A reports file (CSV, a folder, or JSONL records with text) is not.
    """
    p = Path(path)
    if not p.is_file() or p.suffix.lower() not in (".jsonl", ".ndjson", ".json"):
        return False
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip():
                continue
            try:
                first = json.loads(line)
            except json.JSONDecodeError:
                return False
            return isinstance(first, dict) and "id" in first and isinstance(first.get("labels"), dict)
    return False


@dataclass
class LabelsFile:
    """A labels JSONL file: its scheme (inferred from the columns) and its records.

    ``provenance`` is the record of the run that wrote it when ``label
    --manifest`` did (None otherwise).
    """

    path: str
    scheme: Scheme
    count: int
    provenance: Mapping[str, Any] | None

    def reports(self) -> Iterator[LabeledReport]:
        """Yield the labeled reports in file order."""
        for where, record in _records(self.path):
            yield from_record(record, self.scheme, where=where)


def _records(path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    with open(path, encoding="utf-8-sig") as f:
        for _, where, obj in json_objects(f, path):
            yield where, obj


def read_labels_jsonl(
    path: str | Path,
    schemes: Mapping[str, Scheme],
    scheme: str | None = None,
    *,
    allow_duplicate_ids: bool = False,
) -> LabelsFile:
    """Open and check a labels JSONL file (one pass: JSON, ids, columns, provenance).

    Parameters
    ----------
    path
        A file written by ``reportlab-nlp label --format jsonl`` (with or without ``--manifest``).
    schemes
        The known schemes (``labeler.rules.schemes``).
    scheme
        The scheme the file was written with; inferred from its columns when None.
    allow_duplicate_ids
        Accept a report id more than once (a file labeled with ``--allow-duplicate-ids``).

    Raises
    ------
    InputError
        For invalid UTF-8 or JSON, a record that is not a labels record,
        duplicate ids, or columns of no known scheme.
    """
    path = str(path)
    bad = first_bad_utf8(path)
    if bad is not None:
        raise InputError(f"{path}: invalid UTF-8 at byte offset {bad[0]} ({bad[1]})")
    chosen: Scheme | None = None
    if scheme is not None:
        if scheme not in schemes:
            raise InputError(f"unknown scheme {scheme!r}; known schemes are: {', '.join(sorted(schemes))}")
        chosen = schemes[scheme]
    seen: set[str] = set()
    dups: list[str] = []
    provenance: Mapping[str, Any] | None = None
    n = 0
    for where, record in _records(path):
        if chosen is None:
            labels = record.get("labels")
            if not isinstance(labels, Mapping):
                raise InputError(f"{where}: not a labels record (expected a 'labels' object)")
            chosen = infer_scheme(list(labels), schemes, where=where)
        from_record(record, chosen, where=where)  # validates
        rid = str(record["id"])
        if rid in seen and rid not in dups:
            dups.append(rid)
        seen.add(rid)
        if provenance is None and isinstance(record.get("provenance"), Mapping):
            provenance = record["provenance"]
        n += 1
    if chosen is None:
        raise InputError(f"{path}: no labels records in this file")
    if dups and not allow_duplicate_ids:
        shown = ", ".join(repr(d) for d in dups[:5])
        raise InputError(
            f"{path}: duplicate report ids in the labels file: {shown} ({len(dups)} in all); "
            "ids must be unique, or pass --allow-duplicate-ids"
        )
    return LabelsFile(path, chosen, n, provenance)


__all__ = [
    "LabeledReport",
    "LabelsFile",
    "from_record",
    "from_result",
    "infer_scheme",
    "is_labels_file",
    "read_labels_jsonl",
]
