"""The FastAPI application: :func:`create_app` wires a state, the routes, the guard and the OpenAPI document.

``create_app(settings)`` builds an app; ``app`` (this module's attribute, built
on first access from the ``REPORTLAB_*`` environment) is what ``uvicorn
reportlab_nlp.service.app:app`` and ``uvicorn serve.app:app`` run.

Routes (all JSON except ``/metrics``; :mod:`.routes`):

========================  ====================================================
``POST /v1/label``        one report -> labels, probabilities, evidence, provenance
``POST /v1/label/batch``  up to ``REPORTLAB_MAX_BATCH`` reports, answered in order
``GET /v1/labels``        the label set, values, schemes and categories, with definitions
``GET /healthz``          the process answers
``GET /readyz``           200 once the engine is loaded and warmed up, else 503
``GET /metrics``          Prometheus text format
``GET /openapi.json``     the OpenAPI document, with this server's limits (:mod:`.openapi`)
========================  ====================================================

The pieces: :mod:`.state` (settings, engines, dispatchers, metrics; the
engine's lifecycle), :mod:`.routes`, :mod:`.handlers` (errors as
``ErrorResponse`` JSON), :mod:`.guard` (API key, content type, body limits,
timing, last-resort 500, in front of the routes), :mod:`.results` (predictions
as response JSON, the label set), :mod:`.batching` and :mod:`.worker`
(labeling off the event loop).

No report text is logged: labeling logs ids, sizes and timings.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from .._version import __version__
from ..engines import Engine
from .errors import ServiceError
from .guard import GuardMiddleware
from .handlers import EXCEPTION_HANDLERS, add_docs_notice
from .openapi import build_openapi
from .results import labels_document, result_record, to_report
from .routes import router
from .settings import ServiceSettings, load_settings
from .state import ServiceState

log = logging.getLogger("reportlab_nlp.service")


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
        exception_handlers=EXCEPTION_HANDLERS,
    )
    app.state.service = state
    app.include_router(router)
    app.openapi = functools.partial(build_openapi, app, state)  # type: ignore[method-assign]
    if not settings.docs:
        add_docs_notice(app)
    app.add_middleware(GuardMiddleware, state=state)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "X-API-Key"],
        )
    return app


_APP: FastAPI | None = None


def __getattr__(name: str) -> Any:
    """``app``: the service built from the environment, on first access (``uvicorn ...app:app``)."""
    global _APP
    if name == "app":
        if _APP is None:
            _APP = create_app()
        return _APP
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ServiceError",
    "ServiceState",
    "StripQueryFilter",
    "create_app",
    "labels_document",
    "result_record",
    "to_report",
]
