"""Frozen value objects that flow through and out of the pipeline.

Every stage of the pipeline reads and writes these types; exports, the command
line and the service consume them and nothing else. Offsets always index the
original report text: ``text[mention.start:mention.end] == mention.text``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Assertion(enum.StrEnum):
    """How a mention is asserted in its sentence."""

    PRESENT = "present"
    NEGATED = "negated"
    UNCERTAIN = "uncertain"
    HYPOTHETICAL = "hypothetical"
    HISTORICAL = "historical"


class LabelValue(enum.Enum):
    """A report-level label value in the CheXpert convention."""

    POSITIVE = 1
    NEGATIVE = 0
    UNCERTAIN = -1
    BLANK = None

    def to_csv(self) -> str:
        """Return the CSV cell: ``"1"``, ``"0"``, ``"-1"`` or ``""``."""
        return "" if self.value is None else str(self.value)

    def to_json(self) -> int | None:
        """Return the JSON value: 1, 0, -1 or null."""
        return self.value  # type: ignore[no-any-return]

    @classmethod
    def parse(cls, raw: object) -> LabelValue:
        """Read a CheXpert-convention value (``1``, ``0``, ``-1``, blank or None).

        Raises
        ------
        ValueError
            If ``raw`` is not one of those values.
        """
        if raw is None:
            return cls.BLANK
        if isinstance(raw, bool):
            raise ValueError(f"expected 1, 0, -1 or blank, got {raw!r}")
        text = str(raw).strip()
        if text == "":
            return cls.BLANK
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected 1, 0, -1 or blank, got {raw!r}") from None
        for member in (cls.POSITIVE, cls.NEGATIVE, cls.UNCERTAIN):
            if number == member.value:
                return member
        raise ValueError(f"expected 1, 0, -1 or blank, got {raw!r}")


@dataclass(frozen=True)
class Section:
    """A section of a report: ``text[start:end]`` is its body (header excluded).

    ``category`` is the normalised section name (``findings``, ``impression``,
    ``indication``, ... or ``body`` for unheaded text); ``read`` says whether the
    labeler reads it for findings.
    """

    category: str
    start: int
    end: int
    header: str = ""
    header_start: int = -1
    header_end: int = -1
    read: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "start": self.start,
            "end": self.end,
            "header": self.header,
            "header_start": self.header_start,
            "header_end": self.header_end,
            "read": self.read,
        }


@dataclass(frozen=True)
class Mention:
    """One mention of a finding, with the evidence for how it was asserted.

    ``text == report_text[start:end]``; ``sentence`` is the sentence's text and
    ``sentence_start``/``sentence_end`` its offsets; ``cue`` is the text of the
    cue that made the mention negated, uncertain, historical or hypothetical
    (empty for a plain positive) and ``cue_start``/``cue_end`` its offsets
    (``-1`` when there is none); ``rule`` names the lexicon entry that matched.

    ``attributes`` holds the modifiers stated for the mention, by attribute
    (``laterality``, ``severity``, ``temporal``, ``location``; from
    ``rules/modifiers.yaml``), and ``attribute_spans`` the offsets of the words
    that gave each (they lie inside the sentence). Both are None on a mention
    built without the attributes stage; the pipeline always sets them.
    """

    label: str
    text: str
    start: int
    end: int
    sentence: str
    sentence_start: int
    sentence_end: int
    section: str
    assertion: Assertion
    cue: str = ""
    cue_start: int = -1
    cue_end: int = -1
    rule: str = ""
    source: str = "rules"
    attributes: Mapping[str, str] | None = field(default=None, hash=False)
    attribute_spans: Mapping[str, tuple[int, int]] | None = field(default=None, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSONL evidence record of this mention.

        ``attributes`` and ``attribute_spans`` are in the record when they are
        set (always, for mentions the pipeline made).
        """
        record: dict[str, Any] = {
            "text": self.text,
            "start": self.start,
            "end": self.end,
            "sentence": self.sentence,
            "sentence_start": self.sentence_start,
            "sentence_end": self.sentence_end,
            "section": self.section,
            "assertion": self.assertion.value,
            "cue": self.cue,
            "cue_start": self.cue_start,
            "cue_end": self.cue_end,
            "rule": self.rule,
            "source": self.source,
        }
        if self.attributes is not None:
            record["attributes"] = dict(self.attributes)
        if self.attribute_spans is not None:
            record["attribute_spans"] = {k: [s, e] for k, (s, e) in self.attribute_spans.items()}
        return record

    @classmethod
    def from_dict(cls, label: str, data: Mapping[str, Any]) -> Mention:
        """Rebuild a mention from its :meth:`to_dict` record."""
        attributes = data.get("attributes")
        spans = data.get("attribute_spans")
        return cls(
            label=label,
            text=str(data["text"]),
            start=int(data["start"]),
            end=int(data["end"]),
            sentence=str(data.get("sentence", "")),
            sentence_start=int(data.get("sentence_start", -1)),
            sentence_end=int(data.get("sentence_end", -1)),
            section=str(data.get("section", "")),
            assertion=Assertion(data.get("assertion", "present")),
            cue=str(data.get("cue", "")),
            cue_start=int(data.get("cue_start", -1)),
            cue_end=int(data.get("cue_end", -1)),
            rule=str(data.get("rule", "")),
            source=str(data.get("source", "rules")),
            attributes=None if attributes is None else {str(k): str(v) for k, v in dict(attributes).items()},
            attribute_spans=None
            if spans is None
            else {str(k): (int(v[0]), int(v[1])) for k, v in dict(spans).items()},
        )


@dataclass(frozen=True)
class CategoryValue:
    """The value of a categorical label in one report, with the statements that gave it.

    A categorical label (``RSNA COVID-19 Category``: Typical, Indeterminate,
    Atypical, Negative for Pneumonia) takes one value per report, read from its
    wording in ``rules/categories.yaml``; ``value`` is None when the report
    states none. ``export`` maps an export target to its field and value
    (``{"midrc": {"field": "class_covid19_pneumonia", "value": "typical"}}``);
    ``evidence`` holds the statements found (the chosen one last).
    """

    category: str
    value: str | None = None
    export: Mapping[str, Mapping[str, str]] = field(default_factory=dict, hash=False)
    evidence: tuple[Mention, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the record of this category in the JSONL ``categories`` object."""
        return {
            "value": self.value,
            "export": {k: dict(v) for k, v in self.export.items()},
            "evidence": [m.to_dict() for m in self.evidence],
        }

    @classmethod
    def from_dict(cls, category: str, data: Mapping[str, Any]) -> CategoryValue:
        """Rebuild from a :meth:`to_dict` record."""
        value = data.get("value")
        return cls(
            category=category,
            value=None if value is None else str(value),
            export={
                str(k): {str(a): str(b) for a, b in dict(v).items()}
                for k, v in dict(data.get("export", {})).items()
            },
            evidence=tuple(Mention.from_dict(category, m) for m in data.get("evidence", [])),
        )


@dataclass(frozen=True)
class Report:
    """A report to label: an id and its text.

    When a report arrives as several fields (``--text-col findings --text-col
    impression``), the reader joins them into one ``text`` with a header line
    per field, so offsets still index the text that was labeled.
    """

    id: str
    text: str
    fields: tuple[tuple[str, int, int], ...] = ()
    """For a report joined from several columns: (column, start, end) of each column's text."""


@dataclass(frozen=True)
class ReportLabels:
    """The labels of one report, with their evidence.

    ``labels`` holds every label of the full set (blank included), in the
    order of the full scheme; ``evidence`` holds the mentions of each non-blank
    label; ``sections`` lists the sections found. ``metadata`` holds what the
    exam line or title says of the study (``modality``, ``body_region``, and
    ``source``: where it was read); ``categories`` the categorical labels
    (:class:`CategoryValue`). Both are None on a result built by hand; the
    pipeline always sets them, and :meth:`to_dict` writes them when set.
    A labeler with a scheme other than ``full`` returns ``labels`` and
    ``evidence`` keyed by the scheme's columns, and keeps the full result in
    ``full``.
    """

    id: str
    labels: Mapping[str, LabelValue]
    evidence: Mapping[str, tuple[Mention, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()
    metadata: Mapping[str, str] | None = field(default=None, hash=False)
    categories: Mapping[str, CategoryValue] | None = field(default=None, hash=False)
    full: ReportLabels | None = field(default=None, hash=False, compare=False, repr=False)
    """On a result shaped by a scheme (``load(scheme=...).label``): the result over the full label set."""

    def value(self, label: str) -> LabelValue:
        """Return the value of ``label`` (BLANK if it is not in the set)."""
        return self.labels.get(label, LabelValue.BLANK)

    def positives(self) -> list[str]:
        """Labels whose value is 1."""
        return [k for k, v in self.labels.items() if v is LabelValue.POSITIVE]

    def category(self, name: str) -> str | None:
        """The value of categorical label ``name`` (None when not stated or unknown)."""
        found = (self.categories or {}).get(name)
        return None if found is None else found.value

    def to_dict(self) -> dict[str, Any]:
        """Return the JSONL record: id, labels, evidence, warnings, sections (metadata, categories)."""
        record: dict[str, Any] = {
            "id": self.id,
            "labels": {k: v.to_json() for k, v in self.labels.items()},
            "evidence": {k: [m.to_dict() for m in ms] for k, ms in self.evidence.items() if ms},
            "warnings": list(self.warnings),
            "sections": [s.to_dict() for s in self.sections],
        }
        if self.metadata is not None:
            record["metadata"] = dict(self.metadata)
        if self.categories is not None:
            record["categories"] = {k: c.to_dict() for k, c in self.categories.items()}
        return record

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ReportLabels:
        """Rebuild from a JSONL record written by :meth:`to_dict`."""
        labels = {str(k): LabelValue.parse(v) for k, v in dict(data.get("labels", {})).items()}
        evidence = {
            str(k): tuple(Mention.from_dict(str(k), m) for m in ms)
            for k, ms in dict(data.get("evidence", {})).items()
        }
        sections = tuple(
            Section(
                category=str(s["category"]),
                start=int(s["start"]),
                end=int(s["end"]),
                header=str(s.get("header", "")),
                header_start=int(s.get("header_start", -1)),
                header_end=int(s.get("header_end", -1)),
                read=bool(s.get("read", True)),
            )
            for s in data.get("sections", [])
        )
        metadata = data.get("metadata")
        categories = data.get("categories")
        return cls(
            id=str(data["id"]),
            labels=labels,
            evidence=evidence,
            warnings=tuple(str(w) for w in data.get("warnings", [])),
            sections=sections,
            metadata=None if metadata is None else {str(k): str(v) for k, v in dict(metadata).items()},
            categories=None
            if categories is None
            else {str(k): CategoryValue.from_dict(str(k), v) for k, v in dict(categories).items()},
        )
