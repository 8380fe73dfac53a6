"""Every endpoint over HTTP against the real server; numbers equal the runtime's in-process."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from helpers import TASKS, post
from pairscore.runtime.model import PairModel

PAIRS = [
    ("A dog runs in the park.", "An animal is outside."),
    ("The man eats food.", "Nobody is eating."),
    ("", "an empty premise"),
    ("Who plays ball?", "a cat sleeps on the house"),
]


@pytest.fixture(scope="module")
def runtime(tiny_models):
    return {task: PairModel(tiny_models / task) for task in TASKS}


def test_entailment_matches_runtime(client, runtime):
    out = post(client, "/entailment", {"pairs": [{"premise": a, "hypothesis": b} for a, b in PAIRS]})
    expected = runtime["entailment"].score_pairs([a for a, _ in PAIRS], [b for _, b in PAIRS])
    assert len(out) == len(PAIRS)
    for item, row in zip(out, expected):
        probs = item["probabilities"]
        assert set(probs) == {"entailment", "neutral", "contradiction"}
        assert math.isclose(sum(probs.values()), 1.0, abs_tol=1e-5)
        assert item["label"] == max(probs, key=probs.get)
        assert np.allclose([probs[label] for label in runtime["entailment"].labels], row, atol=1e-5)


def test_paraphrase_uses_card_threshold(client, runtime):
    model = runtime["paraphrase"]
    out = post(client, "/paraphrase", {"pairs": [{"text_a": a, "text_b": b} for a, b in PAIRS]})
    expected = model.score_pairs([a for a, _ in PAIRS], [b for _, b in PAIRS])
    threshold = 0.5 if model.threshold is None else model.threshold
    for item, p in zip(out, expected):
        assert abs(item["probability"] - float(p)) <= 1e-5
        assert item["paraphrase"] is (item["probability"] >= threshold)


def test_rank_sorted_all_and_top_k(client, runtime):
    answers = ["the dog", "a cat sleeps", "", "the dog", "who is the man in the house"]
    out = post(client, "/rank", {"question": "Where is the dog?", "answers": answers})
    assert sorted(item["index"] for item in out) == list(range(len(answers)))
    scores = [item["score"] for item in out]
    assert scores == sorted(scores, reverse=True)
    expected = runtime["ranking"].rank("Where is the dog?", answers)
    for item in out:
        assert abs(item["score"] - float(expected[item["index"]])) <= 1e-5
    top = post(client, "/rank", {"question": "Where is the dog?", "answers": answers, "top_k": 2})
    assert top == out[:2]
    assert len(post(client, "/rank", {"question": "q", "answers": ["a"], "top_k": 10})) == 1


@pytest.mark.parametrize("task", TASKS)
def test_embed_per_task(client, runtime, task):
    texts = ["A dog runs.", "", "a dog runs"]
    out = post(client, "/embed", {"texts": texts, "task": task})
    expected = runtime[task].encode(texts)
    assert np.asarray(out).shape == (3, runtime[task].dim)
    assert np.allclose(out, expected, atol=1e-5)


def test_embed_defaults_to_entailment(client, runtime):
    out = post(client, "/embed", {"texts": ["the cat"]})
    assert np.allclose(out, runtime["entailment"].encode(["the cat"]), atol=1e-5)


def test_info_lists_models_and_limits(client, runtime):
    info = post(client, "/info", {})
    assert set(info["models"]) == set(TASKS)
    for task, card in info["models"].items():
        assert card["labels"] == runtime[task].labels
        assert card["dim"] == runtime[task].dim
        assert Path(card["folder"]) == runtime[task].model_dir.resolve()  # outside the server's directory: absolute
        assert card["init_from"] is None  # trained from nothing
    assert info["limits"]["PAIRSCORE_MAX_PAIRS"] == 16
    assert info["limits"]["PAIRSCORE_MAX_BODY_BYTES"] == 65536


def test_batch_equals_single(client):
    body = [{"premise": a, "hypothesis": b} for a, b in PAIRS]
    together = post(client, "/entailment", {"pairs": body})
    alone = [post(client, "/entailment", {"pairs": [pair]})[0] for pair in body]
    for x, y in zip(together, alone):
        assert x["label"] == y["label"]
        for label in x["probabilities"]:
            assert abs(x["probabilities"][label] - y["probabilities"][label]) <= 1e-5


def test_long_text_is_truncated_at_max_tokens(client, runtime):
    model = runtime["entailment"]
    words = ["dog"] * model.max_tokens
    long_text = " ".join(words + ["cat"] * 20)  # over max_tokens, under PAIRSCORE_MAX_CHARS
    assert len(long_text) <= 2000
    out = post(client, "/embed", {"texts": [long_text, " ".join(words)]})
    assert np.allclose(out[0], out[1], atol=1e-6)


def test_operational_endpoints(client):
    assert client.get("/livez").status_code == 200
    assert client.get("/readyz").status_code == 200
    docs = client.get("/docs.json").json()
    assert {"/entailment", "/paraphrase", "/rank", "/embed", "/info"} <= set(docs["paths"])
    assert (
        "/run" not in docs["paths"] and client.post("/run", json={"jobs": []}).status_code == 404
    )  # the scorer stays private
    assert client.get("/").status_code == 200  # Swagger UI
    metrics = client.get("/metrics").text
    assert "bentoml_service_request_total" in metrics or "bentoml_service_request_duration_seconds" in metrics
