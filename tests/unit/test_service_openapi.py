"""The service's OpenAPI document and route table, pinned: paths, methods, operation ids, status codes.

The routes are module-level functions on a router (``reportlab_nlp.service.routes``);
these tests hold the public contract of ``/openapi.json`` still while the code
behind it moves: which operations exist, in which order, under which ids and
tags, with which answers, and what an API key adds. Every value below was read
from the document the app served before its routes left ``create_app``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra (fastapi, uvicorn) is not installed")
from fastapi.testclient import TestClient

import reportlab_nlp
from reportlab_nlp.engines import RulesEngine
from reportlab_nlp.service.app import create_app
from reportlab_nlp.service.settings import ServiceSettings

LABELING = ["200", "413", "415", "422", "500", "503"]
OPERATIONS = [  # (path, method, operationId, tags, responses without API keys)
    ("/v1/label", "post", "label_report_v1_label_post", ["labeling"], LABELING),
    ("/v1/label/batch", "post", "label_batch_v1_label_batch_post", ["labeling"], LABELING),
    ("/v1/labels", "get", "list_labels_v1_labels_get", ["labels"], ["200", "503"]),
    ("/healthz", "get", "healthz_healthz_get", ["operations"], ["200"]),
    ("/readyz", "get", "readyz_readyz_get", ["operations"], ["200", "503"]),
    ("/metrics", "get", "metrics_metrics_get", ["operations"], ["200"]),
]
SCHEMAS = {
    "BatchRequest", "BatchResponse", "CategoryInfo", "CategoryOut", "CategoryValueInfo", "ColumnInfo",
    "ErrorDetail", "ErrorResponse", "Evidence", "FieldSpan", "HealthResponse", "LabelInfo",
    "LabelRequest", "LabelResponse", "LabelResult", "LabelsResponse", "Provenance", "ReadyResponse",
    "ReportIn", "ReviewOut", "SchemeInfo", "SectionIn", "SectionOut", "ValueInfo",
}  # fmt: skip


pytestmark = pytest.mark.usefixtures("no_service_env")


@pytest.fixture(scope="module")
def engine(labeler: reportlab_nlp.Labeler) -> RulesEngine:
    return RulesEngine.from_labeler(labeler)


def _document(engine: RulesEngine, **settings: Any) -> dict[str, Any]:
    with TestClient(create_app(ServiceSettings(**settings), engine=engine)) as client:
        response = client.get("/openapi.json")
        assert response.status_code == 200
        doc: dict[str, Any] = response.json()
        return doc


@pytest.fixture(scope="module")
def documents(engine: RulesEngine) -> Iterator[dict[str, dict[str, Any]]]:
    yield {"open": _document(engine), "keyed": _document(engine, api_keys=("pinned-key-1",))}


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, str, list[str], list[str]]]:
    return [
        (path, method, op["operationId"], op["tags"], sorted(op["responses"]))
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
    ]


def test_the_operations_are_pinned_in_order(documents: dict[str, dict[str, Any]]) -> None:
    doc = documents["open"]
    assert _operations(doc) == OPERATIONS
    assert doc["openapi"] == "3.1.0"
    assert doc["info"]["title"] == "reportlab-nlp" and doc["info"]["version"] == reportlab_nlp.__version__
    assert set(doc["components"]["schemas"]) == SCHEMAS
    for path in ("/v1/label", "/v1/label/batch"):  # the routes read their bodies; the document names them
        body = doc["paths"][path]["post"]["requestBody"]
        assert body["required"] is True and set(body["content"]) == {"application/json"}
    assert not any("security" in op for ops in doc["paths"].values() for op in ops.values())


def test_api_keys_add_401_and_security_to_v1_only(documents: dict[str, dict[str, Any]]) -> None:
    keyed = documents["keyed"]
    expected = [
        (path, method, op_id, tags, sorted([*codes, "401"]) if path.startswith("/v1/") else codes)
        for path, method, op_id, tags, codes in OPERATIONS
    ]
    assert _operations(keyed) == expected
    assert set(keyed["components"]["securitySchemes"]) == {"bearerAuth", "apiKeyHeader"}
    for path, ops in keyed["paths"].items():
        for op in ops.values():
            assert ("security" in op) == path.startswith("/v1/"), path


def test_the_document_is_the_same_but_for_the_keys(documents: dict[str, dict[str, Any]]) -> None:
    open_doc, keyed = documents["open"], documents["keyed"]
    for path, ops in keyed["paths"].items():
        for method, op in ops.items():
            op = {k: v for k, v in op.items() if k != "security"}
            op["responses"] = {code: r for code, r in op["responses"].items() if code != "401"}
            assert op == open_doc["paths"][path][method], (path, method)
    components = {k: v for k, v in keyed["components"].items() if k != "securitySchemes"}
    assert components == open_doc["components"]


def test_the_engine_enum_narrows_to_the_running_engines_at_start_up(
    engine: RulesEngine, documents: dict[str, dict[str, Any]]
) -> None:
    before = TestClient(create_app(ServiceSettings(), engine=engine)).get("/openapi.json").json()
    assert _operations(before) == OPERATIONS

    def engines(doc: dict[str, Any]) -> list[str]:
        field = doc["components"]["schemas"]["LabelRequest"]["properties"]["engine"]
        enum: list[str] = field["anyOf"][0]["enum"]
        return enum

    assert engines(before) == ["rules", "model", "hybrid"]  # every engine the schema knows
    assert engines(documents["open"]) == ["rules"]  # the engines this server runs
