"""Reading a rules file: YAML or JSON text to a mapping, with errors naming the file."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import srsly

from ..errors import RulesError


def read_rules_text(path: str, text: str) -> Mapping[str, Any]:
    """Parse one rules file's text; its top level must be a mapping (an empty file is ``{}``)."""
    try:
        data = srsly.yaml_loads(text) if not path.endswith(".json") else json.loads(text)
    except Exception as e:  # yaml and json raise many kinds
        raise RulesError(path, "", f"cannot parse: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise RulesError(path, "", f"the file's top level must be a mapping, got {type(data).__name__}")
    return data
