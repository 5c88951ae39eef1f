"""The state of one app: settings, engines, dispatchers, metrics, the answers computed once.

:func:`~.app.create_app` builds one :class:`ServiceState` per app and keeps it
as ``app.state.service``; the routes (:mod:`.routes`) read it from
``request.app.state.service``, the guard (:mod:`.guard`) is given it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import anyio
import anyio.to_thread

from .._version import __version__
from ..engines import Engine, HybridEngine, RulesEngine, get_engine
from ..errors import ServiceConfigError
from ..rules import RuleSet
from .batching import Batching, Dispatcher
from .errors import ServiceError, to_json
from .metrics import Metrics
from .results import labels_document
from .settings import ServiceSettings

log = logging.getLogger("reportlab_nlp.service")

DOCS_ROUTES = ("/docs", "/redoc")
ROUTES = frozenset(
    {"/v1/label", "/v1/label/batch", "/v1/labels", "/healthz", "/readyz", "/metrics", "/openapi.json"}
) | frozenset(DOCS_ROUTES)
POST_ROUTES = frozenset({"/v1/label", "/v1/label/batch"})


def _field_error(field: str, message: str, kind: str) -> ServiceError:
    return ServiceError(
        422,
        "validation_error",
        f"body.{field}: {message}",
        detail=[{"loc": ["body", field], "msg": message, "type": kind}],
    )


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
        engine = await self._load_engine()
        self.engines = {engine.name: engine}
        if isinstance(engine, HybridEngine):  # its rule labeler answers engine "rules" at no cost
            self.engines["rules"] = RulesEngine.from_labeler(engine.labeler)
        batching = engine.micro_batching if s.micro_batch is None else s.micro_batch
        isolate = s.isolate if s.isolate is not None else type(engine) is RulesEngine
        for name, one in self.engines.items():
            options = Batching(
                batching if one is engine else one.micro_batching,
                max_reports=max(s.micro_batch_max, 1),
                wait_s=s.micro_batch_wait_ms / 1000.0,
            )
            dispatcher = Dispatcher(one, self.metrics, options, isolate=isolate)
            await dispatcher.start()
            self.dispatchers[name] = dispatcher
            self.provenance[name] = one.provenance()
        self.labels_body = to_json(
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

    async def _load_engine(self) -> Engine:
        """The settings' engine (or the one given), loaded and warmed up; its rules know the scheme."""
        s = self.settings
        engine = self._given_engine or get_engine(
            s.engine, rules=s.rules, model_dir=s.model_dir, threads=s.model_threads
        )
        if engine.name != s.engine:
            raise ServiceConfigError(
                f"REPORTLAB_ENGINE: expected {engine.name!r} (the engine given to create_app), "
                f"found {s.engine!r}"
            )
        await anyio.to_thread.run_sync(engine.warm_up)
        if s.scheme not in engine.rules.schemes:
            raise ServiceConfigError(
                f"REPORTLAB_SCHEME: unknown scheme {s.scheme!r}; "
                f"known schemes: {', '.join(engine.rules.schemes)}"
            )
        return engine

    async def shutdown(self) -> None:
        """Stop the dispatchers (uvicorn has let in-flight requests finish by now)."""
        self.ready = False
        for name, dispatcher in self.dispatchers.items():
            await dispatcher.stop()
            self.metrics.ready.labels(name).set(0)
        log.info("stopped")

    def require_ready(self) -> None:
        """503 before the engine is loaded and warmed up."""
        if not self.ready:
            raise ServiceError(
                503, "not_ready", "the engine is not loaded yet; retry when GET /readyz says ready"
            )

    def engine_for(self, name: str | None) -> Engine:
        """The engine a request names (default: the settings'), or 422 naming those that run."""
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
        """The scheme a request names (default: the settings'), or 422 naming the known ones."""
        name = name or self.settings.scheme
        if name not in self.rules.schemes:
            raise _field_error(
                "scheme",
                f"unknown scheme {name!r}; known schemes: {', '.join(self.rules.schemes)}",
                "unknown_scheme",
            )
        return name


__all__ = ["DOCS_ROUTES", "POST_ROUTES", "ROUTES", "ServiceState"]
