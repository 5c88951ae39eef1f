"""The OpenAPI document: request schemas, and this server's limits, schemes, engines and authentication."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic.json_schema import models_json_schema

from .errors import JSON_TYPE
from .schemas import BatchRequest, LabelRequest
from .state import ServiceState

_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}

_DESCRIPTION = """\
Labels findings in de-identified radiology reports: 1 present, 0 absent, -1 uncertain,
null not mentioned, with the evidence (text spans) for each label. Limits (request
bytes, reports per batch, characters per report) and the accepted `scheme` and
`engine` values are those of this server. When the server has API keys, `/v1/`
routes need `Authorization: Bearer <key>` or `X-API-Key: <key>`.
"""


def _add_request_schemas(doc: dict[str, Any]) -> None:
    """The request models' JSON schemas, under ``components.schemas`` (the routes read bodies themselves)."""
    _, defs = models_json_schema(
        [(LabelRequest, "validation"), (BatchRequest, "validation")],
        ref_template="#/components/schemas/{model}",
    )
    doc.setdefault("components", {}).setdefault("schemas", {}).update(defs.get("$defs", {}))


def _document_limits(doc: dict[str, Any], state: ServiceState) -> None:
    """Write this server's limits, schemes, engines and authentication into its OpenAPI document."""
    s = state.settings
    schemas = doc.get("components", {}).get("schemas", {})
    chars = f" At most {s.max_report_chars} characters (413 beyond)."
    for name in ("ReportIn", "LabelRequest"):
        text = schemas.get(name, {}).get("properties", {}).get("text")
        if text is not None:
            text["maxLength"] = s.max_report_chars
            text["description"] = text.get("description", "") + chars
    section_text = schemas.get("SectionIn", {}).get("properties", {}).get("text")
    if section_text is not None:
        section_text["maxLength"] = s.max_report_chars
    reports = schemas.get("BatchRequest", {}).get("properties", {}).get("reports")
    if reports is not None:
        reports["maxItems"] = s.max_batch
    if state.ready:
        for name in ("LabelRequest", "BatchRequest"):
            props = schemas.get(name, {}).get("properties", {})
            for key, values in (("engine", state.engine_names), ("scheme", list(state.rules.schemes))):
                if key in props:
                    props[key]["anyOf"] = [{"type": "string", "enum": values}, {"type": "null"}]
    if state.keys:
        doc.setdefault("components", {})["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "apiKeyHeader": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
        for path, operations in doc.get("paths", {}).items():
            if not path.startswith("/v1/"):
                continue
            for operation in operations.values():
                operation["security"] = [{"bearerAuth": []}, {"apiKeyHeader": []}]
                operation.setdefault("responses", {})["401"] = {
                    "description": "Missing or invalid API key",
                    "content": {JSON_TYPE: {"schema": _ERROR_REF}},
                }


def build_openapi(app: FastAPI, state: ServiceState) -> dict[str, Any]:
    """The app's OpenAPI document with this server's limits (kept once the engine is loaded)."""
    if app.openapi_schema is not None:
        return app.openapi_schema
    doc = get_openapi(
        title=app.title, version=app.version, summary=app.summary, description=_DESCRIPTION, routes=app.routes
    )
    _add_request_schemas(doc)
    _document_limits(doc, state)
    if state.ready:  # the schemes and engines are known once the engine is loaded
        app.openapi_schema = doc
    return doc


__all__ = ["build_openapi"]
