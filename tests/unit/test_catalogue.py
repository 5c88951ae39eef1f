"""The richer catalogue: the label set, the hierarchy, codes, schemes, categorical labels,
the generated label reference and the JSONL/CSV shape of the new fields."""

from __future__ import annotations

import csv
import io
import json
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import reportlab_nlp
from reportlab_nlp import Labeler, LabelValue, ReportLabels
from reportlab_nlp.cli import main
from reportlab_nlp.errors import RulesError
from reportlab_nlp.rules import RuleSet, load_rules, reference
from reportlab_nlp.types import CategoryValue, Mention

ROOT = Path(__file__).resolve().parents[2]
V = LabelValue
SD = "Support Devices"
RSNA = "RSNA COVID-19 Category"

FIRST_31 = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
    "Emphysema",
    "Hiatal Hernia",
    "Calcified Granuloma",
    "Scoliosis",
    "Hyperinflation",
    "Low Lung Volumes",
    "Tortuous Aorta",
    "Aortic Atherosclerosis",
    "Degenerative Spine",
    "Interstitial Lung Disease",
    "Elevated Hemidiaphragm",
    "Lung Nodule",
    "Lung Mass",
    "Infiltration",
    "Pleural Thickening",
    "Pulmonary Fibrosis",
    "Hernia",
]
DEVICES = [
    "Endotracheal Tube",
    "Tracheostomy Tube",
    "Enteric Tube",
    "Central Venous Catheter",
    "Chest Tube",
    "Cardiac Pacemaker or Defibrillator",
    "Cardiac Valve Prosthesis",
]
REQUIRED = [
    *DEVICES,
    "Sternotomy Wires",
    "Surgical Clips",
    "Subcutaneous Emphysema",
    "Pneumomediastinum",
    "Pneumoperitoneum",
    "Pericardial Effusion",
    "Ground-Glass Opacity",
    "Bronchiectasis",
    "Cavitation",
    "Hilar or Mediastinal Lymphadenopathy",
    "Pulmonary Artery Enlargement",
    "Mediastinal Shift",
    "Tracheal Deviation",
    "Rib Fracture",
    "Vertebral Compression Fracture",
    "Kyphosis",
    "Thoracic Aortic Aneurysm",
    "Coronary Artery Calcification",
    "COVID-19 Pneumonia",
    "Mosaic Attenuation",
    "Interlobular Septal Thickening",
    "Peribronchial Thickening",
    "Lymphadenopathy",
    "Arterial Wall Calcification",
]
CHEST_CT_PACK = [
    "Subcutaneous Emphysema",
    "Pneumomediastinum",
    "Pericardial Effusion",
    "Ground-Glass Opacity",
    "Bronchiectasis",
    "Cavitation",
    "Hilar or Mediastinal Lymphadenopathy",
    "Pulmonary Artery Enlargement",
    "Thoracic Aortic Aneurysm",
    "Coronary Artery Calcification",
    "Mosaic Attenuation",
    "Interlobular Septal Thickening",
    "Peribronchial Thickening",
    "Emphysema",
    "Lung Nodule",
    "Lymphadenopathy",
    "Consolidation",
    "Atelectasis",
    "Pleural Effusion",
    "Hiatal Hernia",
    "Arterial Wall Calcification",
]


@pytest.fixture(scope="module")
def rules() -> RuleSet:
    return load_rules()


@pytest.fixture(scope="module")
def labeler() -> Labeler:
    return reportlab_nlp.load()


def values(labeler: Labeler, text: str) -> dict[str, int | None]:
    return {k: v.value for k, v in labeler.label(text).labels.items() if v is not V.BLANK}


# ------------------------------------------------------------------ the label set


def test_at_least_60_labels_and_the_first_31_in_order(rules: RuleSet) -> None:
    assert len(rules.labels) >= 60
    assert rules.labels[:31] == FIRST_31
    assert set(REQUIRED) <= set(rules.labels[31:])
    assert len(set(rules.labels)) == len(rules.labels)


def test_every_new_label_has_a_one_line_definition_and_wording(rules: RuleSet) -> None:
    for label in rules.labels[31:]:
        f = rules.finding(label)
        assert f.definition.strip() and "\n" not in f.definition, label
        assert f.definition.rstrip().endswith("."), label
        assert f.phrases or f.patterns, label


def test_codes_are_snomed_concepts_pydicom_knows(rules: RuleSet) -> None:
    """A code is given only where DICOM's code dictionary has it with the label's meaning."""
    codedict = pytest.importorskip("pydicom.sr.codedict")
    sct = codedict.codes.SCT
    known = {}
    for name in sct.dir():
        code = getattr(sct, name)
        known[str(code.value)] = str(code.meaning)
    coded = [f for f in rules.findings if f.codes]
    assert len(coded) >= 5
    for f in coded:
        assert set(f.codes) == {"SCT"}, f.label
        code = str(f.codes["SCT"])
        assert code in known, (f.label, code)
        words = {w.lower() for w in known[code].replace(",", " ").split()}
        assert words & {w.lower() for w in f.label.split()}, (f.label, known[code])


# ------------------------------------------------------------------ the hierarchy


def test_devices_are_children_of_support_devices(rules: RuleSet) -> None:
    for device in DEVICES:
        assert rules.parents(device) == (SD,), device
    for label in ("Sternotomy Wires", "Surgical Clips"):
        assert SD not in rules.parents(label)
    assert rules.parents("Lung Nodule") == ("Lung Lesion",)
    assert rules.parents("Lung Mass") == ("Lung Lesion",)
    assert rules.parents("Rib Fracture") == ("Fracture",)
    assert rules.parents("Vertebral Compression Fracture") == ("Fracture",)
    assert rules.parents("COVID-19 Pneumonia") == ("Pneumonia",)
    # the guidelines' "no propagation up the hierarchy" into Lung Opacity
    for label in ("Consolidation", "Pneumonia", "Edema", "Atelectasis", "Lung Nodule"):
        assert "Lung Opacity" not in rules.parents(label)


@pytest.mark.parametrize(
    ("text", "child", "parent"),
    [
        ("ETT 4 cm above the carina.", "Endotracheal Tube", SD),
        ("Dobhoff tube in the stomach.", "Enteric Tube", SD),
        ("Left PICC with tip in the SVC.", "Central Venous Catheter", SD),
        ("Swan-Ganz catheter in the right pulmonary artery.", "Central Venous Catheter", SD),
        ("Right chest port.", "Central Venous Catheter", SD),
        ("Dual-chamber pacemaker.", "Cardiac Pacemaker or Defibrillator", SD),
        ("Bioprosthetic aortic valve.", "Cardiac Valve Prosthesis", SD),
        ("Left pleural drain.", "Chest Tube", SD),
        ("Tracheostomy tube.", "Tracheostomy Tube", SD),
        ("Calcified nodule in the right upper lobe.", "Lung Nodule", "Lung Lesion"),
        ("Large right hilar mass.", "Lung Mass", "Lung Lesion"),
        ("Fracture of the left fifth rib.", "Rib Fracture", "Fracture"),
        ("Wedge compression fracture of L1.", "Vertebral Compression Fracture", "Fracture"),
        ("COVID-19 pneumonia.", "COVID-19 Pneumonia", "Pneumonia"),
    ],
)
def test_a_childs_positive_makes_its_parent_positive(
    labeler: Labeler, text: str, child: str, parent: str
) -> None:
    got = values(labeler, text)
    assert got[child] == 1
    assert got[parent] == 1
    # and the parent's evidence says which child it came through
    result = labeler.label(text)
    assert any(child in m.rule or m.text for m in result.evidence[parent])


@pytest.mark.parametrize(
    "text", ["Median sternotomy wires.", "Surgical clips in the left axilla.", "Cholecystectomy clips."]
)
def test_post_surgical_hardware_is_not_a_support_device(labeler: Labeler, text: str) -> None:
    got = values(labeler, text)
    assert SD not in got
    assert got.get("Sternotomy Wires") == 1 or got.get("Surgical Clips") == 1


def test_device_children_leave_support_devices_as_it_was(labeler: Labeler) -> None:
    """A device phrase that Support Devices already matched gives one mention there, not two."""
    result = labeler.label("Endotracheal tube in place.")
    assert [m.text for m in result.evidence[SD]] == ["Endotracheal tube"]
    assert result.labels["Endotracheal Tube"] is V.POSITIVE


_RULES = load_rules()
_LABELER = reportlab_nlp.load()
_PARENTS = [(f.label, p) for f in _RULES.findings for p in f.implies]
_TEMPLATES = [
    "{p}.",
    "Small {p}.",
    "No {p}.",
    "Possible {p}.",
    "History of {p}.",
    "{p} has been removed.",
    "If {p} persists, recommend CT.",
]


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(_PARENTS), st.data())
def test_implication_holds_for_every_phrase(pair: tuple[str, str], data: st.DataObject) -> None:
    """Whatever the wording and cue: child 1 -> parent 1; child -1 -> parent 1 or -1;
    child 0 -> parent not blank."""
    child, parent = pair
    rule = _RULES.finding(child)
    if not rule.phrases:
        return
    phrase = data.draw(st.sampled_from(rule.phrases))
    template = data.draw(st.sampled_from(_TEMPLATES))
    result = _LABELER.label(template.format(p=phrase))
    c, p = result.labels[child], result.labels[parent]
    if c is V.POSITIVE:
        assert p is V.POSITIVE
    elif c is V.UNCERTAIN:
        assert p in (V.POSITIVE, V.UNCERTAIN)
    elif c is V.NEGATIVE:
        assert p is not V.BLANK


# ------------------------------------------------------------------ schemes


def test_chest_ct_scheme_is_the_ct_pack_with_the_rsna_category(rules: RuleSet, labeler: Labeler) -> None:
    scheme = rules.schemes["chest-ct"]
    columns = [c for c, _ in scheme.columns]
    assert set(CHEST_CT_PACK) <= set(columns)
    assert scheme.categories == (RSNA,)
    assert labeler.category_columns("chest-ct") == [RSNA]
    assert labeler.category_columns("full") == []
    assert labeler.category_columns("chexpert") == []


def test_new_labels_join_the_full_scheme_at_the_end_only(rules: RuleSet) -> None:
    assert [c for c, _ in rules.schemes["chexpert"].columns] == FIRST_31[:14]
    assert len(rules.schemes["chestxray14"].columns) == 15


def test_no_finding_in_chestxray14_sees_the_new_labels(labeler: Labeler) -> None:
    """No Finding there means a normal report: clips and wires make it not normal."""
    normal = labeler.label("The lungs are clear. Heart size is normal.")
    clips = labeler.label("The lungs are clear. Heart size is normal. Cholecystectomy clips.")
    nf = {col: v for col, _, v in labeler.values(normal, "chestxray14")}["No Finding"]
    nf_clips = {col: v for col, _, v in labeler.values(clips, "chestxray14")}["No Finding"]
    assert nf is V.POSITIVE
    assert nf_clips is V.BLANK
    # the CheXpert No Finding ignores them (not a pathology)
    assert clips.labels["No Finding"] is V.POSITIVE


# ------------------------------------------------------------------ categorical labels


def test_rsna_category_values_and_midrc_export(rules: RuleSet) -> None:
    cat = rules.category(RSNA)
    assert [v.value for v in cat.values] == ["Typical", "Indeterminate", "Atypical", "Negative for Pneumonia"]
    assert cat.export == {"midrc": "class_covid19_pneumonia"}
    # MIDRC's enumeration (annotation node, class_covid19_pneumonia)
    assert [v.export["midrc"] for v in cat.values] == ["typical", "indeterminate", "atypical", "negative"]


def test_category_in_the_jsonl_record(labeler: Labeler) -> None:
    text = (
        "FINDINGS: Peripheral opacities.\n"
        "IMPRESSION: Commonly reported imaging features of COVID-19 pneumonia are present."
    )
    result = labeler.label(text, id="r1")
    record = json.loads(json.dumps(result.to_dict()))
    entry = record["categories"][RSNA]
    assert entry["value"] == "Typical"
    assert entry["export"] == {"midrc": {"field": "class_covid19_pneumonia", "value": "typical"}}
    (ev,) = entry["evidence"]
    assert text[ev["start"] : ev["end"]] == ev["text"]
    assert ev["section"] == "impression"
    assert ReportLabels.from_dict(record).to_dict() == record
    nothing = labeler.label("No pleural effusion.").to_dict()
    assert nothing["categories"][RSNA] == {"value": None, "export": {}, "evidence": []}


def test_category_needs_a_read_section(labeler: Labeler) -> None:
    result = labeler.label("INDICATION: RSNA category: typical appearance?\nFINDINGS: No effusion.")
    assert result.category(RSNA) is None


def test_chest_ct_csv_has_the_category_column(tmp_path: Path) -> None:
    src = tmp_path / "reports.csv"
    with open(src, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        w.writerow(
            [
                "a",
                "EXAMINATION: CT CHEST\n"
                "IMPRESSION: Imaging features can be seen with COVID-19 pneumonia, though are nonspecific.",
            ]
        )
        w.writerow(["b", "No pleural effusion."])
    out_csv, out_jsonl = tmp_path / "l.csv", tmp_path / "l.jsonl"
    err = io.StringIO()
    rc = main(
        [
            "label",
            str(src),
            "--scheme",
            "chest-ct",
            "--out",
            str(out_csv),
            "--out",
            str(out_jsonl),
            "--no-progress",
        ],
        stdout=io.StringIO(),
        stderr=err,
    )
    assert rc == 0, err.getvalue()
    with open(out_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    labeler = reportlab_nlp.load(scheme="chest-ct")
    assert rows[0] == ["report_id", *labeler.columns(), RSNA]
    assert rows[1][-1] == "Indeterminate" and rows[2][-1] == ""
    assert rows[1][rows[0].index("COVID-19 Pneumonia")] == "-1"
    records = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert records[0]["categories"][RSNA]["export"]["midrc"]["value"] == "indeterminate"
    assert records[0]["metadata"] == {"modality": "CT", "body_region": "chest", "source": "examination"}
    assert records[1]["metadata"] == {}


# ------------------------------------------------------------------ types


def test_results_pickle_for_worker_processes(labeler: Labeler) -> None:
    """Batch labeling sends results between processes: every new field must pickle."""
    text = "EXAMINATION: CT CHEST\nFINDINGS: Small left effusion.\nIMPRESSION: Typical appearance."
    result = labeler.label(text, id="p")
    back = pickle.loads(pickle.dumps(result))
    assert back == result
    assert back.metadata == result.metadata and back.categories == result.categories
    (m,) = back.evidence["Pleural Effusion"]
    assert m.attributes == {"laterality": "left", "severity": "small"}


def test_new_fields_round_trip_and_stay_out_of_hand_built_records() -> None:
    plain = Mention(
        "Pneumothorax",
        "pneumothorax",
        6,
        18,
        "Small pneumothorax.",
        0,
        19,
        "body",
        reportlab_nlp.Assertion.PRESENT,
    )
    assert "attributes" not in plain.to_dict()
    rich = Mention(
        "Pneumothorax",
        "pneumothorax",
        6,
        18,
        "Small pneumothorax.",
        0,
        19,
        "body",
        reportlab_nlp.Assertion.PRESENT,
        attributes={"severity": "small"},
        attribute_spans={"severity": (0, 5)},
    )
    d = json.loads(json.dumps(rich.to_dict()))
    assert d["attributes"] == {"severity": "small"} and d["attribute_spans"] == {"severity": [0, 5]}
    assert Mention.from_dict("Pneumothorax", d) == rich
    hash(rich)  # still hashable
    statement = replace(rich, label=RSNA)  # a category's evidence carries its name
    export = {"midrc": {"field": "class_covid19_pneumonia", "value": "atypical"}}
    cat = CategoryValue(RSNA, "Atypical", export, (statement,))
    report = ReportLabels(
        "r", {"Pneumothorax": V.POSITIVE}, metadata={"modality": "CT"}, categories={RSNA: cat}
    )
    back = ReportLabels.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.metadata == {"modality": "CT"}
    assert back.categories is not None and back.categories[RSNA] == cat
    assert back.category(RSNA) == "Atypical"
    assert set(ReportLabels("r", {}).to_dict()) == {"id", "labels", "evidence", "warnings", "sections"}


# ------------------------------------------------------------------ the generated reference


def test_docs_labels_md_is_current(rules: RuleSet) -> None:
    path = ROOT / "docs" / "labels.md"
    assert path.exists(), "docs/labels.md is missing: run `make docs`"
    assert path.read_text(encoding="utf-8") == reference.markdown(rules), (
        "docs/labels.md is stale: run `make docs`"
    )


def test_labels_command_prints_parent_codes_and_phrase_counts(rules: RuleSet, tmp_path: Path) -> None:
    out = io.StringIO()
    assert main(["labels"], stdout=out, stderr=io.StringIO()) == 0
    scheme_line, conventions_line, *label_lines = out.getvalue().splitlines()
    assert scheme_line.startswith("scheme full") and conventions_line.startswith("conventions full")
    lines = {line.split("  ")[0]: line for line in label_lines}
    ett = lines["Endotracheal Tube"]
    assert "parent: Support Devices" in ett and "codes: SCT 26412008" in ett
    assert f"{len(rules.finding('Endotracheal Tube').phrases)} phrases" in ett
    assert len(lines) == len(rules.labels)
    out = io.StringIO()
    assert main(["labels", "--scheme", "chest-ct"], stdout=out, stderr=io.StringIO()) == 0
    last = out.getvalue().splitlines()[-1]
    assert last.startswith(RSNA) and "Typical | Indeterminate | Atypical | Negative for Pneumonia" in last
    target = tmp_path / "labels.md"
    assert (
        main(
            ["labels", "--format", "markdown", "--out", str(target)],
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
        == 0
    )
    assert target.read_text(encoding="utf-8") == reference.markdown(rules)


def test_labels_command_unknown_scheme_is_status_2() -> None:
    err = io.StringIO()
    assert main(["labels", "--scheme", "nope"], stdout=io.StringIO(), stderr=err) == 2
    assert "nope" in err.getvalue()


# ------------------------------------------------------------------ rules files


@pytest.mark.parametrize(
    ("content", "entry", "problem"),
    [
        ("categories:\n  - name: X\n    values: []\n", "category 'X'", "non-empty list"),
        (
            "categories:\n  - name: X\n    export: {midrc: f}\n"
            "    values:\n      - {value: A, phrases: [zz]}\n",
            "value 'A'",
            "no export value",
        ),
        (
            "categories:\n  - name: Pneumonia\n    values:\n      - {value: A, phrases: [zz]}\n",
            "category 'Pneumonia'",
            "share its name",
        ),
        ("modifiers:\n  window: 0\n", "modifiers", "window"),
        ("modifiers:\n  attributes:\n    - {name: Side, values: []}\n", "attributes[0]", "lower_case"),
        (
            "modifiers:\n  attributes:\n    - name: side\n"
            "      values:\n        - {value: up, patterns: ['(']}\n",
            "attribute 'side' value 'up'",
            "bad regular expression",
        ),
        (
            "modifiers:\n  attributes:\n    - name: laterality\n"
            "      combine:\n        - {values: [left, up], into: bilateral}\n",
            "combine[0]",
            "unknown value 'up'",
        ),
        (
            "metadata:\n  fields:\n    - {name: modality, values: [{value: X}]}\n",
            "metadata field 'modality'",
            "phrase or pattern",
        ),
        (
            "schemes:\n  mine:\n    categories: [Nope]\n    columns: [Edema]\n",
            "scheme 'mine'",
            "unknown category",
        ),
    ],
)
def test_invalid_new_rules_name_file_and_entry(
    tmp_path: Path, content: str, entry: str, problem: str
) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules([path])
    message = str(info.value)
    assert entry in message and problem in message, message


def test_user_file_adds_a_modifier_and_a_category_value(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text(
        "modifiers:\n  attributes:\n    - name: severity\n"
        "      values:\n        - {value: mild, phrases: [smidgen of]}\n"
        "metadata:\n  fields:\n    - name: modality\n      values:\n        - {value: CT, phrases: [zzct]}\n",
        encoding="utf-8",
    )
    labeler = reportlab_nlp.load([path])
    result = labeler.label("A smidgen of pleural effusion.")
    (m,) = result.evidence["Pleural Effusion"]
    assert m.attributes == {"severity": "mild"}
    assert labeler.label("ZZCT THORAX\nFINDINGS: No effusion.").metadata == {
        "modality": "CT",
        "body_region": "chest",
        "source": "title",
    }
