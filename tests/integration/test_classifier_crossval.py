"""``reportlab-nlp cross-validate`` end to end with a tiny random model on invented demo reports.

2 folds over 40 demo reports, 8 training steps a fold: the folds are disjoint
and cover every gold report; no fold's model saw a report of its fold; the
pooled out-of-fold figures are the scorer's figures on the written files
(checked against ``../shared/tools/score.py`` when it is there); the verdict
applies the acceptance rule; ``export-model --cv`` carries the figures into
the manifest and the model card; a bad ``cv.json`` is named.
"""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from reportlab_nlp.classifier.crossval import CVConfig, verdict
from reportlab_nlp.classifier.dataset import TrainingData
from reportlab_nlp.cli import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "demo" / "reports.csv"
SCORER = REPO.parent / "shared" / "tools" / "score.py"
N_REPORTS = 40


def _run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def _ids(path: Path, col: str) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        return [row[col] for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """40 invented demo reports, and a gold CSV: the rules' presence, with two cells flipped."""
    root = tmp_path_factory.mktemp("cv-inputs")
    with open(DEMO, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:N_REPORTS]
    reports = root / "reports.csv"
    with open(reports, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["report_id", "text"])
        w.writeheader()
        w.writerows({"report_id": r["report_id"], "text": r["text"]} for r in rows)
    silver = root / "silver.csv"
    rc, _, err = _run(["label", str(reports), "--scheme", "chexpert", "--out", str(silver), "--no-progress"])
    assert rc == 0, err
    with open(silver, encoding="utf-8", newline="") as f:
        labeled = list(csv.DictReader(f))
    columns = [c for c in labeled[0] if c != "report_id"]
    gold = root / "gold.csv"
    with open(gold, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["uid", *columns])
        for i, r in enumerate(labeled):
            values = ["1" if r[c] in ("1", "-1") else "0" for c in columns]
            if i < 2:  # two disagreements with the rules, so the scores are not all 1.0
                values[columns.index("Pleural Effusion")] = "1" if values[2] == "0" else "0"
            w.writerow([r["report_id"], *values])
    return reports, gold


def _cv_args(reports: Path, gold: Path, out: Path) -> list[str]:
    return [
        "cross-validate", str(reports), "--id-col", "report_id", "--text-col", "text",
        "--gold", str(gold), "--out", str(out), "--base", "tiny", "--max-steps", "8", "--epochs", "50",
        "--batch-size", "8", "--learning-rate", "2e-3", "--max-length", "128", "--heldout", "0.4",
        "--threads", "1", "--folds", "2", "--min-positives", "3", "--min-agreement", "0.5",
        "--no-progress", "--resume",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def cv_run(inputs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    reports, gold = inputs
    out = tmp_path_factory.mktemp("cv") / "out"
    rc, stdout, stderr = _run(_cv_args(reports, gold, out))
    assert rc == 0, stderr
    return out, stdout, stderr


def test_folds_are_disjoint_cover_the_gold_and_no_model_saw_its_fold(
    cv_run: tuple[Path, str, str], inputs: tuple[Path, Path]
) -> None:
    out, _, _ = cv_run
    gold_ids = set(_ids(inputs[1], "uid"))
    folds = [set(_ids(out / f"fold-{k}" / "gold.csv", "uid")) for k in range(2)]
    assert folds[0].isdisjoint(folds[1]) and folds[0] | folds[1] == gold_ids
    assert abs(len(folds[0]) - len(folds[1])) <= 1
    for k, test_ids in enumerate(folds):
        seen = TrainingData.load(out / f"fold-{k}" / "run" / "data")
        trained_on = {rid for split in seen.splits.values() for rid in split["id"]}
        assert trained_on and trained_on.isdisjoint(test_ids)
        for engine in ("rules", "model", "hybrid"):
            assert set(_ids(out / f"fold-{k}" / f"{engine}.csv", "report_id")) == test_ids
    for engine in ("rules", "model", "hybrid"):
        oof = _ids(out / f"oof-{engine}.csv", "report_id")
        assert sorted(oof) == sorted(gold_ids)  # every gold report scored once


def test_cv_json_figures_and_table(cv_run: tuple[Path, str, str]) -> None:
    out, stdout, _ = cv_run
    cv = json.loads((out / "cv.json").read_text(encoding="utf-8"))
    assert [f["fold"] for f in cv["folds"]] == [0, 1]
    assert cv["gold"]["reports"] == N_REPORTS == sum(f["test_reports"] for f in cv["folds"])
    rules = cv["pooled"]["rules"]
    # the gold is the rules' presence but for two flipped Pleural Effusion cells
    assert rules["labels"]["Pleural Effusion"]["fp"] + rules["labels"]["Pleural Effusion"]["fn"] == 2
    assert rules["labels"]["Cardiomegaly"]["f1"] in (None, 1.0)
    for name in ("rules", "model", "hybrid"):
        mean = sum(f[name]["macro_f1"] for f in cv["folds"]) / 2
        assert cv["mean_over_folds"][name]["macro_f1"] == pytest.approx(mean)
    assert cv["verdict"]["passed"] == (cv["verdict"]["gain_holds"] and cv["verdict"]["loss_holds"])
    assert "pooled" in stdout and ("PASSED" in stdout)
    assert cv["settings"]["folds"] == 2 and cv["settings"]["train"]["base"] == "tiny"


@pytest.mark.skipif(not SCORER.is_file(), reason=f"the project's scorer is not at {SCORER}")
def test_pooled_figures_are_the_scorers(cv_run: tuple[Path, str, str]) -> None:
    out, _, _ = cv_run
    cv = json.loads((out / "cv.json").read_text(encoding="utf-8"))
    for name in ("rules", "model", "hybrid"):
        done = subprocess.run(
            [sys.executable, str(SCORER), str(out / f"oof-{name}.csv"), str(out / "gold.csv"),
             "--min-pos", "3", "--json"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        theirs = json.loads(done.stdout)
        assert cv["pooled"][name]["macro_f1"] == pytest.approx(theirs["macro_f1"])
        assert cv["pooled"][name]["micro_f1"] == pytest.approx(theirs["micro_f1"])


def test_resume_scores_again_without_training(
    cv_run: tuple[Path, str, str], inputs: tuple[Path, Path]
) -> None:
    out, _, _ = cv_run
    before = (out / "oof-hybrid.csv").read_bytes()
    rc, _, err = _run(_cv_args(*inputs, out))
    assert rc == 0, err
    assert err.count("trained and exported already") == 2
    assert (out / "oof-hybrid.csv").read_bytes() == before


def test_require_pass_fails_when_the_rule_does_not_hold(
    cv_run: tuple[Path, str, str], inputs: tuple[Path, Path]
) -> None:
    out, _, _ = cv_run
    cv = json.loads((out / "cv.json").read_text(encoding="utf-8"))
    rc, _, _ = _run([*_cv_args(*inputs, out), "--require-pass"])
    assert rc == (0 if cv["verdict"]["passed"] else 1)


def test_verdict_rule() -> None:
    def figures(rules: list[float], hybrid: list[float], positives: list[int]) -> dict[str, object]:
        def one(f1s: list[float]) -> dict[str, object]:
            labels = {
                f"L{i}": {"f1": f, "positives": p, "in_average": p >= 10}
                for i, (f, p) in enumerate(zip(f1s, positives, strict=True))
            }
            counted = [f for f, p in zip(f1s, positives, strict=True) if p >= 10]
            return {"macro_f1": sum(counted) / len(counted), "labels": labels}

        return {"rules": one(rules), "hybrid": one(hybrid)}

    config = CVConfig()
    ok = verdict(figures([0.90, 0.80, 0.5], [0.92, 0.81, 0.1], [20, 15, 3]), config)
    assert ok["passed"] and ok["largest_loss"]["label"] == "L1"  # L2 has too few positives to count
    too_small = verdict(figures([0.90, 0.80], [0.905, 0.805], [20, 15]), config)
    assert not too_small["passed"] and not too_small["gain_holds"] and too_small["loss_holds"]
    losing = verdict(figures([0.90, 0.80], [0.99, 0.77], [20, 15]), config)
    assert losing["gain_holds"] and not losing["loss_holds"] and not losing["passed"]
    assert [d["label"] for d in losing["labels_losing_too_much"]] == ["L1"]


def test_export_model_records_the_cross_validation(cv_run: tuple[Path, str, str], tmp_path: Path) -> None:
    out, _, _ = cv_run
    models = tmp_path / "models"
    rc, _, err = _run(["export-model", str(out / "fold-0" / "run"), "--name", "with-cv", "--models-dir",
                       str(models), "--min-positives", "3", "--min-agreement", "0.5", "--int8-only",
                       "--cv", str(out / "cv.json")])  # fmt: skip
    assert rc == 0, err
    manifest = json.loads((models / "with-cv" / "manifest.json").read_text(encoding="utf-8"))
    cv = manifest["cross_validation"]
    assert cv["folds"] == 2 and [f["fold"] for f in cv["per_fold"]] == [1, 2]
    assert "Pleural Effusion" in cv["pooled_per_label"]
    card = (models / "with-cv" / "README.md").read_text(encoding="utf-8")
    assert "Acceptance rule" in card and "| pooled |" in card and "not measured yet" not in card


def test_a_bad_cv_file_is_named(cv_run: tuple[Path, str, str], tmp_path: Path) -> None:
    out, _, _ = cv_run
    bad = tmp_path / "cv.json"
    bad.write_text('{"folds": []}', encoding="utf-8")
    rc, _, err = _run(["export-model", str(out / "fold-0" / "run"), "--name", "x", "--models-dir",
                       str(tmp_path / "m"), "--cv", str(bad)])  # fmt: skip
    assert rc != 0 and str(bad) in err and "'pooled'" in err and "Traceback" not in err
    assert not (tmp_path / "m" / "x").exists()


def test_cross_validate_needs_gold(inputs: tuple[Path, Path], tmp_path: Path) -> None:
    rc, _, err = _run(["cross-validate", str(inputs[0]), "--out", str(tmp_path / "o"), "--base", "tiny"])
    assert rc != 0 and "--gold" in err
