"""The routes: module-level functions over the app's state (``request.app.state.service``).

``router`` holds the labeling, label-set and operations routes;
:func:`~.app.create_app` includes it in an app whose ``state.service`` is a
:class:`~.state.ServiceState`. A labeling route reads and validates its body in
a worker thread, checks the engine, scheme and sizes, and hands the reports to
the engine's :class:`~.batching.Dispatcher` under the request's time budget
(504 beyond), given up when the client leaves.
"""

from __future__ import annotations

import functools
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel

from ..engines import Engine
from ..types import Report
from .bodies import parse_body
from .errors import JSON_TYPE, ClientGone, ServiceError, to_json
from .results import RenderResults, to_report
from .schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    HealthResponse,
    LabelRequest,
    LabelResponse,
    LabelsResponse,
    ReadyResponse,
    ReportIn,
)
from .state import ServiceState
from .worker import RemoteError

log = logging.getLogger("reportlab_nlp.service")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

router = APIRouter()

_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Body, batch or report larger than the limits"},
    415: {"model": ErrorResponse, "description": "The body is not JSON"},
    422: {"model": ErrorResponse, "description": "Malformed JSON, or a field that does not match the schema"},
    500: {"model": ErrorResponse, "description": "A bug: the log says where (never the report)"},
    503: {"model": ErrorResponse, "description": "The engine is not ready yet"},
}

_VALIDATION_LIMITER = anyio.CapacityLimiter(2)
"""Threads that parse and validate bodies at once (more would only fight over the interpreter lock)."""


def _state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def _request_body(model: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads and validates its body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


async def _read(request: Request, model: type[M], *, max_batch: int | None = None) -> M:
    """The request's body as ``model``: read here, parsed and validated in a worker thread."""
    body = await request.body()
    return await anyio.to_thread.run_sync(
        functools.partial(parse_body, model, body, max_batch=max_batch), limiter=_VALIDATION_LIMITER
    )


async def _within(seconds: float, request: Request, work: Awaitable[T]) -> T:
    """``await work``, cancelled after ``seconds`` (:class:`TimeoutError`) or when the client leaves."""
    result: list[T] = []
    gone = False

    async def watch() -> None:
        nonlocal gone
        while (await request.receive())["type"] != "http.disconnect":
            pass
        gone = True
        tg.cancel_scope.cancel()

    async def do() -> None:
        result.append(await work)
        tg.cancel_scope.cancel()

    with anyio.fail_after(seconds):
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                tg.start_soon(do)
        except BaseExceptionGroup as group:  # the work's own exception, as the caller expects it
            raise group.exceptions[0] from None
    if gone and not result:
        raise ClientGone
    return result[0]


def _tb(e: BaseException) -> str:
    return "".join(traceback.format_tb(e.__traceback__)).rstrip()


def _ids(reports: Sequence[Report], shown: int = 5) -> str:
    ids = ",".join(repr(r.id) for r in reports[:shown])
    return ids + (f",+{len(reports) - shown} more" if len(reports) > shown else "")


async def _label(
    state: ServiceState, request: Request, engine: Engine, scheme: str, render: RenderResults
) -> bytes:
    """The response body of ``render``'s reports, labeled by ``engine`` within the request's budget."""
    reports = render.reports
    started = time.perf_counter()
    chars = sum(len(r.text) for r in reports)
    what = f"engine={engine.name} scheme={scheme} reports={len(reports)} chars={chars} ids={_ids(reports)}"
    log.debug("labeling %s", what)
    budget = state.settings.request_timeout_s
    try:
        content = await _within(budget, request, state.dispatchers[engine.name].run(reports, render))
    except TimeoutError:
        log.warning("labeling timed out: %s s=%.1f", what, budget)
        raise ServiceError(
            504,
            "labeling_timeout",
            f"labeling took longer than the request's budget of {budget:g} s "
            "(REPORTLAB_REQUEST_TIMEOUT_S); it was stopped. Send fewer or shorter reports",
        ) from None
    except ClientGone:
        log.info("labeling cancelled: the client left: %s", what)
        raise
    except Exception as e:
        kind, where = (e.kind, e.where) if isinstance(e, RemoteError) else (type(e).__name__, _tb(e))
        log.error("labeling failed: %s -> %s\n%s", what, kind, where)
        raise ServiceError(500, "internal_error", "labeling failed; see the server log") from None
    log.info("labeled %s ms=%.1f", what, (time.perf_counter() - started) * 1000.0)
    return content


def _check_size(state: ServiceState, item: ReportIn, index: int | None) -> None:
    limit = state.settings.max_report_chars
    chars = item.char_count()
    if chars > limit:
        where = f"report {index} (id {item.id!r})" if index is not None else f"report {item.id!r}"
        raise ServiceError(
            413,
            "report_too_long",
            f"{where} has {chars} characters; the limit is {limit} (REPORTLAB_MAX_REPORT_CHARS)",
        )


async def _answer(request: Request, model: type[LabelRequest] | type[BatchRequest]) -> Response:
    """Read a ``model`` body and label its reports with its engine and scheme: one result, or a batch."""
    state = _state(request)
    state.require_ready()
    batch = model is BatchRequest
    body = await _read(request, model, max_batch=state.settings.max_batch if batch else None)
    engine = state.engine_for(body.engine)
    scheme = state.scheme_for(body.scheme)
    items: Sequence[ReportIn] = body.reports if isinstance(body, BatchRequest) else [body]
    for i, item in enumerate(items):
        _check_size(state, item, i if batch else None)
    provenance = {**state.provenance[engine.name], "scheme": scheme}
    render = RenderResults(scheme, provenance, [to_report(item) for item in items], batch=batch)
    content = await _label(state, request, engine, scheme, render)
    return Response(content, media_type=JSON_TYPE)


def _labeling(path: str, response: type[BaseModel], summary: str) -> Callable[[F], F]:
    """``router.post(path)`` for a labeling route: its answer, its errors, the request body it reads."""
    request_model = "BatchRequest" if response is BatchResponse else "LabelRequest"
    return router.post(
        path,
        response_model=response,
        responses=_JSON_ERRORS,
        openapi_extra=_request_body(request_model),
        tags=["labeling"],
        summary=summary,
    )


@_labeling("/v1/label", LabelResponse, "Label one report")
async def label_report(request: Request) -> Response:
    """Label one report (``text``, or ``sections`` joined with a header each) under a scheme."""
    return await _answer(request, LabelRequest)


@_labeling("/v1/label/batch", BatchResponse, "Label several reports")
async def label_batch(request: Request) -> Response:
    """Label up to ``REPORTLAB_MAX_BATCH`` reports with one scheme and engine, answered in order."""
    return await _answer(request, BatchRequest)


@router.get("/v1/labels", response_model=LabelsResponse, responses={503: _JSON_ERRORS[503]}, tags=["labels"])
async def list_labels(request: Request) -> Response:
    """The label set (definitions, parents, codes), values, schemes and categorical labels."""
    state = _state(request)
    state.require_ready()
    return Response(state.labels_body, media_type=JSON_TYPE)


@router.get("/healthz", response_model=HealthResponse, tags=["operations"])
async def healthz() -> dict[str, str]:
    """The process is alive (says nothing of the engine: see ``/readyz``)."""
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadyResponse,
    responses={503: {"model": ReadyResponse, "description": "Not ready yet"}},
    tags=["operations"],
)
async def readyz(request: Request) -> Response:
    """200 once the engine is loaded and a warm-up inference has run; 503 before."""
    state = _state(request)
    body = {
        "status": "ready" if state.ready else "not ready",
        "engine": state.settings.engine,
        "engines": state.engine_names,
        "warmed_up": state.ready,
    }
    return Response(to_json(body), status_code=200 if state.ready else 503, media_type=JSON_TYPE)


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        }
    },
    tags=["operations"],
)
async def metrics(request: Request) -> Response:
    """Request counts, latencies, reports labeled and errors, in the Prometheus text format."""
    state = _state(request)
    return Response(state.metrics.render(), media_type=state.metrics.content_type)


__all__ = ["router"]
