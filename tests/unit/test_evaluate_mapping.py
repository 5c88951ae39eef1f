"""Pairing a donor's label names with ours: map file, same names, spellings, built-in names."""

from __future__ import annotations

from pathlib import Path

import pytest

from reportlab_nlp.errors import LabelMapError
from reportlab_nlp.evaluate.mapping import LabelMap, choose_scheme, pair_labels, read_label_map

FULL = [
    "No Finding",
    "Cardiomegaly",
    "Pleural Effusion",
    "Lung Lesion",
    "Lung Nodule",
    "Lung Mass",
    "Pleural Thickening",
]
CHEXPERT = ["No Finding", "Cardiomegaly", "Pleural Effusion", "Lung Lesion"]
CX14 = ["Cardiomegaly", "Effusion", "Mass", "Nodule", "Pleural_Thickening", "No Finding"]


def test_same_names_spellings_and_builtin_names() -> None:
    m = pair_labels(FULL, ["cardiomegaly", "Effusion", "Nodule", "Pleural_Thickening", "Age"])
    got = {p.ours: (p.theirs, p.how) for p in m.pairs}
    assert got == {
        "Cardiomegaly": (("cardiomegaly",), "same name, spelled differently"),
        "Pleural Effusion": (("Effusion",), "built-in name"),
        "Lung Nodule": (("Nodule",), "built-in name"),
        "Pleural Thickening": (("Pleural_Thickening",), "same name, spelled differently"),
    }
    assert m.unmapped_theirs == ("Age",)
    assert m.unmapped_ours == ("No Finding", "Lung Lesion", "Lung Mass")


def test_builtin_names_work_both_ways() -> None:
    m = pair_labels(CX14, ["Pleural Effusion", "Lung Mass"])
    assert {p.ours: p.theirs for p in m.pairs} == {"Effusion": ("Pleural Effusion",), "Mass": ("Lung Mass",)}


def test_an_exact_name_wins_over_a_builtin_one() -> None:
    m = pair_labels(FULL, ["Effusion", "Pleural Effusion"])
    assert [(p.ours, p.theirs) for p in m.pairs] == [("Pleural Effusion", ("Pleural Effusion",))]
    assert m.unmapped_theirs == ("Effusion",)


def test_map_file_entries(tmp_path: Path) -> None:
    path = tmp_path / "map.yaml"
    path.write_text(
        "Heart big: Cardiomegaly\nMass: Lung Lesion\nNodule: Lung Lesion\nView: null\n", encoding="utf-8"
    )
    label_map = read_label_map(path)
    m = pair_labels(FULL, ["Heart big", "Mass", "Nodule", "View"], label_map)
    assert {p.ours: p.theirs for p in m.pairs} == {
        "Cardiomegaly": ("Heart big",),
        "Lung Lesion": ("Mass", "Nodule"),
    }
    assert m.ignored_theirs == ("View",) and m.unmapped_theirs == () and m.map_path == str(path)


def test_map_errors_name_the_file_and_entry(tmp_path: Path) -> None:
    with pytest.raises(LabelMapError, match=r"entry 'Oops': 'Nothing': 'Oops' is not a label of THEIRS"):
        pair_labels(FULL, ["Mass"], LabelMap.from_mapping({"Oops": "Nothing"}, path="m.yaml"))
    with pytest.raises(LabelMapError, match=r"m.yaml: entry 'Mass': 'Lung lesions'.*not a label of OURS"):
        pair_labels(FULL, ["Mass"], LabelMap.from_mapping({"Mass": "Lung lesions"}, path="m.yaml"))
    with pytest.raises(LabelMapError, match=r"their label 'Mass' is mapped more than once"):
        pair_labels(FULL, ["Mass"], LabelMap.from_mapping({"Mass": "Lung Mass", "mass": "Lung Lesion"}))
    with pytest.raises(LabelMapError, match=r"expected our label's name \(a string\) or null"):
        LabelMap.from_mapping({"Mass": 3})  # type: ignore[dict-item]
    empty = tmp_path / "empty.yaml"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(LabelMapError, match=r"empty.yaml: the file is empty"):
        read_label_map(empty)
    broken = tmp_path / "broken.yaml"
    broken.write_text("a: [b\n", encoding="utf-8")
    with pytest.raises(LabelMapError, match=r"broken.yaml: not valid YAML or JSON"):
        read_label_map(broken)
    with pytest.raises(LabelMapError, match=r"nope.yaml: no such file"):
        read_label_map(tmp_path / "nope.yaml")


def test_choose_scheme() -> None:
    schemes = {"full": FULL, "chexpert": CHEXPERT, "chestxray14": CX14}
    assert choose_scheme(schemes, CX14) == "chestxray14"
    assert (
        choose_scheme(schemes, ["Cardiomegaly", "Pleural Effusion", "Lung Lesion", "No Finding"])
        == "chexpert"
    )
    assert choose_scheme(schemes, ["Lung Nodule", "Cardiomegaly"]) == "full"
