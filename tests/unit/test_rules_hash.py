"""The rules hash counts every field of every rules entry (generated from the schema's models)."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reportlab_nlp.rules import load_rules, types
from reportlab_nlp.rules.schema import ENTRY_MODELS, Entry

# One user rules file with an entry of every kind, each valid, and each list long enough
# that dropping its last item leaves a valid file.
BASE: dict[str, Any] = {
    "version": 1,
    "macros": {"ZZM": "zzmacro"},
    "findings": [
        {
            "label": "Pneumothorax",  # extends a built-in label, so that `remove_phrases` applies
            "definition": "zz definition",
            "phrases": ["zzphrase", "zzphrase two"],
            "patterns": ["zzpat{ZZM}"],
            "states": {"negated": ["zzneg", "zzneg two"]},
            "exclusions": ["zzexcl"],
            "exclusion_patterns": ["zzexpat"],
            "implies": ["Fracture"],
            "codes": {"ZZ": "1"},
            "history": "present",
            "replace": False,
            "remove_phrases": ["pneumothorax"],
        }
    ],
    "cues": [
        {
            "phrase": "zzcue",
            "category": "negated",
            "direction": "forward",
            "window": 2,
            "weak": False,
            "hedge": "weak",
            "remove": False,
        }
    ],
    "terminators": ["zzstop"],
    "forward_terminators": ["zzfstop"],
    "sections": [{"category": "zzsec", "read": True, "headers": ["ZZ HEADER"], "body_part": False}],
    "schemes": {
        "zzscheme": {
            "description": "zz scheme",
            "no_finding": "pathology",
            "columns": ["Edema", {"Effusion": "Pleural Effusion"}],
            "categories": ["RSNA COVID-19 Category"],
            "conventions": "zzconventions",
        }
    },
    "conventions": {
        "name": "zzconv",
        "description": "zz conventions",
        "weak_hedge": "absent",
        "strong_hedge": "present",
        "hypothetical": "absent",
    },
    "no_finding_blockers": ["Pneumothorax", "Edema"],
    "categories": [
        {
            "name": "ZZ Category",
            "definition": "zz category",
            "export": {"midrc": "zzfield"},
            "values": [
                {
                    "value": "V1",
                    "definition": "zz v1",
                    "phrases": ["zzvone", "zzvone b"],
                    "patterns": ["zzvonep"],
                    "exclusions": ["zzx"],
                    "exclusion_patterns": ["zzxp"],
                    "export": {"midrc": "v1"},
                },
                {"value": "V2", "phrases": ["zzvtwo"], "export": {"midrc": "v2"}},
            ],
        }
    ],
    "modifiers": {
        "window": 5,
        "stops": ["zzmstop"],
        "boundaries": ["zzmbound"],
        "attributes": [
            {
                "name": "zzside",
                "inside": False,
                "values": [
                    {"value": "up", "phrases": ["zzup"]},
                    {"value": "down", "phrases": ["zzdown"]},
                    {"value": "both", "phrases": ["zzboth"]},
                    {"value": "extra", "phrases": ["zzextra"]},
                    {"value": "spare", "phrases": ["zzspare", "zzspare b"], "patterns": ["zzsparep"]},
                ],
                "combine": [{"values": ["up", "down", "extra"], "into": "both"}],
            }
        ],
    },
    "metadata": {
        "sources": ["title", "examination"],
        "title_max_chars": 100,
        "separator": "+",
        "fields": [
            {
                "name": "zzfield",
                "multiple": True,
                "values": [
                    {"value": "A", "phrases": ["zza"]},
                    {"value": "B", "phrases": ["zzb", "zzb two"], "patterns": ["zzbp"]},
                ],
            }
        ],
    },
}

# where each kind of entry sits in BASE (a WordingEntry sits in two places)
ENTRY_AT: dict[str, list[Callable[[dict[str, Any]], dict[str, Any]]]] = {
    "RulesFileEntry": [lambda d: d],
    "FindingEntry": [lambda d: d["findings"][0]],
    "CueEntry": [lambda d: d["cues"][0]],
    "SectionEntry": [lambda d: d["sections"][0]],
    "SchemeEntry": [lambda d: d["schemes"]["zzscheme"]],
    "CategoryEntry": [lambda d: d["categories"][0]],
    "CategoryValueEntry": [lambda d: d["categories"][0]["values"][0]],
    "ModifiersEntry": [lambda d: d["modifiers"]],
    "AttributeEntry": [lambda d: d["modifiers"]["attributes"][0]],
    "WordingEntry": [
        lambda d: d["modifiers"]["attributes"][0]["values"][4],
        lambda d: d["metadata"]["fields"][0]["values"][1],
    ],
    "CombineEntry": [lambda d: d["modifiers"]["attributes"][0]["combine"][0]],
    "MetadataEntry": [lambda d: d["metadata"]],
    "MetadataFieldEntry": [lambda d: d["metadata"]["fields"][0]],
    "ConventionsEntry": [lambda d: d["conventions"]],
}


def _set(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def apply(entry: dict[str, Any]) -> None:
        entry[field] = value

    return apply


def _cue_pattern(entry: dict[str, Any]) -> None:
    entry["pattern"] = entry.pop("phrase")


def _cue_remove(entry: dict[str, Any]) -> None:
    entry.clear()
    entry.update({"phrase": "possible", "remove": True})


# fields whose generic change (below) would make the file invalid: a valid other value
SPECIAL: dict[tuple[str, str], Callable[[dict[str, Any]], None]] = {
    ("FindingEntry", "history"): _set("history", "ignore"),
    ("CueEntry", "pattern"): _cue_pattern,
    ("CueEntry", "category"): _set("category", "uncertain"),
    ("CueEntry", "direction"): _set("direction", "backward"),
    ("CueEntry", "remove"): _cue_remove,
    ("SchemeEntry", "no_finding"): _set("no_finding", "any"),
    ("CombineEntry", "into"): _set("into", "extra"),
    ("CueEntry", "hedge"): _set("hedge", "strong"),
    ("RulesFileEntry", "conventions"): _set("conventions", {"name": "zzother"}),
    ("ConventionsEntry", "weak_hedge"): _set("weak_hedge", "present"),
    ("ConventionsEntry", "strong_hedge"): _set("strong_hedge", "uncertain"),
    ("ConventionsEntry", "hypothetical"): _set("hypothetical", "uncertain"),
}
# fields that by design change no rule
NOT_HASHED = {("RulesFileEntry", "version"): "the file format's version; no rule reads it"}


def _changed(value: Any) -> Any:
    """A different value of the same shape: a flag flipped, a number + 1, a string extended,
    a list without its last item, a mapping with its last value changed (or removed)."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, str):
        return value + "z"
    if isinstance(value, list):
        assert value, "give BASE's lists at least one item"
        return value[:-1]
    if isinstance(value, dict):
        out = dict(value)
        last = list(out)[-1]
        if isinstance(out[last], dict):
            del out[last]
        else:
            out[last] = _changed(out[last])
        return out
    raise AssertionError(f"no generic change for {value!r}: add it to SPECIAL")


def _cases() -> list[tuple[str, str, int]]:
    return [
        (model.__name__, name, k)
        for model in ENTRY_MODELS
        for name in model.model_fields
        for k in range(len(ENTRY_AT[model.__name__]))
        if (model.__name__, name) not in NOT_HASHED
    ]


def _digest(tmp_path: Path, data: dict[str, Any], name: str) -> str:
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return load_rules([path]).digest()


def test_every_entry_model_is_placed_in_the_base_file() -> None:
    def all_subclasses(cls: type) -> set[type]:
        return {s for c in cls.__subclasses__() for s in {c, *all_subclasses(c)}}

    # a base that only shares fields (no WHAT of its own) is not an entry of a file
    assert {c for c in all_subclasses(Entry) if "WHAT" in vars(c)} == set(ENTRY_MODELS)
    assert set(ENTRY_AT) == {m.__name__ for m in ENTRY_MODELS}


@pytest.fixture(scope="module")
def base_digest(tmp_path_factory: pytest.TempPathFactory) -> str:
    digest = _digest(tmp_path_factory.mktemp("base"), BASE, "base")
    assert digest != load_rules().digest()
    return digest


@pytest.mark.parametrize(("model", "field", "place"), _cases())
def test_changing_any_field_changes_the_rules_hash(
    tmp_path: Path, base_digest: str, model: str, field: str, place: int
) -> None:
    data = copy.deepcopy(BASE)
    entry = ENTRY_AT[model][place](data)
    special = SPECIAL.get((model, field))
    if special is not None:
        special(entry)
    else:
        assert field in entry, f"give {model}.{field} a value in BASE"
        entry[field] = _changed(entry[field])
    assert _digest(tmp_path, data, "changed") != base_digest, f"{model}.{field} does not count"


def test_only_provenance_fields_are_left_out_of_the_hash() -> None:
    left_out = {
        (cls.__name__, f.name)
        for cls in vars(types).values()
        if isinstance(cls, type) and dataclasses.is_dataclass(cls)
        for f in dataclasses.fields(cls)
        if f.metadata.get("provenance")
    }
    assert left_out == {
        ("FindingRule", "source"),
        ("CueRule", "source"),
        ("SectionRule", "source"),
        ("CategoryRule", "source"),
        ("Conventions", "source"),
        ("RuleSet", "sources"),
    }


def test_the_same_rules_from_another_path_hash_the_same(tmp_path: Path, base_digest: str) -> None:
    (tmp_path / "elsewhere").mkdir()
    assert _digest(tmp_path / "elsewhere", BASE, "other-name") == base_digest
