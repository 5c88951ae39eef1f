"""`reportlab-nlp export` and `label --manifest` end to end, on small hand-made reports.

Every format is written in one run and read back; the labels must agree
across formats and none may go missing: a report without a study is still in
the tables and FHIR, and is listed in the warnings file for the study-level
formats.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("highdicom", reason="the exports need the 'export' extra")
pytest.importorskip("fhir.resources", reason="the exports need the 'export' extra")

from reportlab_nlp.cli import main
from reportlab_nlp.export.codes import load_codes
from reportlab_nlp.export.dicom_sr import read_findings
from reportlab_nlp.export.fhir import read_bundle
from reportlab_nlp.export.manifest import read_link_warnings, read_manifest
from reportlab_nlp.export.midrc import read_tsv
from reportlab_nlp.export.tables import iter_long_jsonl, read_long_csv, read_long_jsonl, read_wide_csv
from reportlab_nlp.types import LabelValue

REPO = Path(__file__).resolve().parents[2]
ALL = ["jsonl", "csv-wide", "csv-long", "midrc", "dicom-sr", "fhir"]
REPORTS = {
    "r1": "FINDINGS: Small left pleural effusion. No pneumothorax.",
    "r1-add": "ADDENDUM: Mild cardiomegaly.",
    "r2": "IMPRESSION: The lungs are clear. No acute cardiopulmonary process.",
    "r3": "FINDINGS: Possible right lower lobe pneumonia.",
}
S1, S2, S3 = "2.25.9001", "2.25.9002", "2.25.9003"
MANIFEST = (
    "report_id,study_uid,case_id,accession_number,modality,body_part,study_date\n"
    f"r1,{S1},C1,ACC1,CR,CHEST,2020-01-02\n"  # row 2
    f"r1-add,{S1},C1,ACC1,CR,CHEST,2020-01-02\n"  # row 3: a second report of study S1
    f"r2,{S2},C2,,DX,CHEST,\n"  # row 4: r2 in two studies
    f"r2,{S3},C2,ACC3,DX,CHEST,2020-03-04\n"  # row 5
    f"r1,{S1},C1,ACC1,CR,CHEST,2020-01-02\n"  # row 6: exact duplicate of row 2
    "r9,2.25.9009,C9,,,,\n"  # row 7: no such report; r3 has no row
)


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus")
    with open(root / "reports.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["report_id", "text"])
        w.writerows(REPORTS.items())
    (root / "studies.csv").write_text(MANIFEST, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def exported(corpus: Path) -> tuple[Path, str]:
    out = corpus / "export"
    argv = [
        "export",
        str(corpus / "reports.csv"),
        "--manifest",
        str(corpus / "studies.csv"),
        "--out",
        str(out),
    ]
    for fmt in ALL:
        argv += ["--to", fmt]
    code, _, err = run(*argv)
    assert code == 0, err
    return out, err


def labeled(values: dict[str, LabelValue]) -> dict[str, LabelValue]:
    return {k: v for k, v in values.items() if v is not LabelValue.BLANK}


def test_every_format_is_written(exported) -> None:
    out, err = exported
    names = {p.name for p in out.iterdir()}
    assert names == {
        "labels_long.jsonl",
        "labels_wide.csv",
        "labels_long.csv",
        "midrc",
        "dicom-sr",
        "fhir",
        "provenance.json",
        "link_warnings.tsv",
    }
    assert sorted(p.name for p in (out / "dicom-sr").iterdir()) == [f"{S1}.dcm", f"{S2}.dcm", f"{S3}.dcm"]
    assert sorted(p.name for p in (out / "fhir").iterdir()) == [
        "r1-add.json",
        "r1.json",
        "r2.json",
        "r3.json",
    ]
    assert "1 of 4 reports without a study" in err and "1 manifest rows without a report" in err
    for text in REPORTS.values():  # no report text on standard error
        assert text not in err


def test_warnings_file_lists_every_unmatched_report_and_row(exported) -> None:
    out, _ = exported
    rows = sorted(
        (r["kind"], r["report_id"], r["rows"], r["detail"].split(":")[0])
        for r in read_link_warnings(out / "link_warnings.tsv")
    )
    assert rows == [
        ("duplicate_row", "r1", "2,6", "same report and study again"),
        ("not_exported", "r3", "", "dicom-sr"),
        ("not_exported", "r3", "", "midrc"),
        ("report_in_several_studies", "r2", "4,5", "linked to 2 studies; labels are exported under each"),
        ("report_without_study", "r3", "", "no row in studies.csv"),
        ("row_without_report", "r9", "7", "report not in the input"),
    ]


def test_tables_agree_and_keep_every_report(exported) -> None:
    out, _ = exported
    long_jsonl = read_long_jsonl(out / "labels_long.jsonl")
    columns, wide = read_wide_csv(out / "labels_wide.csv")
    assert long_jsonl == wide == read_long_csv(out / "labels_long.csv")
    assert set(long_jsonl) == {("r1", S1), ("r1-add", S1), ("r2", S2), ("r2", S3), ("r3", "")}
    assert all(set(v) == set(columns) for v in long_jsonl.values())
    assert long_jsonl[("r2", S2)] == long_jsonl[("r2", S3)]
    assert long_jsonl[("r1", S1)]["Pleural Effusion"] is LabelValue.POSITIVE


def test_provenance_is_the_same_everywhere(exported, corpus) -> None:
    out, _ = exported
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    import hashlib

    assert prov["input_sha256"] == hashlib.sha256((corpus / "reports.csv").read_bytes()).hexdigest()
    assert prov["engine"] == "rules" and prov["model_sha256"] is None and prov["scheme"] == "full"
    assert len(prov["rules_hash"]) == 64 and prov["timestamp"].endswith("Z")
    assert prov["reports"] == 4 and prov["studies"] == 3
    rows = list(iter_long_jsonl(out / "labels_long.jsonl"))
    assert {json.dumps(r["provenance"], sort_keys=True) for r in rows} == {
        json.dumps({k: prov[k] for k in rows[0]["provenance"]}, sort_keys=True)
    }
    with open(out / "labels_wide.csv", encoding="utf-8", newline="") as f:
        assert {r["run_id"] for r in csv.DictReader(f)} == {prov["run_id"]}


def test_srs_and_bundles_hold_every_labeled_finding(exported) -> None:
    out, _ = exported
    codes = load_codes()
    tables = read_long_jsonl(out / "labels_long.jsonl")
    for uid in (S1, S2, S3):
        found = read_findings(out / "dicom-sr" / f"{uid}.dcm", codes)
        want = {rid: labeled(v) for (rid, s), v in tables.items() if s == uid}
        assert found == want
    for rid in REPORTS:
        got_id, studies, findings = read_bundle(out / "fhir" / f"{rid}.json", codes)
        assert got_id == rid
        want_studies = sorted(s for (r, s), _ in tables.items() if r == rid and s)
        assert sorted(studies) == want_studies
        key = next(k for k in tables if k[0] == rid)
        assert findings == labeled(tables[key])


def test_midrc_rows_per_study(exported) -> None:
    out, _ = exported
    annotations = read_tsv(out / "midrc" / "annotation.tsv")
    assert sorted(a["imaging_studies.submitter_id"] for a in annotations) == [S1, S2, S3]
    files = read_tsv(out / "midrc" / "annotation_file.tsv")
    s1 = next(f for f in files if f["imaging_studies.submitter_id"] == S1)
    data = json.loads((out / "midrc" / s1["file_name"]).read_text(encoding="utf-8"))
    assert [r["report_id"] for r in data["reports"]] == ["r1", "r1-add"]


def test_label_with_manifest_then_export_the_labels_file(corpus: Path, tmp_path: Path) -> None:
    labels = tmp_path / "labels.jsonl"
    wide = tmp_path / "labels.csv"
    code, _, err = run(
        "label", str(corpus / "reports.csv"), "--manifest", str(corpus / "studies.csv"),
        "--out", str(labels), "--out", str(wide),
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "labels.link_warnings.tsv").exists()
    records = [json.loads(line) for line in labels.read_text(encoding="utf-8").splitlines()]
    by_id = {r["id"]: r for r in records}
    assert [s["study_uid"] for s in by_id["r2"]["studies"]] == [S2, S3]
    assert by_id["r3"]["studies"] == []
    assert by_id["r1"]["provenance"]["input_file"] == "reports.csv"
    _, wide_values = read_wide_csv(wide)
    assert set(wide_values) == {("r1", S1), ("r1-add", S1), ("r2", S2), ("r2", S3), ("r3", "")}

    out = tmp_path / "from_labels"
    code, _, err = run("export", str(labels), "--to", "dicom-sr", "--to", "jsonl", "--out", str(out))
    assert code == 0, err
    prov = json.loads((out / "provenance.json").read_text(encoding="utf-8"))
    assert prov["input_file"] == "labels.jsonl"
    assert prov["labeled_by"]["input_file"] == "reports.csv"
    assert prov["rules_hash"] == by_id["r1"]["provenance"]["rules_hash"]
    found = read_findings(out / "dicom-sr" / f"{S1}.dcm", load_codes())
    assert found["r1"] == labeled({k: LabelValue.parse(v) for k, v in by_id["r1"]["labels"].items()})


def test_a_labels_file_export_counts_its_studies(corpus: Path, tmp_path: Path) -> None:
    # issue 18: "exported 5 reports (0 studies)" and provenance "studies": 0 for a table-only
    # export of a labels file whose records carry their studies
    labels = tmp_path / "labels.jsonl"
    code, _, err = run(
        "label", str(corpus / "reports.csv"), "--manifest", str(corpus / "studies.csv"), "--out", str(labels)
    )
    assert code == 0, err
    out = tmp_path / "tables"
    code, _, err = run("export", str(labels), "--to", "jsonl", "--to", "csv-wide", "--out", str(out))
    assert code == 0, err
    assert "exported 4 reports (3 studies)" in err
    assert json.loads((out / "provenance.json").read_text(encoding="utf-8"))["studies"] == 3


@pytest.mark.parametrize(
    "to", [["--to", "all"], ["--to", "jsonl,csv-wide", "--to", "csv-long,midrc,dicom-sr,fhir"]]
)
def test_to_all_and_comma_lists(corpus: Path, tmp_path: Path, to: list[str]) -> None:
    out = tmp_path / "out"
    code, _, err = run(
        "export",
        str(corpus / "reports.csv"),
        "--manifest",
        str(corpus / "studies.csv"),
        "--out",
        str(out),
        *to,
    )
    assert code == 0, err
    assert json.loads((out / "provenance.json").read_text(encoding="utf-8"))["formats"] == ALL


def test_unknown_format_in_a_comma_list(corpus: Path, tmp_path: Path) -> None:
    code, _, err = run(
        "export", str(corpus / "reports.csv"), "--to", "jsonl,pdf", "--out", str(tmp_path / "o")
    )
    assert code == 2 and "'pdf'" in err and "all" in err


def test_strict_links_fails_on_unlinked_reports_and_writes_nothing(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    argv = ["export", str(corpus / "reports.csv"), "--manifest", str(corpus / "studies.csv"), "--to", "jsonl"]
    code, _, err = run(*argv, "--out", str(out), "--strict-links")
    assert code == 2
    assert "1 of 4 reports are linked to no study" in err and "'r3'" in err
    assert not out.exists()
    code, _, err = run(*argv, "--out", str(out))  # without the flag: exported, r3 unlinked
    assert code == 0, err


def test_a_manifest_with_dicom_keyword_columns(corpus: Path, tmp_path: Path) -> None:
    keyword = tmp_path / "dicom.csv"
    keyword.write_text(
        "report_id,StudyInstanceUID,PatientID,AccessionNumber,Modality,BodyPartExamined,StudyDate,StudyTime,StudyID\n"
        f"r1,{S1},C1,ACC1,CR,CHEST,20200102,101500,S1ID\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    code, _, err = run(
        "export",
        str(corpus / "reports.csv"),
        "--manifest",
        str(keyword),
        "--to",
        "csv-wide",
        "--out",
        str(out),
    )
    assert code == 0, err
    with open(out / "labels_wide.csv", encoding="utf-8", newline="") as f:
        rows = {r["report_id"]: r for r in csv.DictReader(f)}
    r1 = rows["r1"]
    assert (r1["study_uid"], r1["case_id"], r1["study_date"], r1["study_time"], r1["study_id"]) == (
        S1, "C1", "2020-01-02", "101500", "S1ID",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("manifest", "needles"),
    [
        (
            "report_id,study_uid,case_id\nr1,1.2.03,C1\nr2,1.2.3,C2\nr3,1..4,C3\n",
            ["row 2", "'1.2.03'", "row 4"],
        ),
        (
            "id,uid,case\nr1,1.2.3,C1\n",
            [
                "--manifest-col report_id=COLUMN",
                "--manifest-col study_uid=COLUMN",
                "--manifest-col case_id=COLUMN",
                "'StudyInstanceUID'",
                "columns are: 'id', 'uid', 'case'",
            ],
        ),
        ("report_id,study_uid,case_id\nr1,1.2.3,C1\nr2,1.2.3,C2\n", ["rows 2, 3", "different case_id"]),
    ],
    ids=["malformed-uid", "missing-column", "conflicting-study-rows"],
)
def test_bad_manifests_fail_with_one_line_naming_the_rows(
    corpus: Path, tmp_path: Path, manifest: str, needles: list[str]
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(manifest, encoding="utf-8")
    out = tmp_path / "out"
    code, _, err = run(
        "export", str(corpus / "reports.csv"), "--manifest", str(path), "--to", "jsonl", "--out", str(out)
    )
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("reportlab-nlp: error:")
    for needle in needles:
        assert needle in err
    assert not out.exists()


def test_study_formats_need_a_manifest_and_write_nothing_without(corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, _, err = run("export", str(corpus / "reports.csv"), "--to", "dicom-sr", "--out", str(out))
    assert code == 2 and "--manifest" in err
    assert not out.exists()


def test_a_new_run_replaces_a_formats_output(corpus: Path, tmp_path: Path, rules) -> None:
    # a labels file written by hand: export reads it without building the pipeline
    columns = [c for c, _ in rules.schemes["full"].columns]
    labels = tmp_path / "labels.jsonl"
    with open(labels, "w", encoding="utf-8") as f:
        for rid in REPORTS:
            f.write(
                json.dumps({"id": rid, "labels": {c: 1 if c == "Edema" else None for c in columns}}) + "\n"
            )
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("not ours", encoding="utf-8")
    base = ["export", str(labels), "--to", "dicom-sr", "--to", "fhir", "--out", str(out), "--manifest"]
    code, _, err = run(*base, str(corpus / "studies.csv"))
    assert code == 0, err
    assert "carries no provenance" in err
    assert len(list((out / "dicom-sr").iterdir())) == 3
    one = tmp_path / "one.csv"
    one.write_text(f"report_id,study_uid,case_id\nr1,{S1},C1\n", encoding="utf-8")
    assert run(*base, str(one))[0] == 0
    assert [p.name for p in (out / "dicom-sr").iterdir()] == [f"{S1}.dcm"]
    assert read_findings(out / "dicom-sr" / f"{S1}.dcm", load_codes()) == {
        "r1": {"Edema": LabelValue.POSITIVE}
    }
    assert json.loads((out / "provenance.json").read_text(encoding="utf-8"))["rules_hash"] is None
    assert (out / "keep.txt").read_text(encoding="utf-8") == "not ours"
    assert not [p for p in out.iterdir() if p.name.startswith(".export-")]


def test_console_script(corpus: Path, tmp_path: Path) -> None:
    script = Path(sys.executable).parent / "reportlab-nlp"
    if not script.exists():
        pytest.skip(f"console script not installed at {script}")
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(script), "export", str(corpus / "reports.csv"), "--to", "csv-wide", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    _, values = read_wide_csv(out / "labels_wide.csv")
    assert set(values) == {(rid, "") for rid in REPORTS}


def test_demo_manifest_covers_the_demo_corpus() -> None:
    manifest = read_manifest(REPO / "corpora" / "demo" / "studies.csv")
    with open(REPO / "corpora" / "demo" / "reports.csv", encoding="utf-8", newline="") as f:
        ids = [r["report_id"] for r in csv.DictReader(f)]
    missing = sorted(set(ids) - set(manifest.by_report))
    assert not missing, (
        f"corpora/demo/studies.csv lacks rows for {missing} (see docs/exports.md, Quick start)"
    )
    assert sorted(manifest.by_report) == sorted(ids)
    assert manifest.warnings == []
    uids = [link.study_uid for links in manifest.by_report.values() for link in links]
    assert len(uids) == len(set(uids)) == len(ids)
    assert all(uid.startswith("2.25.") for uid in uids)
