"""`compare` reproduces `../shared/tools/score.py` exactly on the Open-i development gold.

The reports are labeled once per test session (about five seconds); score.py
runs as its own process, as a user would run it. Skips, saying why, where
../shared is not beside the repository.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reportlab_nlp.evaluate import compare

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
CORPUS = SHARED / "corpora" / "iu_xray"
SCORE_PY = SHARED / "tools" / "score.py"
REPORTS = CORPUS / "reports_dev.csv"
GOLD = CORPUS / "gold_dev.csv"
GOLD_CX14 = CORPUS / "gold_dev_chestxray14.csv"

pytestmark = pytest.mark.skipif(
    not (REPORTS.is_file() and GOLD.is_file() and SCORE_PY.is_file()),
    reason=f"the Open-i development corpus and score.py are not at {SHARED} (../shared beside the repo)",
)


def cli() -> list[str]:
    exe = Path(sys.executable).with_name("reportlab-nlp")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "reportlab_nlp.cli"]


def label(out: Path, *extra: str) -> None:
    subprocess.run(
        [
            *cli(),
            "label",
            str(REPORTS),
            "--id-col",
            "uid",
            "--text-col",
            "findings",
            "--text-col",
            "impression",
            "--no-progress",
            *extra,
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert out.is_file()


@pytest.fixture(scope="session")
def openi_labels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Our labels of the Open-i development reports, full scheme, as CSV and JSONL."""
    d = tmp_path_factory.mktemp("openi")
    csv_path, jsonl_path = d / "pred.csv", d / "pred.jsonl"
    label(csv_path, "--out", str(csv_path), "--out", str(jsonl_path))
    return {"csv": csv_path, "jsonl": jsonl_path}


def score_py(pred: Path, gold: Path, *extra: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, str(SCORE_PY), str(pred), str(gold), "--json", *extra],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def assert_same_figures(score: dict[str, Any], summary: dict[str, Any]) -> None:
    ours = {r["label"]: r["presence"] for r in summary["labels"]}
    assert set(ours) == set(score["labels"])
    for name, s in score["labels"].items():
        p = ours[name]
        got = {
            "n": p["n"],
            "pos": p["their_positives"],
            "tp": p["tp"],
            "fp": p["fp"],
            "fn": p["fn"],
            "p": round(p["precision"], 3),
            "r": round(p["recall"], 3),
            "f1": round(p["f1"], 3),
        }
        assert got == {k: s[k] for k in got}, name
    overall = summary["overall"]["presence"]
    assert overall["f1_macro"] == score["macro_f1"]  # exactly, not approximately
    assert overall["f1_micro"] == score["micro_f1"]
    assert summary["reports"]["only_theirs"]["count"] == score["missing_ids"]


def test_compare_cli_reproduces_score_py(openi_labels: dict[str, Path], tmp_path: Path) -> None:
    score = score_py(openi_labels["csv"], GOLD)
    out = tmp_path / "cmp"
    done = subprocess.run(
        [
            *cli(),
            "compare",
            str(openi_labels["jsonl"]),
            str(GOLD),
            "--their-id-col",
            "uid",
            "--out",
            str(out),
            "--bootstrap",
            "200",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["basis"] == "presence"
    assert_same_figures(score, summary)
    assert f"{score['macro_f1']:.3f}" in done.stdout and f"{score['micro_f1']:.3f}" in done.stdout
    # the disagreements on presence are exactly the false positives and false negatives
    assert summary["disagreements"]["count"] == sum(s["fp"] + s["fn"] for s in score["labels"].values())


def test_csv_input_gives_the_same_figures(openi_labels: dict[str, Path]) -> None:
    score = score_py(openi_labels["csv"], GOLD, "--min-pos", "30")
    c = compare(GOLD, openi_labels["csv"], true_id_col="uid", min_pos=30, n_boot=0)
    assert_same_figures(score, c.to_dict())


@pytest.mark.skipif(not GOLD_CX14.is_file(), reason=f"{GOLD_CX14} is not there")
def test_chestxray14_gold_with_min_pos_1(tmp_path: Path) -> None:
    pred = tmp_path / "cx14.csv"
    label(pred, "--scheme", "chestxray14", "--out", str(pred))
    score = score_py(pred, GOLD_CX14, "--min-pos", "1")
    c = compare(GOLD_CX14, pred, true_id_col="uid", min_pos=1, n_boot=0)
    summary = c.to_dict()
    assert_same_figures(score, summary)
    assert summary["theirs"]["convention"].startswith("binary")
