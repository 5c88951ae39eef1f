"""The exception handlers: every error a route raises, answered as ``ErrorResponse`` JSON.

``EXCEPTION_HANDLERS`` goes to :class:`fastapi.FastAPI` (``exception_handlers=``);
:func:`add_docs_notice` answers ``/docs`` and ``/redoc`` when they are off.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from .errors import ERROR_CODES, JSON_TYPE, ClientGone, ServiceError, error_body
from .state import DOCS_ROUTES


async def _validation(_: Request, exc: RequestValidationError) -> Response:
    detail = [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    summary = "; ".join(".".join(str(p) for p in d["loc"]) + f": {d['msg']}" for d in detail[:5])
    more = f"; and {len(detail) - 5} more" if len(detail) > 5 else ""
    return Response(
        error_body("validation_error", f"the request does not match the schema: {summary}{more}", detail),
        status_code=422,
        media_type=JSON_TYPE,
    )


async def _http(_: Request, exc: StarletteHTTPException) -> Response:
    cause = exc.__cause__
    if exc.status_code == 400 and cause is not None:  # FastAPI could not decode the body as JSON
        where = f" at byte {cause.start}" if isinstance(cause, UnicodeDecodeError) else ""
        msg = f"the body is not JSON text in UTF-8 ({type(cause).__name__}{where})"
        return Response(
            error_body(
                "validation_error",
                f"the request does not match the schema: body: {msg}",
                [{"loc": ["body"], "msg": msg, "type": "json_invalid"}],
            ),
            status_code=422,
            media_type=JSON_TYPE,
        )
    code = ERROR_CODES.get(exc.status_code, "error")
    return Response(
        error_body(code, str(exc.detail)),
        status_code=exc.status_code,
        media_type=JSON_TYPE,
        headers=dict(exc.headers or {}),
    )


async def _gone(_: Request, exc: ClientGone) -> Response:  # nobody reads it; the log and metrics count it
    return Response(error_body("client_gone", "the client left"), status_code=499, media_type=JSON_TYPE)


async def _service(_: Request, exc: ServiceError) -> Response:
    return Response(
        error_body(exc.error, exc.message, exc.detail),
        status_code=exc.status,
        media_type=JSON_TYPE,
        headers=exc.headers,
    )


EXCEPTION_HANDLERS: dict[Any, Any] = {
    RequestValidationError: _validation,
    StarletteHTTPException: _http,
    ClientGone: _gone,
    ServiceError: _service,
}


async def _docs_disabled() -> Response:
    """``/docs`` and ``/redoc`` when they are off: say how to turn them on."""
    message = (
        "the interactive API pages (/docs, /redoc) are off: they load scripts from a CDN, which a "
        "clinical network should not call. Start the server with REPORTLAB_DOCS=1 to turn them on; "
        "the OpenAPI document is at /openapi.json either way"
    )
    return Response(error_body("docs_disabled", message), status_code=404, media_type=JSON_TYPE)


def add_docs_notice(app: FastAPI) -> None:
    """``/docs`` and ``/redoc`` (when off) answer how to turn them on."""
    for path in DOCS_ROUTES:
        app.add_api_route(path, _docs_disabled, methods=["GET"], include_in_schema=False)


__all__ = ["EXCEPTION_HANDLERS", "add_docs_notice"]
