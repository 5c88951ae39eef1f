"""The code table (``rules/codes.yaml``): the coded concepts the DICOM SR and FHIR exports use.

Loaded with :mod:`importlib.resources` and validated on load; a problem is a
:class:`~reportlab_nlp.errors.RulesError` naming the file and the entry. Codes
are data: no Python file of the export holds a code value.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import srsly

from ..errors import RulesError
from ..types import LabelValue

CODES_FILE = "codes.yaml"
CODE_VALUE_MAX = 16  # DICOM Code Value (0008,0100) is SH
CODE_MEANING_MAX = 64  # DICOM Code Meaning (0008,0104) is LO
VALUE_NAMES = {
    LabelValue.POSITIVE: "present",
    LabelValue.NEGATIVE: "absent",
    LabelValue.UNCERTAIN: "undetermined",
}


@dataclass(frozen=True)
class Code:
    """A coded concept: scheme designator, code value, meaning."""

    scheme: str
    value: str
    meaning: str

    @property
    def key(self) -> tuple[str, str]:
        """(scheme, value): how a code is looked up."""
        return (self.scheme, self.value)


@dataclass(frozen=True)
class LabelCode:
    """The code of one label with where it comes from."""

    label: str
    code: Code
    verified: bool
    source: str
    fallback: str | None = None
    radlex: str | None = None
    note: str = ""
    post_coordination: tuple[tuple[str, Code, bool], ...] = ()


@dataclass(frozen=True)
class CodingScheme:
    """A coding scheme: DICOM designator, name, FHIR system URI, local or not."""

    designator: str
    name: str
    fhir_system: str
    local: bool = False
    responsible_organization: str = ""


@dataclass(frozen=True)
class CodeTable:
    """The validated code table."""

    schemes: Mapping[str, CodingScheme]
    values: Mapping[str, tuple[Code, bool, str]]
    concepts: Mapping[str, tuple[Code, bool, str]]
    labels: Mapping[str, LabelCode] = field(default_factory=dict)

    def label_code(self, label: str) -> Code:
        """The code of a label of the full set.

        Raises
        ------
        RulesError
            When the table has no code for ``label`` (a label added by a user's rules file).
        """
        try:
            return self.labels[label].code
        except KeyError:
            raise RulesError(
                CODES_FILE,
                f"label {label!r}",
                "no code for this label; the DICOM SR and FHIR exports need one for every label "
                "(a label added with --rules needs an entry in codes.yaml)",
            ) from None

    def value_code(self, value: LabelValue) -> Code:
        """The code of a non-blank label value (present / absent / undetermined)."""
        return self.values[VALUE_NAMES[value]][0]

    def concept(self, name: str) -> Code:
        """A document-level concept (``procedure_reported``, ``diagnostic_report``)."""
        return self.concepts[name][0]

    def category_codes(self, category: str, value: str) -> tuple[Code, Code] | None:
        """(question, answer) codes of a categorical label's value; None when the table has none."""
        name = self.concepts.get(f"category:{category}")
        answer = self.concepts.get(f"category:{category}={value}")
        return None if name is None or answer is None else (name[0], answer[0])

    def category_for(self, scheme: str, value: str) -> tuple[str, str] | None:
        """(category, value) of an answer code, or None."""
        for key, (code, _, _) in self.concepts.items():
            if key.startswith("category:") and "=" in key and code.key == (scheme, value):
                category, _, answer = key[len("category:") :].partition("=")
                return category, answer
        return None

    def label_for(self, scheme: str, value: str) -> str | None:
        """The label whose code is (scheme, value), or None."""
        for lc in self.labels.values():
            if lc.code.key == (scheme, value):
                return lc.label
        return None

    def value_for(self, scheme: str, value: str) -> LabelValue | None:
        """The label value whose code is (scheme, value), or None."""
        for name, (code, _, _) in self.values.items():
            if code.key == (scheme, value):
                return next(v for v, n in VALUE_NAMES.items() if n == name)
        return None

    def fhir_system(self, scheme: str) -> str:
        """The FHIR ``system`` URI of a scheme designator."""
        return self.schemes[scheme].fhir_system

    def scheme_for_system(self, system: str) -> str | None:
        """The scheme designator of a FHIR ``system`` URI, or None."""
        for s in self.schemes.values():
            if s.fhir_system == system:
                return s.designator
        return None

    def all_codes(self) -> set[tuple[str, str]]:
        """Every (scheme, value) the table defines: labels, values, concepts, post-coordination parts."""
        out = {lc.code.key for lc in self.labels.values()}
        out |= {c.key for c, _, _ in self.values.values()}
        out |= {c.key for c, _, _ in self.concepts.values()}
        out |= {c.key for lc in self.labels.values() for _, c, _ in lc.post_coordination}
        return out

    def check_covers(self, labels: Iterable[str]) -> None:
        """Raise :class:`RulesError` for the first label without a code."""
        for label in labels:
            self.label_code(label)


def _need(mapping: Mapping[str, Any], key: str, where: str, kind: type | tuple[type, ...] = str) -> Any:
    if key not in mapping:
        raise RulesError(CODES_FILE, where, f"missing key {key!r}")
    value = mapping[key]
    if not isinstance(value, kind) or (isinstance(value, str) and not value.strip()):
        expected = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise RulesError(CODES_FILE, where, f"{key!r} must be a non-empty {expected}, got {value!r}")
    return value


def _check_keys(mapping: Mapping[str, Any], allowed: Iterable[str], where: str) -> None:
    allowed = set(allowed)
    unknown = [k for k in mapping if k not in allowed]
    if unknown:
        raise RulesError(
            CODES_FILE, where, f"unknown key {unknown[0]!r}; expected one of: {', '.join(sorted(allowed))}"
        )


def _code(raw: Any, where: str, schemes: Mapping[str, CodingScheme], extra: Iterable[str] = ()) -> Code:
    if not isinstance(raw, Mapping):
        raise RulesError(
            CODES_FILE, where, f"a code must be a mapping with scheme, code, meaning; got {raw!r}"
        )
    _check_keys(raw, ("scheme", "code", "meaning", *extra), where)
    scheme = str(_need(raw, "scheme", where))
    value = _need(raw, "code", where, (str, int))
    value = str(value)
    meaning = str(_need(raw, "meaning", where))
    if scheme not in schemes:
        raise RulesError(CODES_FILE, where, f"unknown scheme {scheme!r}; known: {', '.join(schemes)}")
    if len(value) > CODE_VALUE_MAX:
        raise RulesError(CODES_FILE, where, f"code {value!r} is longer than {CODE_VALUE_MAX} characters")
    if len(meaning) > CODE_MEANING_MAX:
        raise RulesError(
            CODES_FILE, where, f"meaning {meaning!r} is longer than {CODE_MEANING_MAX} characters"
        )
    if schemes[scheme].local and not value.replace("_", "").isalnum():
        raise RulesError(CODES_FILE, where, f"local code {value!r} must be letters, digits or underscores")
    return Code(scheme, value, meaning)


def _verified(raw: Mapping[str, Any], where: str) -> bool:
    value = raw.get("verified")
    if not isinstance(value, bool):
        raise RulesError(CODES_FILE, where, f"'verified' must be true or false, got {value!r}")
    return value


def parse_codes(data: Any) -> CodeTable:
    """Validate the parsed YAML of a code table and build it.

    Raises
    ------
    RulesError
        Naming ``codes.yaml`` and the entry for every kind of problem: unknown
        key, missing value, unknown scheme, over-long code or meaning, a
        verified local code, a code used twice, a label listed twice.
    """
    if not isinstance(data, Mapping):
        raise RulesError(CODES_FILE, "top level", "expected a mapping")
    _check_keys(data, ("version", "schemes", "values", "concepts", "labels"), "top level")
    raw_schemes = _need(data, "schemes", "top level", Mapping)
    schemes: dict[str, CodingScheme] = {}
    for name, spec in raw_schemes.items():
        where = f"scheme {name!r}"
        if not isinstance(spec, Mapping):
            raise RulesError(CODES_FILE, where, "expected a mapping")
        _check_keys(spec, ("name", "fhir_system", "local", "responsible_organization"), where)
        local = spec.get("local", False)
        if not isinstance(local, bool):
            raise RulesError(CODES_FILE, where, f"'local' must be true or false, got {local!r}")
        schemes[str(name)] = CodingScheme(
            str(name),
            str(_need(spec, "name", where)),
            str(_need(spec, "fhir_system", where)),
            local,
            str(spec.get("responsible_organization", "")),
        )

    def simple(section: str, required: Iterable[str]) -> dict[str, tuple[Code, bool, str]]:
        raw = _need(data, section, "top level", Mapping)
        out: dict[str, tuple[Code, bool, str]] = {}
        for key in required:
            if key not in raw:
                raise RulesError(CODES_FILE, section, f"missing entry {key!r}")
        for key, spec in raw.items():
            where = f"{section}.{key}"
            code = _code(spec, where, schemes, extra=("verified", "source"))
            out[str(key)] = (code, _verified(spec, where), str(_need(spec, "source", where)))
        return out

    values = simple("values", ("present", "absent", "undetermined"))
    concepts = simple("concepts", ("procedure_reported", "diagnostic_report"))

    labels: dict[str, LabelCode] = {}
    raw_labels = _need(data, "labels", "top level", list)
    for i, entry in enumerate(raw_labels):
        where = f"labels[{i}]"
        if not isinstance(entry, Mapping):
            raise RulesError(CODES_FILE, where, "expected a mapping")
        label = str(_need(entry, "label", where))
        where = f"label {label!r}"
        _check_keys(
            entry,
            ("label", "code", "verified", "source", "fallback", "radlex", "note", "post_coordination"),
            where,
        )
        if label in labels:
            raise RulesError(CODES_FILE, where, "listed twice")
        code = _code(entry.get("code"), where, schemes)
        verified = _verified(entry, where)
        fallback = entry.get("fallback")
        if schemes[code.scheme].local:
            if fallback != "local":
                raise RulesError(CODES_FILE, where, "a code in a local scheme needs 'fallback: local'")
            if verified:
                raise RulesError(
                    CODES_FILE, where, "a local code cannot be verified against a published code list"
                )
        elif fallback is not None:
            raise RulesError(CODES_FILE, where, f"'fallback' is only for local codes, got {fallback!r}")
        parts: list[tuple[str, Code, bool]] = []
        for j, part in enumerate(entry.get("post_coordination") or []):
            pwhere = f"{where} post_coordination[{j}]"
            if not isinstance(part, Mapping):
                raise RulesError(CODES_FILE, pwhere, "expected a mapping")
            role = str(_need(part, "role", pwhere))
            if role not in ("focus", "finding_site"):
                raise RulesError(CODES_FILE, pwhere, f"'role' must be focus or finding_site, got {role!r}")
            parts.append(
                (role, _code(part, pwhere, schemes, extra=("role", "verified")), _verified(part, pwhere))
            )
        radlex = entry.get("radlex")
        if radlex is not None and not (isinstance(radlex, str) and radlex.startswith("RID")):
            raise RulesError(
                CODES_FILE, where, f"'radlex' must be a RadLex id like RID1234 or null, got {radlex!r}"
            )
        labels[label] = LabelCode(
            label=label,
            code=code,
            verified=verified,
            source=str(_need(entry, "source", where)),
            fallback=None if fallback is None else str(fallback),
            radlex=radlex,
            note=str(entry.get("note", "") or ""),
            post_coordination=tuple(parts),
        )
    seen: dict[tuple[str, str], str] = {}
    for name, lc in labels.items():
        other = seen.get(lc.code.key)
        if other is not None:
            raise RulesError(
                CODES_FILE,
                f"label {name!r}",
                f"code {lc.code.scheme} {lc.code.value} is already the code of {other!r}; "
                "each label needs its own code so that exports read back unambiguously",
            )
        seen[lc.code.key] = name
    value_keys = {c.key for c, _, _ in values.values()}
    if len(value_keys) != len(values) or value_keys & set(seen):
        raise RulesError(
            CODES_FILE, "values", "the value codes must differ from each other and from label codes"
        )
    return CodeTable(schemes, values, concepts, labels)


@functools.cache
def load_codes() -> CodeTable:
    """Load and validate the packaged ``rules/codes.yaml`` (cached).

    Raises
    ------
    RulesError
        If the file is missing, unparsable or invalid.
    """
    try:
        text = resources.files("reportlab_nlp.rules").joinpath(CODES_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as e:
        raise RulesError(CODES_FILE, "", f"cannot read the packaged code table: {e}") from e
    try:
        data = srsly.yaml_loads(text)
    except Exception as e:  # yaml raises many kinds
        raise RulesError(CODES_FILE, "", f"cannot parse: {e}") from e
    return parse_codes(data)


__all__ = [
    "CODES_FILE",
    "VALUE_NAMES",
    "Code",
    "CodeTable",
    "CodingScheme",
    "LabelCode",
    "load_codes",
    "parse_codes",
]
