"""Many clients at once get exactly what each gets alone, and BentoML's in-process batcher merges them."""

from __future__ import annotations

import asyncio

import httpx

from helpers import TASKS, merged_batches
from server_process import start_server, stop_server

WORDS = "a the dog cat man woman runs sleeps eats plays in on park house food ball".split()


def body(i: int) -> dict:
    """Requests of different sizes and text lengths, so merged batches mix lengths."""
    pairs = [
        {
            "premise": " ".join(WORDS[(i + j) % 16 : (i + j) % 16 + 1 + (i * j) % 7]),
            "hypothesis": " ".join(WORDS[: 1 + (i + j) % 9]),
        }
        for j in range(1 + i % 3)
    ]
    return {"pairs": pairs}


def test_concurrent_clients_get_their_own_answers_merged(server, client):
    n, rounds = 48, 3
    alone = [client.post("/entailment", json=body(i)).json() for i in range(n)]  # also warms the batcher up
    before = merged_batches(client.get("/metrics").text)

    async def hammer() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=n)) as http:
            return await asyncio.gather(*(http.post("/entailment", json=body(i % n)) for i in range(n * rounds)))

    responses = asyncio.run(hammer())
    assert [r.status_code for r in responses] == [200] * (n * rounds), {
        r.text for r in responses if r.status_code != 200
    }
    for i, response in enumerate(responses):
        together = response.json()
        assert len(together) == len(alone[i % n])
        for x, y in zip(together, alone[i % n]):
            assert x["label"] == y["label"]
            for label, p in x["probabilities"].items():
                assert abs(p - y["probabilities"][label]) <= 1e-5
    after = merged_batches(client.get("/metrics").text)
    assert after[1] > before[1], f"no adaptive batch merged more than one request: {before} -> {after}"
    assert after[0] - before[0] < n * rounds  # fewer model calls than requests


def test_mixed_endpoints_merged_give_the_same_numbers(server, client):
    requests = []
    for i in range(24):
        kind = i % 3
        if kind == 0:
            requests.append(("/rank", {"question": WORDS[i % 16] + " ?", "answers": WORDS[: 2 + i % 5]}))
        elif kind == 1:
            requests.append(
                ("/paraphrase", {"pairs": [{"text_a": WORDS[i % 16], "text_b": " ".join(WORDS[: i % 7 + 1])}]})
            )
        else:
            requests.append(("/embed", {"texts": WORDS[i % 5 : i % 5 + 3], "task": TASKS[i % 3]}))
    alone = [client.post(path, json=payload).json() for path, payload in requests]

    async def hammer() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=httpx.Limits(max_connections=24)) as http:
            return await asyncio.gather(*(http.post(path, json=payload) for path, payload in requests))

    for (path, _), response, expected in zip(requests, asyncio.run(hammer()), alone):
        assert response.status_code == 200, response.text
        got = response.json()
        if path == "/rank":
            assert all(abs(a["score"] - b["score"]) <= 1e-5 for a, b in zip(got, expected))
        elif path == "/paraphrase":
            assert abs(got[0]["probability"] - expected[0]["probability"]) <= 1e-5
        else:
            assert max(abs(a - b) for u, v in zip(got, expected) for a, b in zip(u, v)) <= 1e-5


def test_overload_gets_503_with_retry_after_never_a_hang(tiny_models, tmp_path):
    busy = start_server(tiny_models, tmp_path, PAIRSCORE_MAX_IN_FLIGHT="2")
    try:
        payload = {"question": "who plays ball ?", "answers": [" ".join(WORDS[: 1 + i % 16]) for i in range(32)]}

        async def flood() -> list[httpx.Response]:
            async with httpx.AsyncClient(
                base_url=busy.url, timeout=30, limits=httpx.Limits(max_connections=40)
            ) as http:
                return await asyncio.wait_for(
                    asyncio.gather(*(http.post("/rank", json=payload) for _ in range(40))), 60
                )

        responses = asyncio.run(flood())
    finally:
        stop_server(busy)
    statuses = {r.status_code for r in responses}
    assert statuses <= {200, 503} and 503 in statuses and 200 in statuses
    refused = next(r for r in responses if r.status_code == 503)
    assert int(refused.headers["retry-after"]) >= 1
    assert refused.json()["error"] == "overloaded"
