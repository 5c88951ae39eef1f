"""``reportlab-nlp explain``: literal text, a file, standard input, and one report of a labels JSONL.

Every report here is invented for the test.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reportlab_nlp.cli import main

REPORT = "FINDINGS: Small left pleural effusion. No pneumothorax.\nIMPRESSION: Possible pneumonia."


def call(*args: str | Path, stdin: bytes | None = None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main([str(a) for a in args], stdout=out, stderr=err, stdin=io.BytesIO(stdin) if stdin else None)
    return rc, out.getvalue(), err.getvalue()


def test_explain_reads_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "r25.txt"
    path.write_text(REPORT, encoding="utf-8")
    rc, out, err = call("explain", path, "--color", "never")
    assert rc == 0, err
    assert re.search(r"^Pleural Effusion\s+1\s+positive$", out, re.M)
    assert re.search(r"^Pneumothorax\s+0\s+negative$", out, re.M)
    assert re.search(r"^Pneumonia\s+-1\s+uncertain$", out, re.M)
    assert not re.search(r"^No Finding\s+1", out, re.M)  # the path itself was labeled before the fix
    assert "Small left [pleural effusion]." in out


def test_explain_a_relative_path_from_its_folder(tmp_path: Path) -> None:
    (tmp_path / "r1.txt").write_text("Mild cardiomegaly.", encoding="utf-8")
    script = Path(sys.executable).parent / "reportlab-nlp"
    if not script.exists():
        pytest.skip("the reportlab-nlp console script is not installed beside this Python")
    proc = subprocess.run(
        [str(script), "explain", "r1.txt", "--color", "never"], cwd=tmp_path, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^Cardiomegaly\s+1\s+positive$", proc.stdout, re.M)


def test_explain_text_that_names_no_file_is_the_text(tmp_path: Path) -> None:
    rc, out, _ = call("explain", str(tmp_path / "no pneumothorax.txt"), "--color", "never")
    assert rc == 0
    assert re.search(r"^Pneumothorax\s+0\s+negative$", out, re.M)


def test_explain_file_with_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"Small effusion \xff.")
    rc, _, err = call("explain", path)
    assert rc == 2
    assert str(path) in err and "byte offset 15" in err and "Traceback" not in err


def test_explain_help_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["explain", "--help"])
    assert info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "existing file" in text and "standard input" in text and "--id" in text


@pytest.fixture
def labels_jsonl(tmp_path: Path) -> Path:
    src = tmp_path / "reports.csv"
    src.write_text(f'report_id,text\nr1,"{REPORT}"\nr2,Heart size is normal.\n', encoding="utf-8")
    out = tmp_path / "labels.jsonl"
    rc, _, err = call("label", src, "--scheme", "chestxray14", "--out", out, "--no-progress")
    assert rc == 0, err
    return out


def test_explain_id_shows_one_report_of_a_labels_file(labels_jsonl: Path) -> None:
    rc, out, err = call("explain", "--id", "r1", labels_jsonl, "--color", "never")
    assert rc == 0, err
    # the record's own columns (chestxray14's names), with the evidence as written
    assert re.search(r"^Effusion\s+1\s+positive$", out, re.M)
    assert re.search(r"^Pneumothorax\s+0\s+negative$", out, re.M)
    # as written: the value the record holds (the chestxray14 scheme's convention decides it)
    record = json.loads(labels_jsonl.read_text(encoding="utf-8").splitlines()[0])
    value = record["labels"]["Pneumonia"]
    assert re.search(rf"^Pneumonia\s+{value}\s+(?:positive|negative|uncertain)$", out, re.M)
    assert "Small left [pleural effusion]." in out
    assert "{Possible} [pneumonia]." in out


def test_explain_id_absent(labels_jsonl: Path) -> None:
    rc, out, err = call("explain", "--id", "r9", labels_jsonl)
    assert rc == 2 and out == ""
    assert err.startswith("reportlab-nlp: error: ") and "Traceback" not in err
    assert str(labels_jsonl) in err and "'r9'" in err and "2 reports" in err


def test_explain_id_of_a_file_that_is_not_labels(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"id": "a", "text": "No effusion."}\n', encoding="utf-8")
    rc, _, err = call("explain", "--id", "a", path)
    assert rc == 2 and f"{path}: line 1" in err and "'labels'" in err
    rc, _, err = call("explain", "--id", "a", tmp_path / "missing.jsonl")
    assert rc == 2 and "missing.jsonl" in err
