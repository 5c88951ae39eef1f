"""The Open-i development figures of the rule labeler, scored by ../shared/tools/score.py.

Runs the command the issue gives (``reportlab-nlp label reports_dev.csv --id-col
uid --text-col findings --text-col impression``) and the project's scorer.
Skips, with the reason, when ../shared is not beside the repository.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpora" / "iu_xray"
SCORER = SHARED / "tools" / "score.py"

pytestmark = pytest.mark.skipif(
    not (CORPUS / "reports_dev.csv").exists() or not SCORER.exists(),
    reason="the Open-i development corpus and scorer are not in ../shared beside the repository",
)


def _cli() -> str:
    exe = Path(sys.executable).with_name("reportlab-nlp")
    found = str(exe) if exe.exists() else shutil.which("reportlab-nlp")
    assert found, "the reportlab-nlp console script is not installed"
    return found


def _label(tmp: Path, scheme: str, *extra: str) -> Path:
    out = tmp / f"dev-{scheme}.csv"
    subprocess.run(
        [
            _cli(),
            "label",
            str(CORPUS / "reports_dev.csv"),
            "--id-col",
            "uid",
            "--text-col",
            "findings",
            "--text-col",
            "impression",
            "--scheme",
            scheme,
            "--out",
            str(out),
            "--no-progress",
            *extra,
        ],
        check=True,
        capture_output=True,
    )
    return out


def _score(pred: Path, gold: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(SCORER), str(pred), str(gold), "--json", *extra],
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def full_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _score(_label(tmp_path_factory.mktemp("openi"), "full"), CORPUS / "gold_dev.csv")


@pytest.fixture(scope="module")
def cxr14_scores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    pred = _label(tmp_path_factory.mktemp("openi14"), "chestxray14")
    return _score(pred, CORPUS / "gold_dev_chestxray14.csv", "--min-pos", "1")


def test_every_gold_report_is_labeled(full_scores: dict[str, Any]) -> None:
    assert full_scores["missing_ids"] == 0


def test_macro_f1_at_least_095(full_scores: dict[str, Any]) -> None:
    assert full_scores["macro_f1"] >= 0.95


def test_no_label_with_10_positives_under_085(full_scores: dict[str, Any]) -> None:
    weak = {k: v["f1"] for k, v in full_scores["labels"].items() if v["pos"] >= 10 and v["f1"] < 0.85}
    assert not weak


def test_chestxray14_micro_f1_target(cxr14_scores: dict[str, Any]) -> None:
    # `--scheme chestxray14` applies the chestxray14 convention profile (NegBio's conventions,
    # docs/conventions.md): 0.940 when written (0.868 under the guidelines' conventions)
    assert cxr14_scores["micro_f1"] >= 0.93


def test_chestxray14_without_its_conventions_reads_the_guidelines(tmp_path: Path) -> None:
    # `--conventions none`: hedged findings stay -1 (present to the scorer), as before the profile
    pred = _label(tmp_path, "chestxray14", "--conventions", "none")
    scores = _score(pred, CORPUS / "gold_dev_chestxray14.csv", "--min-pos", "1")
    assert scores["micro_f1"] < 0.9
