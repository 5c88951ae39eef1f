"""The guard in front of the routes: API key, content type, body size and time, timing, last-resort 500.

One pure ASGI middleware checks, in order: the API key (``/v1/`` routes, when
``REPORTLAB_API_KEYS`` is set: 401), the content type of a ``POST`` (JSON only:
415) and ``Content-Length`` (413 before a byte of the body is read); while the
body streams in it counts the bytes and stops at the limit (413), and at the
body's time limit (408). It also times every request for the metrics and turns
an unexpected exception into a 500 whose log line holds the exception's type
and the code's lines, never its message (which might quote a report).
"""

from __future__ import annotations

import hmac
import logging
import time
import traceback

import anyio
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import JSON_TYPE, ServiceError, error_body
from .state import POST_ROUTES, ServiceState

log = logging.getLogger("reportlab_nlp.service")


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
            await self.app(scope, self._counted(receive, started + self.body_timeout), timed_send)
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

    def _counted(self, receive: Receive, body_deadline: float) -> Receive:
        """``receive`` that stops the body at its byte limit (413) and its deadline (408)."""
        received = 0
        limit = self.max_body
        body_done = False

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
                    raise StarletteHTTPException(413, _too_large(limit, f"more than {limit} bytes arrived"))
            return message

        return counted_receive

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


__all__ = ["GuardMiddleware"]
