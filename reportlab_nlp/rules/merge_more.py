"""Merging the categorical labels, the modifiers and the metadata settings of a rules file."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..errors import RulesError
from .fields import NAME
from .patterns import check_regex, expand_macros, phrase_regex
from .schema import (
    AttributeEntry,
    CategoryEntry,
    CategoryValueEntry,
    CombineEntry,
    MetadataEntry,
    MetadataFieldEntry,
    ModifiersEntry,
    WordingEntry,
    name_of,
    parse,
)
from .types import (
    AttributeRule,
    CategoryRule,
    CategoryValueRule,
    MetadataRule,
    MetadataSettings,
    ModifierRule,
)

if TYPE_CHECKING:
    from .builder import Builder


def _named(kind: str, name: str | None) -> str | None:
    return None if name is None else f"{kind} {name}"


def add_category(b: Builder, path: str, i: int, raw: Any) -> None:
    """Add (or redefine) one ``categories:`` entry."""
    entry = parse(CategoryEntry, raw, path, f"categories[{i}]", _named("category", name_of(raw, "name")))
    name = entry.name
    where = f"category {name!r}"
    if not entry.values:
        raise RulesError(path, where, f"'values' must be a non-empty list, got {raw.get('values')!r}")
    values = [_category_value(b, path, name, j, item, entry.export) for j, item in enumerate(entry.values)]
    if len({v.value for v in values}) != len(values):
        raise RulesError(path, where, "category values must be unique")
    b.categories[name] = CategoryRule(name, entry.definition, tuple(values), dict(entry.export), path)


def _category_value(
    b: Builder, path: str, name: str, j: int, raw: Any, export: Mapping[str, str]
) -> CategoryValueRule:
    prefix = f"category {name!r}"
    item = parse(
        CategoryValueEntry,
        raw,
        path,
        f"{prefix} values[{j}]",
        _named(f"{prefix} value", name_of(raw, "value")),
    )
    where = (path, f"{prefix} value {item.value!r}")
    if not b.wordings(item, where, plural=False):
        raise RulesError(path, where[1], "a category value needs at least one phrase or pattern")
    for phrase in item.exclusions:
        check_regex(phrase_regex(phrase, plural=False), where, phrase)
    for pat in item.exclusion_patterns:
        check_regex(expand_macros(pat, b.macros, where=where), where, pat)
    missing = [k for k in export if k not in item.export]
    if missing:
        raise RulesError(path, where[1], f"no export value for {missing[0]!r} (the category exports to it)")
    return CategoryValueRule(**item.model_dump())  # the same fields


def add_modifiers(b: Builder, path: str, raw: Mapping[str, Any]) -> None:
    """Merge the ``modifiers:`` section: scope settings, then each attribute."""
    entry = parse(ModifiersEntry, raw, path, "modifiers")
    if entry.window is not None:
        b.modifier_window = entry.window
    for key, target in (("stops", b.modifier_stops), ("boundaries", b.modifier_boundaries)):
        for j, term in enumerate(getattr(entry, key)):
            check_regex(term, (path, f"modifiers.{key}[{j}]"), term)
            target.append(term)
    for j, item in enumerate(entry.attributes):
        _add_attribute(b, path, j, item)


def _add_attribute(b: Builder, path: str, j: int, raw: Any) -> None:
    entry = parse(
        AttributeEntry, raw, path, f"modifiers.attributes[{j}]", _named("attribute", name_of(raw, "name"))
    )
    name = entry.name
    old = b.attributes.get(name)
    inside = entry.inside if entry.inside is not None else (old.inside if old else True)
    values = list(old.values) if old else []
    for k, item in enumerate(entry.values):
        at = f"attribute {name!r} values[{k}]"
        wording = parse(
            WordingEntry, item, path, at, _named(f"attribute {name!r} value", name_of(item, "value"))
        )
        where = (path, f"attribute {name!r} value {wording.value!r}")
        found = b.wordings(wording, where, plural=False)
        if not found:
            raise RulesError(path, where[1], "an attribute value needs at least one phrase or pattern")
        if wording.value not in values:
            values.append(wording.value)
        b.modifier_rules.extend(ModifierRule(name, wording.value, w, rx) for w, rx in found)
    combine = list(old.combine) if old else []
    for k, item in enumerate(entry.combine):
        at = f"attribute {name!r} combine[{k}]"
        rule = parse(CombineEntry, item, path, at, at)
        if len(rule.values) < 2 or rule.into is None:
            raise RulesError(path, at, "combine needs 'values' (two or more) and 'into'")
        unknown = [v for v in (*rule.values, rule.into) if v not in values]
        if unknown:
            raise RulesError(path, at, f"unknown value {unknown[0]!r} of attribute {name!r}")
        combine.append((rule.values, rule.into))
    if not values:
        raise RulesError(path, f"attribute {name!r}", "an attribute needs at least one value")
    b.attributes[name] = AttributeRule(name, tuple(values), inside, tuple(combine))


def add_metadata(b: Builder, path: str, raw: Mapping[str, Any]) -> None:
    """Merge the ``metadata:`` section: where it is read, then each field."""
    entry = parse(MetadataEntry, raw, path, "metadata")
    old = b.metadata
    sources = entry.sources or old.sources
    for src in sources:
        if not NAME.fullmatch(src):
            raise RulesError(path, "metadata", f"a source is a section category or 'title', got {src!r}")
    fields = {f.name: f for f in old.fields}
    for j, item in enumerate(entry.fields):
        field = _metadata_field(b, path, j, item, fields)
        fields[field.name] = field
    b.metadata = MetadataSettings(
        sources=tuple(sources),
        title_max_chars=entry.title_max_chars if entry.title_max_chars is not None else old.title_max_chars,
        fields=tuple(fields.values()),
        separator=entry.separator if entry.separator is not None else old.separator,
    )


def _metadata_field(
    b: Builder, path: str, j: int, raw: Any, fields: Mapping[str, MetadataRule]
) -> MetadataRule:
    entry = parse(
        MetadataFieldEntry, raw, path, f"metadata.fields[{j}]", _named("metadata field", name_of(raw, "name"))
    )
    name = entry.name
    prev = fields.get(name)
    multiple = entry.multiple if entry.multiple is not None else (prev.multiple if prev else False)
    values = list(prev.values) if prev else []
    for k, item in enumerate(entry.values):
        at = f"metadata field {name!r} values[{k}]"
        wording = parse(WordingEntry, item, path, at, at)
        found = b.wordings(wording, (path, f"metadata field {name!r} value {wording.value!r}"), plural=True)
        if not found:
            raise RulesError(path, at, "a metadata value needs at least one phrase or pattern")
        values.extend((wording.value, w, rx) for w, rx in found)
    return MetadataRule(name, tuple(values), multiple)
