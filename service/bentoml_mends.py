"""The BentoML mends, in one place: bentoml==1.4.40 (pinned in pyproject.toml and bentofile.yaml) is what they mend.

Each mend is upstream's class with one behaviour changed, put where BentoML looks it up when it builds the worker's
app, so `install()` runs when service.app is imported. Each has a test that fails once upstream no longer needs it
(tests/service/test_traffic_timeout.py, tests/service/test_cork.py): then delete that mend.

**The traffic timeout.** BentoML 1.4.40 puts its TimeoutMiddleware (bentoml/_internal/server/http/traffic.py) in
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

**The adaptive batcher's cork wait.** BentoML 1.4.40's CorkDispatcher (bentoml/_internal/marshal/dispatcher.py)
learns how long to "cork" a lone request waiting for others from `Optimizer.wait`: the mean, over its last 50
batches, of how long a batch's first request waited before its batch started. That wait includes the time spent
queued behind the batch the model was running, so after a burst (32 pairs × 8 clients for 12 s) it holds every lone
request for ~15 ms, polling every millisecond, and forgets slowly: a 1-pair request at concurrency 1 went from p50
1.5 ms to 15.8 ms right after the burst and was still at 9.6 ms 20 s later (wrk, same server;
benchmarks/breakdown.py's machine).

With one model thread, waiting buys nothing: requests that arrive while a batch runs queue anyway and go together
into the next one, which is the batching that pays. `Optimizer` here is upstream's with the learned wait kept at 0,
so the dispatcher starts a batch as soon as the model is free with whatever has queued (up to max_batch_size);
everything else (the shedding at max_latency_ms, the batch-size split) is upstream's. `install()` puts it where
CorkDispatcher looks for it, so it must run before BentoML builds the worker's app. tests/service/test_cork.py fails
once upstream no longer learns a wait from queueing.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.marshal import dispatcher
from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse

UPSTREAM_TIMEOUT = getattr(traffic, "UPSTREAM_TIMEOUT_MIDDLEWARE", traffic.TimeoutMiddleware)
UPSTREAM_OPTIMIZER = getattr(dispatcher, "UPSTREAM_OPTIMIZER", dispatcher.Optimizer)


class TimeoutMiddleware(UPSTREAM_TIMEOUT):  # type: ignore[misc, valid-type]
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


class Optimizer(UPSTREAM_OPTIMIZER):  # type: ignore[misc, valid-type]
    """Upstream's batch-cost fit, with no learned cork wait."""

    def trigger_refresh(self) -> None:
        super().trigger_refresh()
        self.wait = 0.0


def install() -> None:
    """Make BentoML build its apps and dispatchers with the mended classes (idempotent)."""
    traffic.UPSTREAM_TIMEOUT_MIDDLEWARE = UPSTREAM_TIMEOUT
    traffic.TimeoutMiddleware = TimeoutMiddleware
    dispatcher.UPSTREAM_OPTIMIZER = UPSTREAM_OPTIMIZER
    dispatcher.Optimizer = Optimizer
