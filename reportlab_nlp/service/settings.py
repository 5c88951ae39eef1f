"""The service's settings, read from ``REPORTLAB_*`` environment variables (pydantic-settings).

Every setting has a safe default: the rules engine, no API keys (every client
may call), requests of at most 1 MiB, batches of at most 256 reports, reports
of at most 100,000 characters, no CORS, and loopback only
(``127.0.0.1:8000``). Lists (``REPORTLAB_API_KEYS``, ``REPORTLAB_CORS_ORIGINS``,
``REPORTLAB_RULES``) are comma-separated.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ..errors import ServiceConfigError

ENV_PREFIX = "REPORTLAB_"
LOG_LEVELS = ("critical", "error", "warning", "info", "debug")


def _split(value: object) -> object:
    """``"a, b,,c"`` -> ``("a", "b", "c")``; lists and tuples pass through."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


class ServiceSettings(BaseSettings):
    """Settings of the service; each field reads ``REPORTLAB_<FIELD>`` from the environment.

    Attributes
    ----------
    engine
        The engine loaded at start-up: ``rules`` (default), ``model`` or ``hybrid``.
    rules
        User rules files over the built-in rules (comma-separated paths).
    model_dir
        Where model engines look for a model (default ``models/``).
    model_threads
        ONNX Runtime intra-op threads of a model engine (unset: one per core).
    scheme
        The scheme of a request that names none (default ``full``).
    api_keys
        Accepted API keys (comma-separated). Empty (default): no authentication.
    max_batch
        Most reports in one ``POST /v1/label/batch`` (default 256); more is 413.
    max_body_bytes
        Most bytes in a request body (default 1 MiB); more is 413, before the body is read.
    max_report_chars
        Most characters in one report's text (sections: their texts together); more is 413.
    log_level
        ``critical``, ``error``, ``warning``, ``info`` (default) or ``debug``.
    cors_origins
        Origins allowed by CORS (comma-separated). Empty (default): no CORS headers.
    host, port, workers
        Where ``reportlab-nlp serve`` listens (default ``127.0.0.1:8000``, one worker).
    micro_batch
        Combine concurrent requests into one engine call. Unset: the engine decides
        (off for ``rules``, where it does not pay).
    micro_batch_max
        Most reports in one combined engine call.
    micro_batch_wait_ms
        How long a combined call waits for more requests (default 0: it takes what is queued).
    shutdown_timeout_s
        On SIGTERM, how long in-flight requests may take to finish (default 30 s).
    docs
        Serve the interactive pages ``/docs`` and ``/redoc`` (default off: they load scripts from a CDN).
    header_timeout_s
        Most seconds from a connection's (or request's) first byte to the end of its headers (408 beyond).
    body_timeout_s
        Most seconds to receive a request's whole body once its headers are in (408 beyond).
    keep_alive_s
        How long an idle keep-alive connection stays open between requests.
    max_header_bytes
        Most bytes of a request line and headers together (431 beyond).
    max_connections
        Most open connections; a new one beyond it closes the oldest connection still sending a
        request (slowloris), or is refused with 503 when none is.
    request_timeout_s
        Labeling time budget of one request, queueing included (504 beyond).
    isolate
        Label in a child process that is killed when a request gives up (its budget spent, its
        client gone). Unset: on for the rules engine; model engines label in a thread.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", case_sensitive=False)

    engine: Literal["rules", "model", "hybrid"] = "rules"
    rules: Annotated[tuple[str, ...], NoDecode] = ()
    model_dir: str | None = None
    model_threads: int | None = Field(default=None, ge=1, le=256)
    scheme: str = "full"
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    max_batch: int = Field(default=256, ge=1, le=100_000)
    max_body_bytes: int = Field(default=1_048_576, ge=1_024)
    max_report_chars: int = Field(default=100_000, ge=1)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65_535)
    workers: int = Field(default=1, ge=1)
    micro_batch: bool | None = None
    micro_batch_max: int = Field(default=64, ge=1)
    micro_batch_wait_ms: float = Field(default=0.0, ge=0.0, le=1_000.0)
    shutdown_timeout_s: float = Field(default=30.0, gt=0.0)
    docs: bool = False
    header_timeout_s: float = Field(default=10.0, gt=0.0, le=3_600.0)
    body_timeout_s: float = Field(default=30.0, gt=0.0, le=3_600.0)
    keep_alive_s: float = Field(default=5.0, gt=0.0, le=3_600.0)
    max_header_bytes: int = Field(default=16_384, ge=1_024, le=1_048_576)
    max_connections: int = Field(default=1_024, ge=8, le=1_000_000)
    request_timeout_s: float = Field(default=30.0, gt=0.0, le=86_400.0)
    isolate: bool | None = None

    @field_validator("rules", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return _split(value)

    @field_validator("api_keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        keys = _split(value)
        if isinstance(value, str) and not keys:  # set, but to "", "," or " , ": never serve without auth
            raise ValueError(
                "the variable is set but holds no key (it is empty or only commas and spaces); "
                "give at least one key, or unset it to run without authentication"
            )
        return keys

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    def key_bytes(self) -> tuple[bytes, ...]:
        """The API keys as bytes, for :func:`hmac.compare_digest`."""
        return tuple(k.get_secret_value().encode("utf-8") for k in self.api_keys)


def load_settings(**overrides: object) -> ServiceSettings:
    """Read the settings from the environment, with ``overrides`` on top.

    Raises
    ------
    ServiceConfigError
        If a variable has a bad value; the message names the variable, what was
        expected and (except for API keys) what was found.
    """
    try:
        return ServiceSettings(**overrides)  # type: ignore[arg-type]
    except ValidationError as e:
        problems = []
        for err in e.errors():
            name = ENV_PREFIX + "_".join(str(p) for p in err["loc"][:1]).upper()
            found = "" if name.endswith("API_KEYS") else f" (got {err.get('input')!r})"
            problems.append(f"{name}: {err['msg']}{found}")
        raise ServiceConfigError("invalid service settings: " + "; ".join(problems)) from None


__all__ = ["ENV_PREFIX", "LOG_LEVELS", "ServiceSettings", "load_settings"]
