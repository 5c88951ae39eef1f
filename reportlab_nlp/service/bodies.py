"""Request bodies read, parsed and validated off the event loop, with errors capped in size.

FastAPI would parse and validate a body in the event loop and answer every
problem: 0.8 MB of ``[1,1,1,...]`` took 4 s of the loop and gave a 56 MB
answer. Here the routes read the body themselves; :func:`parse_body` runs in a
worker thread, refuses a batch over ``REPORTLAB_MAX_BATCH`` before validating
its reports, and :func:`validation_error` keeps the first
:data:`MAX_ERROR_DETAIL` problems and counts the rest.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .errors import ServiceError
from .schemas import MAX_SECTIONS

MAX_ERROR_DETAIL = 20
"""Most problems listed in one 422 answer (the message counts the others)."""
MAX_MSG_CHARS = 300
"""Longest ``msg`` of one problem in a 422 answer."""

MAX_FIELDS = 16
"""More fields than any request object has (the extra ones would each be a problem)."""

M = TypeVar("M", bound=BaseModel)


def validation_error(problems: Sequence[dict[str, Any]], total: int | None = None) -> ServiceError:
    """A 422 ``validation_error`` listing at most :data:`MAX_ERROR_DETAIL` problems."""
    total = len(problems) if total is None else total
    detail = [
        {
            "loc": [p if isinstance(p, int) else str(p)[:MAX_MSG_CHARS] for p in e.get("loc", ())][:16],
            "msg": str(e.get("msg", ""))[:MAX_MSG_CHARS],
            "type": str(e.get("type", ""))[:64],
        }
        for e in problems[:MAX_ERROR_DETAIL]
    ]
    summary = "; ".join(".".join(str(p) for p in d["loc"]) + f": {d['msg']}" for d in detail[:5])
    more = f"; and {total - 5} more" if total > 5 else ""
    if total > len(detail):
        more += f" (the first {len(detail)} of {total} are listed)"
    return ServiceError(
        422, "validation_error", f"the request does not match the schema: {summary}{more}", detail=detail
    )


def _invalid_json(loc: list[str | int], msg: str) -> ServiceError:
    return validation_error([{"loc": loc, "msg": msg, "type": "json_invalid"}])


def _over_long_list(data: Any, limit: int, loc: list[str | int]) -> tuple[list[str | int], int] | None:
    """Where the first list longer than ``limit`` (or object of over :data:`MAX_FIELDS`) is, and its size."""
    if isinstance(data, list):
        if len(data) > limit and loc != ["body", "reports"]:
            return loc, len(data)
        items: Any = enumerate(data)
    elif isinstance(data, dict):
        if len(data) > MAX_FIELDS:
            return loc, len(data)
        items = data.items()
    else:
        return None
    for key, value in items:
        if isinstance(value, list | dict):
            found = _over_long_list(value, limit, [*loc, key])
            if found is not None:
                return found
    return None


def parse_body(model: type[M], body: bytes, *, max_batch: int | None = None) -> M:
    """``body`` (JSON bytes) as ``model``; run it in a worker thread.

    Raises
    ------
    ServiceError
        422 for malformed JSON, text that is not UTF-8 and schema problems;
        413 ``too_many_reports`` for a batch over ``max_batch``.
    """
    if not body.strip():
        raise validation_error([{"loc": ["body"], "msg": "Field required", "type": "missing"}])
    try:
        data = json.loads(body)
    except json.JSONDecodeError as e:
        raise _invalid_json(["body", e.pos], "JSON decode error") from None
    except UnicodeDecodeError as e:
        raise _invalid_json(
            ["body"], f"the body is not JSON text in UTF-8 (UnicodeDecodeError at byte {e.start})"
        ) from None
    except RecursionError:
        raise _invalid_json(["body"], "the JSON is nested too deeply") from None
    too_long = _over_long_list(data, max(max_batch or 0, MAX_SECTIONS), ["body"])
    if too_long is not None:
        where, length = too_long
        raise validation_error(
            [
                {
                    "loc": where,
                    "msg": f"{length} items (list items or object fields): more than any limit allows",
                    "type": "too_long",
                }
            ]
        )
    if max_batch is not None and isinstance(data, dict):
        reports = data.get("reports")
        if isinstance(reports, list) and len(reports) > max_batch:
            raise ServiceError(
                413,
                "too_many_reports",
                f"the batch has {len(reports)} reports; the limit is {max_batch} "
                "(REPORTLAB_MAX_BATCH): send several batches",
            )
    try:
        return model.model_validate(data)
    except ValidationError as e:
        errors = e.errors(include_url=False, include_context=False, include_input=False)
        problems = [{**err, "loc": ["body", *err["loc"]]} for err in errors[:MAX_ERROR_DETAIL]]
        raise validation_error(problems, e.error_count()) from None


__all__ = ["MAX_ERROR_DETAIL", "parse_body", "validation_error"]
