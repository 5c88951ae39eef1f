"""Inference off the event loop: one load at startup, concurrent requests, micro-batching, failures.

The rules engine does not ask for micro-batching (``REPORTLAB_MICRO_BATCH``
unset leaves it off); these tests turn it on to check the machinery a model
engine will use: concurrent requests share engine calls, every request gets
its own reports back, and a request whose reports make the engine raise fails
alone. Every report here is invented for the test.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import reportlab_nlp
from reportlab_nlp.engines import Prediction, RulesEngine
from reportlab_nlp.rules import RuleSet
from reportlab_nlp.service.app import create_app
from reportlab_nlp.service.settings import ServiceSettings
from reportlab_nlp.types import Report

TEXTS = {
    "effusion": ("Small left pleural effusion.", "Pleural Effusion", 1),
    "no-ptx": ("No pneumothorax.", "Pneumothorax", 0),
    "maybe-pna": ("Possible pneumonia.", "Pneumonia", -1),
    "cmg": ("Cardiomegaly.", "Cardiomegaly", 1),
}


class SlowEngine(RulesEngine):
    """The rules engine with a fixed cost per call (like a model's), so that requests queue up.

    Reports whose id starts with 'boom' make it raise.
    """

    delay_s = 0.05

    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []
        self._calls_lock = threading.Lock()

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        with self._calls_lock:
            self.calls.append(len(reports))
        threading.Event().wait(self.delay_s)
        if any(r.id.startswith("boom") for r in reports):
            raise RuntimeError("engine failure")
        return super().predict_many(reports)


@pytest.fixture(autouse=True)
def _no_service_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("REPORTLAB_"):
            monkeypatch.delenv(name)


def _slow(labeler: reportlab_nlp.Labeler) -> SlowEngine:
    engine = SlowEngine.from_labeler(labeler)
    assert isinstance(engine, SlowEngine)
    return engine


def _concurrently(client: TestClient, bodies: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    results: list[Any] = [None] * len(bodies)
    start = threading.Barrier(len(bodies))

    def call(i: int) -> None:
        path, body = bodies[i]
        start.wait()
        results[i] = client.post(path, json=body)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def _batch_histogram(client: TestClient) -> tuple[float, float]:
    """(engine calls, reports) from the metrics."""
    calls = reports = 0.0
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for s in family.samples:
            if s.name == "reportlab_inference_batch_reports_count":
                calls = s.value
            if s.name == "reportlab_inference_batch_reports_sum":
                reports = s.value
    return calls, reports


def _requests(n: int) -> list[tuple[str, dict[str, Any]]]:
    keys = list(TEXTS)
    return [("/v1/label", {"id": f"{keys[i % 4]}-{i}", "text": TEXTS[keys[i % 4]][0]}) for i in range(n)]


def _check(responses: list[Any], bodies: list[tuple[str, dict[str, Any]]]) -> None:
    for response, (_, body) in zip(responses, bodies, strict=True):
        assert response.status_code == 200, response.text
        got = response.json()
        assert got["id"] == body["id"]  # every request gets its own report back
        _, label, value = TEXTS[body["id"].rsplit("-", 1)[0]]
        assert got["labels"][label] == value


def test_micro_batching_combines_concurrent_requests(labeler: reportlab_nlp.Labeler) -> None:
    engine = _slow(labeler)
    settings = ServiceSettings(micro_batch=True, micro_batch_wait_ms=20, micro_batch_max=64)
    with TestClient(create_app(settings, engine=engine)) as client:
        engine.calls.clear()  # the warm-up
        bodies = _requests(12)
        _check(_concurrently(client, bodies), bodies)
        calls, reports = _batch_histogram(client)
    assert sum(engine.calls) == 12 == reports
    assert len(engine.calls) == calls < 12  # fewer engine calls than requests
    assert max(engine.calls) > 1


def test_without_micro_batching_each_request_is_one_call(labeler: reportlab_nlp.Labeler) -> None:
    engine = _slow(labeler)
    with TestClient(create_app(ServiceSettings(), engine=engine)) as client:  # rules: off by default
        assert client.get("/readyz").status_code == 200
        engine.calls.clear()
        bodies = _requests(6)
        _check(_concurrently(client, bodies), bodies)
    assert engine.calls == [1] * 6


def test_a_failing_request_fails_alone(labeler: reportlab_nlp.Labeler) -> None:
    engine = _slow(labeler)
    settings = ServiceSettings(micro_batch=True, micro_batch_wait_ms=30)
    with TestClient(create_app(settings, engine=engine)) as client:
        engine.calls.clear()
        bodies = _requests(6)
        bodies.insert(3, ("/v1/label", {"id": "boom-0", "text": "No edema."}))
        bodies.append(("/v1/label/batch", {"reports": [{"id": "cmg-9", "text": "Cardiomegaly."}]}))
        responses = _concurrently(client, bodies)
    assert responses[3].status_code == 500 and responses[3].json()["error"] == "internal_error"
    _check(responses[:3] + responses[4:7], bodies[:3] + bodies[4:7])
    assert (
        responses[7].status_code == 200 and responses[7].json()["results"][0]["labels"]["Cardiomegaly"] == 1
    )
    assert max(engine.calls) > 1  # the failing request shared a call, then was retried alone
    assert engine.calls.count(1) >= 1


def test_micro_batch_max_caps_a_call(labeler: reportlab_nlp.Labeler) -> None:
    engine = _slow(labeler)
    settings = ServiceSettings(micro_batch=True, micro_batch_wait_ms=30, micro_batch_max=3)
    with TestClient(create_app(settings, engine=engine)) as client:
        engine.calls.clear()
        bodies = _requests(9)
        _check(_concurrently(client, bodies), bodies)
        batch = {"reports": [{"id": f"cmg-{i}", "text": "Cardiomegaly."} for i in range(5)]}
        assert client.post("/v1/label/batch", json=batch).json()["count"] == 5
    assert max(engine.calls[:-1]) <= 3
    assert engine.calls[-1] == 5  # a request larger than the cap runs alone, whole


def test_inference_runs_off_the_event_loop(labeler: reportlab_nlp.Labeler) -> None:
    """While the engine works on a slow request, the same server answers /healthz at once."""
    engine = _slow(labeler)
    engine.delay_s = 0.6
    with TestClient(create_app(ServiceSettings(), engine=engine)) as client:
        slow = threading.Thread(
            target=client.post, args=("/v1/label",), kwargs={"json": {"id": "a", "text": "x"}}
        )
        slow.start()
        deadline = time.monotonic() + 5
        while len(engine.calls) < 2 and time.monotonic() < deadline:  # the warm-up, then the request
            time.sleep(0.005)
        started = time.perf_counter()
        assert client.get("/healthz").status_code == 200
        answered_in = time.perf_counter() - started
        slow.join(timeout=10)
    assert len(engine.calls) == 2
    assert answered_in < 0.3, answered_in


class CountingEngine(RulesEngine):
    """The rules engine, counting how often it is loaded."""

    loads = 0

    def _load(self, rules: RuleSet) -> None:
        CountingEngine.loads += 1
        super()._load(rules)


def test_the_engine_loads_once_at_startup() -> None:
    engine = CountingEngine()
    assert not engine.loaded
    app = create_app(ServiceSettings(), engine=engine)
    assert not engine.loaded  # building the app loads nothing
    with TestClient(app) as client:
        assert engine.loaded and engine.ready and CountingEngine.loads == 1  # loaded by the lifespan
        for i in range(5):
            assert client.post("/v1/label", json={"id": str(i), "text": "No edema."}).status_code == 200
        client.post("/v1/label/batch", json={"reports": [{"id": "b", "text": "Cardiomegaly."}]})
    assert CountingEngine.loads == 1
