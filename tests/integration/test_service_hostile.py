"""The service under bad and hostile input, on a real ``reportlab-nlp serve`` (uvicorn) on 127.0.0.1.

Each case of issue 19 point 6 (and the service items of issue 18): empty API
keys, integer ids, lone surrogates, huge validation errors, ``/docs``; then
the limits that keep the server answering while hostile clients run
(slowloris, slow and huge bodies, too many connections, a request over its
time budget, a client that leaves). Every loop here is bounded and stops by
itself; every report text is invented.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")

StartService = Callable[..., Any]  # the start_service fixture of tests/integration/conftest.py
JSON = {"Content-Type": "application/json"}
TEXT = "FINDINGS: Small left pleural effusion. No pneumothorax."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, start_service: StartService) -> Any:
    return start_service(tmp_path_factory.mktemp("hostile"))


def test_api_keys_with_only_empty_keys_refuse_to_start() -> None:
    """``REPORTLAB_API_KEYS=","`` used to start a server without authentication."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORTLAB_")}
    script = str(Path(sys.executable).parent / "reportlab-nlp")
    for value in (",", " , ,"):
        run = subprocess.run(
            [script, "serve", "--port", "0"],
            env={**env, "REPORTLAB_API_KEYS": value},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2, run.stdout + run.stderr
        assert "REPORTLAB_API_KEYS" in run.stderr and "holds no key" in run.stderr
        assert "Uvicorn running" not in run.stdout + run.stderr


def test_integer_id_lone_surrogates_and_docs(server: Any) -> None:
    client = httpx.Client(base_url=server.base_url, timeout=30)
    r = client.post("/v1/label", json={"id": 42, "text": TEXT})
    assert r.status_code == 200 and r.json()["id"] == "42", r.text

    # a lone surrogate (as a JSON escape) was a 500; now a 422 that names the report and the field
    one = json.dumps({"id": "s1", "text": "No edema.\ud800"})
    r = client.post("/v1/label", content=one, headers=JSON)
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["body", "text"] and "lone surrogate" in r.text
    batch = json.dumps({"reports": [{"id": "ok", "text": TEXT}, {"id": "bad", "text": "x\udc00"}]})
    r = client.post("/v1/label/batch", content=batch, headers=JSON)
    assert r.status_code == 422, r.text
    assert [d["loc"] for d in r.json()["detail"]] == [["body", "reports", 1, "text"]]

    r = client.get("/docs")
    assert r.status_code == 404 and "REPORTLAB_DOCS=1" in r.json()["message"]
    assert "internal error" not in server.output()


def test_a_huge_validation_error_is_short_and_off_the_event_loop(server: Any) -> None:
    """0.8 MB of wrong items gave a 36 MB 422 after 3.3 s of the event loop; now a short answer at once."""
    client = httpx.Client(base_url=server.base_url, timeout=30)
    raw = json.dumps({"id": "x", "sections": [1] * 260_000})
    started = time.perf_counter()
    r = client.post("/v1/label", content=raw, headers=JSON)
    elapsed = time.perf_counter() - started
    assert r.status_code == 422 and len(r.content) < 1_000, (r.status_code, len(r.content))
    assert elapsed < 2.0, elapsed
    r = client.post("/v1/label/batch", content=json.dumps({"reports": [1] * 260_000}), headers=JSON)
    assert r.status_code == 413 and r.json()["error"] == "too_many_reports"
