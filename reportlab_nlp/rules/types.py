"""The validated rules: the value types the pipeline reads, and the rules hash.

These are what :func:`~reportlab_nlp.rules.load_rules` builds from the entries of
:mod:`.schema` (merged over the files loaded in order). :meth:`RuleSet.digest`
hashes every field of every value here except those marked as provenance (the
files a rule came from), so a field that changes labels always changes the hash.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PROVENANCE = {"provenance": True}
"""Field metadata of the fields that say where a rule came from, not what it does."""


@dataclass(frozen=True)
class FindingRule:
    """One label of the lexicon and the wording that mentions it."""

    label: str
    definition: str = ""
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    states: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    exclusions: tuple[str, ...] = ()
    exclusion_patterns: tuple[str, ...] = ()
    implies: tuple[str, ...] = ()
    codes: Mapping[str, Any] = field(default_factory=dict)
    source: str = field(default="", metadata=PROVENANCE)
    history: str = "ignore"  # a historical mention asserts nothing ("ignore") or the finding ("present")


@dataclass(frozen=True)
class CueRule:
    """An assertion cue: a phrase or pattern, its category and its scope."""

    text: str
    regex: str
    category: str
    direction: str
    window: int = 0
    weak: bool = False
    source: str = field(default="", metadata=PROVENANCE)
    hedge: str = ""  # "weak" or "strong" for an uncertain cue a convention profile codes by strength


FULL_DESCRIPTION = (
    "the label guidelines (hedged mentions uncertain, -1); the measured choices are in docs/conventions.md"
)


@dataclass(frozen=True)
class Conventions:
    """A scheme's convention profile (``rules/profiles/``): its name and how it codes hedges.

    ``weak_hedge`` / ``strong_hedge`` / ``hypothetical`` are ``uncertain`` (the
    guidelines), ``absent`` or ``present``. Without a profile the rules follow the
    guidelines: the defaults are those of ``profiles/full.yaml`` (same rules hash).
    """

    name: str = "full"
    description: str = FULL_DESCRIPTION
    weak_hedge: str = "uncertain"
    strong_hedge: str = "uncertain"
    hypothetical: str = "uncertain"
    source: str = field(default="", metadata=PROVENANCE)


@dataclass(frozen=True)
class SectionRule:
    """A section category, whether it is read, and its header variants."""

    category: str
    read: bool
    headers: tuple[str, ...]
    source: str = field(default="", metadata=PROVENANCE)
    body_part: bool = False


@dataclass(frozen=True)
class Scheme:
    """An output scheme: (column name, label) pairs, the No Finding policy, and the
    categorical labels it carries (their columns follow the label columns in a CSV)."""

    name: str
    description: str
    columns: tuple[tuple[str, str], ...]
    no_finding: str
    categories: tuple[str, ...] = ()
    conventions: str = ""  # the convention profile applied when the scheme is chosen


@dataclass(frozen=True)
class CategoryValueRule:
    """One value of a categorical label and the wording that states it."""

    value: str
    definition: str = ""
    phrases: tuple[str, ...] = ()
    patterns: tuple[str, ...] = ()
    exclusions: tuple[str, ...] = ()
    exclusion_patterns: tuple[str, ...] = ()
    export: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CategoryRule:
    """A categorical label (one value per report), its values and its export names.

    ``export`` maps an export target to the field the category is written to
    (``{"midrc": "class_covid19_pneumonia"}``); each value's ``export`` maps the
    same targets to the value's string there.
    """

    name: str
    definition: str
    values: tuple[CategoryValueRule, ...]
    export: Mapping[str, str] = field(default_factory=dict)
    source: str = field(default="", metadata=PROVENANCE)

    def value(self, name: str) -> CategoryValueRule:
        for v in self.values:
            if v.value == name:
                return v
        raise KeyError(name)


@dataclass(frozen=True)
class ModifierRule:
    """A modifier wording: which attribute and value it states (``left`` -> laterality left)."""

    attribute: str
    value: str
    text: str
    regex: str


@dataclass(frozen=True)
class AttributeRule:
    """An attribute of mentions (laterality, severity, temporal, location) and how it is read.

    ``inside``: whether the attribute's words may lie inside the matched phrase
    itself ("mildly enlarged" in a Cardiomegaly pattern); ``combine``: values
    that together make another (left and right -> bilateral).
    """

    name: str
    values: tuple[str, ...]
    inside: bool = True
    combine: tuple[tuple[tuple[str, ...], str], ...] = ()


@dataclass(frozen=True)
class ModifierSettings:
    """The modifier rules of ``modifiers.yaml``: attributes, wordings and scope."""

    attributes: tuple[AttributeRule, ...] = ()
    rules: tuple[ModifierRule, ...] = ()
    window: int = 6
    stops: tuple[str, ...] = ()
    boundaries: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetadataRule:
    """One metadata field (modality, body_region): its values and their wordings."""

    name: str
    values: tuple[tuple[str, str, str], ...]  # (value, wording, regex)
    multiple: bool = False


@dataclass(frozen=True)
class MetadataSettings:
    """Where report metadata is read (section categories, the title) and its fields."""

    sources: tuple[str, ...] = ()
    title_max_chars: int = 120
    fields: tuple[MetadataRule, ...] = ()
    separator: str = "/"


@dataclass(frozen=True)
class RuleSet:
    """Everything the rule pipeline needs, validated."""

    findings: tuple[FindingRule, ...]
    macros: Mapping[str, str]
    cues: tuple[CueRule, ...]
    terminators: tuple[str, ...]
    forward_terminators: tuple[str, ...]
    sections: tuple[SectionRule, ...]
    schemes: Mapping[str, Scheme]
    no_finding_blockers: tuple[str, ...]
    sources: tuple[str, ...] = field(metadata=PROVENANCE)
    categories: tuple[CategoryRule, ...] = ()
    modifiers: ModifierSettings = field(default_factory=ModifierSettings)
    metadata: MetadataSettings = field(default_factory=MetadataSettings)
    conventions: Conventions = field(default_factory=Conventions)

    @property
    def labels(self) -> list[str]:
        """The full label set, in the order of the ``full`` scheme."""
        return [label for _, label in self.schemes["full"].columns]

    def finding(self, label: str) -> FindingRule:
        for rule in self.findings:
            if rule.label == label:
                return rule
        raise KeyError(label)

    def category(self, name: str) -> CategoryRule:
        for rule in self.categories:
            if rule.name == name:
                return rule
        raise KeyError(name)

    def parents(self, label: str) -> tuple[str, ...]:
        """The labels that ``label`` implies (its parents in the hierarchy)."""
        return self.finding(label).implies

    def digest(self) -> str:
        """sha256 of the rules' canonical JSON (:func:`canonical`): the rules hash in provenance."""
        blob = json.dumps(canonical(self), sort_keys=True, ensure_ascii=True).encode()
        return hashlib.sha256(blob).hexdigest()


def canonical(value: Any) -> Any:
    """``value`` as plain JSON data: every dataclass field but the provenance ones, recursively."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: canonical(getattr(value, f.name))
            for f in dataclasses.fields(value)
            if not f.metadata.get("provenance")
        }
    if isinstance(value, Mapping):
        return {str(k): canonical(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [canonical(v) for v in value]
    return value
