"""uvicorn's HTTP protocol with the limits a slow or hostile client must not get around.

uvicorn on its own waits forever for a request's headers, reads headers of any
size and accepts connections until the process runs out of file descriptors
(with ``ulimit -n 256``, 260 half-open requests locked every client out).
:class:`GuardedHttpProtocol` (uvicorn's httptools protocol) adds:

* a header time limit: from a connection's first byte (or the end of the
  previous response) to the end of a request's headers, at most
  ``REPORTLAB_HEADER_TIMEOUT_S``; then the connection gets 408 and is closed;
* a header size limit: request line and headers together at most
  ``REPORTLAB_MAX_HEADER_BYTES`` (431 and closed);
* a connection limit: at most ``REPORTLAB_MAX_CONNECTIONS`` open connections
  (kept below the process's file descriptor limit). A connection beyond it
  closes the oldest connection still sending its request's headers (the
  slowloris ones), so that a client whose request is complete is served; with
  none of those it is answered 503 and closed.

The body time limit is the app's (:class:`~reportlab_nlp.service.guard.GuardMiddleware`).
The limits are class attributes set by :func:`configure` (``reportlab-nlp serve``),
else read from the ``REPORTLAB_*`` environment on first use, so that
``uvicorn --http reportlab_nlp.service.protocol:GuardedHttpProtocol`` works too.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from .errors import error_body
from .settings import ServiceSettings, load_settings

log = logging.getLogger("reportlab_nlp.service")

FD_RESERVE = 64
"""File descriptors kept free of client connections (log files, the engine's files, threads)."""


def _answer(status: int, reason: str, error: str, message: str) -> bytes:
    body = error_body(error, message)
    head = (
        f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


def connection_limit(wanted: int) -> int:
    """``wanted``, raising the soft ``RLIMIT_NOFILE`` if needed and lowered to what it allows."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < need:
        target = need if hard == resource.RLIM_INFINITY else min(need, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(8, min(wanted, soft - FD_RESERVE))


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header time and size limits and a connection limit."""

    header_timeout_s: ClassVar[float] = 10.0
    max_header_bytes: ClassVar[int] = 16_384
    max_connections: ClassVar[int] = 1_024
    configured: ClassVar[bool] = False
    waiting: ClassVar[dict[GuardedHttpProtocol, float]] = {}
    """Connections sending their headers, and since when (oldest first)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not GuardedHttpProtocol.configured:
            configure(load_settings())
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None

    # -- connection ---------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.max_connections and not self._shed_oldest():
            log.warning(
                "connection refused: %d connections open (REPORTLAB_MAX_CONNECTIONS)", len(self.connections)
            )
            self._refuse(
                503,
                "Service Unavailable",
                "too_many_connections",
                "the server has too many open connections; retry later",
            )
            return
        self._await_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_done()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._header_timer is not None:
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes and not self._headers_complete_in(data):
                self._refuse(
                    431,
                    "Request Header Fields Too Large",
                    "headers_too_large",
                    f"the request line and headers are over {self.max_header_bytes} bytes "
                    "(REPORTLAB_MAX_HEADER_BYTES)",
                )
                return
        super().data_received(data)

    def _headers_complete_in(self, data: bytes) -> bool:
        """Whether the headers end within the limit (the bytes beyond are the body)."""
        end = data.find(b"\r\n\r\n")
        return end >= 0 and self._header_bytes - len(data) + end + 4 <= self.max_header_bytes

    # -- parser callbacks -----------------------------------------------------

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:  # a keep-alive connection's next request
            self._await_headers()

    def on_headers_complete(self) -> None:
        self._headers_done()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # the next request's headers are timed from its first byte (keep-alive covers the wait)

    # -- internals ------------------------------------------------------------

    def _await_headers(self) -> None:
        self._header_bytes = 0
        self.waiting[self] = time.monotonic()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _headers_done(self) -> None:
        self.waiting.pop(self, None)
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        self._refuse(
            408,
            "Request Timeout",
            "request_timeout",
            f"the request's headers did not arrive within {self.header_timeout_s:g} s "
            "(REPORTLAB_HEADER_TIMEOUT_S)",
        )

    def _refuse(self, status: int, reason: str, error: str, message: str) -> None:
        self._headers_done()
        if not self.transport.is_closing():
            self.transport.write(_answer(status, reason, error, message))
            self.transport.close()

    def _shed_oldest(self) -> bool:
        """Close the oldest connection still sending headers (not this one); whether there was one."""
        for other in self.waiting:
            if other is not self:
                other._refuse(
                    503,
                    "Service Unavailable",
                    "too_many_connections",
                    "closed to make room: the server is at REPORTLAB_MAX_CONNECTIONS and this "
                    "request's headers were the slowest",
                )
                return True
        return False


def configure(settings: ServiceSettings) -> int:
    """Set the protocol's limits from ``settings``; the connection limit in force."""
    GuardedHttpProtocol.header_timeout_s = settings.header_timeout_s
    GuardedHttpProtocol.max_header_bytes = settings.max_header_bytes
    GuardedHttpProtocol.max_connections = connection_limit(settings.max_connections)
    GuardedHttpProtocol.configured = True
    return GuardedHttpProtocol.max_connections


__all__ = ["GuardedHttpProtocol", "configure", "connection_limit"]
