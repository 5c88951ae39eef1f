"""The value types of rules entries: pydantic validators whose errors are our messages.

Each validator raises a ``rules`` error carrying the whole message (and, where the
error is not at the entry itself, its ``entry`` or list ``index``); :func:`.schema.parse`
turns it into a :class:`~reportlab_nlp.errors.RulesError`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, ValidationInfo
from pydantic_core import PydanticCustomError

CUE_CATEGORIES = ("negated", "uncertain", "historical", "hypothetical", "pseudo", "ignore")
DIRECTIONS = ("forward", "backward", "both", "sentence")
STATES = ("present", "negated", "uncertain")
NAME = re.compile(r"[a-z][a-z0-9_]*")
_MACRO_NAME = re.compile(r"[A-Z][A-Z0-9_]*")


def _fail(message: str, **ctx: Any) -> PydanticCustomError:
    """A validation error whose message is ours (``ctx`` may name an ``entry`` or an ``index``)."""
    return PydanticCustomError("rules", "{message}", {"message": message, **ctx})


def _str_list(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise _fail(f"{info.field_name!r} must be a list of non-empty strings, got {value!r}")
    return tuple(value)


def _entry_list(value: Any, info: ValidationInfo) -> tuple[Any, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail(f"{info.field_name!r} must be a list, got {type(value).__name__}")
    return tuple(value)


def _regex_list(value: Any, info: ValidationInfo) -> tuple[str, ...]:
    items = _entry_list(value, info)
    for i, item in enumerate(items):
        if not isinstance(item, str) or not item:
            raise _fail(f"expected a regex string, got {item!r}", index=i)
    return items


def _mapping(value: Any, info: ValidationInfo) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(f"{info.field_name!r} must be a mapping, got {type(value).__name__}")
    return {str(k): v for k, v in value.items()}


def _non_empty(value: Any, info: ValidationInfo) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(f"{info.field_name!r} must be a non-empty string, got {value!r}")
    return value


def _text(value: Any, info: ValidationInfo) -> Any:
    if value is not None and not isinstance(value, str):
        raise _fail(f"{info.field_name!r} must be a string")
    return value


def opt_non_empty(value: Any, info: ValidationInfo) -> Any:
    return value if value is None else _non_empty(value, info)


def _flag(value: Any, info: ValidationInfo) -> Any:
    if value is not None and not isinstance(value, bool):
        raise _fail(f"{info.field_name!r} must be true or false, got {value!r}")
    return value


def one_of(*choices: str) -> BeforeValidator:
    shown = f"{choices[0]!r} or {choices[1]!r}" if len(choices) == 2 else f"one of {', '.join(choices)}"

    def check(value: Any, info: ValidationInfo) -> Any:
        if value is not None and value not in choices:
            raise _fail(f"{info.field_name!r} must be {shown}, got {value!r}")
        return value

    return BeforeValidator(check)


def whole(minimum: int, unit: str = "") -> BeforeValidator:
    shown = f"a whole number{unit} >= {minimum}"

    def check(value: Any, info: ValidationInfo) -> Any:
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            raise _fail(f"{info.field_name!r} must be {shown}, got {value!r}")
        return value

    return BeforeValidator(check)


def lower(pattern: re.Pattern[str]) -> BeforeValidator:
    def check(value: Any, info: ValidationInfo) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise _fail(f"{info.field_name!r} must be lower_case letters, got {value!r}")
        return value

    return BeforeValidator(check)


def check_states(value: Any, info: ValidationInfo) -> dict[str, tuple[str, ...]]:
    given = _mapping(value, info)
    for key in given:
        if key not in STATES:
            raise _fail(f"unknown state {key!r}; expected one of: {', '.join(STATES)}")
    out: dict[str, tuple[str, ...]] = {}
    for key, item in given.items():
        if not _good_list(item):
            raise _fail(f"'states.{key}' must be a list of non-empty strings, got {item!r}")
        out[key] = tuple([item] if isinstance(item, str) else item or [])
    return out


def _good_list(value: Any) -> bool:
    items = [value] if isinstance(value, str) else value or []
    return isinstance(items, list) and all(isinstance(v, str) and v.strip() for v in items)


def check_macros(value: Any, info: ValidationInfo) -> dict[str, str]:
    given = _mapping(value, info)
    for name, item in given.items():
        if not _MACRO_NAME.fullmatch(name) or not isinstance(item, str):
            raise _fail("macro names are UPPER_CASE and values are strings", entry=f"macro {name!r}")
    return given


def _export(value: Any, info: ValidationInfo) -> dict[str, str]:
    export = _mapping(value, info)
    for key, item in export.items():
        if not isinstance(item, str) or not item.strip():
            raise _fail(f"export {key!r} must be a non-empty string, got {item!r}")
    return export


def check_columns(value: Any, info: ValidationInfo) -> tuple[tuple[str, str], ...]:
    out: list[tuple[str, str]] = []
    for col in value or []:
        if isinstance(col, str):
            out.append((col, col))
        elif isinstance(col, Mapping) and len(col) == 1:
            ((k, v),) = col.items()
            out.append((str(k), str(v)))
        else:
            raise _fail(f"a column must be 'name' or 'name: label', got {col!r}")
    return tuple(out)


StrList = Annotated[tuple[str, ...], BeforeValidator(_str_list)]
RegexList = Annotated[tuple[str, ...], BeforeValidator(_regex_list)]
EntryList = Annotated[tuple[Any, ...], BeforeValidator(_entry_list)]
AnyMap = Annotated[dict[str, Any], BeforeValidator(_mapping)]
ExportMap = Annotated[dict[str, str], BeforeValidator(_export)]
NonEmpty = Annotated[str, BeforeValidator(_non_empty)]
Text = Annotated[str, BeforeValidator(_text)]
OptText = Annotated[str | None, BeforeValidator(_text)]
Flag = Annotated[bool, BeforeValidator(_flag)]
OptFlag = Annotated[bool | None, BeforeValidator(_flag)]
Name = Annotated[str, lower(NAME)]
REQUIRED = Field(default=None, validate_default=True)
