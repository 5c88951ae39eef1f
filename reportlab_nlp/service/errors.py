"""The service's error answers: :class:`ServiceError` and the JSON of an ``ErrorResponse``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any


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


def to_json(data: Any) -> bytes:
    """Compact UTF-8 JSON bytes."""
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")


def error_body(error: str, message: str, detail: Sequence[dict[str, Any]] = ()) -> bytes:
    """The JSON bytes of an :class:`~reportlab_nlp.service.schemas.ErrorResponse`."""
    return to_json({"error": error, "message": message, "detail": list(detail)})


__all__ = ["ServiceError", "error_body", "to_json"]
