"""medspaCy rule files as ``--rules``: ConText rules become cues, target rules findings.

A JSON rules file whose top level holds ``context_rules`` or ``target_rules`` (what
medspaCy's ``ConTextRule.to_json`` and ``TargetRule.to_json`` write) is checked here,
each rule read with medspaCy's own ``from_dict``, and mapped onto our rules:

* a target rule: a finding lexicon entry, its ``category`` the label (a built-in label
  whatever its case, ``_`` read as a space; else a new label), ``literal`` a phrase, or
  ``pattern`` (a regular expression) a pattern;
* a ConText rule: a cue (``NEGATED_EXISTENCE`` negated, ``POSSIBLE_EXISTENCE``
  uncertain, ``HISTORICAL``, ``HYPOTHETICAL``; direction ``FORWARD``, ``BACKWARD``,
  ``BIDIRECTIONAL`` as both, whose backward reach stops at a comma as every
  cue's here; ``PSEUDO`` a pseudo cue; ``max_scope`` the window),
  or a terminator (direction ``TERMINATE``).

What has no counterpart here (spaCy token patterns, ``allowed_types``, the ``FAMILY``
category, ...) is refused, naming the file, the rule and the field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from ..errors import RulesError
from .patterns import phrase_regex

KEYS = ("context_rules", "target_rules")
CONTEXT_CATEGORIES = {
    "NEGATED_EXISTENCE": "negated",
    "POSSIBLE_EXISTENCE": "uncertain",
    "HISTORICAL": "historical",
    "HYPOTHETICAL": "hypothetical",
}
DIRECTIONS = {"FORWARD": "forward", "BACKWARD": "backward", "BIDIRECTIONAL": "both"}
_SPECIAL = ("PSEUDO", "TERMINATE")
_UNSUPPORTED = ("allowed_types", "excluded_types", "max_targets", "attributes")


def is_medspacy(data: Mapping[str, Any]) -> bool:
    """Whether a parsed rules file is medspaCy's (its top level holds only :data:`KEYS`)."""
    return bool(data) and any(k in data for k in KEYS) and all(k in KEYS for k in data)


def convert(path: str, data: Mapping[str, Any], labels: Sequence[str]) -> dict[str, Any]:
    """Our rules file for medspaCy's ``data`` (:func:`is_medspacy`); ``labels`` the built-in ones.

    Raises
    ------
    RulesError
        Naming the file, the rule (``context_rules[3]``) and field, what was expected and found.
    """
    by_key = {_key(label): label for label in labels}
    out: dict[str, list[Any]] = {"findings": [], "cues": [], "terminators": []}
    for _, rule in _rules(path, data, "target_rules", _check_target):
        label = by_key.get(_key(rule["category"]), rule["category"])
        out["findings"].append({"label": label, **_wording(rule, "phrases", "patterns")})
    for _, rule in _rules(path, data, "context_rules", _check_context):
        direction = str(rule.get("direction", "BIDIRECTIONAL")).upper()
        if direction == "TERMINATE":
            out["terminators"].append(rule.get("pattern") or phrase_regex(rule["literal"], plural=False))
            continue
        cue: dict[str, Any] = {
            "category": "pseudo" if direction == "PSEUDO" else CONTEXT_CATEGORIES[rule["category"].upper()],
            "direction": DIRECTIONS.get(direction, "both"),
            "window": rule.get("max_scope") or 0,
        }
        out["cues"].append({**_wording(rule, "phrase", "pattern", one=True), **cue})
    return {k: v for k, v in out.items() if v}


def _key(label: str) -> str:
    return " ".join(label.replace("_", " ").split()).casefold()


def _wording(rule: Mapping[str, Any], phrase: str, pattern: str, *, one: bool = False) -> dict[str, Any]:
    if isinstance(rule.get("pattern"), str):
        return {pattern: rule["pattern"] if one else [rule["pattern"]]}
    return {phrase: rule["literal"] if one else [rule["literal"]]}


def _rules(
    path: str, data: Mapping[str, Any], key: str, check: Callable[[Mapping[str, Any]], str]
) -> list[tuple[int, Mapping[str, Any]]]:
    """The rules under ``key``, each checked by ``check`` and read by medspaCy's ``from_dict``."""
    rules = data.get(key)
    if rules is None:
        return []
    if not isinstance(rules, list):
        raise RulesError(path, key, f"expected a list of rules, found {type(rules).__name__}")
    loader = _loader(key)
    out = []
    for index, rule in enumerate(rules):
        where = f"{key}[{index}]"
        if not isinstance(rule, Mapping):
            raise RulesError(path, where, f"expected a rule (a mapping), found {type(rule).__name__}")
        problem = check(rule)
        if problem:
            raise RulesError(path, where, problem)
        try:
            loader(dict(rule))
        except (ValueError, TypeError, KeyError) as e:
            raise RulesError(path, where, f"medspaCy refuses the rule: {e}") from None
        out.append((index, rule))
    return out


def _loader(key: str) -> Callable[[dict[str, Any]], object]:
    try:
        from medspacy.context import ConTextRule
        from medspacy.target_matcher import TargetRule
    except ImportError:  # pragma: no cover - medspacy is a dependency
        return lambda rule: rule
    loader: Callable[[dict[str, Any]], object] = (
        ConTextRule.from_dict if key == "context_rules" else TargetRule.from_dict
    )
    return loader


def _check_common(rule: Mapping[str, Any], allowed: Sequence[str]) -> str:
    unknown = [k for k in rule if k not in allowed]
    if unknown:
        unsupported = [k for k in unknown if k in _UNSUPPORTED]
        if unsupported:
            return f"field {unsupported[0]!r} is not supported here: expected only {', '.join(allowed)}"
        return f"unknown field {unknown[0]!r}: expected one of {', '.join(allowed)}"
    for field in ("literal", "category"):
        value = rule.get(field)
        if not isinstance(value, str) or not value.strip():
            return f"field {field!r}: expected a non-empty string, found {value!r}"
    pattern = rule.get("pattern")
    if pattern is not None and not (isinstance(pattern, str) and pattern):
        return (
            "field 'pattern': expected a regular expression (a string) or none, found "
            f"{type(pattern).__name__} (spaCy token patterns are not supported)"
        )
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as e:
            return f"field 'pattern': expected a regular expression, found {pattern!r} ({e})"
    return ""


def _check_target(rule: Mapping[str, Any]) -> str:
    return _check_common(rule, ("literal", "category", "pattern", "metadata"))


def _check_context(rule: Mapping[str, Any]) -> str:
    problem = _check_common(rule, ("literal", "category", "pattern", "direction", "max_scope", "metadata"))
    if problem:
        return problem
    direction = rule.get("direction", "BIDIRECTIONAL")
    if not isinstance(direction, str) or direction.upper() not in (*DIRECTIONS, *_SPECIAL):
        return (
            f"field 'direction': expected one of {', '.join((*DIRECTIONS, *_SPECIAL))}, found {direction!r}"
        )
    scope = rule.get("max_scope")
    if scope is not None and (isinstance(scope, bool) or not isinstance(scope, int) or scope < 1):
        return f"field 'max_scope': expected a whole number of words, 1 or more, found {scope!r}"
    category = rule["category"].upper()
    if direction.upper() not in _SPECIAL and category not in CONTEXT_CATEGORIES:
        return (
            f"field 'category': expected one of {', '.join(CONTEXT_CATEGORIES)}, found {rule['category']!r}"
        )
    return ""
