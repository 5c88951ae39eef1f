"""The service's routes through FastAPI's TestClient: every endpoint, every error code, auth, limits.

The app is the real one (``create_app``) around the real rules engine, built
once per module from the session's labeler; each test gets an app with the
settings it needs. Every report here is invented for the test.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

import reportlab_nlp
from reportlab_nlp.cli import main
from reportlab_nlp.engines import Prediction, RulesEngine
from reportlab_nlp.errors import ServiceConfigError
from reportlab_nlp.io.readers import join_fields
from reportlab_nlp.service.app import create_app
from reportlab_nlp.service.schemas import (
    BatchResponse,
    ErrorResponse,
    LabelResponse,
    LabelsResponse,
    ReadyResponse,
)
from reportlab_nlp.service.settings import ServiceSettings, load_settings
from reportlab_nlp.types import Report

TEXT = "FINDINGS: Small left pleural effusion. No pneumothorax. Possible pneumonia."
KEY = "unit-test-key-9f8e7d"

MakeClient = Callable[..., TestClient]


pytestmark = pytest.mark.usefixtures("no_service_env")


@pytest.fixture(scope="module")
def engine(labeler: reportlab_nlp.Labeler) -> RulesEngine:
    return RulesEngine.from_labeler(labeler)


@pytest.fixture
def make_client(engine: RulesEngine) -> Iterator[MakeClient]:
    """``make_client(**settings)``: a started app (lifespan run) with those settings."""
    clients: list[TestClient] = []

    def make(*, engine_: Any = None, **settings: Any) -> TestClient:
        app = create_app(ServiceSettings(**settings), engine=engine_ or engine)
        client = TestClient(app)
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def client(make_client: MakeClient) -> TestClient:
    return make_client()


def error_of(response: Any, status: int, error: str) -> ErrorResponse:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = ErrorResponse.model_validate(response.json())
    assert body.error == error, body
    return body


# ---------------------------------------------------------------------------
# POST /v1/label
# ---------------------------------------------------------------------------


def test_label_text(client: TestClient, labeler: reportlab_nlp.Labeler) -> None:
    response = client.post("/v1/label", json={"id": "r1", "text": TEXT})
    assert response.status_code == 200, response.text
    body = LabelResponse.model_validate(response.json())  # every field as documented, none more
    assert body.id == "r1" and body.scheme == "full" and body.engine == "rules"
    assert list(body.labels) == labeler.columns("full")
    assert body.labels["Pleural Effusion"] == 1
    assert body.labels["Pneumothorax"] == 0
    assert body.labels["Pneumonia"] == -1
    assert body.labels["Edema"] is None
    assert body.probabilities is None  # the rules engine gives no probabilities
    assert set(body.evidence) == {c for c, v in body.labels.items() if v is not None and c != "No Finding"}
    for mentions in body.evidence.values():
        for m in mentions:
            assert TEXT[m.start : m.end] == m.text
            assert TEXT[m.sentence_start : m.sentence_end] == m.sentence
    assert body.evidence["Pneumothorax"][0].assertion == "negated"
    assert body.text_length == len(TEXT) and body.fields is None
    assert body.provenance.model_dump() == {
        "toolkit": "reportlab-nlp",
        "toolkit_version": reportlab_nlp.__version__,
        "engine": "rules",
        "rules_hash": labeler.rules_hash,
        "model_sha256": None,
        "scheme": "full",
    }


def test_label_sections_are_joined_with_headers(client: TestClient, labeler: reportlab_nlp.Labeler) -> None:
    sections = [
        {"name": "indication", "text": "Cough."},
        {"name": "findings", "text": "No pleural effusion."},
        {"name": "impression", "text": "Cardiomegaly."},
    ]
    response = client.post("/v1/label", json={"id": "s1", "sections": sections})
    assert response.status_code == 200, response.text
    body = LabelResponse.model_validate(response.json())
    joined, spans = join_fields([(s["name"], s["text"]) for s in sections])
    expected = labeler.label(joined, id="s1")
    assert body.labels == {c: v.to_json() for c, _, v in labeler.values(expected)}
    assert body.labels["Cardiomegaly"] == 1 and body.labels["Pleural Effusion"] == 0
    assert body.fields is not None
    assert [(f.name, f.start, f.end) for f in body.fields] == spans
    assert joined[body.fields[2].start : body.fields[2].end] == "Cardiomegaly."
    m = body.evidence["Cardiomegaly"][0]
    assert joined[m.start : m.end].lower() == "cardiomegaly"
    assert body.text_length == len(joined)


def test_label_scheme_selects_columns(client: TestClient, labeler: reportlab_nlp.Labeler) -> None:
    body = client.post("/v1/label", json={"id": "c", "text": TEXT, "scheme": "chexpert"}).json()
    assert list(body["labels"]) == labeler.columns("chexpert")
    assert set(body["evidence"]) <= set(body["labels"])
    assert body["scheme"] == body["provenance"]["scheme"] == "chexpert"
    nih = client.post("/v1/label", json={"id": "n", "text": TEXT, "scheme": "chestxray14"}).json()
    assert list(nih["labels"]) == labeler.columns("chestxray14")
    assert nih["labels"]["Effusion"] == 1  # NIH's name for Pleural Effusion


def test_label_engine_rules_by_name_and_empty_text(client: TestClient) -> None:
    body = client.post("/v1/label", json={"id": "e", "text": "", "engine": "rules"}).json()
    assert body["engine"] == "rules"
    assert body["text_length"] == 0
    assert body["evidence"] == {}


def test_default_scheme_from_settings(make_client: MakeClient, labeler: reportlab_nlp.Labeler) -> None:
    client = make_client(scheme="chexpert")
    body = client.post("/v1/label", json={"id": "d", "text": TEXT}).json()
    assert list(body["labels"]) == labeler.columns("chexpert")


# ---------------------------------------------------------------------------
# POST /v1/label/batch
# ---------------------------------------------------------------------------


def test_batch_keeps_order_and_ids(client: TestClient, labeler: reportlab_nlp.Labeler) -> None:
    reports = [
        {"id": "b1", "text": "No pneumothorax."},
        {"id": "b2", "sections": [{"name": "findings", "text": "Cardiomegaly."}]},
        {"id": "b1", "text": "Small right pleural effusion."},  # a repeated id is answered twice
    ]
    response = client.post("/v1/label/batch", json={"reports": reports, "scheme": "chexpert"})
    assert response.status_code == 200, response.text
    body = BatchResponse.model_validate(response.json())
    assert body.count == 3
    assert [r.id for r in body.results] == ["b1", "b2", "b1"]
    assert [r.labels["Pneumothorax"] for r in body.results] == [0, None, None]
    assert body.results[1].labels["Cardiomegaly"] == 1 and body.results[1].fields is not None
    assert body.results[2].labels["Pleural Effusion"] == 1
    assert body.provenance.rules_hash == labeler.rules_hash and body.provenance.scheme == "chexpert"


def test_batch_at_the_limit_is_accepted(make_client: MakeClient) -> None:
    client = make_client(max_batch=4)
    reports = [{"id": str(i), "text": "No edema."} for i in range(4)]
    assert client.post("/v1/label/batch", json={"reports": reports}).json()["count"] == 4


# ---------------------------------------------------------------------------
# GET /v1/labels, /healthz, /readyz, /metrics, /openapi.json
# ---------------------------------------------------------------------------


def test_labels_lists_label_set_schemes_and_definitions(
    client: TestClient, labeler: reportlab_nlp.Labeler
) -> None:
    response = client.get("/v1/labels")
    assert response.status_code == 200
    body = LabelsResponse.model_validate(response.json())
    assert [entry.label for entry in body.labels] == labeler.labels
    by_label = {entry.label: entry for entry in body.labels}
    assert by_label["Pleural Effusion"].definition == labeler.rules.finding("Pleural Effusion").definition
    assert all(entry.definition for entry in body.labels)
    assert {s.name for s in body.schemes} == set(labeler.rules.schemes)
    chexpert = next(s for s in body.schemes if s.name == "chexpert")
    assert [c.column for c in chexpert.columns] == labeler.columns("chexpert")
    assert [v.value for v in body.values] == [1, 0, -1, None]
    assert body.default_scheme == "full" and body.engines == ["rules"]
    assert body.rules_hash == labeler.rules_hash
    assert {c.name for c in body.categories} == {c.name for c in labeler.rules.categories}


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ReadyResponse.model_validate(ready.json()).model_dump() == {
        "status": "ready",
        "engine": "rules",
        "engines": ["rules"],
        "warmed_up": True,
    }


def test_not_ready_before_startup(engine: RulesEngine) -> None:
    client = TestClient(create_app(ServiceSettings(), engine=engine))  # no `with`: no lifespan, no engine
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    assert ready.json()["warmed_up"] is False
    error_of(client.post("/v1/label", json={"id": "x", "text": "a"}), 503, "not_ready")
    error_of(client.get("/v1/labels"), 503, "not_ready")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_metrics_count_requests_reports_and_errors(client: TestClient) -> None:
    for i in range(3):
        client.post("/v1/label", json={"id": str(i), "text": TEXT})
    client.post("/v1/label/batch", json={"reports": [{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]})
    client.post("/v1/label", json={"id": "bad"})  # 422
    client.get("/no/such/path")  # 404
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    m = _samples(response.text)
    label = (("method", "POST"), ("path", "/v1/label"))
    assert m[("reportlab_http_requests_total", (*label, ("status", "200")))] == 3
    assert m[("reportlab_http_requests_total", (*label, ("status", "422")))] == 1
    assert m[("reportlab_http_request_duration_seconds_count", label)] == 4
    assert m[("reportlab_reports_labeled_total", (("engine", "rules"),))] == 5
    assert m[("reportlab_inference_batch_reports_count", (("engine", "rules"),))] == 4  # engine calls
    assert m[("reportlab_http_errors_total", (("path", "/v1/label"), ("status", "422")))] == 1
    assert m[("reportlab_http_errors_total", (("path", "other"), ("status", "404")))] == 1
    assert m[("reportlab_engine_ready", (("engine", "rules"),))] == 1
    assert any(name == "reportlab_build_info" for name, _ in m)


def test_openapi_documents_this_servers_limits(
    make_client: MakeClient, labeler: reportlab_nlp.Labeler
) -> None:
    doc = make_client(max_batch=7, max_report_chars=1234).get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert set(doc["paths"]) == {
        "/v1/label",
        "/v1/label/batch",
        "/v1/labels",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    assert schemas["LabelRequest"]["properties"]["text"]["maxLength"] == 1234
    assert schemas["SectionIn"]["properties"]["text"]["maxLength"] == 1234
    assert schemas["BatchRequest"]["properties"]["reports"]["maxItems"] == 7
    assert schemas["LabelRequest"]["additionalProperties"] is False
    assert schemas["LabelRequest"]["oneOf"] == [{"required": ["text"]}, {"required": ["sections"]}]
    engine = schemas["LabelRequest"]["properties"]["engine"]["anyOf"][0]
    assert engine["enum"] == ["rules"]
    scheme = schemas["BatchRequest"]["properties"]["scheme"]["anyOf"][0]
    assert scheme["enum"] == list(labeler.rules.schemes)
    label = doc["paths"]["/v1/label"]["post"]["responses"]
    assert {"200", "413", "415", "422", "503"} <= set(label) and "401" not in label
    assert "securitySchemes" not in doc["components"]
    assert "text/plain" in doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]


# ---------------------------------------------------------------------------
# errors: 422
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "loc", "kind"),
    [
        ({"text": TEXT}, ["body", "id"], "missing"),
        ({"id": "", "text": TEXT}, ["body", "id"], "string_too_short"),
        ({"id": "x" * 257, "text": TEXT}, ["body", "id"], "string_too_long"),
        ({"id": True, "text": TEXT}, ["body", "id"], "string_type"),
        ({"id": 2**63, "text": TEXT}, ["body", "id"], "value_error"),
        ({"id": "x\ud800", "text": TEXT}, ["body", "id"], None),
        ({"id": "x", "text": "No edema.\udfff"}, ["body", "text"], None),
        (
            {"id": "x", "sections": [{"name": "findings", "text": "\ud83d"}]},
            ["body", "sections", 0, "text"],
            None,
        ),
        ({"id": "x", "text": 5}, ["body", "text"], "string_type"),
        ({"id": "x", "text": None}, ["body", "text"], "value_error"),
        ({"id": "x"}, ["body"], "value_error"),
        ({"id": "x", "text": "a", "sections": [{"name": "findings", "text": "b"}]}, ["body"], "value_error"),
        ({"id": "x", "sections": []}, ["body", "sections"], "too_short"),
        ({"id": "x", "sections": [{"name": "bad:name", "text": "b"}]}, ["body", "sections", 0, "name"], None),
        ({"id": "x", "sections": [{"name": "findings"}]}, ["body", "sections", 0, "text"], "missing"),
        ({"id": "x", "text": "a", "colour": "red"}, ["body", "colour"], "extra_forbidden"),
        ({"id": "x", "text": "a", "engine": "quantum"}, ["body", "engine"], "literal_error"),
        ({"id": "x", "text": "a", "engine": "model"}, ["body", "engine"], "engine_unavailable"),
        ({"id": "x", "text": "a", "scheme": "nope"}, ["body", "scheme"], "unknown_scheme"),
        ([{"id": "x", "text": "a"}], ["body"], "model_type"),
    ],
)
def test_422_names_the_field(client: TestClient, body: Any, loc: list[Any], kind: str | None) -> None:
    raw = json.dumps(body)  # ASCII: a lone surrogate travels as its escape, as a client would send it
    response = client.post("/v1/label", content=raw, headers={"Content-Type": "application/json"})
    error = error_of(response, 422, "validation_error")
    assert error.detail, error
    assert error.detail[0].loc == loc
    if kind is not None:
        assert error.detail[0].type == kind
    assert ".".join(str(p) for p in loc) in error.message


def test_422_unknown_engine_lists_what_runs(client: TestClient) -> None:
    error = error_of(
        client.post("/v1/label", json={"id": "x", "text": "a", "engine": "hybrid"}), 422, "validation_error"
    )
    assert "engine 'hybrid' is not available on this server (it runs: rules)" in error.message


@pytest.mark.parametrize(
    "body",
    [
        {"reports": []},
        {"reports": [{"id": "a", "text": "x"}, {"id": "b"}]},
        {"reports": [{"id": "a", "text": "x"}], "extra": 1},
        {},
    ],
)
def test_422_batch(client: TestClient, body: dict[str, Any]) -> None:
    error = error_of(client.post("/v1/label/batch", json=body), 422, "validation_error")
    assert error.detail[0].loc[0] == "body"


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b'{"id": "x", "text": ', "json_invalid"),
        (b"not json", "json_invalid"),
        (b'{"id": "x", "text": "\xff\xfe"}', "json_invalid"),  # not UTF-8
        (b"", "missing"),
    ],
)
def test_422_malformed_json(client: TestClient, raw: bytes, kind: str) -> None:
    response = client.post("/v1/label", content=raw, headers={"Content-Type": "application/json"})
    error = error_of(response, 422, "validation_error")
    assert error.detail[0].type == kind
    assert error.detail[0].loc[0] == "body"


# ---------------------------------------------------------------------------
# errors: 413, 415, 400, 404, 405
# ---------------------------------------------------------------------------


def test_413_report_too_long(make_client: MakeClient) -> None:
    client = make_client(max_report_chars=100)
    assert client.post("/v1/label", json={"id": "ok", "text": "x" * 100}).status_code == 200
    error = error_of(client.post("/v1/label", json={"id": "long", "text": "x" * 101}), 413, "report_too_long")
    assert "report 'long' has 101 characters; the limit is 100 (REPORTLAB_MAX_REPORT_CHARS)" in error.message
    sections = [{"name": "findings", "text": "x" * 60}, {"name": "impression", "text": "y" * 41}]
    error_of(client.post("/v1/label", json={"id": "s", "sections": sections}), 413, "report_too_long")
    batch = {"reports": [{"id": "a", "text": "short"}, {"id": "b", "text": "z" * 101}]}
    error = error_of(client.post("/v1/label/batch", json=batch), 413, "report_too_long")
    assert "report 1 (id 'b') has 101 characters" in error.message


def test_413_too_many_reports(make_client: MakeClient) -> None:
    client = make_client(max_batch=3)
    batch = {"reports": [{"id": str(i), "text": "No edema."} for i in range(4)]}
    error = error_of(client.post("/v1/label/batch", json=batch), 413, "too_many_reports")
    assert "the batch has 4 reports; the limit is 3 (REPORTLAB_MAX_BATCH)" in error.message


def test_413_body_over_the_limit(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=2048)
    body = json.dumps({"id": "big", "text": "x" * 3000})
    error = error_of(
        client.post("/v1/label", content=body, headers={"Content-Type": "application/json"}),
        413,
        "payload_too_large",
    )
    assert "the limit is 2048 bytes (REPORTLAB_MAX_BODY_BYTES) and Content-Length is" in error.message
    small = json.dumps({"id": "ok", "text": "x" * 1000})
    assert (
        client.post("/v1/label", content=small, headers={"Content-Type": "application/json"}).status_code
        == 200
    )


class _Receiver:
    """An ASGI ``receive`` that hands out a body in chunks and counts what it handed out."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self.chunks = list(chunks)
        self.calls = 0

    async def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.calls > len(self.chunks):
            return {"type": "http.disconnect"}
        return {
            "type": "http.request",
            "body": self.chunks[self.calls - 1],
            "more_body": self.calls < len(self.chunks),
        }


def _asgi_post(
    app: Any, headers: list[tuple[bytes, bytes]], receiver: _Receiver
) -> tuple[int, dict[str, Any]]:
    """POST /v1/label straight to the ASGI app (the app must be started)."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/label",
        "raw_path": b"/v1/label",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receiver, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, json.loads(body)


def test_413_on_content_length_before_the_body_is_read(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=4096)
    receiver = _Receiver([b"{" * 1000] * 10)
    status, body = _asgi_post(client.app, [(b"content-length", b"10000")], receiver)
    assert status == 413 and body["error"] == "payload_too_large"
    assert receiver.calls == 0  # not a byte was read


def test_413_on_streamed_bytes_stops_reading_at_the_limit(make_client: MakeClient) -> None:
    client = make_client(max_body_bytes=4096)
    receiver = _Receiver([b" " * 1000] * 50)  # 50,000 bytes, no Content-Length
    status, body = _asgi_post(client.app, [], receiver)
    assert status == 413 and body["error"] == "payload_too_large"
    assert "more than 4096 bytes arrived" in body["message"]
    assert receiver.calls == 5  # the fifth chunk crossed the limit; the other 45 were never read


def test_400_bad_content_length(make_client: MakeClient) -> None:
    client = make_client()
    status, body = _asgi_post(client.app, [(b"content-length", b"lots")], _Receiver([b"{}"]))
    assert status == 400 and body["error"] == "bad_request"


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_415_body_must_be_json(client: TestClient, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    raw = json.dumps({"id": "x", "text": "a"})
    error = error_of(client.post("/v1/label", content=raw, headers=headers), 415, "unsupported_media_type")
    assert "Content-Type: application/json" in error.message
    ok = client.post("/v1/label", content=raw, headers={"Content-Type": "application/json; charset=utf-8"})
    assert ok.status_code == 200


def test_404_and_405_are_json(client: TestClient) -> None:
    error_of(client.get("/v2/label"), 404, "not_found")
    response = client.get("/v1/label")
    error_of(response, 405, "method_not_allowed")
    assert response.headers["allow"] == "POST"
    error_of(client.delete("/v1/labels"), 405, "method_not_allowed")


# ---------------------------------------------------------------------------
# errors: 500 (an engine that fails)
# ---------------------------------------------------------------------------


class FailingEngine(RulesEngine):
    """The rules engine, except that a report whose id starts with 'boom' raises."""

    def predict_many(self, reports: Sequence[Report]) -> list[Prediction]:
        for r in reports:
            if r.id.startswith("boom"):
                raise ValueError(f"cannot label {r.text!r}")
        return super().predict_many(reports)


def test_500_when_the_engine_fails(make_client: MakeClient, labeler: reportlab_nlp.Labeler) -> None:
    failing = FailingEngine.from_labeler(labeler)
    client = make_client(engine_=failing)
    error = error_of(client.post("/v1/label", json={"id": "boom-1", "text": TEXT}), 500, "internal_error")
    assert TEXT not in error.message
    assert client.post("/v1/label", json={"id": "fine", "text": TEXT}).status_code == 200  # still serving


# ---------------------------------------------------------------------------
# authentication
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Basic {KEY}"}, 401),
        ({"Authorization": "Bearer"}, 401),
        ({"X-API-Key": ""}, 401),
        ({"X-API-Key": KEY[:-1]}, 401),
        ({"Authorization": f"Bearer {KEY}"}, 200),
        ({"Authorization": f"bearer {KEY}"}, 200),
        ({"X-API-Key": KEY}, 200),
        ({"X-API-Key": "second-key"}, 200),
    ],
)
def test_api_keys(make_client: MakeClient, headers: dict[str, str], status: int) -> None:
    client = make_client(api_keys=(KEY, "second-key"))
    response = client.post("/v1/label", json={"id": "a", "text": TEXT}, headers=headers)
    assert response.status_code == status, response.text
    if status == 401:
        error = error_of(response, 401, "unauthorized")
        assert "Authorization: Bearer <key>" in error.message and KEY not in error.message
        assert response.headers["www-authenticate"].startswith("Bearer")


def test_api_keys_guard_v1_only(make_client: MakeClient) -> None:
    client = make_client(api_keys=(KEY,))
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        assert client.get(path).status_code == 200, path  # probes and scrapers need no key
    error_of(client.get("/v1/labels"), 401, "unauthorized")
    error_of(client.post("/v1/label/batch", json={"reports": []}), 401, "unauthorized")  # before validation
    error_of(client.get("/v1/nothing"), 401, "unauthorized")  # before routing: no probing for paths
    assert client.get("/v1/labels", headers={"X-API-Key": KEY}).status_code == 200
    # a 413 is told only to a caller with a key
    big = json.dumps({"id": "x", "text": "y" * 2_000_000})
    error_of(
        client.post("/v1/label", content=big, headers={"Content-Type": "application/json"}),
        401,
        "unauthorized",
    )


def test_without_keys_no_auth_is_needed_and_openapi_says_so(make_client: MakeClient) -> None:
    open_client = make_client()
    assert open_client.post("/v1/label", json={"id": "a", "text": "x"}).status_code == 200
    keyed = make_client(api_keys=(KEY,)).get("/openapi.json").json()
    assert set(keyed["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyHeader"}
    for path, operations in keyed["paths"].items():
        for operation in operations.values():
            assert ("security" in operation) == path.startswith("/v1/"), path
            assert ("401" in operation["responses"]) == path.startswith("/v1/"), path


# ---------------------------------------------------------------------------
# CORS
# ---------------------------------------------------------------------------


def test_cors_is_off_by_default(client: TestClient) -> None:
    response = client.get("/v1/labels", headers={"Origin": "https://example.org"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = client.options(
        "/v1/label", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_when_configured(make_client: MakeClient) -> None:
    client = make_client(cors_origins=("https://viewer.example.org",), api_keys=(KEY,))
    preflight = client.options(
        "/v1/label",
        headers={
            "Origin": "https://viewer.example.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert preflight.status_code == 200  # answered before the key check
    assert preflight.headers["access-control-allow-origin"] == "https://viewer.example.org"
    other = client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert "access-control-allow-origin" not in other.headers


# ---------------------------------------------------------------------------
# settings and the command line
# ---------------------------------------------------------------------------


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = load_settings()
    assert (defaults.host, defaults.port, defaults.engine) == ("127.0.0.1", 8000, "rules")
    assert defaults.api_keys == () and defaults.cors_origins == ()
    assert (defaults.max_batch, defaults.max_body_bytes) == (256, 1_048_576)
    monkeypatch.setenv("REPORTLAB_API_KEYS", " k1 , k2,,")
    monkeypatch.setenv("REPORTLAB_CORS_ORIGINS", "https://a.example,https://b.example")
    monkeypatch.setenv("REPORTLAB_MAX_BATCH", "32")
    monkeypatch.setenv("REPORTLAB_LOG_LEVEL", "DEBUG")
    s = load_settings()
    assert s.key_bytes() == (b"k1", b"k2")
    assert "k1" not in repr(s)  # keys are secrets
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert s.max_batch == 32 and s.log_level == "debug"
    assert load_settings(max_batch=8).max_batch == 8  # options over the environment


def test_bad_settings_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPORTLAB_MAX_BATCH", "many")
    with pytest.raises(ServiceConfigError, match=r"REPORTLAB_MAX_BATCH: .* \(got 'many'\)"):
        load_settings()
    monkeypatch.delenv("REPORTLAB_MAX_BATCH")
    monkeypatch.setenv("REPORTLAB_ENGINE", "quantum")
    with pytest.raises(ServiceConfigError, match="REPORTLAB_ENGINE"):
        load_settings()


def test_an_engine_unlike_the_settings_is_a_settings_error(engine: RulesEngine) -> None:
    app = create_app(ServiceSettings(engine="hybrid"), engine=engine)
    expected = r"^REPORTLAB_ENGINE: expected 'rules' \(.*\), found 'hybrid'$"
    with pytest.raises(ServiceConfigError, match=expected), TestClient(app):
        pass


def test_serve_refuses_model_engines_with_one_line(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    monkeypatch.setenv("REPORTLAB_MODEL_DIR", str(tmp_path / "models"))  # where no model is installed
    err = io.StringIO()
    assert main(["serve", "--engine", "model", "--port", "0"], stderr=err) == 2
    message = err.getvalue()
    assert message.startswith("reportlab-nlp: error: engine 'model' is not available: no model is installed")
    assert message.count("\n") == 1
    err = io.StringIO()
    assert main(["serve", "--rules", "/no/such/rules.yaml", "--port", "0"], stderr=err) == 2
    assert "/no/such/rules.yaml" in err.getvalue()


# ---------------------------------------------------------------------------
# issue 18 and 19: integer ids, /docs, empty API keys, --model, capped 422s
# ---------------------------------------------------------------------------


def test_an_integer_id_is_answered_as_a_string(client: TestClient) -> None:
    one = client.post("/v1/label", json={"id": 12345, "text": TEXT})
    assert one.status_code == 200, one.text
    assert one.json()["id"] == "12345"
    batch = client.post(
        "/v1/label/batch", json={"reports": [{"id": 7, "text": TEXT}, {"id": "x", "text": TEXT}]}
    )
    assert [r["id"] for r in batch.json()["results"]] == ["7", "x"]


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_say_how_to_turn_them_on(client: TestClient, make_client: MakeClient, path: str) -> None:
    error = error_of(client.get(path), 404, "docs_disabled")
    assert "REPORTLAB_DOCS=1" in error.message and "/openapi.json" in error.message
    on = make_client(docs=True).get(path)
    assert on.status_code == 200 and "text/html" in on.headers["content-type"]


@pytest.mark.parametrize("value", ["", ",", " , ,", "  "])
def test_api_keys_set_to_no_key_refuse_to_start(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("REPORTLAB_API_KEYS", value)
    with pytest.raises(ServiceConfigError, match=r"REPORTLAB_API_KEYS: .*holds no key") as caught:
        load_settings()
    assert "(got" not in str(caught.value)  # the value of the keys is never shown


def test_serve_model_option_is_named_before_a_retrain(tmp_path: Any) -> None:
    import io

    err = io.StringIO()
    missing = tmp_path / "no-models"
    assert main(["serve", "--engine", "model", "--model", str(missing), "--port", "0"], stderr=err) == 2
    message = err.getvalue()
    assert str(missing) in message
    assert "--model" in message and message.index("--model") < message.index("make model"), message


def test_validation_errors_are_capped(client: TestClient) -> None:
    """0.8 MB of wrong items: one short answer (was 36 MB after 3.3 s), the batch limit first."""
    raw = json.dumps({"reports": [1] * 260_000})
    headers = {"Content-Type": "application/json"}
    response = client.post("/v1/label/batch", content=raw, headers=headers)
    assert response.status_code == 413 and len(response.content) < 1_000
    many = json.dumps({"reports": [{"id": i, "text": 5} for i in range(200)]})
    error = error_of(client.post("/v1/label/batch", content=many, headers=headers), 422, "validation_error")
    assert len(error.detail) == 20 and "the first 20 of 200 are listed" in error.message
    wide = json.dumps({"id": "x", "text": "a", **{f"k{i}": 1 for i in range(50_000)}})
    response = client.post("/v1/label", content=wide, headers=headers)
    assert response.status_code == 422 and len(response.content) < 1_000
