"""Error taxonomy: every error the service sends is JSON {"error": code, "detail": ...}.

`error` is a stable machine-readable code chosen by HTTP status; `detail` says what
was wrong (a message naming the field, or pydantic's list of field errors).
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException

RETRY_AFTER_S = 1  # sent with every 503: overload is short-lived under adaptive batching

CODES = {
    400: "invalid_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "limit_exceeded",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "overloaded",
    500: "internal_error",
    503: "overloaded",
    504: "timeout",
}


class LimitExceeded(BentoMLException):
    """A request over a configured limit (413); the message names field, limit and env variable."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class Overloaded(BentoMLException):
    """Too many requests at once or too slow to answer (503 with Retry-After)."""

    error_code = HTTPStatus.SERVICE_UNAVAILABLE


def code_for(status: int) -> str:
    return CODES.get(status, "internal_error" if status >= 500 else "invalid_request")


def envelope(status: int, body: bytes) -> dict[str, Any]:
    """Normalize whatever an error response carried into {"error", "detail"}."""
    try:
        data: Any = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = body.decode("utf-8", "replace").strip() or None
    # BentoML wraps an exception's message as [{"error": msg}] or {"error": msg}.
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        if "detail" in data:
            detail = data["detail"]
            if "error" in data and not isinstance(detail, list):
                detail = detail or data["error"]
            elif isinstance(detail, list):
                detail = [_clean(item) for item in detail]
        else:
            detail = data.get("error", data)
    else:
        detail = data
    if detail is None:
        detail = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    return {"error": code_for(status), "detail": detail}


def _clean(item: Any) -> Any:
    """Keep pydantic field errors small and JSON-safe: where, what, which kind."""
    if isinstance(item, dict) and "msg" in item:
        return {k: item[k] for k in ("loc", "msg", "type") if k in item}
    return item


def error_bytes(status: int, detail: Any) -> bytes:
    return json.dumps({"error": code_for(status), "detail": detail}).encode()
