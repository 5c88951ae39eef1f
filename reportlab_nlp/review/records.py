"""Read a labels JSONL (``label --out x.jsonl``) for the review queue, checking what it relies on.

A line that is not a labels record stops the read with a message naming the
file, the line, the field, what was expected and what was found.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import InputError

VALUES = (1, 0, -1, None)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


def _check(path: str | Path, number: int, record: object) -> dict[str, Any]:
    where = f"{path}: line {number}"
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a labels record (a JSON object), found {_kind(record)}")
    for name, kind in (("id", (str, int)), ("labels", dict)):
        if name not in record:
            raise InputError(f"{where}: field {name!r} is missing; expected a labels record from `label`")
        if not isinstance(record[name], kind):
            raise InputError(
                f"{where}: field {name!r}: expected {'a string' if name == 'id' else 'an object'}, "
                f"found {_kind(record[name])}"
            )
    for col, value in record["labels"].items():
        if value not in VALUES or isinstance(value, bool):
            raise InputError(f"{where}: field 'labels.{col}': expected 1, 0, -1 or null, found {value!r}")
    for name in ("evidence", "probabilities"):
        if name in record and not isinstance(record[name], Mapping):
            raise InputError(f"{where}: field {name!r}: expected an object, found {_kind(record[name])}")
    for col, p in (record.get("probabilities") or {}).items():
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise InputError(
                f"{where}: field 'probabilities.{col}': expected a number in [0, 1], found {p!r}"
            )
    for col, mentions in (record.get("evidence") or {}).items():
        if not isinstance(mentions, list) or not all(isinstance(m, dict) for m in mentions):
            raise InputError(
                f"{where}: field 'evidence.{col}': expected a list of mentions, found {_kind(mentions)}"
            )
    return record


def read_records(path: str | Path) -> list[dict[str, Any]]:
    """Every record of a labels JSONL, checked; blank lines are skipped."""
    if not os.path.isfile(path):
        raise InputError(f"{path}: no such labels file (review reads a labels JSONL written by `label`)")
    out = []
    try:
        with open(path, encoding="utf-8-sig") as f:
            for number, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    raise InputError(
                        f"{path}: line {number}: expected a JSON labels record, found "
                        f"invalid JSON ({e.msg} at column {e.colno})"
                    ) from None
                out.append(_check(path, number, record))
    except UnicodeDecodeError as e:
        raise InputError(f"{path}: expected UTF-8 text, found the byte 0x{e.object[e.start]:02x}") from None
    if not out:
        raise InputError(f"{path}: expected labels records, found none (an empty file)")
    return out
