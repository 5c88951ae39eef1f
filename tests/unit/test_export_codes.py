"""The code table rules/codes.yaml: coverage, the `verified` flags against pydicom, validation errors."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest
import srsly

from reportlab_nlp.errors import RulesError
from reportlab_nlp.export.codes import load_codes, parse_codes
from reportlab_nlp.rules import RuleSet
from reportlab_nlp.types import LabelValue

pytest.importorskip("pydicom", reason="the code-list check needs pydicom (the 'export' extra)")
from pydicom.sr._concepts_dict import concepts as PYDICOM_CONCEPTS

SCHEMES_IN_PYDICOM = {"SCT", "DCM", "LN"}


def _norm(meaning: str) -> str:
    meaning = re.sub(
        r"\s*\((disorder|finding|body structure|procedure|qualifier value|morphologic abnormality)\)$",
        "",
        meaning,
    )
    return meaning.strip().casefold()


def pydicom_meanings(scheme: str, code: str) -> set[str]:
    """Every meaning pydicom's code dictionary gives to (scheme, code)."""
    out = set()
    for entries in PYDICOM_CONCEPTS.get(scheme, {}).values():
        if code in entries:
            out.add(_norm(entries[code][0]))
    return out


def raw_table() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("reportlab_nlp.rules").joinpath("codes.yaml").read_text(encoding="utf-8")
    data: dict[str, Any] = srsly.yaml_loads(text)
    return data


def test_every_label_of_the_full_set_has_one_code(rules: RuleSet) -> None:
    table = load_codes()
    assert set(table.labels) == set(rules.labels)
    keys = [lc.code.key for lc in table.labels.values()]
    assert len(keys) == len(set(keys)), "two labels share a code"


def test_verified_flags_are_true_to_pydicoms_code_list() -> None:
    """verified: true exactly when pydicom holds the code with a matching meaning."""
    table = load_codes()
    entries: list[tuple[str, str, str, bool]] = []
    for name, lc in table.labels.items():
        entries.append((f"label {name}", lc.code.scheme, lc.code.value, lc.verified))
        for role, part, verified in lc.post_coordination:
            entries.append((f"label {name} {role}", part.scheme, part.value, verified))
    for section in (table.values, table.concepts):
        for name, (code, verified, _) in section.items():
            entries.append((name, code.scheme, code.value, verified))
    meanings = {lc.code.key: lc.code.meaning for lc in table.labels.values()}
    for lc in table.labels.values():
        meanings.update({part.key: part.meaning for _, part, _ in lc.post_coordination})
    for section in (table.values, table.concepts):
        meanings.update({c.key: c.meaning for c, _, _ in section.values()})
    for where, scheme, code, verified in entries:
        found = _norm(meanings[(scheme, code)]) in pydicom_meanings(scheme, code)
        if scheme not in SCHEMES_IN_PYDICOM:
            assert not verified, f"{where}: a {scheme} code cannot be verified"
            continue
        assert verified == found, f"{where}: {scheme} {code} verified={verified} but found in pydicom={found}"


def test_values_are_the_snomed_present_absent_undetermined_codes() -> None:
    table = load_codes()
    assert table.value_code(LabelValue.POSITIVE).key == ("SCT", "52101004")
    assert table.value_code(LabelValue.NEGATIVE).key == ("SCT", "272519000")
    assert table.value_code(LabelValue.UNCERTAIN).key == ("SCT", "373068000")
    assert table.value_for("SCT", "373068000") is LabelValue.UNCERTAIN


@pytest.mark.parametrize("label", ["Enlarged Cardiomediastinum", "Pleural Other"])
def test_labels_without_a_single_code_use_the_documented_local_fallback(label: str) -> None:
    lc = load_codes().labels[label]
    assert lc.code.scheme == "99RLNLP" and lc.fallback == "local" and not lc.verified
    assert lc.post_coordination, "the fallback lists the verified concepts that express the label"
    assert all(verified for _, _, verified in lc.post_coordination)


def test_lookups_round_trip() -> None:
    table = load_codes()
    for name, lc in table.labels.items():
        assert table.label_for(*lc.code.key) == name
        assert table.scheme_for_system(table.fhir_system(lc.code.scheme)) == lc.code.scheme
    with pytest.raises(RulesError, match="no code for this label"):
        table.label_code("A Label Someone Added")


def _expect_error(data: dict[str, Any], match: str) -> None:
    with pytest.raises(RulesError) as e:
        parse_codes(data)
    assert "codes.yaml" in str(e.value)
    assert re.search(match, str(e.value)), str(e.value)


def test_unknown_scheme_names_the_entry() -> None:
    data = raw_table()
    data["labels"][0]["code"]["scheme"] = "XYZ"
    _expect_error(data, r"label 'No Finding'.*unknown scheme 'XYZ'")


def test_duplicate_code_names_both_labels() -> None:
    data = raw_table()
    by = {e["label"]: e for e in data["labels"]}
    by["Pneumothorax"]["code"] = copy.deepcopy(by["Pleural Effusion"]["code"])
    _expect_error(data, r"label '(Pneumothorax|Pleural Effusion)'.*already the code of")


def test_other_validation_errors() -> None:
    data = raw_table()
    data["labels"][2]["verified"] = "yes"
    _expect_error(data, r"label 'Cardiomegaly'.*'verified' must be true or false")
    data = raw_table()
    data["labels"][1]["verified"] = True  # a local code
    _expect_error(data, r"label 'Enlarged Cardiomediastinum'.*cannot be verified")
    data = raw_table()
    data["labels"][2]["code"]["code"] = "1" * 17
    _expect_error(data, r"longer than 16")
    data = raw_table()
    data["labels"].append(copy.deepcopy(data["labels"][0]))
    _expect_error(data, r"label 'No Finding'.*listed twice")
    data = raw_table()
    del data["values"]["absent"]
    _expect_error(data, r"values.*missing entry 'absent'")
    data = raw_table()
    data["labels"][0]["colour"] = "red"
    _expect_error(data, r"unknown key 'colour'")
