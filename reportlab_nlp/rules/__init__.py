"""Load and validate the rules data: section headers, finding lexicon, assertion cues, schemes.

The rules are YAML files in this folder (``sections.yaml``, ``findings.yaml``,
``cues.yaml``, ``schemes.yaml``, ``categories.yaml``, ``modifiers.yaml``,
``metadata.yaml``); this module holds no term lists. A user adds
or overrides rules with files of the same shape (see the README), passed as
``load_rules(extra=[path, ...])`` or ``--rules PATH`` on the command line.
Every file is validated on load: an unknown key, a wrong type, a bad regular
expression or an unknown label is a :class:`~reportlab_nlp.errors.RulesError`
naming the file and the entry.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import srsly

from ..errors import RulesError
from ..types import Assertion

CUE_CATEGORIES = ("negated", "uncertain", "historical", "hypothetical", "pseudo", "ignore")
DIRECTIONS = ("forward", "backward", "both", "sentence")
STATE_ASSERTIONS = {
    "present": Assertion.PRESENT,
    "negated": Assertion.NEGATED,
    "uncertain": Assertion.UNCERTAIN,
}
_MACRO_REF = re.compile(r"\{([A-Z][A-Z0-9_]*)\}")
_WORD_CHARS = "A-Za-z0-9"


# ---------------------------------------------------------------------------
# value types
# ---------------------------------------------------------------------------


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
    source: str = ""
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
    source: str = ""


@dataclass(frozen=True)
class SectionRule:
    """A section category, whether it is read, and its header variants."""

    category: str
    read: bool
    headers: tuple[str, ...]
    source: str = ""
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
    source: str = ""

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
    sources: tuple[str, ...]
    categories: tuple[CategoryRule, ...] = ()
    modifiers: ModifierSettings = field(default_factory=ModifierSettings)
    metadata: MetadataSettings = field(default_factory=MetadataSettings)

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
        """sha256 of the rules' canonical JSON: the rules hash in provenance."""
        payload = {
            "findings": [
                {
                    "label": f.label,
                    "phrases": f.phrases,
                    "patterns": f.patterns,
                    "states": {k: list(v) for k, v in sorted(f.states.items())},
                    "exclusions": f.exclusions,
                    "exclusion_patterns": f.exclusion_patterns,
                    "implies": f.implies,
                    "history": f.history,
                }
                for f in self.findings
            ],
            "macros": dict(sorted(self.macros.items())),
            "cues": [[c.regex, c.category, c.direction, c.window, c.weak] for c in self.cues],
            "terminators": self.terminators,
            "forward_terminators": self.forward_terminators,
            "sections": [[s.category, s.read, s.headers, s.body_part] for s in self.sections],
            "schemes": {k: [s.columns, s.no_finding, s.categories] for k, s in sorted(self.schemes.items())},
            "no_finding_blockers": self.no_finding_blockers,
            "categories": [
                [
                    c.name,
                    sorted(c.export.items()),
                    [
                        [
                            v.value,
                            v.phrases,
                            v.patterns,
                            v.exclusions,
                            v.exclusion_patterns,
                            sorted(v.export.items()),
                        ]
                        for v in c.values
                    ],
                ]
                for c in self.categories
            ],
            "modifiers": [
                [[a.name, a.values, a.inside, a.combine] for a in self.modifiers.attributes],
                [[m.attribute, m.value, m.regex] for m in self.modifiers.rules],
                self.modifiers.window,
                self.modifiers.stops,
                self.modifiers.boundaries,
            ],
            "metadata": [
                self.metadata.sources,
                self.metadata.title_max_chars,
                self.metadata.separator,
                [[f.name, f.values, f.multiple] for f in self.metadata.fields],
            ],
        }
        blob = json.dumps(payload, sort_keys=True, ensure_ascii=True).encode()
        return hashlib.sha256(blob).hexdigest()


# ---------------------------------------------------------------------------
# regular expressions from phrases
# ---------------------------------------------------------------------------


def _word_regex(word: str, plural: bool) -> str:
    parts = [re.escape(p) for p in word.split("-")]
    body = r"[\s\-]?".join(parts)
    if plural and word[-1:].isalpha():
        last = word.lower()
        if last.endswith("y") and len(last) > 2 and last[-2] not in "aeiou":
            body = body[:-1] + "(?:y|ies)"
        elif last.endswith("s"):
            body += "(?:es)?"  # mass -> masses
        else:
            body += "(?:s|es)?"
    return body


def phrase_regex(phrase: str, *, plural: bool = True) -> str:
    """Turn a literal phrase into a case-insensitive, whitespace-tolerant regex.

    Words may be separated by any run of whitespace or hyphens (``air space``
    matches ``air-space`` and ``airspace``); a word's own hyphen is optional;
    the last word takes an optional plural; the phrase matches whole words.
    """
    words = phrase.split()
    if not words:
        raise ValueError("empty phrase")
    body = r"[\s\-]*".join(_word_regex(w, plural and i == len(words) - 1) for i, w in enumerate(words))
    left = f"(?<![{_WORD_CHARS}])" if phrase[0].isalnum() else ""
    right = f"(?![{_WORD_CHARS}])" if phrase[-1].isalnum() else ""
    return f"{left}{body}{right}"


def expand_macros(pattern: str, macros: Mapping[str, str], *, where: tuple[str, str]) -> str:
    """Replace ``{NAME}`` by ``(?:macro)``, recursively; unknown names are errors."""
    for _ in range(10):
        missing = [m for m in _MACRO_REF.findall(pattern) if m not in macros]
        if missing:
            raise RulesError(where[0], where[1], f"unknown macro {{{missing[0]}}} in pattern {pattern!r}")
        new = _MACRO_REF.sub(lambda m: f"(?:{macros[m.group(1)]})", pattern)
        if new == pattern:
            return new
        pattern = new
    raise RulesError(where[0], where[1], f"macros nest too deeply in {pattern!r}")


@functools.lru_cache(maxsize=8192)
def compile_pattern(regex: str) -> re.Pattern[str]:
    """``re.compile(regex, re.IGNORECASE)``, cached: the loader checks each rule's regex and
    the pipeline's matchers compile the same strings, so each is compiled once per process."""
    return re.compile(regex, re.IGNORECASE)


def _compile_check(regex: str, where: tuple[str, str], shown: str) -> None:
    try:
        compile_pattern(regex)
    except re.error as e:
        raise RulesError(where[0], where[1], f"bad regular expression {shown!r}: {e}") from e


# ---------------------------------------------------------------------------
# validation helpers
# ---------------------------------------------------------------------------


def _check_keys(data: Mapping[str, Any], allowed: Iterable[str], where: tuple[str, str]) -> None:
    allowed = set(allowed)
    unknown = [k for k in data if k not in allowed]
    if unknown:
        raise RulesError(
            where[0], where[1], f"unknown key {unknown[0]!r}; expected one of: {', '.join(sorted(allowed))}"
        )


def _str_list(value: Any, where: tuple[str, str], key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise RulesError(where[0], where[1], f"{key!r} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _mapping(value: Any, where: tuple[str, str], what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RulesError(where[0], where[1], f"{what} must be a mapping, got {type(value).__name__}")
    return value


def _read_yaml(path: str, text: str) -> Mapping[str, Any]:
    try:
        data = srsly.yaml_loads(text) if not path.endswith(".json") else json.loads(text)
    except Exception as e:  # yaml and json raise many kinds
        raise RulesError(path, "", f"cannot parse: {e}") from e
    if data is None:
        return {}
    return _mapping(data, (path, ""), "the file's top level")


# ---------------------------------------------------------------------------
# building
# ---------------------------------------------------------------------------

_FINDING_KEYS = (
    "label",
    "definition",
    "phrases",
    "patterns",
    "states",
    "exclusions",
    "exclusion_patterns",
    "implies",
    "codes",
    "history",
    "replace",
    "remove_phrases",
)
_CUE_KEYS = ("phrase", "pattern", "category", "direction", "window", "weak", "remove")
_SECTION_KEYS = ("category", "read", "headers", "body_part")
_CATEGORY_KEYS = ("name", "definition", "export", "values")
_CATEGORY_VALUE_KEYS = (
    "value",
    "definition",
    "phrases",
    "patterns",
    "exclusions",
    "exclusion_patterns",
    "export",
)
_MODIFIER_KEYS = ("window", "stops", "boundaries", "attributes")
_ATTRIBUTE_KEYS = ("name", "inside", "combine", "values")
_WORDING_KEYS = ("value", "phrases", "patterns")
_METADATA_KEYS = ("sources", "title_max_chars", "separator", "fields")
_METADATA_FIELD_KEYS = ("name", "multiple", "values")
_TOP_KEYS = (
    "version",
    "macros",
    "findings",
    "cues",
    "terminators",
    "forward_terminators",
    "sections",
    "schemes",
    "no_finding_blockers",
    "categories",
    "modifiers",
    "metadata",
)
_NAME = re.compile(r"[a-z][a-z0-9_]*")


class _Builder:
    def __init__(self) -> None:
        self.findings: dict[str, dict[str, Any]] = {}
        self.macros: dict[str, str] = {}
        self.cues: list[CueRule] = []
        self.terminators: list[str] = []
        self.forward_terminators: list[str] = []
        self.sections: dict[str, SectionRule] = {}
        self.schemes: dict[str, Scheme] = {}
        self.blockers: list[str] = []
        self.blockers_source = "schemes.yaml"
        self.scheme_sources: dict[str, str] = {}  # the file each scheme was last defined in, for errors
        self.sources: list[str] = []
        self.categories: dict[str, CategoryRule] = {}
        self.attributes: dict[str, AttributeRule] = {}
        self.modifier_rules: list[ModifierRule] = []
        self.modifier_window = 6
        self.modifier_stops: list[str] = []
        self.modifier_boundaries: list[str] = []
        self.metadata = MetadataSettings()

    def add(self, path: str, data: Mapping[str, Any], *, user: bool) -> None:
        self.sources.append(path)
        _check_keys(data, _TOP_KEYS, (path, "top level"))
        macros = _mapping(data.get("macros", {}), (path, "macros"), "'macros'")
        for name, value in macros.items():
            if not re.fullmatch(r"[A-Z][A-Z0-9_]*", str(name)) or not isinstance(value, str):
                raise RulesError(path, f"macro {name!r}", "macro names are UPPER_CASE and values are strings")
            self.macros[str(name)] = value
        for i, entry in enumerate(self._list(data, "findings", path)):
            self._add_finding(path, i, entry, user=user)
        for i, entry in enumerate(self._list(data, "cues", path)):
            self._add_cue(path, i, entry)
        for key, target in (
            ("terminators", self.terminators),
            ("forward_terminators", self.forward_terminators),
        ):
            for i, term in enumerate(self._list(data, key, path)):
                if not isinstance(term, str) or not term:
                    raise RulesError(path, f"{key}[{i}]", f"expected a regex string, got {term!r}")
                _compile_check(term, (path, f"{key}[{i}]"), term)
                target.append(term)
        for i, entry in enumerate(self._list(data, "sections", path)):
            self._add_section(path, i, entry)
        if "schemes" in data:
            for name, spec in _mapping(data["schemes"], (path, "schemes"), "'schemes'").items():
                self._add_scheme(path, str(name), spec)
        if "no_finding_blockers" in data:
            self.blockers = list(
                _str_list(data["no_finding_blockers"], (path, "no_finding_blockers"), "list")
            )
            self.blockers_source = path
        for i, entry in enumerate(self._list(data, "categories", path)):
            self._add_category(path, i, entry)
        if data.get("modifiers") is not None:
            self._add_modifiers(path, _mapping(data["modifiers"], (path, "modifiers"), "'modifiers'"))
        if data.get("metadata") is not None:
            self._add_metadata(path, _mapping(data["metadata"], (path, "metadata"), "'metadata'"))

    @staticmethod
    def _list(data: Mapping[str, Any], key: str, path: str) -> list[Any]:
        value = data.get(key, [])
        if value is None:
            return []
        if not isinstance(value, list):
            raise RulesError(path, key, f"{key!r} must be a list, got {type(value).__name__}")
        return value

    def _add_finding(self, path: str, i: int, entry: Any, *, user: bool) -> None:
        where = (path, f"findings[{i}]")
        entry = _mapping(entry, where, "a finding entry")
        label = entry.get("label")
        if not isinstance(label, str) or not label.strip():
            raise RulesError(path, f"findings[{i}]", f"'label' must be a non-empty string, got {label!r}")
        where = (path, f"finding {label!r}")
        _check_keys(entry, _FINDING_KEYS, where)
        states = _mapping(entry.get("states", {}) or {}, where, "'states'")
        for key in states:
            if key not in STATE_ASSERTIONS:
                raise RulesError(
                    path,
                    f"finding {label!r}",
                    f"unknown state {key!r}; expected one of: {', '.join(STATE_ASSERTIONS)}",
                )
        new = {
            "definition": entry.get("definition", ""),
            "phrases": list(_str_list(entry.get("phrases"), where, "phrases")),
            "patterns": list(_str_list(entry.get("patterns"), where, "patterns")),
            "states": {k: list(_str_list(v, where, f"states.{k}")) for k, v in states.items()},
            "exclusions": list(_str_list(entry.get("exclusions"), where, "exclusions")),
            "exclusion_patterns": list(
                _str_list(entry.get("exclusion_patterns"), where, "exclusion_patterns")
            ),
            "implies": list(_str_list(entry.get("implies"), where, "implies")),
            "codes": dict(_mapping(entry.get("codes", {}) or {}, where, "'codes'")),
            "source": path,
        }
        history = entry.get("history", None)
        if history is not None and history not in ("ignore", "present"):
            raise RulesError(
                path, f"finding {label!r}", f"'history' must be 'ignore' or 'present', got {history!r}"
            )
        new["history"] = history
        if not isinstance(new["definition"], str):
            raise RulesError(path, f"finding {label!r}", "'definition' must be a string")
        old = self.findings.get(label)
        if old is None or entry.get("replace"):
            if old is not None:
                new["definition"] = new["definition"] or old["definition"]
                new["codes"] = new["codes"] or old["codes"]
            self.findings[label] = new
            return
        # extend an existing label
        for key in ("phrases", "patterns", "exclusions", "exclusion_patterns", "implies"):
            old[key].extend(x for x in new[key] if x not in old[key])
        for key, values in new["states"].items():
            old["states"].setdefault(key, []).extend(values)
        if new["definition"]:
            old["definition"] = new["definition"]
        if new["history"] is not None:
            old["history"] = new["history"]
        old["codes"].update(new["codes"])
        for phrase in _str_list(entry.get("remove_phrases"), where, "remove_phrases"):
            if phrase not in old["phrases"]:
                raise RulesError(
                    path, f"finding {label!r}", f"remove_phrases: {phrase!r} is not a phrase of {label!r}"
                )
            old["phrases"].remove(phrase)
        old["source"] = f"{old['source']}+{path}" if user else old["source"]

    def _add_cue(self, path: str, i: int, entry: Any) -> None:
        where = (path, f"cues[{i}]")
        entry = _mapping(entry, where, "a cue entry")
        _check_keys(entry, _CUE_KEYS, where)
        phrase, pattern = entry.get("phrase"), entry.get("pattern")
        if (phrase is None) == (pattern is None):
            raise RulesError(path, f"cues[{i}]", "give exactly one of 'phrase' or 'pattern'")
        text = str(phrase if phrase is not None else pattern)
        where = (path, f"cue {text!r}")
        if not text.strip():
            raise RulesError(path, f"cues[{i}]", "empty cue")
        regex = phrase_regex(text, plural=False) if phrase is not None else text
        if entry.get("remove"):
            before = len(self.cues)
            self.cues = [c for c in self.cues if c.text != text]
            if len(self.cues) == before:
                raise RulesError(
                    path, f"cue {text!r}", "remove: no such cue in the rules loaded before this file"
                )
            return
        category = entry.get("category")
        if category not in CUE_CATEGORIES:
            raise RulesError(
                path,
                f"cue {text!r}",
                f"'category' must be one of {', '.join(CUE_CATEGORIES)}, got {category!r}",
            )
        direction = entry.get("direction", "forward")
        if direction not in DIRECTIONS:
            raise RulesError(
                path,
                f"cue {text!r}",
                f"'direction' must be one of {', '.join(DIRECTIONS)}, got {direction!r}",
            )
        window = entry.get("window", 0)
        if not isinstance(window, int) or isinstance(window, bool) or window < 0:
            raise RulesError(
                path, f"cue {text!r}", f"'window' must be a whole number of words >= 0, got {window!r}"
            )
        weak = entry.get("weak", False)
        if not isinstance(weak, bool):
            raise RulesError(path, f"cue {text!r}", f"'weak' must be true or false, got {weak!r}")
        _compile_check(regex, where, text)
        self.cues.append(CueRule(text, regex, str(category), str(direction), window, weak, path))

    def _add_section(self, path: str, i: int, entry: Any) -> None:
        where = (path, f"sections[{i}]")
        entry = _mapping(entry, where, "a section entry")
        _check_keys(entry, _SECTION_KEYS, where)
        category = entry.get("category")
        if not isinstance(category, str) or not re.fullmatch(r"[a-z_]+", category):
            raise RulesError(
                path, f"sections[{i}]", f"'category' must be lower_case letters, got {category!r}"
            )
        headers = _str_list(entry.get("headers"), (path, f"section {category!r}"), "headers")
        read = entry.get("read")
        old = self.sections.get(category)
        if read is None:
            if old is None:
                raise RulesError(
                    path, f"section {category!r}", "a new section needs 'read: true' or 'read: false'"
                )
            read = old.read
        if not isinstance(read, bool):
            raise RulesError(path, f"section {category!r}", f"'read' must be true or false, got {read!r}")
        body_part = entry.get("body_part", old.body_part if old else False)
        if not isinstance(body_part, bool):
            raise RulesError(
                path, f"section {category!r}", f"'body_part' must be true or false, got {body_part!r}"
            )
        merged = (old.headers if old else ()) + tuple(h for h in headers if not old or h not in old.headers)
        self.sections[category] = SectionRule(category, read, merged, path, body_part)

    def _add_scheme(self, path: str, name: str, spec: Any) -> None:
        where = (path, f"scheme {name!r}")
        spec = _mapping(spec, where, "a scheme")
        _check_keys(spec, ("description", "no_finding", "columns", "categories"), where)
        columns: list[tuple[str, str]] = []
        for col in spec.get("columns") or []:
            if isinstance(col, str):
                columns.append((col, col))
            elif isinstance(col, Mapping) and len(col) == 1:
                ((k, v),) = col.items()
                columns.append((str(k), str(v)))
            else:
                raise RulesError(
                    path, f"scheme {name!r}", f"a column must be 'name' or 'name: label', got {col!r}"
                )
        policy = spec.get("no_finding", "pathology")
        if policy not in ("pathology", "any"):
            raise RulesError(
                path, f"scheme {name!r}", f"'no_finding' must be 'pathology' or 'any', got {policy!r}"
            )
        categories = _str_list(spec.get("categories"), where, "categories")
        self.schemes[name] = Scheme(
            name, str(spec.get("description", "")), tuple(columns), str(policy), categories
        )
        self.scheme_sources[name] = path

    def _wordings(
        self, entry: Mapping[str, Any], where: tuple[str, str], *, plural: bool
    ) -> list[tuple[str, str]]:
        """(wording, regex) of an entry's phrases and patterns, checked."""
        out: list[tuple[str, str]] = []
        for phrase in _str_list(entry.get("phrases"), where, "phrases"):
            regex = phrase_regex(phrase, plural=plural)
            _compile_check(regex, where, phrase)
            out.append((phrase, regex))
        for pattern in _str_list(entry.get("patterns"), where, "patterns"):
            regex = expand_macros(pattern, self.macros, where=where)
            _compile_check(regex, where, pattern)
            out.append((pattern, regex))
        return out

    @staticmethod
    def _export_map(value: Any, where: tuple[str, str]) -> dict[str, str]:
        mapping = _mapping(value or {}, where, "'export'")
        out: dict[str, str] = {}
        for k, v in mapping.items():
            if not isinstance(v, str) or not v.strip():
                raise RulesError(where[0], where[1], f"export {k!r} must be a non-empty string, got {v!r}")
            out[str(k)] = v
        return out

    def _add_category(self, path: str, i: int, entry: Any) -> None:
        where = (path, f"categories[{i}]")
        entry = _mapping(entry, where, "a category entry")
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RulesError(path, f"categories[{i}]", f"'name' must be a non-empty string, got {name!r}")
        where = (path, f"category {name!r}")
        _check_keys(entry, _CATEGORY_KEYS, where)
        definition = entry.get("definition", "")
        if not isinstance(definition, str):
            raise RulesError(path, where[1], "'definition' must be a string")
        export = self._export_map(entry.get("export"), where)
        values: list[CategoryValueRule] = []
        raw_values = entry.get("values")
        if not isinstance(raw_values, list) or not raw_values:
            raise RulesError(path, where[1], f"'values' must be a non-empty list, got {raw_values!r}")
        for j, item in enumerate(raw_values):
            vwhere = (path, f"category {name!r} values[{j}]")
            item = _mapping(item, vwhere, "a category value")
            _check_keys(item, _CATEGORY_VALUE_KEYS, vwhere)
            value = item.get("value")
            if not isinstance(value, str) or not value.strip():
                raise RulesError(path, vwhere[1], f"'value' must be a non-empty string, got {value!r}")
            vwhere = (path, f"category {name!r} value {value!r}")
            wordings = self._wordings(item, vwhere, plural=False)
            if not wordings:
                raise RulesError(path, vwhere[1], "a category value needs at least one phrase or pattern")
            excl = _str_list(item.get("exclusions"), vwhere, "exclusions")
            excl_pats = _str_list(item.get("exclusion_patterns"), vwhere, "exclusion_patterns")
            for phrase in excl:
                _compile_check(phrase_regex(phrase, plural=False), vwhere, phrase)
            for pat in excl_pats:
                _compile_check(expand_macros(pat, self.macros, where=vwhere), vwhere, pat)
            vexport = self._export_map(item.get("export"), vwhere)
            missing = [k for k in export if k not in vexport]
            if missing:
                raise RulesError(
                    path, vwhere[1], f"no export value for {missing[0]!r} (the category exports to it)"
                )
            values.append(
                CategoryValueRule(
                    value=value,
                    definition=str(item.get("definition", "")),
                    phrases=_str_list(item.get("phrases"), vwhere, "phrases"),
                    patterns=_str_list(item.get("patterns"), vwhere, "patterns"),
                    exclusions=excl,
                    exclusion_patterns=excl_pats,
                    export=vexport,
                )
            )
        if len({v.value for v in values}) != len(values):
            raise RulesError(path, where[1], "category values must be unique")
        self.categories[name] = CategoryRule(name, definition, tuple(values), export, path)

    def _add_modifiers(self, path: str, data: Mapping[str, Any]) -> None:
        where = (path, "modifiers")
        _check_keys(data, _MODIFIER_KEYS, where)
        if "window" in data:
            window = data["window"]
            if not isinstance(window, int) or isinstance(window, bool) or window < 1:
                raise RulesError(
                    path, "modifiers", f"'window' must be a whole number of words >= 1, got {window!r}"
                )
            self.modifier_window = window
        for key, target in (("stops", self.modifier_stops), ("boundaries", self.modifier_boundaries)):
            for j, term in enumerate(self._list(data, key, path)):
                if not isinstance(term, str) or not term:
                    raise RulesError(path, f"modifiers.{key}[{j}]", f"expected a regex string, got {term!r}")
                _compile_check(term, (path, f"modifiers.{key}[{j}]"), term)
                target.append(term)
        for j, entry in enumerate(self._list(data, "attributes", path)):
            awhere = (path, f"modifiers.attributes[{j}]")
            entry = _mapping(entry, awhere, "an attribute entry")
            _check_keys(entry, _ATTRIBUTE_KEYS, awhere)
            name = entry.get("name")
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise RulesError(path, awhere[1], f"'name' must be lower_case letters, got {name!r}")
            awhere = (path, f"attribute {name!r}")
            old = self.attributes.get(name)
            inside = entry.get("inside", old.inside if old else True)
            if not isinstance(inside, bool):
                raise RulesError(path, awhere[1], f"'inside' must be true or false, got {inside!r}")
            values = list(old.values) if old else []
            for k, item in enumerate(entry.get("values") or []):
                item = _mapping(item, (path, f"attribute {name!r} values[{k}]"), "an attribute value")
                _check_keys(item, _WORDING_KEYS, (path, f"attribute {name!r} values[{k}]"))
                value = item.get("value")
                if not isinstance(value, str) or not value.strip():
                    raise RulesError(
                        path,
                        f"attribute {name!r} values[{k}]",
                        f"'value' must be a non-empty string, got {value!r}",
                    )
                vwhere = (path, f"attribute {name!r} value {value!r}")
                wordings = self._wordings(item, vwhere, plural=False)
                if not wordings:
                    raise RulesError(
                        path, vwhere[1], "an attribute value needs at least one phrase or pattern"
                    )
                if value not in values:
                    values.append(value)
                self.modifier_rules.extend(ModifierRule(name, value, w, rx) for w, rx in wordings)
            combine = list(old.combine) if old else []
            for k, item in enumerate(entry.get("combine") or []):
                cwhere = (path, f"attribute {name!r} combine[{k}]")
                item = _mapping(item, cwhere, "a combine entry")
                _check_keys(item, ("values", "into"), cwhere)
                parts = _str_list(item.get("values"), cwhere, "values")
                into = item.get("into")
                if len(parts) < 2 or not isinstance(into, str):
                    raise RulesError(path, cwhere[1], "combine needs 'values' (two or more) and 'into'")
                unknown = [v for v in (*parts, into) if v not in values]
                if unknown:
                    raise RulesError(path, cwhere[1], f"unknown value {unknown[0]!r} of attribute {name!r}")
                combine.append((parts, into))
            if not values:
                raise RulesError(path, awhere[1], "an attribute needs at least one value")
            self.attributes[name] = AttributeRule(name, tuple(values), inside, tuple(combine))

    def _add_metadata(self, path: str, data: Mapping[str, Any]) -> None:
        where = (path, "metadata")
        _check_keys(data, _METADATA_KEYS, where)
        old = self.metadata
        sources = _str_list(data.get("sources"), where, "sources") or old.sources
        for src in sources:
            if not _NAME.fullmatch(src):
                raise RulesError(path, "metadata", f"a source is a section category or 'title', got {src!r}")
        title_max = data.get("title_max_chars", old.title_max_chars)
        if not isinstance(title_max, int) or isinstance(title_max, bool) or title_max < 0:
            raise RulesError(
                path, "metadata", f"'title_max_chars' must be a whole number >= 0, got {title_max!r}"
            )
        separator = data.get("separator", old.separator)
        if not isinstance(separator, str) or not separator:
            raise RulesError(path, "metadata", f"'separator' must be a non-empty string, got {separator!r}")
        fields = {f.name: f for f in old.fields}
        for j, entry in enumerate(self._list(data, "fields", path)):
            fwhere = (path, f"metadata.fields[{j}]")
            entry = _mapping(entry, fwhere, "a metadata field")
            _check_keys(entry, _METADATA_FIELD_KEYS, fwhere)
            name = entry.get("name")
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise RulesError(path, fwhere[1], f"'name' must be lower_case letters, got {name!r}")
            prev = fields.get(name)
            multiple = entry.get("multiple", prev.multiple if prev else False)
            if not isinstance(multiple, bool):
                raise RulesError(
                    path, f"metadata field {name!r}", f"'multiple' must be true or false, got {multiple!r}"
                )
            values = list(prev.values) if prev else []
            for k, item in enumerate(entry.get("values") or []):
                vwhere = (path, f"metadata field {name!r} values[{k}]")
                item = _mapping(item, vwhere, "a metadata value")
                _check_keys(item, _WORDING_KEYS, vwhere)
                value = item.get("value")
                if not isinstance(value, str) or not value.strip():
                    raise RulesError(path, vwhere[1], f"'value' must be a non-empty string, got {value!r}")
                wordings = self._wordings(
                    item, (path, f"metadata field {name!r} value {value!r}"), plural=True
                )
                if not wordings:
                    raise RulesError(path, vwhere[1], "a metadata value needs at least one phrase or pattern")
                values.extend((value, w, rx) for w, rx in wordings)
            fields[name] = MetadataRule(name, tuple(values), multiple)
        self.metadata = MetadataSettings(tuple(sources), title_max, tuple(fields.values()), separator)

    def build(self) -> RuleSet:
        findings: list[FindingRule] = []
        for label, f in self.findings.items():
            where_entry = f"finding {label!r}"
            src = str(f["source"]).split("+")[-1]
            for phrase in f["phrases"] + f["exclusions"]:
                _compile_check(phrase_regex(phrase), (src, where_entry), phrase)
            for pat in f["patterns"] + f["exclusion_patterns"] + [p for v in f["states"].values() for p in v]:
                _compile_check(
                    expand_macros(pat, self.macros, where=(src, where_entry)), (src, where_entry), pat
                )
            for target in f["implies"]:
                if target not in self.findings and target != "No Finding":
                    raise RulesError(src, where_entry, f"implies unknown label {target!r}")
            if not (f["phrases"] or f["patterns"] or f["states"]):
                raise RulesError(src, where_entry, "a finding needs at least one phrase, pattern or state")
            findings.append(
                FindingRule(
                    label=label,
                    definition=str(f["definition"]),
                    phrases=tuple(f["phrases"]),
                    patterns=tuple(f["patterns"]),
                    states={k: tuple(v) for k, v in f["states"].items()},
                    exclusions=tuple(f["exclusions"]),
                    exclusion_patterns=tuple(f["exclusion_patterns"]),
                    implies=tuple(f["implies"]),
                    codes=dict(f["codes"]),
                    source=str(f["source"]),
                    history=str(f["history"] or "ignore"),
                )
            )
        if "full" not in self.schemes:
            raise RulesError("schemes.yaml", "schemes", "the 'full' scheme is missing")
        full = self.schemes["full"]
        full_labels = [label for _, label in full.columns]
        # labels added by a user's file join the full scheme at the end
        extra = [f.label for f in findings if f.label not in full_labels]
        if extra:
            full = Scheme(
                full.name,
                full.description,
                full.columns + tuple((x, x) for x in extra),
                full.no_finding,
                full.categories,
            )
            self.schemes["full"] = full
            full_labels += extra
        known = set(self.findings) | {"No Finding"}
        for scheme in self.schemes.values():
            for col, label in scheme.columns:
                if label not in known:
                    raise RulesError(
                        self.scheme_sources.get(scheme.name, "schemes.yaml"),
                        f"scheme {scheme.name!r}",
                        f"column {col!r} names unknown label {label!r}",
                    )
        missing = [f.label for f in findings if f.label not in full_labels]
        if missing:
            raise RulesError(
                "schemes.yaml", "scheme 'full'", f"labels missing from the full scheme: {missing}"
            )
        for b in self.blockers:
            if b not in known:
                raise RulesError(self.blockers_source, "no_finding_blockers", f"unknown label {b!r}")
        clash = [c for c in self.categories if c in known]
        if clash:
            src = self.categories[clash[0]].source
            raise RulesError(src, f"category {clash[0]!r}", "a category may not share its name with a label")
        for scheme in self.schemes.values():
            for name in scheme.categories:
                if name not in self.categories:
                    raise RulesError(
                        self.scheme_sources.get(scheme.name, "schemes.yaml"),
                        f"scheme {scheme.name!r}",
                        f"unknown category {name!r} in 'categories'",
                    )
        order = {label: i for i, label in enumerate(full_labels)}
        findings.sort(key=lambda f: order[f.label])
        return RuleSet(
            findings=tuple(findings),
            macros=dict(self.macros),
            cues=tuple(self.cues),
            terminators=tuple(self.terminators),
            forward_terminators=tuple(self.forward_terminators),
            sections=tuple(self.sections.values()),
            schemes=dict(self.schemes),
            no_finding_blockers=tuple(self.blockers),
            sources=tuple(self.sources),
            categories=tuple(self.categories.values()),
            modifiers=ModifierSettings(
                attributes=tuple(self.attributes.values()),
                rules=tuple(self.modifier_rules),
                window=self.modifier_window,
                stops=tuple(self.modifier_stops),
                boundaries=tuple(self.modifier_boundaries),
            ),
            metadata=self.metadata,
        )


BUILTIN_FILES = (
    "schemes.yaml",
    "sections.yaml",
    "findings.yaml",
    "cues.yaml",
    "categories.yaml",
    "modifiers.yaml",
    "metadata.yaml",
)
PROFILES = ("chexpert-compat",)
"""Built-in rules files that ``extra`` (``--rules``) may name instead of a path."""


def load_rules(extra: Sequence[str | Path] = ()) -> RuleSet:
    """Load the built-in rules, then each file of ``extra`` over them, in order.

    Parameters
    ----------
    extra
        Paths of user rules files (YAML or JSON) of the same shape as the
        built-in ones, or names of built-in profiles (``chexpert-compat``).
        A finding whose label exists extends it (``replace: true`` replaces
        it); a new label joins the full scheme at the end.

    Raises
    ------
    RulesError
        If any file is unreadable or invalid; the message names the file and entry.
    """
    builder = _Builder()
    package = resources.files(__name__)
    for name in BUILTIN_FILES:
        text = package.joinpath(name).read_text(encoding="utf-8")
        builder.add(name, _read_yaml(name, text), user=False)
    for p in extra:
        path = str(p)
        if path in PROFILES and not Path(path).exists():
            name = f"profiles/{path}.yaml"
            text = package.joinpath("profiles", f"{path}.yaml").read_text(encoding="utf-8")
            builder.add(name, _read_yaml(name, text), user=True)
            continue
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RulesError(path, "", "file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise RulesError(path, "", f"cannot read: {e}") from e
        builder.add(path, _read_yaml(path, text), user=True)
    return builder.build()
