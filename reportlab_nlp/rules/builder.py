"""Merging rules files in order: findings, cues, terminators, sections and schemes.

Each file's entries are parsed with their model (:mod:`.schema`), then merged over
what the files before it gave: a finding whose label exists is extended (or replaced
with ``replace: true``), a cue can be removed, a section gains headers. The
categories, modifiers and metadata are merged by :mod:`.merge_more`; :mod:`.finish`
checks the cross-references and builds the :class:`~.types.RuleSet`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import RulesError
from .fields import CUE_CATEGORIES
from .merge_more import add_category, add_metadata, add_modifiers
from .patterns import check_regex, expand_macros, phrase_regex
from .schema import (
    ConventionsEntry,
    CueEntry,
    FindingEntry,
    RulesFileEntry,
    SchemeEntry,
    SectionEntry,
    name_of,
    parse,
)
from .types import (
    AttributeRule,
    CategoryRule,
    Conventions,
    CueRule,
    FindingRule,
    MetadataSettings,
    ModifierRule,
    Scheme,
    SectionRule,
)


@dataclass
class MergedFinding:
    """A finding as merged so far (lists grow as files extend it)."""

    definition: str
    phrases: list[str]
    patterns: list[str]
    states: dict[str, list[str]]
    exclusions: list[str]
    exclusion_patterns: list[str]
    implies: list[str]
    codes: dict[str, Any]
    source: str
    history: str | None

    @classmethod
    def of(cls, entry: FindingEntry, path: str) -> MergedFinding:
        lists = {k: list(getattr(entry, k)) for k in _EXTENDED}
        states = {k: list(v) for k, v in entry.states.items()}
        return cls(
            entry.definition,
            states=states,
            codes=dict(entry.codes),
            source=path,
            history=entry.history,
            **lists,
        )

    def rule(self, label: str) -> FindingRule:
        """The finding as the pipeline reads it."""
        lists = {k: tuple(getattr(self, k)) for k in _EXTENDED}
        states = {k: tuple(v) for k, v in self.states.items()}
        history = self.history or "ignore"
        return FindingRule(
            label,
            self.definition,
            states=states,
            codes=dict(self.codes),
            source=self.source,
            history=history,
            **lists,
        )


_EXTENDED = ("phrases", "patterns", "exclusions", "exclusion_patterns", "implies")


@dataclass
class Builder:
    """The rules merged so far, file by file (:meth:`add`)."""

    findings: dict[str, MergedFinding] = field(default_factory=dict)
    macros: dict[str, str] = field(default_factory=dict)
    cues: list[CueRule] = field(default_factory=list)
    terminators: list[str] = field(default_factory=list)
    forward_terminators: list[str] = field(default_factory=list)
    sections: dict[str, SectionRule] = field(default_factory=dict)
    schemes: dict[str, Scheme] = field(default_factory=dict)
    blockers: list[str] = field(default_factory=list)
    blockers_source: str = "schemes.yaml"
    scheme_sources: dict[str, str] = field(default_factory=dict)  # the file each scheme was last defined in
    sources: list[str] = field(default_factory=list)
    categories: dict[str, CategoryRule] = field(default_factory=dict)
    attributes: dict[str, AttributeRule] = field(default_factory=dict)
    modifier_rules: list[ModifierRule] = field(default_factory=list)
    modifier_window: int = 6
    modifier_stops: list[str] = field(default_factory=list)
    modifier_boundaries: list[str] = field(default_factory=list)
    metadata: MetadataSettings = field(default_factory=MetadataSettings)
    conventions: Conventions = field(default_factory=Conventions)

    def add(self, path: str, data: Mapping[str, Any], *, user: bool) -> None:
        """Merge one file's parsed top level over the rules so far."""
        self.sources.append(path)
        top = parse(RulesFileEntry, data, path, "top level")
        self.macros.update(top.macros)
        for i, entry in enumerate(top.findings):
            self._add_finding(path, i, entry, user=user)
        for i, entry in enumerate(top.cues):
            self._add_cue(path, i, entry)
        for key, target in (
            ("terminators", self.terminators),
            ("forward_terminators", self.forward_terminators),
        ):
            for i, term in enumerate(getattr(top, key)):
                check_regex(term, (path, f"{key}[{i}]"), term)
                target.append(term)
        for i, entry in enumerate(top.sections):
            self._add_section(path, i, entry)
        for name, spec in top.schemes.items():
            self._add_scheme(path, name, spec)
        if "no_finding_blockers" in top.model_fields_set:
            self.blockers = list(top.no_finding_blockers)
            self.blockers_source = path
        for i, entry in enumerate(top.categories):
            add_category(self, path, i, entry)
        if top.modifiers is not None:
            add_modifiers(self, path, top.modifiers)
        if top.metadata is not None:
            add_metadata(self, path, top.metadata)
        if top.conventions is not None:
            c = parse(ConventionsEntry, top.conventions, path, "conventions")
            self.conventions = Conventions(
                c.name, c.description, c.weak_hedge, c.strong_hedge, c.hypothetical, path
            )

    def _add_finding(self, path: str, i: int, raw: Any, *, user: bool) -> None:
        label = name_of(raw, "label")
        entry = parse(FindingEntry, raw, path, f"findings[{i}]", label and f"finding {label}")
        new = MergedFinding.of(entry, path)
        old = self.findings.get(entry.label)
        if old is None or entry.replace:
            if old is not None:
                new.definition = new.definition or old.definition
                new.codes = new.codes or old.codes
            self.findings[entry.label] = new
            return
        for key in _EXTENDED:
            kept: list[str] = getattr(old, key)
            kept.extend(x for x in getattr(new, key) if x not in kept)
        for key, values in new.states.items():
            old.states.setdefault(key, []).extend(values)
        old.definition = new.definition or old.definition
        old.history = new.history if new.history is not None else old.history
        old.codes.update(new.codes)
        for phrase in entry.remove_phrases:
            if phrase not in old.phrases:
                raise RulesError(
                    path,
                    f"finding {entry.label!r}",
                    f"remove_phrases: {phrase!r} is not a phrase of {entry.label!r}",
                )
            old.phrases.remove(phrase)
        old.source = f"{old.source}+{path}" if user else old.source

    def _add_cue(self, path: str, i: int, raw: Any) -> None:
        text = _cue_text(raw)
        entry = parse(CueEntry, raw, path, f"cues[{i}]", None if text is None else f"cue {text!r}")
        if (entry.phrase is None) == (entry.pattern is None):
            raise RulesError(path, f"cues[{i}]", "give exactly one of 'phrase' or 'pattern'")
        text = entry.phrase if entry.phrase is not None else entry.pattern
        assert text is not None
        if not text.strip():
            raise RulesError(path, f"cues[{i}]", "empty cue")
        where = (path, f"cue {text!r}")
        if entry.remove:
            before = len(self.cues)
            self.cues = [c for c in self.cues if c.text != text]
            if len(self.cues) == before:
                raise RulesError(path, where[1], "remove: no such cue in the rules loaded before this file")
            return
        if entry.category is None:
            raise RulesError(
                path, where[1], f"'category' must be one of {', '.join(CUE_CATEGORIES)}, got None"
            )
        regex = phrase_regex(text, plural=False) if entry.phrase is not None else text
        check_regex(regex, where, text)
        hedge = entry.hedge or ""
        self.cues.append(
            CueRule(text, regex, entry.category, entry.direction, entry.window, entry.weak, path, hedge)
        )

    def _add_section(self, path: str, i: int, raw: Any) -> None:
        category = name_of(raw, "category")
        entry = parse(SectionEntry, raw, path, f"sections[{i}]", category and f"section {category}")
        where = f"section {entry.category!r}"
        old = self.sections.get(entry.category)
        read = entry.read
        if read is None:
            if old is None:
                raise RulesError(path, where, "a new section needs 'read: true' or 'read: false'")
            read = old.read
        body_part = entry.body_part if entry.body_part is not None else (old.body_part if old else False)
        kept = old.headers if old else ()
        merged = kept + tuple(h for h in entry.headers if h not in kept)
        self.sections[entry.category] = SectionRule(entry.category, read, merged, path, body_part)

    def _add_scheme(self, path: str, name: str, raw: Any) -> None:
        where = f"scheme {name!r}"
        spec = parse(SchemeEntry, raw, path, where, where)
        self.schemes[name] = Scheme(
            name, spec.description, spec.columns, spec.no_finding, spec.categories, spec.conventions
        )
        self.scheme_sources[name] = path

    def wordings(self, entry: Any, where: tuple[str, str], *, plural: bool) -> list[tuple[str, str]]:
        """(wording, regex) of an entry's ``phrases`` and ``patterns``, checked."""
        out: list[tuple[str, str]] = []
        for phrase in entry.phrases:
            regex = phrase_regex(phrase, plural=plural)
            check_regex(regex, where, phrase)
            out.append((phrase, regex))
        for pattern in entry.patterns:
            regex = expand_macros(pattern, self.macros, where=where)
            check_regex(regex, where, pattern)
            out.append((pattern, regex))
        return out


def _cue_text(raw: Any) -> str | None:
    """The phrase or pattern that names a cue in messages, when it has exactly one."""
    if not isinstance(raw, Mapping):
        return None
    phrase, pattern = raw.get("phrase"), raw.get("pattern")
    if (phrase is None) == (pattern is None):
        return None
    return str(phrase if phrase is not None else pattern)
