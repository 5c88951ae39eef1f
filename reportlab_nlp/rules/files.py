"""Reading a rules file: YAML or JSON text to a mapping, with errors naming the file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import srsly

from ..errors import RulesError


def read_rules_text(path: str, text: str) -> Mapping[str, Any]:
    """Parse one rules file's text; its top level must be a mapping (an empty file is ``{}``).

    YAML aliases (``*name``) share the anchored value: a few lines of nested aliases can
    stand for billions of values that every later reader (``labels``, the docs) expands.
    A file whose values, aliases expanded, outnumber :func:`value_limit` is refused.
    """
    try:
        data = srsly.yaml_loads(text) if not path.endswith(".json") else json.loads(text)
    except Exception as e:  # yaml and json raise many kinds
        raise RulesError(path, "", f"cannot parse: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RulesError(path, "", f"the file's top level must be a mapping, got {type(data).__name__}")
    limit = value_limit(text)
    if count_values(data, limit) > limit:
        raise RulesError(
            path,
            "",
            f"its YAML aliases expand to more than {limit:,} values (an alias bomb, or an alias "
            "that contains itself); write the values out, or alias less",
        )
    return data


def value_limit(text: str) -> int:
    """The most values a file of ``text`` may hold, aliases expanded: ten per character
    and 10,000 more (a file without aliases holds fewer values than characters)."""
    return 10 * len(text) + 10_000


def count_values(data: Any, limit: int) -> int:
    """The values (mappings, lists, keys and scalars) in ``data``, a shared one counted each
    time it occurs; stops counting past ``limit``, so an alias bomb costs ``limit`` steps."""
    count = 0
    stack = [data]
    while stack and count <= limit:
        item = stack.pop()
        count += 1
        if isinstance(item, Mapping):
            count += len(item)  # the keys
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return count
