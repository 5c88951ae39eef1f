"""Engines behind one interface: the rules engine, and clear refusals for model and hybrid.

Every report here is invented for the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import reportlab_nlp
from reportlab_nlp.engines import (
    ENGINE_NAMES,
    Engine,
    Prediction,
    RulesEngine,
    find_models,
    get_engine,
)
from reportlab_nlp.errors import EngineUnavailableError, ReportlabError, SchemeError
from reportlab_nlp.types import LabelValue, Report

TEXT = "FINDINGS: Small left pleural effusion. No pneumothorax. Possible pneumonia."


@pytest.fixture(scope="module")
def engine(labeler: reportlab_nlp.Labeler) -> RulesEngine:
    return RulesEngine.from_labeler(labeler)


def test_rules_engine_labels_like_the_labeler(engine: RulesEngine, labeler: reportlab_nlp.Labeler) -> None:
    reports = [Report("a", TEXT), Report("b", "No acute findings."), Report("c", "")]
    predictions = engine.predict_many(reports)
    assert [p.labels.id for p in predictions] == ["a", "b", "c"]
    assert all(p.probabilities is None for p in predictions)
    for report, prediction in zip(reports, predictions, strict=True):
        assert prediction.labels == labeler.label(report.text, id=report.id)
    first = predictions[0].labels
    assert first.labels["Pleural Effusion"] is LabelValue.POSITIVE
    assert first.labels["Pneumothorax"] is LabelValue.NEGATIVE
    assert first.labels["Pneumonia"] is LabelValue.UNCERTAIN
    assert engine.label_many(reports) == [p.labels for p in predictions]
    assert engine.label(reports[0]) == first


def test_rules_engine_lifecycle_and_provenance() -> None:
    engine = get_engine("rules")
    assert isinstance(engine, RulesEngine) and isinstance(engine, Engine)
    assert engine.name == "rules" and not engine.micro_batching
    assert not engine.loaded and not engine.ready  # the constructor only stores settings
    engine.warm_up()
    assert engine.loaded and engine.ready
    record = engine.provenance()
    assert record == {
        "toolkit": "reportlab-nlp",
        "toolkit_version": reportlab_nlp.__version__,
        "engine": "rules",
        "rules_hash": engine.labeler.rules_hash,
        "model_sha256": None,
    }
    assert len(record["rules_hash"]) == 64


def test_engine_projects_schemes(engine: RulesEngine, labeler: reportlab_nlp.Labeler) -> None:
    labels = engine.label(Report("a", TEXT))
    values = engine.values(labels, "chexpert")
    assert [c for c, _, _ in values] == labeler.columns("chexpert")
    assert values == labeler.values(labels, "chexpert")
    with pytest.raises(SchemeError, match="unknown scheme 'nope'"):
        engine.scheme("nope")


def test_user_rules_change_the_rules_hash(rules_file: Callable[..., Path], engine: RulesEngine) -> None:
    path = rules_file(
        "findings:\n  - label: Quokka Sign\n    definition: invented\n    phrases: [quokka sign]\n"
    )
    custom = get_engine("rules", rules=[path])
    custom.load()
    assert custom.rules_hash != engine.rules_hash
    assert custom.label(Report("q", "There is a quokka sign.")).labels["Quokka Sign"] is LabelValue.POSITIVE


@pytest.mark.parametrize("name", ["model", "hybrid"])
def test_model_engines_say_no_model_is_installed(name: str, tmp_path: Path) -> None:
    with pytest.raises(EngineUnavailableError) as caught:
        get_engine(name, model_dir=tmp_path / "models")
    message = str(caught.value)
    assert f"engine {name!r} is not available" in message
    assert "no model is installed under" in message and str(tmp_path / "models") in message
    assert "manifest.json" in message
    assert "make model" in message and "reportlab-nlp[model]" in message
    assert "--engine rules" in message
    assert isinstance(caught.value, ReportlabError)  # the CLI turns it into exit status 2


def test_model_engines_refuse_a_malformed_model_folder(tmp_path: Path) -> None:
    model = tmp_path / "models" / "minilm"
    model.mkdir(parents=True)
    (model / "manifest.json").write_text(json.dumps({"name": "minilm"}), encoding="utf-8")
    assert find_models(tmp_path / "models") == [model]
    assert find_models(model) == [model]
    with pytest.raises(
        EngineUnavailableError, match=r"manifest\.json: expected format 'reportlab-nlp model'"
    ):
        get_engine("hybrid", model_dir=tmp_path / "models")
    (tmp_path / "models" / "other").mkdir()
    (tmp_path / "models" / "other" / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(EngineUnavailableError, match=r"several models are installed under .*: minilm, other"):
        get_engine("model", model_dir=tmp_path / "models")


def test_unknown_engine() -> None:
    with pytest.raises(EngineUnavailableError, match="unknown engine; expected one of: rules, model, hybrid"):
        get_engine("quantum")
    assert ENGINE_NAMES == ("rules", "model", "hybrid")


def test_prediction_carries_probabilities() -> None:
    labels = reportlab_nlp.ReportLabels(id="x", labels={"Edema": LabelValue.POSITIVE})
    assert Prediction(labels, {"Edema": 0.9}).probabilities == {"Edema": 0.9}
    assert Prediction(labels).probabilities is None


class _BrokenOn(RulesEngine):
    """A rules engine whose labeling raises for one report id (to test failure isolation)."""

    broken = "bad"

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        if any(r.id == self.broken for r in reports):
            raise RuntimeError("this report breaks the batch")
        return super().predict_many(reports)


def test_stream_yields_every_report_in_order(engine: RulesEngine) -> None:
    reports = [Report(f"r{i}", TEXT if i % 2 else "No acute findings.") for i in range(7)]
    pairs = list(engine.stream(iter(reports), batch_size=3))
    assert [r.id for r, _ in pairs] == [r.id for r in reports]
    assert [r for r, _ in pairs] == reports
    expected = engine.predict_many(reports)
    assert [o for _, o in pairs] == expected


def test_stream_isolates_a_failing_report(labeler: reportlab_nlp.Labeler) -> None:
    engine = _BrokenOn.from_labeler(labeler)
    reports = [Report("a", TEXT), Report("bad", TEXT), Report("c", "No effusion.")]
    outcomes = dict((r.id, o) for r, o in engine.stream(reports, batch_size=8))
    assert isinstance(outcomes["bad"], RuntimeError)
    assert isinstance(outcomes["a"], Prediction) and isinstance(outcomes["c"], Prediction)
    assert outcomes["a"].labels == labeler.label(TEXT, id="a")
    assert outcomes["c"].labels.labels["Pleural Effusion"] is LabelValue.NEGATIVE


def test_engine_takes_loaded_rules(labeler: reportlab_nlp.Labeler) -> None:
    engine = RulesEngine(rules=labeler.rules)
    assert engine.rule_paths == ()
    assert engine.rules_hash == labeler.rules_hash
    assert engine.columns("chexpert") == labeler.columns("chexpert")
    assert engine.category_columns("full") == labeler.category_columns("full")
    shaped = reportlab_nlp.Labeler(labeler.rules, scheme="chexpert").label(TEXT)
    # values() reads a shaped result's full label set, as Labeler.values does
    assert engine.values(shaped, "full") == labeler.values(shaped, "full")
