"""The shipped model is found wherever the command runs; a missing one names --model first.

Reports here are invented for the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reportlab_nlp import modelpath
from reportlab_nlp.engines import resolve_model
from reportlab_nlp.errors import EngineUnavailableError

SCRIPT = Path(sys.executable).parent / "reportlab-nlp"


def _run(args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    if not SCRIPT.exists():
        pytest.skip("the reportlab-nlp console script is not installed beside this Python")
    environ = {k: v for k, v in os.environ.items() if k != modelpath.MODEL_DIR_ENV}
    environ.update(env)
    return subprocess.run(
        [str(SCRIPT), *args], cwd=cwd, capture_output=True, text=True, env=environ, timeout=300
    )


def test_the_installed_package_ships_its_model() -> None:
    shipped = sorted(p.parent.name for p in modelpath.SHIPPED_MODELS_DIR.glob("*/manifest.json"))
    assert shipped == ["minilm-openi"], f"no model under {modelpath.SHIPPED_MODELS_DIR}"


def test_hybrid_runs_from_another_folder(tmp_path: Path) -> None:
    pytest.importorskip("onnxruntime", reason="the model extra (onnxruntime) is not installed")
    (tmp_path / "reports.csv").write_text(
        "report_id,text\nr1,Small left pleural effusion.\nr2,No acute disease.\n", encoding="utf-8"
    )
    proc = _run(["label", "reports.csv", "--engine", "hybrid", "--out", "l.jsonl", "--no-progress"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    records = [json.loads(line) for line in (tmp_path / "l.jsonl").read_text(encoding="utf-8").splitlines()]
    assert records[0]["labels"]["Pleural Effusion"] == 1
    assert "probabilities" in records[0]


def test_missing_model_names_the_option_before_a_retrain(tmp_path: Path) -> None:
    empty = tmp_path / "nothing"
    empty.mkdir()
    proc = _run(["label", "-", "--engine", "model", "--model", str(empty), "--out", "x.csv"], tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    err = proc.stderr
    assert str(empty) in err and "--model" in err and "make model" in err
    assert err.index("--model") < err.index("make model")


def test_search_path_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(modelpath.MODEL_DIR_ENV, str(tmp_path / "env"))
    places = modelpath.model_search_path()
    assert places[0] == tmp_path / "env" and places[1] == Path("models")
    assert places[-1] == modelpath.SHIPPED_MODELS_DIR
    monkeypatch.delenv(modelpath.MODEL_DIR_ENV)
    monkeypatch.chdir(tmp_path)  # no models/ here: the shipped one is found
    assert resolve_model("hybrid").parent == modelpath.SHIPPED_MODELS_DIR


def test_nothing_anywhere_names_every_place(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(modelpath, "SHIPPED_MODELS_DIR", tmp_path / "none")
    monkeypatch.setattr(modelpath, "checkout_models_dir", lambda: None)
    monkeypatch.delenv(modelpath.MODEL_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(EngineUnavailableError) as info:
        resolve_model("hybrid")
    message = str(info.value)
    assert str(tmp_path / "models") in message and str(tmp_path / "none") in message
    assert message.index("--model") < message.index("make model")
