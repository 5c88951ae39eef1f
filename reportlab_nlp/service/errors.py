"""The service's error answers: :class:`ServiceError`, :class:`ClientGone`, ``ErrorResponse`` JSON."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

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
"""The ``error`` code of an answer by its HTTP status, where no route chose one."""


class ServiceError(Exception):
    """An error answered as ``ErrorResponse`` JSON with its own status."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        detail: Sequence[dict[str, Any]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.detail = list(detail)
        self.headers = headers


class ClientGone(Exception):
    """The client closed its connection before its answer was ready."""


def to_json(data: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def error_body(error: str, message: str, detail: Sequence[dict[str, Any]] = ()) -> bytes:
    """The JSON bytes of an :class:`~reportlab_nlp.service.schemas.ErrorResponse`."""
    return to_json({"error": error, "message": message, "detail": list(detail)})


__all__ = ["ERROR_CODES", "JSON_TYPE", "ClientGone", "ServiceError", "error_body", "to_json"]
