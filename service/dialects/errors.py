"""Errors in the shape a dialect's clients parse, with our status codes and messages.

huggingface_hub reads TEI's `{"error": message, "error_type": type}`; the openai SDK reads `{"error": {"message",
"type", "param", "code"}}` into its exceptions. Every other route, and the Cohere routes (whose SDK keeps the body
as it comes), keeps our `{"error": code, "detail": message}`. /embed is shared: an error answers in TEI's shape
when the request's body was TEI's (it has `inputs`). /docs.json declares the OpenAI shape (service.dialects.openapi).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from service.dialects import OPENAI_ROUTES, TEI_ROUTES, openapi
from service.middleware import ASGIApp, Message, Receive, Scope, Send

SHARED = "/embed"  # ours with `texts`, TEI's with `inputs`
SPEC = "/docs.json"  # BentoML's OpenAPI document
# TEI's ErrorType, by our status: it has no kind for a refused key, an unknown route or method, so those are
# `validation` like every other request TEI itself would refuse.
TEI_TYPES = {429: "overloaded", 503: "overloaded"}


def tei(status: int, code: str, detail: str) -> dict[str, Any]:
    return {"error": detail, "error_type": TEI_TYPES.get(status, "backend" if status >= 500 else "validation")}


def openai(status: int, code: str, detail: str) -> dict[str, Any]:
    """OpenAI's error object: `code` is our taxonomy's (`limit_exceeded`, …), and OpenAI's `model_not_found` for a
    model that is not served (its routes have no other 404)."""
    if status == 404:
        code, param = "model_not_found", "model"
    else:
        param = None
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": detail, "type": kind, "param": param, "code": code}}


class DialectErrors:
    """ASGI middleware, outside all of ours: re-shapes our error envelope on the TEI and OpenAI routes, and adds
    the OpenAI routes to /docs.json."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if path in TEI_ROUTES:
            send = _Rewriting(send, _errors_as(tei))
        elif path in OPENAI_ROUTES or path.startswith("/v1/models/"):  # a model not served is OpenAI's 404 too
            send = _Rewriting(send, _errors_as(openai))
        elif path == SHARED:
            body: list[bytes] = []
            inner = receive

            async def receive() -> Message:  # a copy of the body, to see whose body it was
                message = await inner()
                body.append(message.get("body", b""))
                return message

            send = _Rewriting(send, _errors_as(tei, when=lambda: _speaks_tei(b"".join(body))))
        elif path == SPEC:
            send = _Rewriting(send, _documented, holds=lambda status: status == 200)
        await self.app(scope, receive, send)


Rewrite = Callable[[int, bytes], bytes]


def _errors_as(shape: Callable[[int, str, str], dict[str, Any]], when: Callable[[], bool] = lambda: True) -> Rewrite:
    """Our envelope (every error has it by now: RequestGuard writes it) in the dialect's `shape`."""

    def rewrite(status: int, body: bytes) -> bytes:
        try:
            ours = json.loads(body)
            code, detail = ours["error"], ours["detail"]
        except (ValueError, KeyError, TypeError):
            return body
        return json.dumps(shape(status, code, detail)).encode() if when() else body

    return rewrite


def _documented(status: int, body: bytes) -> bytes:
    return json.dumps(openapi.document(json.loads(body))).encode()


def _speaks_tei(body: bytes) -> bool:
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # a body nested deeper than Python's json reads was never TEI's either
        return False
    return isinstance(data, dict) and "inputs" in data


class _Rewriting:
    """Holds a response whose status `holds` (errors by default) and sends it rewritten; passes the others through."""

    def __init__(self, send: Send, rewrite: Rewrite, holds: Callable[[int], bool] = lambda status: status >= 400):
        self.send, self.rewrite, self.holds = send, rewrite, holds
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start" and self.holds(message["status"]):
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = self.rewrite(self.start["status"], b"".join(self.chunks))
        headers = [(k, v) for k, v in self.start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await self.send({**self.start, "headers": headers})
        await self.send({"type": "http.response.body", "body": body})
