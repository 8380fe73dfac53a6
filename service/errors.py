"""Error taxonomy: every error the service sends is JSON {"error": code, "detail": message}.

`error` is a stable machine-readable code chosen by HTTP status; `detail` is one
string saying what was wrong and naming the field (`pairs[0].hypothesis: Field
required`), the shape BentoML's OpenAPI schema declares for its error responses.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from bentoml.exceptions import BentoMLException

RETRY_AFTER_S = 1  # sent with every 503: overload is short-lived under adaptive batching

CODES = {
    400: "invalid_request",
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "limit_exceeded",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "overloaded",
    431: "limit_exceeded",
    500: "internal_error",
    503: "overloaded",
    504: "timeout",
}


class LimitExceeded(BentoMLException):
    """A request over a configured limit (413); the message names field, limit and env variable."""

    error_code = HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def code_for(status: int) -> str:
    return CODES.get(status, "internal_error" if status >= 500 else "invalid_request")


def envelope(status: int, body: bytes) -> dict[str, Any]:
    """Normalize whatever an error response carried into {"error": code, "detail": message}."""
    try:
        data: Any = json.loads(body) if body else None
    except (json.JSONDecodeError, UnicodeDecodeError):
        data = body.decode("utf-8", "replace").strip() or None
    # BentoML wraps an exception's message as [{"error": msg}] or {"error": msg}.
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        data = data.get("detail") or data.get("error") or data
    if isinstance(data, list):  # pydantic's field errors
        data = "; ".join(_field_error(item) for item in data)
    if not data:
        data = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "error"
    return {"error": code_for(status), "detail": data if isinstance(data, str) else json.dumps(data)}


def _field_error(item: Any) -> str:
    """`pairs[0].hypothesis: Field required` from one pydantic error."""
    if not isinstance(item, dict):
        return str(item)
    where = ""
    for part in item.get("loc", ()):
        where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else str(part))
    message = item.get("msg", "invalid")
    return f"{where}: {message}" if where else message


def error_bytes(status: int, detail: Any) -> bytes:
    return json.dumps({"error": code_for(status), "detail": detail}).encode()
