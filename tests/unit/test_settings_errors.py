"""Settings objects raise one SettingsError: a user error naming the field, expected and found."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from reportlab_nlp.errors import ReportlabError, SettingsError

pytest.importorskip("torch", reason="the training settings live with the `train` extra (torch)")

from reportlab_nlp.classifier.crossval import CVConfig
from reportlab_nlp.classifier.export import ExportConfig
from reportlab_nlp.classifier.train import TrainConfig

PACKAGE = Path(__file__).resolve().parents[2] / "reportlab_nlp"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: TrainConfig(epochs=0), "epochs: expected a whole number of at least 1, found 0"),
        (
            lambda: TrainConfig(max_steps=0),
            "max_steps: expected a whole number of at least 1, or none, found 0",
        ),
        (lambda: TrainConfig(device="gpu"), "device: expected cpu, cuda or cuda:N, found 'gpu'"),
        (lambda: TrainConfig(class_weighting="x"), "class_weighting: expected one of: "),
        (lambda: CVConfig(folds=1), "folds: expected a whole number of at least 2, found 1"),
        (lambda: ExportConfig(name="../x"), "name: expected a plain folder name, found '../x'"),
        (
            lambda: ExportConfig(name="m", min_agreement=2.0),
            "min_agreement: expected a number in (0, 1], found 2.0",
        ),
    ],
)
def test_a_bad_setting_is_a_settings_error(make: object, message: str) -> None:
    with pytest.raises(SettingsError) as caught:
        make()  # type: ignore[operator]
    assert message in str(caught.value)
    assert isinstance(caught.value, ReportlabError) and not isinstance(caught.value, ValueError)
    assert caught.value.exit_code == 2


def test_from_dict_refuses_unknown_keys_naming_them_and_the_file() -> None:
    good = TrainConfig(epochs=2).to_dict()
    assert TrainConfig.from_dict(good) == TrainConfig(epochs=2)
    with pytest.raises(SettingsError) as caught:
        TrainConfig.from_dict({**good, "epoch": 3, "lr": 1e-3}, source="runs/a/run.json")
    text = str(caught.value)
    assert text.startswith("runs/a/run.json: unknown keys: expected only the training settings (")
    assert text.endswith("found ['epoch', 'lr']") and "epochs" in text


def _imports(module: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(module.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module.lstrip("."))
    return names


def test_crossval_and_export_do_not_import_each_other() -> None:
    # cross-validation exports each fold's model; export-model reads cv.json through cvfile, not crossval
    assert "crossval" not in _imports(PACKAGE / "classifier" / "export.py")
    assert "export" in _imports(PACKAGE / "classifier" / "crossval.py")
    assert "cvfile" in _imports(PACKAGE / "classifier" / "export.py")
