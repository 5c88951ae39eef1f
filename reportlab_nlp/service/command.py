"""``reportlab-nlp serve``: run the service under uvicorn.

Importing this module needs nothing of the ``serve`` extra; :func:`run_serve`
checks for it and says what to install. Options override the ``REPORTLAB_*``
environment (:mod:`.settings`). With one worker the engine is loaded here,
before uvicorn starts, so a bad rules file or a missing model is one line on
standard error (exit status 2) instead of a traceback; with ``--workers N``
each worker process loads its own engine from the same settings (passed on
through the environment).
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
from typing import TYPE_CHECKING, Any, TextIO

from .._argtypes import positive_int as _workers
from ..engines import ENGINE_NAMES, get_engine
from ..errors import EngineUnavailableError, ExtraNotInstalledError, SchemeError

if TYPE_CHECKING:  # the serve extra may be missing: run_serve says so
    from .settings import ServiceSettings

APP_PATH = "reportlab_nlp.service.app:app"
PROTOCOL_PATH = "reportlab_nlp.service.protocol:GuardedHttpProtocol"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
SERVE_EXTRA = ("fastapi", "uvicorn", "pydantic_settings", "prometheus_client")


def _port(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {value!r}") from None
    if not 0 <= n <= 65_535:
        raise argparse.ArgumentTypeError(f"expected a port number from 0 to 65535, got {n}")
    return n


def add_serve_parser(sub: Any) -> None:
    """Add the ``serve`` command to the command line's subparsers."""
    p = sub.add_parser(
        "serve",
        help="run the HTTP labeling service (FastAPI + uvicorn; pip install 'reportlab-nlp[serve]')",
        description="Serve POST /v1/label, POST /v1/label/batch, GET /v1/labels, /healthz, /readyz and "
        "/metrics. Settings come from REPORTLAB_* environment variables (see docs/service.md); the "
        "options below override them. SIGTERM or Ctrl-C stops it after the requests in flight finish.",
    )
    p.add_argument(
        "--host",
        default=None,
        help="address to listen on (default: REPORTLAB_HOST, else 127.0.0.1: this machine only)",
    )
    p.add_argument("--port", type=_port, default=None, help="port (default: REPORTLAB_PORT, else 8000)")
    p.add_argument(
        "--engine",
        choices=ENGINE_NAMES,
        default=None,
        help="labeling engine (default: REPORTLAB_ENGINE, else rules); model and hybrid need a model",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="PATH",
        help="model folder (or a folder holding one) of the model and hybrid engines "
        "(default: REPORTLAB_MODEL_DIR, else the installed models/)",
    )
    p.add_argument(
        "--workers",
        type=_workers,
        default=None,
        metavar="N",
        help="worker processes, each with its own engine (default: REPORTLAB_WORKERS, else 1)",
    )
    p.add_argument(
        "--rules",
        action="append",
        default=[],
        metavar="PATH",
        help="a rules file applied over the built-in rules; may be repeated (default: REPORTLAB_RULES)",
    )
    p.add_argument(
        "--log-level", choices=LOG_LEVELS, default=None, help="default: REPORTLAB_LOG_LEVEL, else info"
    )


def name_the_model_option(problem: str) -> str:
    """``problem`` with ``--model`` named before any advice to train a model (once)."""
    if "--model" in problem or "make model" not in problem:
        return problem
    head, _, rest = problem.partition("; ")
    return (
        f"{head}; name a model folder with serve --model PATH (or REPORTLAB_MODEL_DIR); or make one: {rest}"
    )


def log_config(level: str) -> dict[str, Any]:
    """uvicorn's logging configuration, plus the package's logger and the access log's query filter."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config.setdefault("filters", {})["strip_query"] = {"()": "reportlab_nlp.service.app.StripQueryFilter"}
    config["handlers"]["access"]["filters"] = ["strip_query"]
    config["loggers"]["reportlab_nlp"] = {"handlers": ["default"], "level": level.upper(), "propagate": False}
    return config


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings that ``serve``'s options give (over the ``REPORTLAB_*`` environment)."""
    overrides: dict[str, Any] = {}
    for name in ("host", "port", "engine", "workers", "log_level"):
        value = getattr(args, name)
        if value is not None:
            overrides[name] = value
    if args.rules:
        overrides["rules"] = tuple(args.rules)
    if args.model is not None:
        overrides["model_dir"] = args.model
    return overrides


def _uvicorn_options(settings: ServiceSettings, stderr: TextIO) -> dict[str, Any]:
    """``uvicorn.run``'s options from the settings (with httptools: our protocol, its limits set)."""
    common: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "log_config": log_config(settings.log_level),
        "timeout_graceful_shutdown": settings.shutdown_timeout_s,
        "timeout_keep_alive": settings.keep_alive_s,
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        "server_header": False,
    }
    if importlib.util.find_spec("httptools") is not None:  # header limits, connection limit
        from .protocol import configure

        common["http"] = PROTOCOL_PATH
        limit = configure(settings)
        if limit < settings.max_connections:
            stderr.write(
                f"reportlab-nlp: warning: at most {limit} connections (REPORTLAB_MAX_CONNECTIONS is "
                f"{settings.max_connections}, the open-file limit allows {limit})\n"
            )
    return common


def run_serve(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    """Start uvicorn with the service; returns when the server has stopped."""
    for module in SERVE_EXTRA:
        try:
            __import__(module)
        except ImportError as e:
            raise ExtraNotInstalledError("serve", "serve", (e.name or module).split(".")[0]) from e
    import uvicorn

    from ..rules import load_rules
    from .app import create_app
    from .settings import load_settings

    overrides = _overrides(args)
    settings = load_settings(**overrides)
    try:
        engine = get_engine(
            settings.engine,
            rules=settings.rules,
            model_dir=settings.model_dir,
            threads=settings.model_threads,
        )
    except EngineUnavailableError as e:
        raise EngineUnavailableError(e.engine, name_the_model_option(e.problem)) from None
    common = _uvicorn_options(settings, stderr)
    if settings.workers == 1:
        engine.warm_up()  # a bad rules file fails here, as one line
        engine.scheme(settings.scheme)  # and so does an unknown REPORTLAB_SCHEME
        uvicorn.run(create_app(settings, engine=engine), **common)
        return 0
    rules = load_rules(settings.rules)  # a bad rules file fails here, before the workers start
    if settings.scheme not in rules.schemes:
        raise SchemeError(settings.scheme, rules.schemes)
    for name, value in overrides.items():
        os.environ[f"REPORTLAB_{name.upper()}"] = ",".join(value) if isinstance(value, tuple) else str(value)
    uvicorn.run(APP_PATH, workers=settings.workers, **common)
    return 0


__all__ = ["APP_PATH", "add_serve_parser", "log_config", "run_serve"]
