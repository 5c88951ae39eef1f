"""Check Gen3 submission TSVs against a data dictionary, as Gen3's submission service does.

A Gen3 data commons (MIDRC is one) reads a submitted TSV row by row and turns
each row into a JSON document before it validates the document against the
JSON schema (Draft 4) of the node the row's ``type`` names:

- a column whose name holds a dot is a link: ``imaging_studies.submitter_id``
  becomes ``"imaging_studies": [{"submitter_id": ...}]``; an empty cell is no link;
- any other non-empty cell is a property, typed by the node's schema: an
  ``integer`` or ``number`` property is read as a number, a ``boolean`` from
  ``true`` / ``false``, an ``array`` property is split at commas; the cell
  ``null`` is JSON null; empty cells are left out;
- a value that does not convert stays a string, so the schema reports it.

:func:`validate_rows` does the same here and also checks the node's link
rules (a required group of links needs at least one of them). The dictionary
is a folder of node schemas (``gdcdictionary/schemas`` of a Gen3 dictionary),
loaded with the ``dictionaryutils`` package (PyPI), which resolves the
``$ref``s into ``_definitions.yaml`` and ``_terms.yaml``. ``dictionaryutils``
is not a dependency of the package: install it to use this module (the
``dev`` extra has it). Run ``python -m reportlab_nlp.export.gen3 SCHEMAS_DIR
TSV...`` to check exported TSVs before a submission.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class Gen3Dictionary:
    """The node schemas of a Gen3 data dictionary, ``$ref``s resolved ({node id: schema})."""

    path: str
    schema: Mapping[str, Mapping[str, Any]]

    def node(self, node: str) -> Mapping[str, Any]:
        """The schema of a node.

        Raises
        ------
        InputError
            For a node the dictionary does not have.
        """
        if node not in self.schema:
            known = ", ".join(sorted(k for k in self.schema if not k.startswith("_")))
            raise InputError(f"{self.path}: no node {node!r} in the dictionary; nodes are: {known}")
        return self.schema[node]


def load_dictionary(schemas_dir: str | Path) -> Gen3Dictionary:
    """Load a folder of Gen3 node schemas (YAML) with ``dictionaryutils``.

    Raises
    ------
    InputError
        When the folder does not exist.
    ImportError
        When ``dictionaryutils`` is not installed.
    """
    folder = Path(schemas_dir)
    if not (folder / "_definitions.yaml").is_file():
        raise InputError(f"{folder}: not a Gen3 dictionary schemas folder (no _definitions.yaml)")
    from dictionaryutils import DataDictionary

    dictionary = DataDictionary(root_dir=str(folder.resolve()))
    return Gen3Dictionary(str(folder), dictionary.schema)


def _main_type(spec: Mapping[str, Any]) -> str | None:
    kind = spec.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), None)
    return kind if isinstance(kind, str) else None


def _convert(spec: Mapping[str, Any] | None, value: str) -> Any:
    if value == "null":
        return None
    kind = _main_type(spec or {})
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value  # left for the schema to report
    if kind == "boolean":
        return {"true": True, "false": False}.get(value.lower(), value)
    if kind == "array":
        return [part.strip() for part in value.split(",")]
    return value


def row_to_document(row: Mapping[str, str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON document Gen3 builds from one TSV row of the node ``schema`` (see the module docstring)."""
    props: Mapping[str, Any] = schema.get("properties", {})
    doc: dict[str, Any] = {}
    links: dict[str, dict[str, Any]] = {}
    for raw_key, raw_value in row.items():
        key = (raw_key or "").strip().lstrip("*")
        value = (raw_value or "").strip()
        if not key or value == "":
            continue
        if "." in key:
            link, _, prop = key.partition(".")
            links.setdefault(link, {})[prop] = None if value == "null" else value
        else:
            doc[key] = _convert(props.get(key), value)
    for link, target in links.items():
        doc[link] = [target]
    return doc


def _link_problems(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    out = []
    for link in schema.get("links", []):
        if "subgroup" in link:
            names = [s["name"] for s in link["subgroup"]]
            if link.get("required") and not any(doc.get(n) for n in names):
                out.append(f"needs a link to one of: {', '.join(names)}")
        elif link.get("required") and not doc.get(link["name"]):
            out.append(f"needs the link {link['name']}")
    return out


def validate_document(doc: Mapping[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The schema's (Draft 4) and the link rules' complaints about one document (empty: valid)."""
    from jsonschema import Draft4Validator

    validator = Draft4Validator(schema)
    out = []
    for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path)):
        where = ".".join(str(p) for p in error.absolute_path) or "(document)"
        out.append(f"{where}: {error.message}")
    return out + _link_problems(doc, schema)


def validate_rows(dictionary: Gen3Dictionary, rows: Iterable[Mapping[str, str]]) -> list[str]:
    """Problems of TSV rows (``row N: field: message``; header = row 1), each row against its ``type``."""
    out = []
    for i, row in enumerate(rows, start=2):
        node = (row.get("type") or "").strip()
        if not node:
            out.append(f"row {i}: no type")
            continue
        schema = dictionary.node(node)
        out.extend(f"row {i}: {p}" for p in validate_document(row_to_document(row, schema), schema))
    return out


def validate_tsv(dictionary: Gen3Dictionary, path: str | Path) -> list[str]:
    """Problems of one submission TSV (see :func:`validate_rows`)."""
    with open(path, encoding="utf-8", newline="") as f:
        return validate_rows(dictionary, csv.DictReader(f, delimiter="\t"))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m reportlab_nlp.export.gen3 SCHEMAS_DIR TSV...``: print the problems; exit 1 if any."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 2:
        sys.stderr.write("usage: python -m reportlab_nlp.export.gen3 SCHEMAS_DIR TSV...\n")
        return 2
    dictionary = load_dictionary(args[0])
    failed = False
    for path in args[1:]:
        problems = validate_tsv(dictionary, path)
        failed = failed or bool(problems)
        for p in problems:
            sys.stdout.write(f"{path}: {p}\n")
        if not problems:
            sys.stdout.write(f"{path}: valid\n")
    return 1 if failed else 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())


__all__ = [
    "Gen3Dictionary",
    "load_dictionary",
    "row_to_document",
    "validate_document",
    "validate_rows",
    "validate_tsv",
]
