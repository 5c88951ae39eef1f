"""Load and validate the rules data: section headers, finding lexicon, assertion cues, schemes.

The rules are YAML files in this folder (``sections.yaml``, ``findings.yaml``,
``cues.yaml``, ``schemes.yaml``, ``categories.yaml``, ``modifiers.yaml``,
``metadata.yaml``); this package holds no term lists. A user adds
or overrides rules with files of the same shape (see the README), passed as
``load_rules(extra=[path, ...])`` or ``--rules PATH`` on the command line.
Every file is validated on load: an unknown key, a wrong type, a bad regular
expression or an unknown label is a :class:`~reportlab_nlp.errors.RulesError`
naming the file and the entry.

Modules: :mod:`.schema` (the entries' models: the files' schema, declared once),
:mod:`.builder` and :mod:`.merge_more` (merging files in order), :mod:`.finish`
(cross-checks, the :class:`RuleSet`), :mod:`.types` (the value types and the rules
hash), :mod:`.patterns` (phrases to regexes, macros), :mod:`.files` (parsing a file).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

from ..errors import RulesError
from ..types import Assertion
from .builder import Builder
from .fields import CUE_CATEGORIES, DIRECTIONS
from .files import read_rules_text
from .finish import build
from .medspacy_json import convert, is_medspacy
from .patterns import compile_pattern, expand_macros, phrase_regex
from .types import (
    AttributeRule,
    CategoryRule,
    CategoryValueRule,
    Conventions,
    CueRule,
    FindingRule,
    MetadataRule,
    MetadataSettings,
    ModifierRule,
    ModifierSettings,
    RuleSet,
    Scheme,
    SectionRule,
)

__all__ = [
    "BUILTIN_FILES",
    "CUE_CATEGORIES",
    "DIRECTIONS",
    "NO_CONVENTIONS",
    "PROFILES",
    "STATE_ASSERTIONS",
    "AttributeRule",
    "CategoryRule",
    "CategoryValueRule",
    "Conventions",
    "CueRule",
    "FindingRule",
    "MetadataRule",
    "MetadataSettings",
    "ModifierRule",
    "ModifierSettings",
    "RuleSet",
    "Scheme",
    "SectionRule",
    "compile_pattern",
    "expand_macros",
    "load_rules",
    "phrase_regex",
    "with_conventions",
]

STATE_ASSERTIONS = {
    "present": Assertion.PRESENT,
    "negated": Assertion.NEGATED,
    "uncertain": Assertion.UNCERTAIN,
}

BUILTIN_FILES = (
    "schemes.yaml",
    "sections.yaml",
    "findings.yaml",
    "cues.yaml",
    "categories.yaml",
    "modifiers.yaml",
    "metadata.yaml",
)
PROFILES = ("full", "chexpert", "chestxray14", "chexpert-compat")
"""Built-in rules files (``rules/profiles/``: the schemes' convention profiles) that
``extra`` (``--rules``) may name instead of a path; ``chexpert-compat`` is the older
name of ``chexpert``."""
_PROFILE_FILES = {"chexpert-compat": "chexpert"}
NO_CONVENTIONS = "none"


@functools.lru_cache(maxsize=1)
def _scheme_conventions() -> dict[str, str]:
    """The built-in schemes' convention profiles (``conventions:`` in ``schemes.yaml``)."""
    text = resources.files(__name__).joinpath("schemes.yaml").read_text(encoding="utf-8")
    schemes = read_rules_text("schemes.yaml", text).get("schemes") or {}
    return {str(k): str(v.get("conventions") or "") for k, v in schemes.items()}


def with_conventions(
    extra: Sequence[str | Path], scheme: str | None, conventions: str | None = None
) -> tuple[str | Path, ...]:
    """``extra`` with the convention profile for ``scheme`` first (``--conventions``).

    ``conventions`` None applies the scheme's own profile (``schemes.yaml``); a profile
    name or a path applies that one instead; ``none`` applies ``full``, the guidelines
    with no scheme's conventions. When ``extra`` already names a built-in profile it is
    returned as it is (a list resolved once is not resolved again).

    Raises
    ------
    RulesError
        For a profile name that is neither built in nor an existing file.
    """
    if any(str(p) in PROFILES for p in extra):
        return tuple(extra)
    if conventions is None:
        name = _scheme_conventions().get(scheme or "", "")
    else:
        name = "full" if conventions == NO_CONVENTIONS else conventions
    if not name:
        return tuple(extra)
    if name not in PROFILES and not Path(name).exists():
        raise RulesError(
            name, "", f"unknown conventions; expected one of: {', '.join(PROFILES)}, none, or a rules file"
        )
    return (name, *extra)


def load_rules(extra: Sequence[str | Path] = ()) -> RuleSet:
    """Load the built-in rules, then each file of ``extra`` over them, in order.

    Parameters
    ----------
    extra
        Paths of user rules files (YAML or JSON) of the same shape as the
        built-in ones, medspaCy ConText or target rule JSON files
        (:mod:`.medspacy_json`), or names of built-in profiles (``chexpert-compat``).
        A finding whose label exists extends it (``replace: true`` replaces
        it); a new label joins the full scheme at the end.

    Raises
    ------
    RulesError
        If any file is unreadable or invalid; the message names the file and entry.
    """
    builder = Builder()
    package = resources.files(__name__)
    for name in BUILTIN_FILES:
        text = package.joinpath(name).read_text(encoding="utf-8")
        builder.add(name, read_rules_text(name, text), user=False)
    for p in extra:
        path = str(p)
        if path in PROFILES and not Path(path).exists():
            stem = _PROFILE_FILES.get(path, path)
            name = f"profiles/{stem}.yaml"
            text = package.joinpath("profiles", f"{stem}.yaml").read_text(encoding="utf-8")
            builder.add(name, read_rules_text(name, text), user=True)
            continue
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise RulesError(path, "", "file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise RulesError(path, "", f"cannot read: {e}") from e
        data = read_rules_text(path, text)
        if path.endswith(".json") and is_medspacy(data):
            data = convert(path, data, list(builder.findings))
        builder.add(path, data, user=True)
    return build(builder)
