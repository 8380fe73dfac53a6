"""uvicorn under BentoML, given the connection limits it lacks: a request's head, idle and open connections, answers.

BentoML 1.4.40 builds its worker's uvicorn server itself (`_bentoml_impl/worker/service.py`:
`uvicorn.Config(...)` with the socket, backlog, TLS and keep-alive options of `bentoml serve`
and nothing else), so neither a protocol class nor `limit_concurrency` nor a header cap can be
set through BentoML. And uvicorn 0.55's httptools protocol (what it runs with httptools
installed) caps nothing of a request's head: a 200 kB header was accepted (issue 28), a
request line sent one byte at a time was waited for without end, and a connection that never
sends a byte stayed open (its keep-alive timer starts only after a first answer).

`install()` makes BentoML's worker build uvicorn's Config with `Protocol` below and the
keep-alive of the settings (the worker imports the service, which calls install(), before it
builds the Config). `Protocol` is uvicorn's httptools protocol, plus:

- a head over max_header_bytes (counted as it arrives, so a huge header is never held) or with
  more than max_headers fields: 431;
- a head not in within body_timeout_s of its first byte: 408 (the body's own timeout is
  RequestGuard's, service/middleware.py);
- a connection with no request yet is closed after keep_alive_s, as uvicorn closes one between
  requests;
- past max_connections open connections, a request gets 503 + Retry-After at once;
- each answer's head leaves in one write with the first bytes of its body. uvicorn writes them
  apart; a replica killed between the two writes left a proxy holding the head of an answer
  whose body never came, which it cannot resend (docs/deploy.md: 1 request in 5,571 lost when
  a compose replica was killed under load). In one write, an answer that fits the socket's
  buffer either has left whole or has not left at all, and a proxy resends the latter.

Each of these answers is the JSON envelope of service.errors, with `connection: close`. A connection
is never closed under a client that may still be writing: closing with bytes unread makes the kernel
reset the connection, and a client still sending its request (urllib, requests, or a 200 kB header)
then loses the answer with it. So after a closing answer (these, and the app's 408 and 413) the
server half-closes, reads and drops what comes for up to LINGER_S, and closes once the client has.

The class overrides uvicorn's protocol methods (data_received, on_* parser callbacks,
send_400_response, on_headers_complete) and reads its cycle's `response_started`, which are
uvicorn's internals: uvicorn and httptools are pinned (pyproject.toml, bentofile.yaml) to the
versions this was written against, and tests/service/test_connections.py checks every limit on
a real server and the single write on the protocol itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from pairscore.settings import Settings, env_name
from service.errors import RETRY_AFTER_S, error_bytes

UPSTREAM_CONFIG = getattr(uvicorn, "UPSTREAM_CONFIG", uvicorn.Config)
LINGER_S = 2.0  # after a closing answer, what the client still sends is read and dropped for at most this long
logger = logging.getLogger("pairscore.requests")  # where ClientErrorLog logs the 4xx the app answers


class _Refused(Exception):
    """Raised in a parser callback to stop parsing; uvicorn then calls send_400_response, which answers the refusal."""


class Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with the limits of `limits` on each request's head and on the connection."""

    def __init__(self, *args: Any, limits: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.head_room: int | None = limits.max_header_bytes  # bytes the head may still take; None: in a body
        self.head_fields = 0
        self.head_timer: asyncio.TimerHandle | None = None
        self.refusal: tuple[int, str] | None = None
        self.lingering = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # idle until its first byte, as between two requests: closed after the keep-alive (uvicorn's own timer)
        self.timeout_keep_alive_task = self.loop.call_later(self.timeout_keep_alive, self.timeout_keep_alive_handler)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            return  # after a closing answer: dropped
        while self.head_room is not None and len(data) > self.head_room:
            # the head may take head_room more bytes: parse those alone, and carry on only if the head ended in them
            part, data = data[: self.head_room], data[self.head_room :]
            self.head_room = 0
            if part:
                super().data_received(part)
            if self.transport.is_closing():
                return
            if self.head_room == 0:  # the same head, still open, and full
                self._refuse(
                    431,
                    f"request line and headers over the limit of {self.limits.max_header_bytes} bytes "
                    f"({env_name('max_header_bytes')})",
                )
                return
        if self.head_room is not None:
            self.head_room -= len(data)
        super().data_received(data)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_fields = 0
        self._stop_head_timer()
        self.head_timer = self.loop.call_later(self.limits.body_timeout_s, self._head_timed_out)

    def on_header(self, name: bytes, value: bytes) -> None:
        self.head_fields += 1
        if self.head_fields > self.limits.max_headers:
            self.refusal = (431, f"more than {self.limits.max_headers} header fields ({env_name('max_headers')})")
            raise _Refused
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._stop_head_timer()
        self.head_room = None
        if len(self.connections) > self.limits.max_connections:
            self.refusal = (
                503,
                f"more than {self.limits.max_connections} open connections ({env_name('max_connections')}); "
                "retry later",
            )
            raise _Refused
        previous = self.cycle
        super().on_headers_complete()
        if self.cycle is not previous:  # a new request (not an upgrade): its answer leaves in one write
            self.cycle.transport = _OneWrite(self.transport, self.cycle, self.linger)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self.head_room = self.limits.max_header_bytes  # the next request's head

    def on_response_complete(self) -> None:
        if not self.lingering:  # a closing answer ends the connection: no pipelined request after it, no keep-alive
            super().on_response_complete()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to a request its parser refused: our refusal (raised in a callback), else its 400."""
        status, detail = self.refusal or (400, msg)
        self._refuse(status, detail)

    def _head_timed_out(self) -> None:
        self.head_timer = None
        self._refuse(
            408, f"request headers not received within {self.limits.body_timeout_s:g} s ({env_name('body_timeout_s')})"
        )

    def _stop_head_timer(self) -> None:
        if self.head_timer is not None:
            self.head_timer.cancel()
            self.head_timer = None

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` with the envelope and linger; only close when an earlier answer is still being sent."""
        if self.transport.is_closing() or self.lingering:
            return
        logger.info("%d from %s: %s", status, self.client[0] if self.client else "?", detail)
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()
            return
        body = error_bytes(status, detail)
        head = [
            f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
            "content-type: application/json",
            f"content-length: {len(body)}",
            "connection: close",
            *([f"retry-after: {RETRY_AFTER_S}"] if status == 503 else []),
        ]
        self.transport.write("\r\n".join(head).encode() + b"\r\n\r\n" + body)
        self.linger()

    def linger(self) -> None:
        """Close after a closing answer without resetting it away: half-close (the client reads the answer, then
        the end), drop what the client still sends, and close once it has, or after LINGER_S."""
        if self.transport.is_closing() or self.lingering:
            return
        self.lingering = True
        self._stop_head_timer()
        self._unset_keepalive_if_required()
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.loop.call_later(LINGER_S, self.transport.close)


class _OneWrite:
    """A request's transport that holds its answer's head back until the first bytes of the body, then writes both
    at once; closing it lingers (Protocol.linger). What uvicorn writes before the answer starts (`100 Continue`)
    passes straight through."""

    def __init__(self, transport: asyncio.Transport, cycle: Any, linger: Callable[[], None]) -> None:
        self.transport, self.cycle, self.linger = transport, cycle, linger
        self.head: bytes | None = None
        self.joined = False

    def write(self, data: bytes) -> None:
        if self.cycle.response_started and not self.joined:
            if self.head is None:
                self.head = data
                return
            data, self.head, self.joined = self.head + data, None, True
        self.transport.write(data)

    def close(self) -> None:
        if self.head is not None:
            self.transport.write(self.head)
            self.head = None
        self.linger()

    def is_closing(self) -> bool:
        return self.transport.is_closing()


def install(limits: Settings) -> None:
    """Make BentoML's worker build uvicorn's Config with Protocol and the keep-alive of `limits` (idempotent)."""

    class Config(UPSTREAM_CONFIG):  # type: ignore[misc, valid-type]
        def __init__(self, app: Any, **kwargs: Any) -> None:
            kwargs["http"] = partial(Protocol, limits=limits)
            kwargs["timeout_keep_alive"] = limits.keep_alive_s
            super().__init__(app, **kwargs)

    uvicorn.UPSTREAM_CONFIG = UPSTREAM_CONFIG  # type: ignore[attr-defined]
    uvicorn.Config = Config  # type: ignore[misc]
