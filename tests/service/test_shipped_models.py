"""On the SHIPPED models (models/), over HTTP: a pair's answer is the same alone, in one request with 199 others,
merged by the batcher with concurrent requests, and with the vector cache on or off (<= 1e-6; 200 real pairs per task).

Two real servers: one with the cache off (so batch == single is the encoder's own property), one with it on.
"""

from __future__ import annotations

import asyncio
import re

import httpx
import numpy as np
import pytest

from helpers import MODELS, merged_batches
from pairscore.specs import DataError, load_pairs
from server_process import start_server, stop_server

N = 200
TOL = 1e-6
SPECS = {
    "entailment": f"snli/validation[:{N}]",
    "paraphrase": f"twitter_url/train[:{N}]",
    "ranking": f"wiki_qa/validation[:{N}]",
}
SERVED = {
    "PAIRSCORE_MAX_PAIRS": "256",
    "PAIRSCORE_MAX_ANSWERS": "1000",
    "PAIRSCORE_MAX_BODY_BYTES": str(2 * 2**20),
    "PAIRSCORE_MAX_CHARS": "10000",
    "PAIRSCORE_ORT_THREADS": "2",
}


@pytest.fixture(scope="module")
def pairs() -> dict[str, list[tuple[str, str]]]:
    pytest.importorskip("datasets", reason="loads the shared splits: needs the 'train' extra")
    try:
        return {task: [(p.text_a, p.text_b) for p in load_pairs(spec, task)][:N] for task, spec in SPECS.items()}
    except DataError as exc:
        pytest.skip(f"the shared data is not here ({exc}): set PAIRSCORE_DATA_DIR")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory):
    off = start_server(MODELS, tmp_path_factory.mktemp("shipped_off"), **SERVED, PAIRSCORE_CACHE_ENTRIES="0")
    try:
        on = start_server(
            MODELS,
            tmp_path_factory.mktemp("shipped_on"),
            **SERVED,
            PAIRSCORE_CACHE_ENTRIES="50000",
            PAIRSCORE_CACHE_MB="64",
        )
    except BaseException:
        stop_server(off)
        raise
    yield {"off": off, "on": on}
    stop_server(on)
    stop_server(off)


def body(task: str, chunk: list[tuple[str, str]]) -> dict:
    keys = ("premise", "hypothesis") if task == "entailment" else ("text_a", "text_b")
    return {"pairs": [{keys[0]: a, keys[1]: b} for a, b in chunk]}


def values(task: str, items: list[dict]) -> list[list[float]]:
    if task == "entailment":
        return [[item["probabilities"][k] for k in ("entailment", "neutral", "contradiction")] for item in items]
    return [[item["probability"]] for item in items]


def score(client: httpx.Client, task: str, chunk: list[tuple[str, str]]) -> list[list[float]]:
    response = client.post(f"/{task}", json=body(task, chunk))
    assert response.status_code == 200, response.text
    return values(task, response.json())


async def merged(url: str, task: str, chunks: list[list[tuple[str, str]]]) -> list[list[list[float]]]:
    """All chunks as concurrent requests (at most 48 at once: under PAIRSCORE_MAX_IN_FLIGHT)."""
    async with httpx.AsyncClient(base_url=url, timeout=60, limits=httpx.Limits(max_connections=48)) as http:
        responses = await asyncio.gather(*(http.post(f"/{task}", json=body(task, chunk)) for chunk in chunks))
    assert all(r.status_code == 200 for r in responses), {r.text for r in responses if r.status_code != 200}
    return [values(task, r.json()) for r in responses]


def max_diff(a, b) -> float:
    return float(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).max())


@pytest.mark.parametrize("task", ["entailment", "paraphrase"])
def test_batch_equals_single_on_shipped_models(servers, pairs, task):
    url = servers["off"].url
    data = pairs[task]
    with httpx.Client(base_url=url, timeout=60) as client:
        alone = [score(client, task, [pair])[0] for pair in data]
        together = score(client, task, data)
        before = merged_batches(client.get("/metrics").text, task)[1]
        # every pair as its own request, plus the same pairs in requests of 7, all at once, so the batcher mixes them
        singles, sevens = (
            asyncio.run(merged(url, task, [[p] for p in data])),
            asyncio.run(merged(url, task, [data[i : i + 7] for i in range(0, N, 7)])),
        )
        after = merged_batches(client.get("/metrics").text, task)[1]
    assert len(data) == N
    assert max_diff(together, alone) <= TOL
    assert max_diff([row[0] for row in singles], alone) <= TOL
    assert max_diff([row for rows in sevens for row in rows], alone) <= TOL
    assert after > before, "the batcher merged no requests: the concurrent case was not exercised"


def test_rank_alone_equals_together_on_shipped_model(servers, pairs):
    by_question: dict[str, list[str]] = {}
    for question, answer in pairs["ranking"]:
        by_question.setdefault(question, []).append(answer)
    with httpx.Client(base_url=servers["off"].url, timeout=60) as client:
        for question, answers in by_question.items():
            together = {
                item["index"]: item["score"]
                for item in client.post("/rank", json={"question": question, "answers": answers}).json()
            }
            alone = [
                client.post("/rank", json={"question": question, "answers": [a]}).json()[0]["score"] for a in answers
            ]
            assert max_diff([together[i] for i in range(len(answers))], alone) <= TOL


@pytest.mark.parametrize("task", ["entailment", "paraphrase"])
def test_cache_on_equals_off_on_shipped_models(servers, pairs, task):
    data = pairs[task]
    with (
        httpx.Client(base_url=servers["off"].url, timeout=60) as off,
        httpx.Client(base_url=servers["on"].url, timeout=60) as on,
    ):
        expected = score(off, task, data)
        first = score(on, task, data)  # misses (premises shared by several hypotheses already hit)
        again = score(on, task, data[::-1])[::-1]  # all hits, in another batch order
        singles = [score(on, task, [pair])[0] for pair in data[:50]]
        metrics = on.get("/metrics").text
    assert (
        max_diff(first, expected) <= TOL
        and max_diff(again, expected) <= TOL
        and max_diff(singles, expected[:50]) <= TOL
    )
    hits = re.search(rf'pairscore_cache_hits_total\{{encoder="[^"]*{task}[^"]*"\}} ([0-9.e+]+)', metrics)
    distinct = len({text for pair in data for text in pair})
    assert hits and float(hits.group(1)) >= distinct, "the second pass did not come from the cache"


def test_rank_cache_on_equals_off(servers, pairs):
    answers = [answer for _, answer in pairs["ranking"]]
    question = pairs["ranking"][0][0]
    with (
        httpx.Client(base_url=servers["off"].url, timeout=60) as off,
        httpx.Client(base_url=servers["on"].url, timeout=60) as on,
    ):
        expected = off.post("/rank", json={"question": question, "answers": answers}).json()
        for _ in range(2):  # the second time every answer comes from the cache
            got = on.post("/rank", json={"question": question, "answers": answers}).json()
            assert [item["index"] for item in got] == [item["index"] for item in expected]
            assert max_diff([item["score"] for item in got], [item["score"] for item in expected]) <= TOL
