"""The FastAPI application: routes, limits, authentication, metrics and the engine's lifecycle.

``create_app(settings)`` builds an app; ``app`` (this module's attribute, built
on first access from the ``REPORTLAB_*`` environment) is what ``uvicorn
reportlab_nlp.service.app:app`` and ``uvicorn serve.app:app`` run.

Routes (all JSON except ``/metrics``):

========================  ====================================================
``POST /v1/label``        one report -> labels, probabilities, evidence, provenance
``POST /v1/label/batch``  up to ``REPORTLAB_MAX_BATCH`` reports, answered in order
``GET /v1/labels``        the label set, values, schemes and categories, with definitions
``GET /healthz``          the process answers
``GET /readyz``           200 once the engine is loaded and warmed up, else 503
``GET /metrics``          Prometheus text format
``GET /openapi.json``     the OpenAPI document, with this server's limits
========================  ====================================================

Before a request reaches a route, one ASGI middleware checks, in order: the
API key (``/v1/`` routes, when ``REPORTLAB_API_KEYS`` is set: 401), the
content type of a ``POST`` (JSON only: 415) and ``Content-Length`` (413 before
a byte of the body is read); while the body streams in it counts the bytes and
stops at the limit (413). It also times every request for the metrics and turns
an unexpected exception into a 500 whose log line holds the exception's type
and the code's lines, never its message (which might quote a report).

No report text is logged: labeling logs ids, sizes and timings.
"""

from __future__ import annotations

import functools
import hmac
import logging
import time
import traceback
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import Response
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .._version import __version__
from ..engines import Engine, HybridEngine, Prediction, RulesEngine, get_engine
from ..errors import ServiceConfigError
from ..io.readers import join_fields
from ..io.writers import jsonl_record
from ..rules import RuleSet
from ..rules.reference import NO_FINDING
from ..types import Report
from .batching import Dispatcher
from .bodies import parse_body
from .errors import ServiceError, error_body, to_json
from .metrics import Metrics
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
from .settings import ServiceSettings, load_settings
from .worker import RemoteError

log = logging.getLogger("reportlab_nlp.service")
M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

DOCS_ROUTES = ("/docs", "/redoc")
ROUTES = frozenset(
    {"/v1/label", "/v1/label/batch", "/v1/labels", "/healthz", "/readyz", "/metrics", "/openapi.json"}
) | frozenset(DOCS_ROUTES)
POST_ROUTES = frozenset({"/v1/label", "/v1/label/batch"})
JSON_TYPE = "application/json"
ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    503: "not_ready",
    504: "labeling_timeout",
}
VALUE_MEANINGS = (
    (1, "positive", "the finding is present (asserted, or stated as seen)"),
    (0, "negative", "the finding is mentioned and negated (absent)"),
    (-1, "uncertain", "the finding is mentioned with uncertainty (possible, cannot exclude, ...)"),
    (None, "blank", "the finding is not mentioned (or only as history or hypothesis)"),
)
_ERROR_REF = {"$ref": "#/components/schemas/ErrorResponse"}


_json = to_json


def _field_error(field: str, message: str, kind: str) -> ServiceError:
    return ServiceError(
        422,
        "validation_error",
        f"body.{field}: {message}",
        detail=[{"loc": ["body", field], "msg": message, "type": kind}],
    )


# ---------------------------------------------------------------------------
# the state of one app: settings, engines, dispatchers, metrics
# ---------------------------------------------------------------------------


class ServiceState:
    """What an app holds between requests; built by :func:`create_app`, started by its lifespan."""

    def __init__(self, settings: ServiceSettings, engine: Engine | None) -> None:
        self.settings = settings
        self.metrics = Metrics(ROUTES)
        self._given_engine = engine
        self.engines: dict[str, Engine] = {}
        self.dispatchers: dict[str, Dispatcher] = {}
        self.provenance: dict[str, dict[str, Any]] = {}
        self.labels_body = b""
        self.ready = False
        self.keys = settings.key_bytes()

    @property
    def engine_names(self) -> list[str]:
        """Engines this server runs."""
        return list(self.engines)

    @property
    def rules(self) -> RuleSet:
        """The rules of the default engine."""
        return self.engines[self.settings.engine].rules

    async def startup(self) -> None:
        """Load the engine and warm it up in a worker thread; start its dispatcher; precompute answers."""
        started = time.perf_counter()
        s = self.settings
        engine = self._given_engine or get_engine(
            s.engine, rules=s.rules, model_dir=s.model_dir, threads=s.model_threads
        )
        if engine.name != s.engine:
            raise ValueError(f"the engine given is {engine.name!r}, the settings say {s.engine!r}")
        await anyio.to_thread.run_sync(engine.warm_up)
        if s.scheme not in engine.rules.schemes:
            raise ServiceConfigError(
                f"REPORTLAB_SCHEME: unknown scheme {s.scheme!r}; "
                f"known schemes: {', '.join(engine.rules.schemes)}"
            )
        self.engines = {engine.name: engine}
        if isinstance(engine, HybridEngine):  # its rule labeler answers engine "rules" at no cost
            self.engines["rules"] = RulesEngine.from_labeler(engine.labeler)
        batching = engine.micro_batching if s.micro_batch is None else s.micro_batch
        isolate = s.isolate if s.isolate is not None else type(engine) is RulesEngine
        for name, one in self.engines.items():
            dispatcher = Dispatcher(
                one,
                self.metrics,
                batching=batching if one is engine else one.micro_batching,
                max_reports=max(s.micro_batch_max, 1),
                wait_s=s.micro_batch_wait_ms / 1000.0,
                isolate=isolate,
            )
            await dispatcher.start()
            self.dispatchers[name] = dispatcher
            self.provenance[name] = one.provenance()
        self.labels_body = _json(
            labels_document(engine.rules, s.scheme, self.engine_names, engine.rules_hash)
        )
        for name in self.engines:
            self.metrics.ready.labels(name).set(1)
        self.metrics.build.labels(__version__, engine.name, engine.rules_hash).set(1)
        self.ready = True
        log.info(
            "ready: engine=%s rules_hash=%s micro_batching=%s isolated=%s api_keys=%d start_s=%.2f",
            engine.name,
            engine.rules_hash[:12],
            batching,
            isolate,
            len(self.keys),
            time.perf_counter() - started,
        )

    async def shutdown(self) -> None:
        """Stop the dispatchers (uvicorn has let in-flight requests finish by now)."""
        self.ready = False
        for name, dispatcher in self.dispatchers.items():
            await dispatcher.stop()
            self.metrics.ready.labels(name).set(0)
        log.info("stopped")

    def require_ready(self) -> None:
        if not self.ready:
            raise ServiceError(
                503, "not_ready", "the engine is not loaded yet; retry when GET /readyz says ready"
            )

    def engine_for(self, name: str | None) -> Engine:
        name = name or self.settings.engine
        engine = self.engines.get(name)
        if engine is None:
            raise _field_error(
                "engine",
                f"engine {name!r} is not available on this server (it runs: {', '.join(self.engines)})",
                "engine_unavailable",
            )
        return engine

    def scheme_for(self, name: str | None) -> str:
        name = name or self.settings.scheme
        if name not in self.rules.schemes:
            raise _field_error(
                "scheme",
                f"unknown scheme {name!r}; known schemes: {', '.join(self.rules.schemes)}",
                "unknown_scheme",
            )
        return name


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------


def to_report(item: ReportIn) -> Report:
    """A request's report as the engine's :class:`~reportlab_nlp.types.Report` (sections joined)."""
    if item.text is not None:
        return Report(item.id, item.text)
    text, spans = join_fields([(s.name, s.text) for s in item.sections or ()])
    return Report(item.id, text, tuple(spans))


def result_record(engine: Engine, prediction: Prediction, report: Report, scheme: str) -> dict[str, Any]:
    """The ``LabelResult`` of one report: the JSONL record under ``scheme`` plus probabilities."""
    values = engine.values(prediction.labels, scheme)
    record = jsonl_record(prediction.labels, values, report)
    probabilities = None
    if prediction.probabilities is not None:
        probs = prediction.probabilities
        probabilities = {col: float(probs[label]) for col, label, _ in values if label in probs}
    review = None
    if engine.name == "hybrid":
        review = prediction.extra_record(values).get("review", [])
    evidence = {col: [_evidence(m) for m in ms] for col, ms in record["evidence"].items()}
    categories = record.get("categories")
    if categories is not None:
        categories = {
            name: {**c, "evidence": [_evidence(m) for m in c["evidence"]]} for name, c in categories.items()
        }
    return {
        "id": report.id,
        "scheme": scheme,
        "engine": engine.name,
        "labels": record["labels"],
        "probabilities": probabilities,
        "review": review,
        "evidence": evidence,
        "warnings": record["warnings"],
        "sections": record["sections"],
        "metadata": record.get("metadata"),
        "categories": categories,
        "text_length": record["text_length"],
        "fields": record.get("fields"),
    }


@dataclass(frozen=True)
class RenderResults:
    """A label request's response body from its predictions (picklable: it runs in the labeling process)."""

    scheme: str
    provenance: dict[str, Any]
    reports: list[Report]
    batch: bool

    def __call__(self, engine: Engine, predictions: list[Prediction]) -> bytes:
        results = [
            result_record(engine, p, r, self.scheme) for p, r in zip(predictions, self.reports, strict=True)
        ]
        if self.batch:
            return _json({"count": len(results), "results": results, "provenance": self.provenance})
        return _json({**results[0], "provenance": self.provenance})


class ClientGone(Exception):
    """The client closed its connection before its answer was ready."""


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


def _evidence(mention: dict[str, Any]) -> dict[str, Any]:
    mention.setdefault("attributes", {})
    mention.setdefault("attribute_spans", {})
    return mention


def labels_document(
    rules: RuleSet, default_scheme: str, engines: list[str], rules_hash: str
) -> dict[str, Any]:
    """The ``LabelsResponse`` of ``GET /v1/labels``."""
    findings = {f.label: f for f in rules.findings}
    labels = []
    for label in rules.labels:
        f = findings.get(label)
        if f is None:
            definition = (
                "computed: 1 when no finding of the scheme's no-finding policy is 1 or -1"
                if label == NO_FINDING
                else ""
            )
            labels.append({"label": label, "definition": definition, "parents": [], "codes": {}})
            continue
        codes = {
            system: [str(c) for c in (code if isinstance(code, list | tuple) else [code])]
            for system, code in f.codes.items()
        }
        labels.append(
            {"label": label, "definition": f.definition, "parents": list(f.implies), "codes": codes}
        )
    schemes = [
        {
            "name": s.name,
            "description": s.description,
            "no_finding": s.no_finding,
            "columns": [{"column": c, "label": lab} for c, lab in s.columns],
            "categories": list(s.categories),
        }
        for s in rules.schemes.values()
    ]
    categories = [
        {
            "name": c.name,
            "definition": c.definition,
            "values": [{"value": v.value, "definition": v.definition} for v in c.values],
        }
        for c in rules.categories
    ]
    return {
        "default_scheme": default_scheme,
        "engines": engines,
        "values": [{"value": v, "name": n, "meaning": m} for v, n, m in VALUE_MEANINGS],
        "labels": labels,
        "schemes": schemes,
        "categories": categories,
        "rules_hash": rules_hash,
    }


# ---------------------------------------------------------------------------
# the guard: auth, content type, body size, timing, last-resort 500
# ---------------------------------------------------------------------------


class GuardMiddleware:
    """Pure ASGI middleware in front of the routes (see the module's docstring)."""

    def __init__(self, app: ASGIApp, *, state: ServiceState) -> None:
        self.app = app
        self.state = state
        self.max_body = state.settings.max_body_bytes
        self.body_timeout = state.settings.body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        method: str = scope["method"]
        path: str = scope["path"]
        status = 500
        response_started = False

        async def timed_send(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                status = int(message["status"])
                response_started = True
            await send(message)

        try:
            problem = self._check(scope, method, path)
            if problem is not None:
                await _send_error(timed_send, problem)
                return
            received = 0
            limit = self.max_body
            body_done = False
            body_deadline = started + self.body_timeout

            async def counted_receive() -> Message:
                nonlocal received, body_done
                if body_done:  # after the body, receive() waits for the client to leave
                    return await receive()
                with anyio.move_on_after(max(body_deadline - time.perf_counter(), 0.0)) as waited:
                    message = await receive()
                if waited.cancelled_caught:
                    raise StarletteHTTPException(
                        408,
                        f"the request body did not arrive within {self.body_timeout:g} s "
                        "(REPORTLAB_BODY_TIMEOUT_S)",
                        headers={"Connection": "close"},
                    )
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    body_done = not message.get("more_body", False)
                    if received > limit:
                        raise StarletteHTTPException(
                            413, _too_large(limit, f"more than {limit} bytes arrived")
                        )
                return message

            await self.app(scope, counted_receive, timed_send)
        except Exception as e:
            log.error(
                "internal error: %s %s -> %s\n%s",
                method,
                path,
                type(e).__name__,
                "".join(traceback.format_tb(e.__traceback__)).rstrip(),
            )
            if not response_started:
                await _send_error(
                    timed_send, ServiceError(500, "internal_error", "internal error; see the server log")
                )
        finally:
            self.state.metrics.observe_request(method, path, status, time.perf_counter() - started)

    def _check(self, scope: Scope, method: str, path: str) -> ServiceError | None:
        headers = _headers(scope)
        if self.state.keys and path.startswith("/v1/") and not self._authorized(headers):
            return ServiceError(
                401,
                "unauthorized",
                "missing or invalid API key: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
                headers={"WWW-Authenticate": 'Bearer realm="reportlab-nlp"'},
            )
        if method == "POST" and path in POST_ROUTES:
            media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if media != JSON_TYPE:
                shown = repr(media) if media else "none"
                return ServiceError(
                    415,
                    "unsupported_media_type",
                    f"the body must be JSON (Content-Type: {JSON_TYPE}); "
                    f"the request's Content-Type is {shown}",
                )
        length = headers.get("content-length")
        if length is not None:
            try:
                size = int(length)
            except ValueError:
                return ServiceError(400, "bad_request", "the Content-Length header is not a whole number")
            if size > self.max_body:
                return ServiceError(
                    413, "payload_too_large", _too_large(self.max_body, f"Content-Length is {size}")
                )
        return None

    def _authorized(self, headers: dict[str, str]) -> bool:
        offered: list[bytes] = []
        auth = headers.get("authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            offered.append(token.strip().encode("utf-8", "surrogateescape"))
        api_key = headers.get("x-api-key", "")
        if api_key:
            offered.append(api_key.strip().encode("utf-8", "surrogateescape"))
        ok = False
        for candidate in offered:
            for key in self.state.keys:
                ok |= hmac.compare_digest(candidate, key)  # every key compared, in constant time
        return ok


def _too_large(limit: int, what: str) -> str:
    return f"request body too large: the limit is {limit} bytes (REPORTLAB_MAX_BODY_BYTES) and {what}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}


async def _send_error(send: Send, error: ServiceError) -> None:
    body = error_body(error.error, error.message, error.detail)
    headers = [(b"content-type", JSON_TYPE.encode()), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (error.headers or {}).items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


# ---------------------------------------------------------------------------
# logging
# ---------------------------------------------------------------------------


class StripQueryFilter(logging.Filter):
    """Drop the query string from uvicorn's access log lines (a client could put anything there)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str) and "?" in args[2]:
            record.args = (*args[:2], args[2].split("?", 1)[0], *args[3:])
        return True


def _configure_logging(level: str) -> None:
    log.setLevel(level.upper())
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, StripQueryFilter) for f in access.filters):
        access.addFilter(StripQueryFilter())
    package = logging.getLogger("reportlab_nlp")
    if not package.handlers and not logging.getLogger().handlers:  # run by a bare `uvicorn ...:app`
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
        package.addHandler(handler)


def _ids(reports: Sequence[Report], shown: int = 5) -> str:
    ids = ",".join(repr(r.id) for r in reports[:shown])
    return ids + (f",+{len(reports) - shown} more" if len(reports) > shown else "")


# ---------------------------------------------------------------------------
# the app
# ---------------------------------------------------------------------------

_JSON_ERRORS: dict[int | str, dict[str, Any]] = {
    413: {"model": ErrorResponse, "description": "Body, batch or report larger than the limits"},
    415: {"model": ErrorResponse, "description": "The body is not JSON"},
    422: {"model": ErrorResponse, "description": "Malformed JSON, or a field that does not match the schema"},
    500: {"model": ErrorResponse, "description": "A bug: the log says where (never the report)"},
    503: {"model": ErrorResponse, "description": "The engine is not ready yet"},
}


async def _docs_disabled() -> Response:
    """``/docs`` and ``/redoc`` when they are off: say how to turn them on."""
    message = (
        "the interactive API pages (/docs, /redoc) are off: they load scripts from a CDN, which a "
        "clinical network should not call. Start the server with REPORTLAB_DOCS=1 to turn them on; "
        "the OpenAPI document is at /openapi.json either way"
    )
    return Response(error_body("docs_disabled", message), status_code=404, media_type=JSON_TYPE)


def _request_body(model: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of a route that reads and validates its body itself."""
    return {
        "requestBody": {
            "required": True,
            "content": {JSON_TYPE: {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


_VALIDATION_LIMITER = anyio.CapacityLimiter(2)
"""Threads that parse and validate bodies at once (more would only fight over the interpreter lock)."""


async def _read(request: Request, model: type[M], *, max_batch: int | None = None) -> M:
    """The request's body as ``model``: read here, parsed and validated in a worker thread."""
    body = await request.body()
    return await anyio.to_thread.run_sync(
        functools.partial(parse_body, model, body, max_batch=max_batch), limiter=_VALIDATION_LIMITER
    )


def create_app(settings: ServiceSettings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the service's ASGI app.

    Parameters
    ----------
    settings
        The settings; default: read from the ``REPORTLAB_*`` environment.
    engine
        An engine to serve (loaded or not) instead of building one from
        ``settings.engine``; its name must match ``settings.engine``.

    Notes
    -----
    Nothing heavy happens here: the engine is built, loaded and warmed up by
    the app's lifespan (server start-up), once.
    """
    settings = settings or load_settings()
    state = ServiceState(settings, engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        _configure_logging(settings.log_level)
        await state.startup()
        try:
            yield
        finally:
            await state.shutdown()

    app = FastAPI(
        title="reportlab-nlp",
        version=__version__,
        summary="Label findings in radiology reports: present, absent, uncertain or not mentioned.",
        lifespan=lifespan,
        docs_url="/docs" if settings.docs else None,
        redoc_url="/redoc" if settings.docs else None,
    )
    app.state.service = state

    @app.exception_handler(RequestValidationError)
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

    @app.exception_handler(StarletteHTTPException)
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

    @app.exception_handler(ClientGone)
    async def _gone(_: Request, exc: ClientGone) -> Response:  # nobody reads it; the log and metrics count it
        return Response(error_body("client_gone", "the client left"), status_code=499, media_type=JSON_TYPE)

    @app.exception_handler(ServiceError)
    async def _service(_: Request, exc: ServiceError) -> Response:
        return Response(
            error_body(exc.error, exc.message, exc.detail),
            status_code=exc.status,
            media_type=JSON_TYPE,
            headers=exc.headers,
        )

    async def _label(request: Request, engine: Engine, scheme: str, render: RenderResults) -> bytes:
        reports = render.reports
        started = time.perf_counter()
        chars = sum(len(r.text) for r in reports)
        what = (
            f"engine={engine.name} scheme={scheme} reports={len(reports)} chars={chars} ids={_ids(reports)}"
        )
        log.debug("labeling %s", what)
        budget = settings.request_timeout_s
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

    def _check_size(item: ReportIn, index: int | None) -> None:
        chars = item.char_count()
        if chars > settings.max_report_chars:
            where = f"report {index} (id {item.id!r})" if index is not None else f"report {item.id!r}"
            raise ServiceError(
                413,
                "report_too_long",
                f"{where} has {chars} characters; the limit is {settings.max_report_chars} "
                "(REPORTLAB_MAX_REPORT_CHARS)",
            )

    @app.post(
        "/v1/label",
        response_model=LabelResponse,
        responses=_JSON_ERRORS,
        openapi_extra=_request_body("LabelRequest"),
        tags=["labeling"],
        summary="Label one report",
    )
    async def label_report(request: Request) -> Response:
        """Label one report (``text``, or ``sections`` joined with a header each) under a scheme."""
        state.require_ready()
        body = await _read(request, LabelRequest)
        engine = state.engine_for(body.engine)
        scheme = state.scheme_for(body.scheme)
        _check_size(body, None)
        provenance = {**state.provenance[engine.name], "scheme": scheme}
        render = RenderResults(scheme, provenance, [to_report(body)], batch=False)
        content = await _label(request, engine, scheme, render)
        return Response(content, media_type=JSON_TYPE)

    @app.post(
        "/v1/label/batch",
        response_model=BatchResponse,
        responses=_JSON_ERRORS,
        openapi_extra=_request_body("BatchRequest"),
        tags=["labeling"],
        summary="Label several reports",
    )
    async def label_batch(request: Request) -> Response:
        """Label up to ``REPORTLAB_MAX_BATCH`` reports with one scheme and engine, answered in order."""
        state.require_ready()
        body = await _read(request, BatchRequest, max_batch=settings.max_batch)
        engine = state.engine_for(body.engine)
        scheme = state.scheme_for(body.scheme)
        for i, item in enumerate(body.reports):
            _check_size(item, i)
        provenance = {**state.provenance[engine.name], "scheme": scheme}
        render = RenderResults(scheme, provenance, [to_report(item) for item in body.reports], batch=True)
        content = await _label(request, engine, scheme, render)
        return Response(content, media_type=JSON_TYPE)

    @app.get("/v1/labels", response_model=LabelsResponse, responses={503: _JSON_ERRORS[503]}, tags=["labels"])
    async def list_labels() -> Response:
        """The label set (definitions, parents, codes), values, schemes and categorical labels."""
        state.require_ready()
        return Response(state.labels_body, media_type=JSON_TYPE)

    @app.get("/healthz", response_model=HealthResponse, tags=["operations"])
    async def healthz() -> dict[str, str]:
        """The process is alive (says nothing of the engine: see ``/readyz``)."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        response_model=ReadyResponse,
        responses={503: {"model": ReadyResponse, "description": "Not ready yet"}},
        tags=["operations"],
    )
    async def readyz() -> Response:
        """200 once the engine is loaded and a warm-up inference has run; 503 before."""
        body = {
            "status": "ready" if state.ready else "not ready",
            "engine": settings.engine,
            "engines": state.engine_names,
            "warmed_up": state.ready,
        }
        return Response(_json(body), status_code=200 if state.ready else 503, media_type=JSON_TYPE)

    @app.get(
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
    async def metrics() -> Response:
        """Request counts, latencies, reports labeled and errors, in the Prometheus text format."""
        return Response(state.metrics.render(), media_type=state.metrics.content_type)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        doc = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=_DESCRIPTION,
            routes=app.routes,
        )
        _add_request_schemas(doc)
        _document_limits(doc, state)
        if state.ready:  # the schemes and engines are known once the engine is loaded
            app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
    if not settings.docs:
        for path in DOCS_ROUTES:
            app.add_api_route(path, _docs_disabled, methods=["GET"], include_in_schema=False)

    app.add_middleware(GuardMiddleware, state=state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        )
    return app


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


_APP: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """``app``: the service built from the environment, on first access (``uvicorn ...app:app``)."""
    global _APP
    if name == "app":
        if _APP is None:
            _APP = create_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ServiceError", "ServiceState", "create_app", "labels_document", "result_record", "to_report"]
