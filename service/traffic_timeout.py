"""BentoML's traffic-timeout middleware, mended so that a request is let go once it is answered.

BentoML 1.4.40 puts its TimeoutMiddleware (bentoml/_internal/server/http/traffic.py) in
front of every service: `traffic.timeout` cannot be unset (its schema wants a positive
number, 60 s by default). For each request it calls `loop.call_later(timeout, ...)` and
never cancels the handle. The handle holds a copy of the request's context, and with it
the request's OpenTelemetry span (attributes, locks, its own context), so every request
stays alive for the whole timeout after its response: at 1,000 requests/s and our 40 s,
40,000 requests' worth of objects (~23 each), which the collector walks in every full
collection (pauses of 100+ ms) and the worker's memory carries (hundreds of MB).

`TimeoutMiddleware` here is upstream's with the handle cancelled as soon as the response
starts or the app returns; what it answers is unchanged (504 once nothing was sent within
the timeout; RequestGuard's 503 comes first). `install()` puts it where BentoML looks for
it when it builds the worker's app, so it must run when the service module is imported.
The bentoml pin in pyproject.toml and bentofile.yaml is the version this mends;
tests/service/test_traffic_timeout.py fails once upstream no longer keeps requests alive.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse

UPSTREAM = getattr(traffic, "UPSTREAM_TIMEOUT_MIDDLEWARE", traffic.TimeoutMiddleware)


class TimeoutMiddleware(UPSTREAM):
    """Upstream's timeout, whose timer is cancelled once the response starts or the app is done."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)
        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        timer = loop.call_later(self.timeout, self._set_timer_out, waiter)

        async def _send(message: Any) -> None:
            if not waiter.done():
                waiter.set_result(None)
                timer.cancel()
            await send(message)

        fut = asyncio.ensure_future(self.app(scope, receive, _send))
        # an app that returns or raises without sending anything releases the waiter too
        fut.add_done_callback(lambda _: waiter.done() or waiter.set_result(None))
        try:
            await waiter
        except asyncio.TimeoutError:
            if fut.cancel():
                await self._timed_out(scope, receive, send)
        else:
            await fut
        finally:
            timer.cancel()

    async def _timed_out(self, scope: Any, receive: Any, send: Any) -> None:
        response = JSONResponse(
            {"error": f"Not able to process the request in {self.timeout} seconds"}, status_code=504
        )
        await response(scope, receive, send)


def install() -> None:
    """Make BentoML build its apps with the mended middleware (idempotent)."""
    traffic.UPSTREAM_TIMEOUT_MIDDLEWARE = UPSTREAM
    traffic.TimeoutMiddleware = TimeoutMiddleware
