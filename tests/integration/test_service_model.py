"""The service with a model engine: the tiny test model (conftest.py) under ONNX Runtime, in TestClient.

``/readyz`` says ready only once the model is loaded and warmed up; ``/v1/label``
and ``/v1/label/batch`` give a probability per column, the model's sha256 in
the provenance, and (hybrid) the review flags; a hybrid server answers
``engine: "rules"`` too, from the same rules; the answers equal the Python
API's; no report text reaches the log. The labels of the tiny model
mean nothing: these tests check the plumbing, not accuracy.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient

from reportlab_nlp.classifier.manifest import read_manifest
from reportlab_nlp.engines import HybridEngine, ModelEngine
from reportlab_nlp.service.app import create_app
from reportlab_nlp.service.schemas import BatchResponse, LabelResponse
from reportlab_nlp.service.settings import ServiceSettings
from reportlab_nlp.types import Report

TEXT = "FINDINGS: Small left pleural effusion. No pneumothorax. Possible pneumonia. Marker 5e7c1a."


@pytest.fixture(autouse=True)
def _no_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for name in list(os.environ):
        if name.startswith("REPORTLAB_"):
            monkeypatch.delenv(name)


@pytest.fixture(scope="module", params=["model", "hybrid"])
def served(request: pytest.FixtureRequest, model_dir: Path) -> Iterator[tuple[str, TestClient]]:
    """A started app (lifespan run: model loaded, warmed up) for each model engine."""
    app = create_app(ServiceSettings(engine=request.param, model_dir=str(model_dir)))
    with TestClient(app) as client:
        yield request.param, client


def test_ready_means_model_loaded_and_warmed_up(served: tuple[str, TestClient], model_dir: Path) -> None:
    name, client = served
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["warmed_up"] is True and body["engine"] == name
    assert body["engines"] == (["hybrid", "rules"] if name == "hybrid" else ["model"])


def test_label_gives_probabilities_and_the_model_sha256(
    served: tuple[str, TestClient], model_dir: Path
) -> None:
    name, client = served
    response = client.post("/v1/label", json={"id": "m1", "text": TEXT})
    assert response.status_code == 200, response.text
    body = LabelResponse.model_validate(response.json())
    assert body.engine == name and body.probabilities is not None
    assert set(body.probabilities) == set(body.labels)
    assert all(0.0 <= p <= 1.0 for p in body.probabilities.values())
    manifest = read_manifest(model_dir)
    assert body.provenance.model_sha256 == manifest["files"]["model.int8.onnx"]["sha256"]
    assert body.provenance.engine == name
    if name == "hybrid":
        assert body.review is not None
        for flag in body.review:
            assert flag.label in body.labels and flag.final == body.labels[flag.label]
    else:
        assert body.review is None


def test_batch_answers_equal_the_python_api(served: tuple[str, TestClient], model_dir: Path) -> None:
    name, client = served
    engine = HybridEngine(model_dir=model_dir) if name == "hybrid" else ModelEngine(model_dir=model_dir)
    texts = [TEXT, "IMPRESSION: Stable cardiomegaly. No acute disease.", "Low lung volumes."]
    expected = engine.predict_many([Report(f"b{i}", t) for i, t in enumerate(texts)])
    response = client.post(
        "/v1/label/batch", json={"reports": [{"id": f"b{i}", "text": t} for i, t in enumerate(texts)]}
    )
    assert response.status_code == 200, response.text
    body = BatchResponse.model_validate(response.json())
    assert [r.id for r in body.results] == ["b0", "b1", "b2"]
    for result, prediction in zip(body.results, expected, strict=True):
        assert result.labels == {k: v.to_json() for k, v in prediction.labels.labels.items()}
        assert prediction.probabilities is not None
        for label, p in result.probabilities.items():  # type: ignore[union-attr]
            assert p == pytest.approx(prediction.probabilities[label], abs=1e-6)
        assert [f.label for f in result.review or []] == [f.label for f in prediction.review]


def test_hybrid_server_answers_the_rules_engine_too(served: tuple[str, TestClient]) -> None:
    name, client = served
    response = client.post("/v1/label", json={"id": "r1", "text": TEXT, "engine": "rules"})
    if name == "model":
        assert response.status_code == 422 and "it runs: model" in response.text
        return
    assert response.status_code == 200, response.text
    body = LabelResponse.model_validate(response.json())
    assert body.engine == "rules" and body.probabilities is None and body.review is None
    assert body.provenance.model_sha256 is None
    assert body.labels["Pleural Effusion"] == 1 and body.labels["Pneumothorax"] == 0


def test_no_report_text_in_the_log(served: tuple[str, TestClient], caplog: pytest.LogCaptureFixture) -> None:
    _, client = served
    with caplog.at_level(logging.DEBUG):
        assert client.post("/v1/label", json={"id": "log-1", "text": TEXT}).status_code == 200
        assert (
            client.post("/v1/label/batch", json={"reports": [{"id": "log-2", "text": TEXT}]}).status_code
            == 200
        )
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "log-1" in logged or "log-2" in logged  # the ids are logged ...
    assert "5e7c1a" not in logged and "pleural" not in logged.lower()  # ... the text never
