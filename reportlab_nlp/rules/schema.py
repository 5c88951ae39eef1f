"""The rules files' schema, declared once: one pydantic model per kind of entry.

Each model lists the keys an entry may have (any other is refused), their types and
defaults; a value of the wrong shape is a :class:`~reportlab_nlp.errors.RulesError`
naming the file and the entry (:func:`parse`). What an entry means in the merged
rules (extending a label, removing a cue, cross-references, regexes that compile) is
checked by :mod:`.builder`. Nested lists of entries (a finding list, a category's
values) are kept raw here and parsed one by one with their own model, so an error
names the item (``findings[3]``, ``category 'X' value 'A'``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, TypeVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from ..errors import RulesError
from .fields import (
    CUE_CATEGORIES,
    DIRECTIONS,
    REQUIRED,
    AnyMap,
    EntryList,
    ExportMap,
    Flag,
    Name,
    NonEmpty,
    OptFlag,
    OptText,
    RegexList,
    StrList,
    Text,
    check_columns,
    check_macros,
    check_states,
    lower,
    one_of,
    opt_non_empty,
    whole,
)


class Entry(BaseModel):
    """An entry of a rules file: unknown keys refused, no type coercion."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    WHAT: ClassVar[str] = "an entry"
    """How a message calls an entry of this kind ("a finding entry must be a mapping")."""
    NAME_FIELD: ClassVar[str] = ""
    """The field that names the entry: its errors are reported at the entry's position."""
    EXTRA_AT_INDEX: ClassVar[bool] = True
    """Whether an unknown key is reported at the entry's position (else at its name)."""
    FIELD_ENTRY: ClassVar[bool] = False
    """Whether a field's error is reported at the field (``PREFIX`` + its name)."""
    PREFIX: ClassVar[str] = ""


class FindingEntry(Entry):
    """``findings:`` a label of the lexicon and the wording that mentions it."""

    WHAT = "a finding entry"
    NAME_FIELD = "label"
    EXTRA_AT_INDEX = False

    label: NonEmpty = REQUIRED
    definition: Text = ""
    phrases: StrList = ()
    patterns: StrList = ()
    states: Annotated[dict[str, tuple[str, ...]], BeforeValidator(check_states)] = {}
    exclusions: StrList = ()
    exclusion_patterns: StrList = ()
    implies: StrList = ()
    codes: AnyMap = {}
    history: Annotated[str | None, one_of("ignore", "present")] = None
    replace: Flag = False
    remove_phrases: StrList = ()


class CueEntry(Entry):
    """``cues:`` an assertion cue: exactly one of ``phrase`` or ``pattern``, its category and scope."""

    WHAT = "a cue entry"

    phrase: OptText = None
    pattern: OptText = None
    category: Annotated[str | None, one_of(*CUE_CATEGORIES)] = None
    direction: Annotated[str, one_of(*DIRECTIONS)] = "forward"
    window: Annotated[int, whole(0, " of words")] = 0
    weak: Flag = False
    hedge: Annotated[str | None, one_of("weak", "strong")] = None
    remove: Flag = False


class SectionEntry(Entry):
    """``sections:`` a section category, whether it is read, and its header variants."""

    WHAT = "a section entry"
    NAME_FIELD = "category"

    category: Annotated[str, lower(re.compile(r"[a-z_]+"))] = REQUIRED
    read: OptFlag = None
    headers: StrList = ()
    body_part: OptFlag = None


class SchemeEntry(Entry):
    """``schemes: {name: ...}`` an output scheme's columns, No Finding policy and categories."""

    WHAT = "a scheme"
    EXTRA_AT_INDEX = False

    description: Text = ""
    no_finding: Annotated[str, one_of("pathology", "any")] = "pathology"
    columns: Annotated[tuple[tuple[str, str], ...], BeforeValidator(check_columns)] = ()
    categories: StrList = ()
    conventions: Text = ""


HEDGE_CODES = ("uncertain", "absent", "present")


class ConventionsEntry(Entry):
    """``conventions:`` a convention profile's name and how it codes hedged mentions.

    ``weak_hedge`` / ``strong_hedge``: how an uncertain mention is coded when a cue
    marked ``hedge: weak`` (or, with none weak, ``hedge: strong``) reaches it;
    ``hypothetical``: how a hypothetical mention is coded (``uncertain`` or ``absent``).
    """

    WHAT = "'conventions'"
    PREFIX = "conventions."
    FIELD_ENTRY = True

    name: NonEmpty = REQUIRED
    description: Text = ""
    weak_hedge: Annotated[str, one_of(*HEDGE_CODES)] = "uncertain"
    strong_hedge: Annotated[str, one_of(*HEDGE_CODES)] = "uncertain"
    hypothetical: Annotated[str, one_of("uncertain", "absent")] = "uncertain"


class CategoryEntry(Entry):
    """``categories:`` a categorical label, its export names and its values (:class:`CategoryValueEntry`)."""

    WHAT = "a category entry"
    NAME_FIELD = "name"
    EXTRA_AT_INDEX = False

    name: NonEmpty = REQUIRED
    definition: Text = ""
    export: ExportMap = {}
    values: EntryList = ()


class CategoryValueEntry(Entry):
    """A value of a category and the wording that states it."""

    WHAT = "a category value"
    NAME_FIELD = "value"

    value: NonEmpty = REQUIRED
    definition: Text = ""
    phrases: StrList = ()
    patterns: StrList = ()
    exclusions: StrList = ()
    exclusion_patterns: StrList = ()
    export: ExportMap = {}


class ModifiersEntry(Entry):
    """``modifiers:`` the attributes (:class:`AttributeEntry`), and the modifiers' scope."""

    WHAT = "'modifiers'"
    PREFIX = "modifiers."

    window: Annotated[int | None, whole(1, " of words")] = None
    stops: RegexList = ()
    boundaries: RegexList = ()
    attributes: EntryList = ()


class NamedValuesEntry(Entry):
    """An entry named by ``name`` with a list of values (:class:`WordingEntry`)."""

    NAME_FIELD = "name"

    name: Name = REQUIRED
    values: EntryList = ()


class AttributeEntry(NamedValuesEntry):
    """An attribute of mentions: its values (:class:`WordingEntry`) and ``combine`` rules."""

    WHAT = "an attribute entry"

    inside: OptFlag = None
    combine: EntryList = ()


class WordingEntry(Entry):
    """A value of an attribute or a metadata field and the wording that states it."""

    WHAT = "a value"
    NAME_FIELD = "value"

    value: NonEmpty = REQUIRED
    phrases: StrList = ()
    patterns: StrList = ()


class CombineEntry(Entry):
    """Values of an attribute that, stated together for one mention, make another."""

    WHAT = "a combine entry"

    values: StrList = ()
    into: OptText = None


class MetadataEntry(Entry):
    """``metadata:`` where report metadata is read, and its fields (:class:`MetadataFieldEntry`)."""

    WHAT = "'metadata'"

    sources: StrList = ()
    title_max_chars: Annotated[int | None, whole(0)] = None
    separator: Annotated[str | None, BeforeValidator(opt_non_empty)] = None
    fields: EntryList = ()


class MetadataFieldEntry(NamedValuesEntry):
    """A metadata field (modality, body_region) and its values (:class:`WordingEntry`)."""

    WHAT = "a metadata field"

    multiple: OptFlag = None


class RulesFileEntry(Entry):
    """A whole rules file's top level."""

    WHAT = "the file's top level"
    EXTRA_AT_INDEX = True
    FIELD_ENTRY = True

    version: int | None = None
    macros: Annotated[dict[str, str], BeforeValidator(check_macros)] = {}
    findings: EntryList = ()
    cues: EntryList = ()
    terminators: RegexList = ()
    forward_terminators: RegexList = ()
    sections: EntryList = ()
    schemes: AnyMap = {}
    no_finding_blockers: StrList = ()
    categories: EntryList = ()
    modifiers: AnyMap | None = None
    metadata: AnyMap | None = None
    conventions: AnyMap | None = None


ENTRY_MODELS: tuple[type[Entry], ...] = (
    RulesFileEntry,
    FindingEntry,
    CueEntry,
    SectionEntry,
    SchemeEntry,
    CategoryEntry,
    CategoryValueEntry,
    ModifiersEntry,
    AttributeEntry,
    WordingEntry,
    CombineEntry,
    MetadataEntry,
    MetadataFieldEntry,
    ConventionsEntry,
)
"""Every kind of entry, for documentation and the tests."""

E = TypeVar("E", bound=Entry)


def parse(model: type[E], data: Any, path: str, entry: str, named: str | None = None) -> E:
    """Validate ``data`` as a ``model`` entry of the file ``path``.

    ``entry`` is where the entry is (``findings[3]``), ``named`` what it is once its
    name is known (``finding 'Edema'``); the error names whichever applies.

    Raises
    ------
    RulesError
        For an unknown key or a value of the wrong type or shape.
    """
    if not isinstance(data, Mapping):
        raise RulesError(path, entry, f"{model.WHAT} must be a mapping, got {type(data).__name__}")
    try:
        return model.model_validate(dict(data))
    except ValidationError as exc:
        raise _rules_error(model, exc, path, entry, named) from None


def _rules_error(
    model: type[Entry], exc: ValidationError, path: str, entry: str, named: str | None
) -> RulesError:
    def rank(e: Any) -> int:
        loc = e["loc"]
        return 0 if loc and loc[0] == model.NAME_FIELD else 1 if e["type"] == "extra_forbidden" else 2

    err = sorted(exc.errors(include_url=False), key=rank)[0]
    field = str(err["loc"][0]) if err["loc"] else ""
    ctx = err.get("ctx") or {}
    if err["type"] == "extra_forbidden":
        where = entry if model.EXTRA_AT_INDEX or named is None else named
        expected = ", ".join(sorted(model.model_fields))
        return RulesError(path, where, f"unknown key {field!r}; expected one of: {expected}")
    if err["type"] == "rules":
        message = str(ctx["message"])
    else:
        message = f"{field!r}: {err['msg']}, got {err['input']!r}"
    if "entry" in ctx:
        where = str(ctx["entry"])
    elif field == model.NAME_FIELD:
        where = entry
    elif "index" in ctx:
        where = f"{model.PREFIX}{field}[{ctx['index']}]"
    elif model.FIELD_ENTRY:
        where = f"{model.PREFIX}{field}"
    else:
        where = named or entry
    return RulesError(path, where, message)


def name_of(raw: Any, key: str) -> str | None:
    """``repr`` of an entry's name (``raw[key]``) for messages, when it is a non-empty string."""
    value = raw.get(key) if isinstance(raw, Mapping) else None
    return repr(value) if isinstance(value, str) and value.strip() else None
