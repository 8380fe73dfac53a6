"""BentoML's adaptive batcher, mended so that it never holds a request back while the model is idle.

BentoML 1.4.40's CorkDispatcher (bentoml/_internal/marshal/dispatcher.py) learns how long to "cork" a lone request
waiting for others from `Optimizer.wait`: the mean, over its last 50 batches, of how long a batch's first request
waited before its batch started. That wait includes the time spent queued behind the batch the model was running,
so after a burst (32 pairs × 8 clients for 12 s) it holds every lone request for ~15 ms, polling every millisecond,
and forgets slowly: a 1-pair request at concurrency 1 went from p50 1.5 ms to 15.8 ms right after the burst and was
still at 9.6 ms 20 s later (wrk, same server; benchmarks/breakdown.py's machine).

With one model thread, waiting buys nothing: requests that arrive while a batch runs queue anyway and go together
into the next one, which is the batching that pays. `Optimizer` here is upstream's with the learned wait kept at 0,
so the dispatcher starts a batch as soon as the model is free with whatever has queued (up to max_batch_size);
everything else (the shedding at max_latency_ms, the batch-size split) is upstream's. `install()` puts it where
CorkDispatcher looks for it, so it must run before BentoML builds the worker's app. tests/service/test_cork.py fails
once upstream no longer learns a wait from queueing.
"""

from __future__ import annotations

from bentoml._internal.marshal import dispatcher

UPSTREAM = getattr(dispatcher, "UPSTREAM_OPTIMIZER", dispatcher.Optimizer)


class Optimizer(UPSTREAM):  # type: ignore[misc, valid-type]
    """Upstream's batch-cost fit, with no learned cork wait."""

    def trigger_refresh(self) -> None:
        super().trigger_refresh()
        self.wait = 0.0


def install() -> None:
    """Make BentoML's dispatchers use the mended optimizer (idempotent)."""
    dispatcher.UPSTREAM_OPTIMIZER = UPSTREAM
    dispatcher.Optimizer = Optimizer
