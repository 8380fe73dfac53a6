"""Nothing a request allocates outlives its response, and timeouts still answer 503 in time (real server).

The worker's live objects are counted after a full collection (POST /debug/gc, mounted with
PAIRSCORE_DEBUG_GC=1) before and after a few thousand requests. The server's timeout is far
longer than the test, so anything kept until a request's timeout is still alive at the end:
the test does not depend on how fast the requests go.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from server_process import serving

REQUESTS = 3000
WARM_UP = 300  # first requests fill the caches (vectors, pydantic, BentoML's per-route state)
PER_REQUEST = 0.5  # objects per request allowed to stay (kept ones cost ~23 each: a span, its context, a timer)
WORDS = "a the dog cat man woman runs sleeps eats plays in on park house food ball".split()


def calls(i: int) -> tuple[str, dict]:
    """Every public model endpoint, a few distinct bodies each (their texts stay in the vector cache)."""
    a, b = " ".join(WORDS[i % 7 : i % 7 + 4]), " ".join(WORDS[i % 5 + 8 : i % 5 + 12])
    return [
        ("/entailment", {"pairs": [{"premise": a, "hypothesis": b}]}),
        ("/paraphrase", {"pairs": [{"text_a": a, "text_b": b}]}),
        ("/rank", {"question": a, "answers": [b, a, "the park"]}),
        ("/embed", {"texts": [a, b]}),
    ][i % 4]


def send(client: httpx.Client, start: int, count: int) -> None:
    for i in range(start, start + count):
        path, body = calls(i % 40)
        response = client.post(path, json=body)
        assert response.status_code == 200, (path, response.text)


def live(client: httpx.Client) -> dict:
    response = client.post("/debug/gc")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture(scope="module")
def debug_client(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    with serving(
        tiny_models, tmp_path_factory.mktemp("memory"), PAIRSCORE_DEBUG_GC="1", PAIRSCORE_TIMEOUT_S="600"
    ) as http:
        yield http


def test_requests_leave_no_objects_behind(debug_client: httpx.Client):
    send(debug_client, 0, WARM_UP)
    before = live(debug_client)
    send(debug_client, WARM_UP, REQUESTS)
    after = live(debug_client)
    growth = after["tracked_objects"] - before["tracked_objects"]
    grown = {
        name: after["types"].get(name, 0) - before["types"].get(name, 0)
        for name in after["types"]
        if after["types"].get(name, 0) - before["types"].get(name, 0) > REQUESTS // 10
    }
    assert growth <= PER_REQUEST * REQUESTS, (
        f"{growth} more objects alive after {REQUESTS} requests ({growth / REQUESTS:.1f} per request); grown: {grown}"
    )


def test_debug_view_is_off_by_default(client: httpx.Client):
    assert client.post("/debug/gc").status_code == 404


def test_gc_metrics_on_metrics(client: httpx.Client):
    metrics = client.get("/metrics").text
    for family in (
        "pairscore_gc_pause_seconds_bucket",
        "pairscore_gc_cpu_seconds_bucket",
        "pairscore_gc_tracked_objects",
        "pairscore_gc_frozen_objects",
    ):
        assert family in metrics


def test_slow_request_gets_503_within_the_timeout(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    """The whole stack (BentoML's mended timeout middleware outside RequestGuard): 503 + Retry-After in time."""
    answers = ["the dog runs in the park " * 80] * 32  # tokenizing and encoding these takes far over 1 ms
    with serving(tiny_models, tmp_path_factory.mktemp("timeout"), PAIRSCORE_TIMEOUT_S="0.001") as http:
        t0 = time.perf_counter()
        response = http.post("/rank", json={"question": "a dog", "answers": answers})
        took = time.perf_counter() - t0
        assert http.get("/livez").status_code == 200
    assert response.status_code == 503, response.text
    assert response.headers["retry-after"] == "1"
    assert response.json()["error"] == "overloaded" and "PAIRSCORE_TIMEOUT_S" in response.json()["detail"]
    assert took < 5  # BentoML's own timeout (PAIRSCORE_TIMEOUT_S + 10 s) would answer 504 after 10 s
