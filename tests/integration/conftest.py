"""Fixtures of the integration tests: a tiny transformer model, trained and exported once per session.

The model is a tiny randomly initialised encoder trained for a few steps on
the first reports of the bundled (invented) demo corpus: its labels mean
nothing, it exercises train -> export -> quantize -> infer in seconds. The
shipped MiniLM model is built by ``make model``, not here.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from reportlab_nlp.cli import main

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "corpora" / "demo" / "reports.csv"
N_REPORTS = 60
STEPS = 60


def run_cli(argv: list[str]) -> tuple[int, str, str]:
    """Run the command line in this process: (exit status, standard output, standard error)."""
    out, err = io.StringIO(), io.StringIO()
    rc = main(argv, stdout=out, stderr=err)
    return rc, out.getvalue(), err.getvalue()


def train_args(corpus: Path, out: Path) -> list[str]:
    """The tiny model's training command line."""
    return [
        "train", str(corpus), "--id-col", "report_id", "--text-col", "text", "--out", str(out),
        "--base", "tiny", "--max-steps", str(STEPS), "--epochs", "100", "--batch-size", "8",
        "--learning-rate", "2e-3", "--max-length", "128", "--heldout", "0.4", "--threads", "1",
        "--checkpoint-every", "20", "--no-progress",
    ]  # fmt: skip


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 60 reports of the bundled demo corpus (invented reports)."""
    with open(DEMO, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))[:N_REPORTS]
    path = tmp_path_factory.mktemp("corpus") / "reports.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["report_id", "text"])
        w.writeheader()
        w.writerows(rows)
    return path


@pytest.fixture(scope="session")
def run_dir(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("train") / "run"
    rc, _, err = run_cli(train_args(corpus, out))
    assert rc == 0, err
    assert f"trained {STEPS} of {STEPS} steps" in err
    return out


@pytest.fixture(scope="session")
def model_dir(run_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    models = tmp_path_factory.mktemp("models")
    rc, out, err = run_cli(["export-model", str(run_dir), "--name", "tiny-test", "--models-dir", str(models),
                         "--min-positives", "3"])  # fmt: skip
    assert rc == 0, err
    assert "parity" in out and "int8 agreement" in out
    return models / "tiny-test"
