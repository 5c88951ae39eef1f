"""The RSNA COVID-19 Category reaches every export target, for each of the four RSNA wordings.

Reports written for this test in the RSNA expert consensus wording (one per
category, and one that states none), exported with ``--to all``; each target
is read back: MIDRC's ``class_covid19_pneumonia``, the csv-wide column, the
jsonl ``categories``, the SR's qualitative evaluation and the FHIR Observation.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("highdicom", reason="the exports need the 'export' extra")
pytest.importorskip("fhir.resources", reason="the exports need the 'export' extra")

from reportlab_nlp.cli import main
from reportlab_nlp.export import dicom_sr, fhir
from reportlab_nlp.export.codes import load_codes
from reportlab_nlp.export.midrc import read_tsv
from reportlab_nlp.export.tables import iter_long_jsonl

CATEGORY = "RSNA COVID-19 Category"
REPORTS = {
    "typ": (
        "FINDINGS: Bilateral peripheral ground-glass opacities in the lower lobes.\n"
        "IMPRESSION: Commonly reported imaging features of COVID-19 pneumonia are present.",
        "Typical",
        "typical",
    ),
    "ind": (
        "FINDINGS: Patchy opacity in the right upper lobe.\n"
        "IMPRESSION: Imaging features can be seen with COVID-19 pneumonia, though are nonspecific.",
        "Indeterminate",
        "indeterminate",
    ),
    "aty": (
        "FINDINGS: Lobar consolidation of the left lower lobe.\n"
        "IMPRESSION: Imaging features are atypical or uncommonly reported for COVID-19 pneumonia.",
        "Atypical",
        "atypical",
    ),
    "neg": (
        "FINDINGS: The lungs are clear.\nIMPRESSION: No CT findings present to indicate pneumonia.",
        "Negative for Pneumonia",
        "negative",
    ),
    "none": ("IMPRESSION: Small left pleural effusion.", None, ""),
}
UIDS = {rid: f"2.25.77{i}" for i, rid in enumerate(REPORTS, start=1)}


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rsna")
    with open(root / "reports.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        w.writerows((rid, text) for rid, (text, _, _) in REPORTS.items())
    rows = "".join(
        f"{rid},{uid},C-{rid},CT,CHEST,2021-01-0{i}\n" for i, (rid, uid) in enumerate(UIDS.items(), 1)
    )
    (root / "studies.csv").write_text(
        "report_id,StudyInstanceUID,PatientID,Modality,BodyPartExamined,StudyDate\n" + rows, encoding="utf-8"
    )
    err = io.StringIO()
    argv = [
        "export",
        str(root / "reports.csv"),
        "--manifest",
        str(root / "studies.csv"),
        "--to",
        "all",
        "--out",
        str(root / "x"),
    ]
    assert main(argv, stdout=io.StringIO(), stderr=err) == 0, err.getvalue()
    return root / "x"


def expected(column: int) -> dict[str, Any]:
    return {rid: values[column] for rid, values in REPORTS.items()}


def test_midrc_class_covid19_pneumonia(out: Path) -> None:
    rows = read_tsv(out / "midrc" / "annotation.tsv")
    by_study = {r["imaging_studies.submitter_id"]: r["class_covid19_pneumonia"] for r in rows}
    assert {rid: by_study[uid] for rid, uid in UIDS.items()} == expected(2)
    label_file = json.loads((out / "midrc" / "files" / f"{UIDS['typ']}.json").read_text(encoding="utf-8"))
    assert label_file["reports"][0]["categories"][CATEGORY]["value"] == "Typical"


def test_csv_wide_column(out: Path) -> None:
    with open(out / "labels_wide.csv", encoding="utf-8", newline="") as f:
        got = {r["report_id"]: r[CATEGORY] for r in csv.DictReader(f)}
    assert got == {rid: v or "" for rid, v in expected(1).items()}


def test_jsonl_categories(out: Path) -> None:
    got: dict[str, set[Any]] = {}
    for row in iter_long_jsonl(out / "labels_long.jsonl"):
        got.setdefault(row["report_id"], set()).add(row["categories"][CATEGORY]["value"])
    assert got == {rid: {v} for rid, v in expected(1).items()}
    row = next(r for r in iter_long_jsonl(out / "labels_long.jsonl") if r["report_id"] == "neg")
    (span,) = row["categories"][CATEGORY]["evidence"]
    assert "indicate pneumonia" in span["text"] or "indicate pneumonia" in span["sentence"]


def test_dicom_sr_qualitative_evaluation(out: Path) -> None:
    codes = load_codes()
    for rid, uid in UIDS.items():
        got = dicom_sr.read_categories(out / "dicom-sr" / f"{uid}.dcm", codes)
        assert got.get(rid, {}).get(CATEGORY) == expected(1)[rid], rid


def test_fhir_observation(out: Path) -> None:
    codes = load_codes()
    for rid in REPORTS:
        path = out / "fhir" / f"{rid}.json"
        assert fhir.read_categories(path, codes).get(CATEGORY) == expected(1)[rid], rid
        fhir.read_bundle(path, codes)  # parses and validates with fhir.resources
