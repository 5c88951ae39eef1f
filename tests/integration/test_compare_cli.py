"""`reportlab-nlp compare` end to end on small hand-written reports and a hand-made donor file.

Our labels here follow the label guidelines on plain sentences ("Possible small
right pleural effusion" is -1, "Heart size is normal" is 0 for Cardiomegaly).
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reportlab_nlp.cli import main

REPORTS = """report_id,text
1,"FINDINGS: Small left pleural effusion. No pneumothorax.
IMPRESSION: Cardiomegaly."
2,FINDINGS: No pleural effusion or pneumothorax. Heart size is normal.
3,FINDINGS: Possible small right pleural effusion. No pneumothorax.
4,FINDINGS: Large right pneumothorax. No pleural effusion.
5,FINDINGS: The lungs are clear.
"""

# CheXpert convention with blanks: the comparison is on the four values (exact).
THEIRS = """report_id,Pleural Effusion,Pneumothorax,Cardiomegaly,Scanner
1,1,0,1,GE
2,0,0,1,GE
3,1,0,,Siemens
4,0,,,GE
5,,,,GE
6,1,0,0,GE
"""

EXPECTED_DISAGREEMENTS = [
    # rank, report, label, ours, theirs, kind
    ("1", "2", "Cardiomegaly", "0", "1", "conflict"),
    ("2", "4", "Pneumothorax", "1", "blank", "conflict"),
    ("3", "3", "Pleural Effusion", "-1", "1", "hedged"),
]


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("compare")
    (d / "reports.csv").write_text(REPORTS, encoding="utf-8")
    (d / "theirs.csv").write_text(THEIRS, encoding="utf-8")
    code, _, err = run(
        "label",
        str(d / "reports.csv"),
        "--scheme",
        "chexpert",
        "--out",
        str(d / "ours.jsonl"),
        "--out",
        str(d / "ours.csv"),
    )
    assert code == 0, err
    return d


def disagreements(out: Path) -> list[dict[str, str]]:
    with open(out / "disagreements.csv", encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_compare_writes_report_summary_and_disagreements(work: Path) -> None:
    out = work / "out_jsonl"
    code, stdout, stderr = run(
        "compare", str(work / "ours.jsonl"), str(work / "theirs.csv"), "--out", str(out), "--min-pos", "1"
    )
    assert code == 0, stderr
    assert {p.name for p in out.iterdir()} == {"report.html", "summary.json", "disagreements.csv"}
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["basis"] == "exact"
    assert summary["reports"]["in_both"] == 5
    assert summary["reports"]["only_theirs"] == {"count": 1, "ids": ["6"]}
    assert summary["label_map"]["unmapped_theirs"] == ["Scanner"]
    effusion = next(r for r in summary["labels"] if r["label"] == "Pleural Effusion")
    assert effusion["confusion"]["counts"] == [[1, 0, 1, 0], [0, 2, 0, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    assert effusion["agreement"] == pytest.approx(0.8)
    assert "CheXpert" in summary["theirs"]["convention"]
    rows = disagreements(out)
    assert [
        (r["rank"], r["report_id"], r["label"], r["ours"], r["theirs"], r["kind"]) for r in rows
    ] == EXPECTED_DISAGREEMENTS
    hedge = rows[2]
    assert hedge["sentence"] == "Possible small right pleural effusion."
    assert "pleural effusion" in hedge["matched"].lower() and hedge["cue"].lower() == "possible"
    assert hedge["assertion"] == "uncertain" and hedge["verdict"] == ""
    assert rows[0]["sentence"] == "Heart size is normal." and rows[0]["assertion"] == "negated"
    assert "Pleural Effusion" in stdout and "kappa" in stdout
    assert "compared 5 reports on 3 labels (0 only in OURS, 1 only in THEIRS); 3 disagreements" in stderr
    page = (out / "report.html").read_text(encoding="utf-8")
    assert '<span class="cue">Possible</span> small right <mark>' in page


def test_reports_file_is_labeled_first(work: Path) -> None:
    out = work / "out_reports"
    code, _, stderr = run(
        "compare", str(work / "reports.csv"), str(work / "theirs.csv"), "--out", str(out), "--no-progress"
    )
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["ours"]["kind"].startswith("reports, labeled")
    rows = disagreements(out)
    assert [
        (r["rank"], r["report_id"], r["label"], r["ours"], r["theirs"], r["kind"]) for r in rows
    ] == EXPECTED_DISAGREEMENTS
    assert rows[2]["sentence"] == "Possible small right pleural effusion."


def test_csv_with_reports_gets_evidence(work: Path) -> None:
    bare, with_reports = work / "out_csv", work / "out_csv_reports"
    assert run("compare", str(work / "ours.csv"), str(work / "theirs.csv"), "--out", str(bare))[0] == 0
    assert all(r["sentence"] == "" for r in disagreements(bare))
    code, _, stderr = run(
        "compare",
        str(work / "ours.csv"),
        str(work / "theirs.csv"),
        "--out",
        str(with_reports),
        "--reports",
        str(work / "reports.csv"),
    )
    assert code == 0, stderr
    rows = disagreements(with_reports)
    assert [r["sentence"] for r in rows] == [
        "Heart size is normal.",
        "Large right pneumothorax.",
        "Possible small right pleural effusion.",
    ]


def test_verdicts_carry_over_when_run_again(work: Path) -> None:
    out = work / "out_review"
    assert run("compare", str(work / "ours.jsonl"), str(work / "theirs.csv"), "--out", str(out))[0] == 0
    rows = disagreements(out)
    rows[0]["verdict"], rows[0]["note"] = "theirs", "heart is enlarged on the film"
    rows[2]["verdict"] = "unclear"
    with open(out / "disagreements.csv", "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    code, _, stderr = run("compare", str(work / "ours.jsonl"), str(work / "theirs.csv"), "--out", str(out))
    assert code == 0 and "2 verdicts carried over" in stderr
    again = disagreements(out)
    assert [(r["verdict"], r["note"]) for r in again] == [
        ("theirs", "heart is enlarged on the film"),
        ("", ""),
        ("unclear", ""),
    ]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["disagreements"]["verdicts"]["theirs"] == 1
    assert summary["disagreements"]["verdicts"]["unreviewed"] == 1
    # a reviewed file kept elsewhere is read with --verdicts
    elsewhere = work / "reviewed.csv"
    shutil.copy(out / "disagreements.csv", elsewhere)
    fresh = work / "out_review_fresh"
    code, _, stderr = run(
        "compare",
        str(work / "ours.jsonl"),
        str(work / "theirs.csv"),
        "--out",
        str(fresh),
        "--verdicts",
        str(elsewhere),
    )
    assert code == 0 and [r["verdict"] for r in disagreements(fresh)] == ["theirs", "", "unclear"]


@pytest.mark.parametrize(
    ("theirs", "expected"),
    [
        # a label column of mixed conventions: the file, the column and the rows of each spelling
        (
            "report_id,Pneumothorax\n1,0\n2,no\n3,1\n4,yes\n",
            [
                "theirs.csv: column 'Pneumothorax'",
                "mixes value conventions",
                "numbers in rows 2, 4",
                "yes/no in rows 3, 5",
            ],
        ),
        ("", ["theirs.csv: the file is empty"]),
        ("report_id,Pneumothorax\n", ["theirs.csv: no rows after the header"]),
        # mismatched ids
        (
            "report_id,Pneumothorax\nA-1,0\nA-2,1\n",
            [
                "no report id in common",
                "ours.jsonl has 5 ids",
                "theirs.csv has 2 ids in column 'report_id'",
                "'A-1'",
            ],
        ),
        ("report_id,Pneumothorax\n1,0\n2,maybe\n", ["theirs.csv: column 'Pneumothorax'", "'maybe' in row 3"]),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(
    work: Path, tmp_path: Path, theirs: str, expected: list[str]
) -> None:
    path = tmp_path / "theirs.csv"
    path.write_text(theirs, encoding="utf-8")
    code, stdout, stderr = run("compare", str(work / "ours.jsonl"), str(path), "--out", str(tmp_path / "out"))
    assert code == 2 and stdout == ""
    assert stderr.startswith("reportlab-nlp: error: ") and stderr.count("\n") == 1
    for piece in expected:
        assert piece in stderr, (piece, stderr)
    assert not (tmp_path / "out").exists()


def test_map_naming_a_label_on_neither_side_exits_2(work: Path, tmp_path: Path) -> None:
    map_file = tmp_path / "map.yaml"
    map_file.write_text(
        "Effusion: Pleural Effusion\nPTX: Pneumothorax\nCardiac enlargement: Big Heart\n", encoding="utf-8"
    )
    code, _, stderr = run(
        "compare",
        str(work / "ours.jsonl"),
        str(work / "theirs.csv"),
        "--out",
        str(tmp_path / "o"),
        "--map",
        str(map_file),
    )
    assert code == 2
    assert (
        str(map_file) in stderr
        and "'Cardiac enlargement': 'Big Heart'" in stderr
        and "neither side" in stderr
    )


def test_other_bad_arguments_exit_2(work: Path, tmp_path: Path) -> None:
    code, _, stderr = run(
        "compare", str(tmp_path / "nope.jsonl"), str(work / "theirs.csv"), "--out", str(tmp_path / "o")
    )
    assert code == 2 and "nope.jsonl: no such file" in stderr
    code, _, stderr = run(
        "compare",
        str(work / "ours.jsonl"),
        str(work / "theirs.csv"),
        "--out",
        str(tmp_path / "o"),
        "--bootstrap",
        "-1",
    )
    assert code == 2 and "--bootstrap must be 0 or more" in stderr


def test_console_script_exit_status(work: Path, tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("reportlab-nlp")
    if not exe.exists():
        pytest.skip(f"the reportlab-nlp console script is not installed beside {sys.executable}")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    bad = subprocess.run(
        [str(exe), "compare", str(work / "ours.jsonl"), str(empty), "--out", str(tmp_path / "bad")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "empty.csv: the file is empty" in bad.stderr
    assert "Traceback" not in bad.stderr
