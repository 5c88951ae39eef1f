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

    def to_dict(self) -> dict[str, Any]:
        """Return the JSONL evidence record of this mention."""
        return {
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

    @classmethod
    def from_dict(cls, label: str, data: Mapping[str, Any]) -> Mention:
        """Rebuild a mention from its :meth:`to_dict` record."""
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
    label; ``sections`` lists the sections found.
    """

    id: str
    labels: Mapping[str, LabelValue]
    evidence: Mapping[str, tuple[Mention, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    sections: tuple[Section, ...] = ()

    def value(self, label: str) -> LabelValue:
        """Return the value of ``label`` (BLANK if it is not in the set)."""
        return self.labels.get(label, LabelValue.BLANK)

    def positives(self) -> list[str]:
        """Labels whose value is 1."""
        return [k for k, v in self.labels.items() if v is LabelValue.POSITIVE]

    def to_dict(self) -> dict[str, Any]:
        """Return the JSONL record: id, labels, evidence, warnings, sections."""
        return {
            "id": self.id,
            "labels": {k: v.to_json() for k, v in self.labels.items()},
            "evidence": {k: [m.to_dict() for m in ms] for k, ms in self.evidence.items() if ms},
            "warnings": list(self.warnings),
            "sections": [s.to_dict() for s in self.sections],
        }

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
        return cls(
            id=str(data["id"]),
            labels=labels,
            evidence=evidence,
            warnings=tuple(str(w) for w in data.get("warnings", [])),
            sections=sections,
        )
