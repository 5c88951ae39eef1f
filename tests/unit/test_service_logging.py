"""No report text in the service's logs, ever: every logger captured at DEBUG while every route runs.

A distinctive invented text goes through every path a request can take
(labeled, rejected by the schema, too long, unauthorized, failing in the
engine with the text in the exception's message); the log records (messages,
arguments, tracebacks) and everything written to standard output and error
must hold the ids, sizes and timings, and never the text. The live-server test
(tests/integration/test_service_live.py) does the same with uvicorn's own logs.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient

import reportlab_nlp
from reportlab_nlp.engines import Prediction, RulesEngine
from reportlab_nlp.service.app import create_app
from reportlab_nlp.service.settings import ServiceSettings
from reportlab_nlp.types import Report

SECRET = "Quixotic marmoset 4471 sign"
TEXT = f"FINDINGS: {SECRET} in the left lung. Small left pleural effusion. No pneumothorax."
KEY = "log-test-key"


class FailingEngine(RulesEngine):
    """Raises, quoting the report, for ids that start with 'boom' (as a careless engine might)."""

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        for r in reports:
            if r.id.startswith("boom"):
                raise ValueError(f"cannot label {r.text!r}")
        return super().predict_many(reports)


def _all_logged(records: Sequence[logging.LogRecord]) -> str:
    parts = []
    for r in records:
        parts.append(r.getMessage())
        parts.append(repr(r.args))
        parts.append(r.exc_text or "")
        if r.exc_info and r.exc_info[1] is not None:
            parts.append(logging.Formatter().formatException(r.exc_info))
        parts.append(r.stack_info or "")
    return "\n".join(parts)


def test_report_text_never_reaches_the_logs(
    labeler: reportlab_nlp.Labeler,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in list(os.environ):
        if name.startswith("REPORTLAB_"):
            monkeypatch.delenv(name)
    caplog.set_level(logging.DEBUG)  # the root logger: every logger that propagates
    for name in (
        "reportlab_nlp",
        "uvicorn",
        "uvicorn.error",
        "uvicorn.access",
        "fastapi",
        "starlette",
        "httpx",
    ):
        caplog.set_level(logging.DEBUG, logger=name)
    engine = FailingEngine.from_labeler(labeler)
    settings = ServiceSettings(api_keys=(KEY,), max_report_chars=200, log_level="debug", micro_batch=True)
    auth = {"X-API-Key": KEY}
    with TestClient(create_app(settings, engine=engine)) as client:
        ok = client.post("/v1/label", json={"id": "secret-1", "text": TEXT}, headers=auth)
        assert ok.status_code == 200 and ok.json()["labels"]["Pleural Effusion"] == 1
        sections = [{"name": "findings", "text": TEXT}]
        assert (
            client.post("/v1/label", json={"id": "secret-2", "sections": sections}, headers=auth).status_code
            == 200
        )
        batch = {"reports": [{"id": f"secret-b{i}", "text": TEXT} for i in range(3)]}
        assert client.post("/v1/label/batch", json=batch, headers=auth).status_code == 200
        statuses = [
            client.post("/v1/label", json={"id": "x", "text": TEXT}).status_code,  # no key
            client.post("/v1/label", json={"id": "x", "text": TEXT, "bad": TEXT}, headers=auth).status_code,
            client.post("/v1/label", json={"id": "x", "text": TEXT * 10}, headers=auth).status_code,
            client.post("/v1/label", json={"id": "boom-1", "text": TEXT}, headers=auth).status_code,
            client.post(
                "/v1/label",
                content=f'{{"id": "x", "text": "{SECRET}',
                headers={**auth, "Content-Type": "application/json"},
            ).status_code,
            client.post(
                "/v1/label", content=TEXT, headers={**auth, "Content-Type": "text/plain"}
            ).status_code,
            client.get("/v1/labels", headers=auth).status_code,
            client.get("/metrics").status_code,
        ]
        assert statuses == [401, 422, 413, 500, 422, 415, 200, 200]
    logged = _all_logged(caplog.records) + caplog.text
    out, err = capfd.readouterr()

    # the capture works: ids, sizes, timings and the failure are there
    assert "secret-1" in logged and "secret-b2" in logged and "chars=" in logged and "ms=" in logged
    assert "labeling failed" in logged and "ValueError" in logged and "boom-1" in logged
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    # ...and the text is not, anywhere
    for where in (logged, out, err):
        assert SECRET not in where
        assert "marmoset" not in where.lower()
