"""ASGI middleware in front of every endpoint: body size and read time, overload, timeout, error envelope.

BentoML's own traffic controls answer 429 (max_concurrency) or 504 (timeout) with
bodies of their own; this guard answers first, with 408 / 413 / 503 + Retry-After, and
rewrites every error response (BentoML's, Starlette's, ours) to the JSON envelope
of service.errors so no client ever sees another shape.

A request is admitted (counted against max_in_flight) only once its whole body is in:
a client that sends its headers and then stalls holds a connection, never a slot, and
gets 408 once body_timeout_s has passed (the connection is closed: the rest of its body
may still be on the way). Before this, 64 stalled bodies took every slot and each normal
request got 503 (issue 28; benchmarks/slow_clients.py). The request's head has its own
limits in service/connections.py.

An over-limit body is read and discarded (up to DRAIN_FACTOR times the limit, within the
same body_timeout_s) before the 413 goes out: a client that writes its whole body before
reading (urllib, requests) would otherwise have its connection reset under it and never
see the 413.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from pairscore.settings import Settings, env_name
from service.errors import RETRY_AFTER_S, envelope, error_bytes

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
DRAIN_FACTOR = 4  # an over-limit body up to this many times the limit is read to its end before the 413


class RequestGuard:
    """Guards requests to the paths in `guarded` (each set counts its in-flight requests separately).

    Every body, on any path, must arrive within body_timeout_s and stay within max_body_bytes.
    Guarded paths take JSON bodies only (BentoML would hand other media types to parsers whose
    errors surface as 500), at most max_in_flight at once, answered within timeout_s; any error
    response on any path gets the envelope.
    """

    def __init__(self, app: ASGIApp, limits: Settings, guarded: list[frozenset[str]]) -> None:
        self.app = app
        self.limits = limits
        self.groups = guarded
        self.in_flight = [0] * len(guarded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = _EnvelopeSender(send)
        group = next((i for i, paths in enumerate(self.groups) if scope["path"] in paths), None)
        if group is not None:
            media_type = _header(scope, b"content-type").split(b";")[0].strip().lower()
            if media_type not in (b"", b"application/json"):
                await _respond(send.raw, 415, f"send the body as application/json, not {media_type.decode('latin-1')}")
                return
        body = await self._body(scope, receive, send.raw)
        if body is None:  # answered (408, 413), or the client has gone
            return
        receive = _replay(body, receive)
        if group is None:
            await self.app(scope, receive, send)
            await send.flush()
            return
        if self.in_flight[group] >= self.limits.max_in_flight:
            await _respond(
                send.raw,
                503,
                f"more than {self.limits.max_in_flight} requests in flight ({env_name('max_in_flight')}); retry later",
            )
            return
        self.in_flight[group] += 1
        try:
            await self._call_with_timeout(scope, receive, send)
        finally:
            self.in_flight[group] -= 1

    async def _body(self, scope: Scope, receive: Receive, send: Send) -> bytes | None:
        """The whole body, read within body_timeout_s; None once the request has been answered or its client left."""
        limits = self.limits
        deadline = asyncio.get_running_loop().time() + limits.body_timeout_s
        try:
            body = await asyncio.wait_for(_read_body(scope, receive, limits.max_body_bytes), limits.body_timeout_s)
        except asyncio.TimeoutError:
            detail = f"request body not received within {limits.body_timeout_s:g} s ({env_name('body_timeout_s')})"
            await _respond(send, 408, detail, close=True)
            return None
        if isinstance(body, _OverLimit):
            left = deadline - asyncio.get_running_loop().time()
            bound = DRAIN_FACTOR * limits.max_body_bytes
            complete = body.complete or await _drain(scope, receive, body.read, bound, left)
            detail = f"request body over the limit of {limits.max_body_bytes} bytes ({env_name('max_body_bytes')})"
            await _respond(send, 413, detail, close=not complete)
            return None
        return body

    async def _call_with_timeout(self, scope: Scope, receive: Receive, send: _EnvelopeSender) -> None:
        task = asyncio.ensure_future(self.app(scope, receive, send))
        done, _ = await asyncio.wait({task}, timeout=self.limits.timeout_s)
        if task in done:
            task.result()
            await send.flush()
            return
        if send.started:  # already answering: let it finish
            await task
            await send.flush()
            return
        task.cancel()
        await _respond(
            send.raw, 503, f"not answered within {self.limits.timeout_s:g} s ({env_name('timeout_s')}); retry later"
        )


def _header(scope: Scope, name: bytes) -> bytes:
    return next((value for key, value in scope.get("headers", []) if key.lower() == name), b"")


class _OverLimit:
    """What _read_body read of a body over the limit: `read` bytes, and whether that was all of it."""

    def __init__(self, read: int, complete: bool) -> None:
        self.read, self.complete = read, complete


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes | _OverLimit | None:
    """The whole body, _OverLimit once it is over `limit` bytes (checked on Content-Length first), or None if the
    client went away before it was all in (nothing is answered then: a half body is no request)."""
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        return _OverLimit(0, False)
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        more = message.get("more_body", False)
        if size > limit:
            return _OverLimit(size, not more)
        chunks.append(chunk)
        if not more:
            break
    return b"".join(chunks)


async def _drain(scope: Scope, receive: Receive, read: int, bound: int, timeout: float) -> bool:
    """Read and discard the rest of a body while it stays within `bound` bytes; True once it has all been read.

    Not for a client that sent `Expect: 100-continue` and nothing yet (it waits for the answer
    before sending), nor for a declared length over the bound: those get the 413 at once.
    """
    declared = _header(scope, b"content-length")
    if (read == 0 and _header(scope, b"expect").lower() == b"100-continue") or (
        declared.isdigit() and int(declared) > bound
    ):
        return False

    async def drain() -> bool:
        size = read
        while size <= bound:
            message = await receive()
            if message["type"] == "http.disconnect":
                return False
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return size <= bound
        return False

    if timeout <= 0:
        return False
    try:
        return await asyncio.wait_for(drain(), timeout)
    except asyncio.TimeoutError:
        return False


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # only a disconnect can follow

    return replay


async def _respond(send: Send, status: int, detail: Any, close: bool = False) -> None:
    body = error_bytes(status, detail)
    headers = _headers(status, len(body)) + ([(b"connection", b"close")] if close else [])
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _headers(status: int, length: int, keep: Sequence[tuple[bytes, bytes]] = ()) -> list[tuple[bytes, bytes]]:
    dropped = {b"content-type", b"content-length", b"retry-after"}
    headers = [(k, v) for k, v in keep if k.lower() not in dropped]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(length).encode())]
    if status in (429, 503):
        headers.append((b"retry-after", str(RETRY_AFTER_S).encode()))
    return headers


class _EnvelopeSender:
    """Passes success responses through; buffers an error response and re-sends it as the envelope."""

    def __init__(self, send: Send) -> None:
        self.raw = send
        self.started = False
        self._error_start: Message | None = None
        self._chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            if message["status"] >= 400:
                self._error_start = message
                return
        elif message["type"] == "http.response.body" and self._error_start is not None:
            self._chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                await self.flush()
            return
        await self.raw(message)

    async def flush(self) -> None:
        if self._error_start is None:
            return
        start, self._error_start = self._error_start, None
        status = start["status"]
        body = _json_bytes(envelope(status, b"".join(self._chunks)))
        headers = _headers(status, len(body), list(start.get("headers", [])))
        await self.raw({"type": "http.response.start", "status": status, "headers": headers})
        await self.raw({"type": "http.response.body", "body": body})


def _json_bytes(data: dict[str, Any]) -> bytes:
    return json.dumps(data).encode()
