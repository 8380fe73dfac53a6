"""BentoML's adaptive batcher, upstream and mended (service.bentoml_mends): the cork wait it learns from batches
that queued behind a busy model. When the upstream test fails, BentoML no longer learns that wait: delete the
Optimizer mend in service/bentoml_mends.py and this file."""

from __future__ import annotations

from bentoml._internal.marshal import dispatcher

from service import bentoml_mends as cork


def after_a_burst(optimizer: dispatcher.Optimizer) -> dispatcher.Optimizer:
    """50 batches of 8 requests whose first request waited 40 ms (queued behind the batch before), then a refresh."""
    for _ in range(60):
        optimizer.log_outbound(n=8, wait=0.040, duration=0.030)
    optimizer.trigger_refresh()
    return optimizer


def test_upstream_holds_lone_requests_after_a_burst() -> None:
    learned = after_a_burst(cork.UPSTREAM_OPTIMIZER(10.0)).wait
    assert learned > 0.03, (
        "BentoML no longer learns a cork wait from queueing: the Optimizer mend in service/bentoml_mends.py can go"
    )


def test_mended_never_holds_a_request_but_still_fits_the_batch_cost() -> None:
    optimizer = after_a_burst(cork.Optimizer(10.0))
    assert optimizer.wait == 0.0
    assert optimizer.o_a + optimizer.o_b > 0  # the cost fit (used for shedding at max_latency_ms) is upstream's


def test_installed_dispatchers_use_the_mended_optimizer() -> None:
    cork.install()
    made = dispatcher.CorkDispatcher(max_latency_in_ms=1000, max_batch_size=8, fallback=lambda: None)
    assert type(made.optimizer) is cork.Optimizer
