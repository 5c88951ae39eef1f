"""The service as deployed: ``reportlab-nlp serve`` (a real uvicorn) on a free loopback port.

* ``schemathesis run`` reads the live ``/openapi.json`` and sends generated
  requests (valid and invalid, a bounded number per operation, deterministic)
  to every operation: no 5xx, every status, content type and body as
  documented, invalid data rejected, valid data accepted, unauthenticated
  calls refused;
* SIGTERM while a batch is being labeled: the batch still gets its 200, then
  the server shuts down (and exits by the signal, as uvicorn does);
* a body streamed without Content-Length is cut off at the limit (413);
* a report's text never reaches the server's output (uvicorn's access log
  included), at the debug log level.

The server runs with API keys and small limits (16 reports, 2,000 characters)
so that generated requests stay small. Every report text here is invented.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
httpx = pytest.importorskip("httpx", reason="httpx is not installed")

API_KEY = "live-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
GRACEFUL = (0, -signal.SIGTERM)
"""How the server exits after SIGTERM: uvicorn shuts down, then re-raises the signal (0 on older uvicorn)."""
LiveServer = Any  # tests/integration/conftest.py: LiveServer (process, base_url, port, output(), stop())
StartService = Callable[..., Any]  # the start_service fixture
SECRET_TEXT = "Zygomorphic quokka sentinel 7731 effusion"
"""A report text that must never appear in the server's output."""


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory, start_service: StartService) -> Iterator[LiveServer]:
    server = start_service(
        tmp_path_factory.mktemp("live"),
        REPORTLAB_API_KEYS=f"other-key,{API_KEY}",
        REPORTLAB_MAX_BATCH="16",
        REPORTLAB_MAX_REPORT_CHARS="2000",
    )
    yield server
    assert server.stop() in GRACEFUL, server.output()


# ---------------------------------------------------------------------------
# schemathesis on the live OpenAPI document
# ---------------------------------------------------------------------------

SCHEMATHESIS_TOML = """\
[generation]
mode = "all"              # valid and invalid requests
max-examples = 25         # per operation and phase
deterministic = true      # the same requests on every run
database = "none"

[phases.stateful]
enabled = false           # no resources to create and fetch

[checks.negative_data_rejection]
# 413 is this service's documented answer to a batch or report over the limits
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422"]
"""


def _schemathesis() -> str:
    beside = Path(sys.executable).parent / "schemathesis"
    found = str(beside) if beside.exists() else shutil.which("schemathesis")
    if found is None:
        pytest.skip("the schemathesis command is not installed (the dev extra)")
    return found


def test_live_openapi_conformance(live: LiveServer, tmp_path: Path) -> None:
    """``schemathesis run`` with every check on the live document: no 5xx, responses as documented.

    Examples, coverage (boundary values of every limit) and fuzzing phases, 25
    examples per operation, valid and invalid data, with the API key (the
    ``ignored_auth`` check also sends requests without it and expects 401).
    """
    config = tmp_path / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_TOML, encoding="utf-8")
    command = [
        _schemathesis(),
        "--config-file",
        str(config),
        "--no-color",
        "run",
        live.base_url + "/openapi.json",
        "--checks",
        "all",
        "--workers",
        "1",
        "--max-response-time",
        "10",
        "--header",
        f"Authorization: Bearer {API_KEY}",
    ]
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "6 selected / 6 total" in report, report
    assert re.search(r"\d+ generated, \d+ passed", report), report
    assert "No issues found" in report, report
    assert "internal error" not in live.output()


# ---------------------------------------------------------------------------
# limits, auth and logs on the real server
# ---------------------------------------------------------------------------


def test_live_auth_limits_and_no_text_in_output(live: LiveServer) -> None:
    client = httpx.Client(base_url=live.base_url, timeout=30)
    body = {"id": "secret-report-1", "text": f"FINDINGS: {SECRET_TEXT}. No pneumothorax."}

    assert client.post("/v1/label", json=body).status_code == 401
    assert client.post("/v1/label", json=body, headers={"X-API-Key": "wrong"}).status_code == 401
    ok = client.post("/v1/label", json=body, headers={"X-API-Key": API_KEY})
    assert ok.status_code == 200, ok.text
    assert ok.json()["labels"]["Pneumothorax"] == 0
    assert client.post("/v1/label", json=body, headers=AUTH).status_code == 200

    # a query string (which uvicorn's access log would show) is dropped from the log line
    assert client.get("/healthz", params={"note": SECRET_TEXT}).status_code == 200

    # per-report limit (2,000 characters here), in a single report and in a batch
    long = {"id": "too-long", "text": SECRET_TEXT * 100}
    r = client.post("/v1/label", json=long, headers=AUTH)
    assert r.status_code == 413 and r.json()["error"] == "report_too_long"
    batch = {"reports": [body, long]}
    r = client.post("/v1/label/batch", json=batch, headers=AUTH)
    assert r.status_code == 413 and "report 1" in r.json()["message"]

    # schema errors: the text is in the request, not in the log
    r = client.post("/v1/label", json={**body, "unexpected": SECRET_TEXT}, headers=AUTH)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "unexpected"]

    # body over 1 MiB with Content-Length: refused before it is read
    big = json.dumps({"id": "big", "text": SECRET_TEXT * 30_000}).encode()
    r = client.post("/v1/label", content=big, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    # the same body streamed in chunks (no Content-Length): cut off at the limit
    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 64 * 1024):
            yield big[i : i + 64 * 1024]

    r = client.post("/v1/label", content=chunks(), headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 413 and "more than" in r.json()["message"]

    time.sleep(0.3)  # let the server flush its log lines
    output = live.output()
    assert "secret-report-1" in output  # ids are logged...
    assert '"POST /v1/label HTTP/1.1" 200' in output  # ...and so is the access log
    assert SECRET_TEXT not in output  # ...never the text
    assert "quokka" not in output


# ---------------------------------------------------------------------------
# graceful shutdown
# ---------------------------------------------------------------------------


def test_sigterm_lets_the_request_in_flight_finish(tmp_path: Path, start_service: StartService) -> None:
    """SIGTERM during a batch of 256 long reports (seconds of work): the batch gets its 200, then exit 0."""
    server = start_service(tmp_path, REPORTLAB_MAX_BATCH="256")
    text = (
        "FINDINGS: Small left pleural effusion. No pneumothorax. Heart size is normal. "
        "Possible right lower lobe pneumonia. Degenerative changes of the spine. "
    ) * 12
    batch = {"reports": [{"id": f"r{i}", "text": text} for i in range(256)]}
    result: dict[str, object] = {}

    def send() -> None:
        try:
            response = httpx.post(server.base_url + "/v1/label/batch", json=batch, timeout=60)
            result["status"] = response.status_code
            result["count"] = response.json().get("count")
        except httpx.HTTPError as e:  # reported by the assertion below
            result["error"] = repr(e)

    client = threading.Thread(target=send)
    try:
        client.start()
        deadline = time.monotonic() + 20  # until the server has the request and is labeling it
        while "labeling engine=rules scheme=full reports=256" not in server.output():
            assert time.monotonic() < deadline, server.output()
            time.sleep(0.005)
        server.process.send_signal(signal.SIGTERM)
        client.join(timeout=60)
        returncode = server.process.wait(timeout=30)
    finally:
        server.stop()
    output = server.output()
    assert result.get("status") == 200, (result, output)
    assert result.get("count") == 256
    assert returncode in GRACEFUL, output
    # the signal arrived while the batch was being labeled, and the batch was answered before shutdown
    shutting = output.index("Shutting down")
    labeled = output.index("labeled engine=rules scheme=full reports=256")
    assert shutting < labeled < output.index("Application shutdown complete"), output
