"""compare: undefined P/R/F1 are n/a, the macro F1 says what it averages, column errors name the option.

Every report and donor file here is invented for the test.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from reportlab_nlp.cli import main

REPORTS = """report_id,text
1,"FINDINGS: Small left pleural effusion. No pneumothorax."
2,FINDINGS: No pleural effusion or pneumothorax. Heart size is normal.
3,FINDINGS: Small right pleural effusion. No pneumothorax.
4,FINDINGS: Moderate left pleural effusion. Mild cardiomegaly.
"""

# Pneumothorax: no positives on either side (undefined P/R/F1); Cardiomegaly: one positive
# (below --min-pos 2); Pleural Effusion: three, the only label in the averages.
THEIRS = """report_id,Pleural Effusion,Pneumothorax,Cardiomegaly
1,1,0,0
2,0,0,0
3,1,0,0
4,1,0,1
"""

# CheXpert's own layout: the image Path as the id, the labels, and the report text in Reports
CHEXPERT = """Path,Reports,No Finding,Pleural Effusion,Pneumothorax
1,Small left pleural effusion.,0,1,0
2,No pleural effusion.,1,0,0
3,Small right pleural effusion.,0,1,0
4,Moderate left pleural effusion.,0,1,0
"""


def run(*argv: str | Path) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main([str(a) for a in argv], stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("compare_na")
    (d / "reports.csv").write_text(REPORTS, encoding="utf-8")
    (d / "theirs.csv").write_text(THEIRS, encoding="utf-8")
    code, _, err = run("label", d / "reports.csv", "--scheme", "chexpert", "--out", d / "ours.jsonl")
    assert code == 0, err
    return d


@pytest.fixture(scope="module")
def compared(work: Path) -> tuple[Path, str, str]:
    out = work / "out"
    code, stdout, stderr = run(
        "compare",
        work / "ours.jsonl",
        work / "theirs.csv",
        "--out",
        out,
        "--min-pos",
        "2",
        "--bootstrap",
        "0",
    )
    assert code == 0, stderr
    return out, stdout, stderr


def test_undefined_scores_are_null_in_summary(compared: tuple[Path, str, str]) -> None:
    out, _, _ = compared
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    by = {r["label"]: r["presence"] for r in summary["labels"]}
    pneumothorax = by["Pneumothorax"]
    assert pneumothorax["their_positives"] == 0 and pneumothorax["our_positives"] == 0
    assert pneumothorax["precision"] is None and pneumothorax["recall"] is None and pneumothorax["f1"] is None
    assert pneumothorax["in_average"] is False
    assert by["Cardiomegaly"]["f1"] == pytest.approx(1.0) and by["Cardiomegaly"]["in_average"] is False
    presence = summary["overall"]["presence"]
    assert presence["labels_in_average"] == ["Pleural Effusion"]
    assert presence["labels_averaged"] == 1
    assert presence["labels_below_min_pos"] == ["Cardiomegaly"]
    assert presence["labels_undefined"] == ["Pneumothorax"]
    assert presence["min_pos"] == 2


def test_card_and_tables_say_na_and_the_count(compared: tuple[Path, str, str]) -> None:
    out, stdout, _ = compared
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "F1 macro (over 1 label; 1 left out by --min-pos 2; 1 with no positives (n/a))" in page
    row = re.search(r"<tr><td>Pneumothorax</td>.*?</tr>", page, re.S)
    assert row is not None and row.group(0).count(">n/a</td>") == 3
    assert "0.000" not in row.group(0)
    line = next(x for x in stdout.splitlines() if x.startswith("Pneumothorax"))
    assert line.split()[-4:-1] == ["n/a", "n/a", "n/a"]
    assert "(over 1 label; 1 left out by --min-pos 2; 1 with no positives (n/a))" in stdout


def test_chexpert_path_and_reports_columns_are_recognised(work: Path, tmp_path: Path) -> None:
    theirs = tmp_path / "chexpert.csv"
    theirs.write_text(CHEXPERT, encoding="utf-8")
    out = tmp_path / "out"
    code, _, stderr = run("compare", work / "ours.jsonl", theirs, "--out", out, "--bootstrap", "0")
    assert code == 0, stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["theirs"]["id_column"] == "Path"
    assert "Reports" not in summary["label_map"]["unmapped_theirs"]
    assert {r["label"] for r in summary["labels"]} == {"No Finding", "Pleural Effusion", "Pneumothorax"}
    # and as OURS: a file of reports in CheXpert's layout is labeled from Path and Reports
    out2 = tmp_path / "out2"
    code, _, stderr = run("compare", theirs, work / "theirs.csv", "--out", out2, "--bootstrap", "0")
    assert code == 0, stderr
    summary = json.loads((out2 / "summary.json").read_text(encoding="utf-8"))
    assert summary["ours"]["kind"].startswith("reports, labeled") and summary["reports"]["in_both"] == 4


@pytest.mark.parametrize(
    ("argv_tail", "file_text", "option", "found"),
    [
        (["--their-id-col", "Path"], "accession,Pneumothorax\n1,0\n", "--their-id-col", "'accession'"),
        ([], "accession,Pneumothorax\n1,0\n", "--their-id-col", "'accession'"),
    ],
)
def test_their_id_column_error_names_the_option(
    work: Path, tmp_path: Path, argv_tail: list[str], file_text: str, option: str, found: str
) -> None:
    theirs = tmp_path / "theirs.csv"
    theirs.write_text(file_text, encoding="utf-8")
    code, _, stderr = run("compare", work / "ours.jsonl", theirs, "--out", tmp_path / "o", *argv_tail)
    assert code == 2 and "Traceback" not in stderr
    assert option in stderr and found in stderr and "columns are:" in stderr


def test_our_id_column_error_names_the_option(work: Path, tmp_path: Path) -> None:
    ours = tmp_path / "ours.csv"
    ours.write_text("accession,Pneumothorax\n1,0\n", encoding="utf-8")
    code, _, stderr = run("compare", ours, work / "theirs.csv", "--out", tmp_path / "o", "--id-col", "uid")
    assert code == 2
    assert "--id-col" in stderr and "'accession'" in stderr and "columns are:" in stderr


def test_verdicts_column_error_names_the_option(work: Path, tmp_path: Path) -> None:
    verdicts = tmp_path / "reviewed.csv"
    verdicts.write_text("report_id,label\n1,Pneumothorax\n", encoding="utf-8")
    code, _, stderr = run(
        "compare", work / "ours.jsonl", work / "theirs.csv", "--out", tmp_path / "o", "--verdicts", verdicts
    )
    assert code == 2
    assert "--verdicts" in stderr and "'report_id', 'label'" in stderr
