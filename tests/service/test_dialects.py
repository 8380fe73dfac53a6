"""The drop-in routes (TEI, OpenAI, Cohere) over HTTP on the tiny models: answer shapes field for field, /embed's two
bodies, errors in each dialect's shape with our status codes and limits, the guard, /metrics and /predict's batching.

The real clients, and answers equal to our own routes', are tests/service/test_dialect_clients.py (shipped models).
"""

from __future__ import annotations

import asyncio
import base64
import re

import httpx
import numpy as np
import pytest

from helpers import merged_batches, post
from server_process import TEST_LIMITS, serving
from service.app import PUBLIC_ROUTES
from service.dialects import ROUTES

MAX_TEXTS = int(TEST_LIMITS["PAIRSCORE_MAX_TEXTS"])
MAX_CHARS = int(TEST_LIMITS["PAIRSCORE_MAX_CHARS"])
PAIR = ["A man is playing a guitar.", "A person plays music."]
RERANK = {"query": "Who wrote Hamlet?", "texts": ["Paris is in France.", "Hamlet is a play by Shakespeare."]}


def test_every_dialect_route_is_guarded():
    assert ROUTES <= PUBLIC_ROUTES


def test_tei_embed_is_unit_length_unless_normalize_is_false(client):
    raw = np.array(post(client, "/embed", {"texts": ["A dog runs.", "A cat."]}))
    unit = np.array(post(client, "/embed", {"inputs": ["A dog runs.", "A cat."]}))
    assert np.allclose(unit, raw / np.linalg.norm(raw, axis=1, keepdims=True), atol=1e-6)
    assert post(client, "/embed", {"inputs": ["A dog runs.", "A cat."], "normalize": False}) == raw.tolist()
    assert np.array(post(client, "/embed", {"inputs": "A dog runs."})).shape == (1, raw.shape[1])
    options = {"truncate": True, "truncation_direction": "Right", "prompt_name": None}
    assert post(client, "/embed", {"inputs": "A dog runs.", **options}) == unit[:1].tolist()


@pytest.mark.parametrize(
    "body, named",
    [
        ({}, "exactly one of `texts`"),
        ({"texts": ["a"], "normalize": False}, "normalize: not with `texts`"),
        ({"texts": ["a"], "truncate": True}, "truncate: not with `texts`"),
        ({"texts": ["a"], "typo": 1}, "typo: Extra inputs are not permitted"),
    ],
)
def test_our_embed_body_stays_strict(client, body, named):
    response = client.post("/embed", json=body)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request" and named in response.json()["detail"]


@pytest.mark.parametrize(
    "body, status, named",
    [
        ({"inputs": ["a"], "task": "ranking"}, 400, "task: not with `inputs`"),
        ({"inputs": ["a"], "texts": ["a"]}, 400, "exactly one of `texts`"),
        ({"inputs": [1, 2, 3]}, 400, "token ids are not accepted"),
        ({"inputs": []}, 400, "at least 1 item"),
        ({"inputs": "a", "prompt_name": "query"}, 400, "prompt_name: the served encoders have no prompts"),
        ({"inputs": "a", "truncation_direction": "left"}, 400, "truncation_direction: only `right`"),
        ({"inputs": ["a"] * (MAX_TEXTS + 1)}, 413, f"over the limit of {MAX_TEXTS} (PAIRSCORE_MAX_TEXTS)"),
        ({"inputs": ["a", "b" * (MAX_CHARS + 1)]}, 413, "inputs[1]:"),
    ],
)
def test_tei_embed_errors_are_tei_shaped(client, body, status, named):
    response = client.post("/embed", json=body)
    assert response.status_code == status
    assert set(response.json()) == {"error", "error_type"}
    assert response.json()["error_type"] == "validation" and named in response.json()["error"]


def test_tei_rerank_best_first_with_sigmoid_scores_unless_raw(client):
    ranked = post(client, "/rank", {"question": RERANK["query"], "answers": RERANK["texts"]})
    raw = post(client, "/rerank", {**RERANK, "raw_scores": True})
    assert raw == [{"index": item["index"], "score": item["score"]} for item in ranked]
    squashed = post(client, "/rerank", {**RERANK, "return_text": True, "truncate": False})
    assert [set(item) for item in squashed] == [{"index", "score", "text"}] * 2
    for item, rank in zip(squashed, ranked):
        assert item["index"] == rank["index"] and item["text"] == RERANK["texts"][item["index"]]
        assert abs(item["score"] - 1 / (1 + np.exp(-rank["score"]))) <= 1e-9


def test_tei_similarity_is_the_cosine_of_the_vectors(client):
    body = {"inputs": {"source_sentence": "A dog runs.", "sentences": ["A dog is running.", "The sky."]}}
    got = post(client, "/similarity", {**body, "parameters": {}})
    vectors = np.array(post(client, "/embed", {"texts": ["A dog runs.", "A dog is running.", "The sky."]}))
    unit = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    assert np.allclose(got, unit[1:] @ unit[0], atol=1e-6)
    assert post(client, "/similarity", {**body, "parameters": {"truncate": True}}) == got
    missing = client.post("/similarity", json={"inputs": {"source_sentence": "a"}})
    assert missing.status_code == 400 and "inputs.sentences: Field required" in missing.json()["error"]


def test_tei_predict_single_pair_unnested_batch_nested(client):
    (expected,) = post(client, "/entailment", {"pairs": [{"premise": PAIR[0], "hypothesis": PAIR[1]}]})
    single = post(client, "/predict", {"inputs": PAIR})
    assert [item["score"] for item in single] == sorted(expected["probabilities"].values(), reverse=True)
    assert {item["label"]: item["score"] for item in single} == expected["probabilities"]
    assert post(client, "/predict", {"inputs": [PAIR, PAIR], "raw_scores": False}) == [single, single]
    assert post(client, "/predict", {"inputs": [PAIR], "parameters": {"function_to_apply": "softmax"}}) == [single]


@pytest.mark.parametrize(
    "body, status, named",
    [
        ({"inputs": "one text"}, 400, "the served heads score pairs"),
        ({"inputs": [["a"], ["b", "c"]]}, 400, "[0]: each item is a pair"),
        ({"inputs": PAIR, "raw_scores": True}, 400, "not logits"),
        ({"inputs": PAIR, "parameters": {"function_to_apply": "none"}}, 400, "not logits"),
        ({"inputs": PAIR, "parameters": {"top_k": 1}}, 400, "parameters.top_k"),
        ({"inputs": PAIR, "extra": 1}, 400, "extra: Extra inputs are not permitted"),
        ({"inputs": [PAIR] * 17}, 413, "PAIRSCORE_MAX_PAIRS"),
        ({"inputs": [PAIR, ["a", "b" * (MAX_CHARS + 1)]]}, 413, "inputs[1][1]:"),
    ],
)
def test_tei_predict_errors(client, body, status, named):
    response = client.post("/predict", json=body)
    assert response.status_code == status and named in response.json()["error"], response.text


async def _concurrently(url: str, bodies: list[dict]) -> list[httpx.Response]:
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        return await asyncio.gather(*(http.post("/predict", json=body) for body in bodies))


def test_tei_predict_is_batched_with_concurrent_requests(server, client):
    before = merged_batches(client.get("/metrics").text, "predict")[1]
    pairs = [[f"A man plays guitar number {i}.", "A person plays music."] for i in range(32)]
    responses = asyncio.run(_concurrently(server.url, [{"inputs": pair} for pair in pairs]))
    after = merged_batches(client.get("/metrics").text, "predict")[1]
    assert all(r.status_code == 200 for r in responses)
    assert [r.json() for r in responses] == [post(client, "/predict", {"inputs": pair}) for pair in pairs]
    assert after > before, "the batcher merged no /predict requests"


def test_openai_embeddings_float_and_base64(client):
    raw = np.array(post(client, "/embed", {"texts": ["A dog runs.", ""], "task": "paraphrase"}))
    unit = raw / np.linalg.norm(raw, axis=1, keepdims=True)
    body = {"input": ["A dog runs.", ""], "model": "paraphrase", "user": "someone"}
    floats = post(client, "/v1/embeddings", body)
    assert set(floats) == {"object", "data", "model", "usage"} and floats["object"] == "list"
    assert floats["model"] == "paraphrase" and floats["usage"]["prompt_tokens"] == floats["usage"]["total_tokens"] > 0
    assert [(d["object"], d["index"]) for d in floats["data"]] == [("embedding", 0), ("embedding", 1)]
    assert np.allclose([d["embedding"] for d in floats["data"]], unit, atol=1e-6)
    encoded = post(client, "/v1/embeddings", {**body, "encoding_format": "base64"})
    decoded = [np.frombuffer(base64.b64decode(d["embedding"]), dtype="<f4") for d in encoded["data"]]
    assert np.array_equal(decoded, np.array([d["embedding"] for d in floats["data"]], dtype=np.float32))
    one = post(client, "/v1/embeddings", {"input": "A dog runs.", "model": "paraphrase", "dimensions": raw.shape[1]})
    assert one["data"][0]["embedding"] == floats["data"][0]["embedding"]


@pytest.mark.parametrize(
    "body, status, code, named",
    [
        (
            {"input": "a", "model": "text-embedding-3-small"},
            404,
            "model_not_found",
            "no model 'text-embedding-3-small'",
        ),
        ({"input": [[1, 2]], "model": "ranking"}, 400, "invalid_request", "check_embedding_ctx_length=False"),
        ({"input": [5, 6], "model": "ranking"}, 400, "invalid_request", "token ids are not accepted"),
        ({"input": "a", "model": "ranking", "dimensions": 8}, 400, "invalid_request", "dimensions:"),
        ({"input": "a", "model": "ranking", "encoding_format": "hex"}, 400, "invalid_request", "encoding_format"),
        ({"input": "a"}, 400, "invalid_request", "model: Field required"),
        ({"input": ["a"] * (MAX_TEXTS + 1), "model": "ranking"}, 413, "limit_exceeded", "PAIRSCORE_MAX_TEXTS"),
    ],
)
def test_openai_errors_are_openai_shaped(client, body, status, code, named):
    response = client.post("/v1/embeddings", json=body)
    assert response.status_code == status
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["type"] == "invalid_request_error"
    assert error["code"] == code and named in error["message"]


def test_openai_models_list_each_task_encoder(client):
    listed = client.get("/v1/models").json()
    assert listed["object"] == "list" and [m["id"] for m in listed["data"]] == ["entailment", "paraphrase", "ranking"]
    assert all(m["object"] == "model" and m["owned_by"] == "pairscore" and m["created"] > 0 for m in listed["data"])
    assert client.get("/v1/models/ranking").json() == listed["data"][2]
    missing = client.get("/v1/models/gpt-4")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "model_not_found"


def test_cohere_rerank_v2_and_v1(client):
    ranked = post(client, "/rank", {"question": RERANK["query"], "answers": RERANK["texts"]})
    v2 = post(client, "/v2/rerank", {"model": "ranking", "query": RERANK["query"], "documents": RERANK["texts"]})
    assert set(v2) == {"id", "results", "meta"} and v2["meta"] == {"api_version": {"version": "2"}}
    assert [set(r) for r in v2["results"]] == [{"index", "relevance_score"}] * 2
    assert [r["index"] for r in v2["results"]] == [r["index"] for r in ranked]
    sigmoid = [1 / (1 + np.exp(-r["score"])) for r in ranked]
    assert np.allclose([r["relevance_score"] for r in v2["results"]], sigmoid, atol=1e-9)
    documents = [{"text": RERANK["texts"][0]}, RERANK["texts"][1]]
    v1 = post(client, "/v1/rerank", {"query": RERANK["query"], "documents": documents, "return_documents": True})
    assert [(r["index"], r["document"]["text"]) for r in v1["results"]] == [
        (r["index"], RERANK["texts"][r["index"]]) for r in ranked
    ]
    top = post(client, "/v1/rerank", {**v1_body(), "top_n": 1, "rank_fields": ["text"], "max_chunks_per_doc": 10})
    assert [r["index"] for r in top["results"]] == [ranked[0]["index"]] and top["id"] != v1["id"]


def v1_body() -> dict:
    return {"model": "ranking", "query": RERANK["query"], "documents": RERANK["texts"]}


@pytest.mark.parametrize(
    "path, body, status, named",
    [
        ("/v2/rerank", {**v1_body(), "model": "rerank-v3.5"}, 404, "the reranker is 'ranking'"),
        ("/v2/rerank", {**v1_body(), "max_tokens_per_doc": 5}, 400, "max_tokens_per_doc: 5 is under"),
        ("/v2/rerank", {**v1_body(), "relevant_spans": {"mode": "enabled"}}, 400, "relevant_spans"),
        ("/v2/rerank", {**v1_body(), "top_n": 0}, 400, "top_n"),
        ("/v1/rerank", {**v1_body(), "rank_fields": ["title"]}, 400, "rank_fields"),
        ("/v1/rerank", {**v1_body(), "documents": [{"title": "x"}]}, 400, "documents"),
        ("/v2/rerank", {**v1_body(), "documents": ["a"] * 33}, 413, "PAIRSCORE_MAX_ANSWERS"),
    ],
)
def test_cohere_errors_keep_our_envelope(client, path, body, status, named):
    response = client.post(path, json=body)
    assert response.status_code == status and named in response.json()["detail"], response.text


def test_the_guard_and_its_errors_reach_every_dialect_route(client):
    refused = client.post("/v1/embeddings", content=b"input=a", headers={"content-type": "text/plain"})
    assert refused.status_code == 415 and refused.json()["error"]["code"] == "unsupported_media_type"
    big = {"inputs": ["a" * 1000] * 70}  # over TEST_LIMITS' 64 KiB body
    over = client.post("/embed", json=big)
    assert over.status_code == 413 and "PAIRSCORE_MAX_BODY_BYTES" in over.json()["error"]
    malformed = client.post("/rerank", content=b"{", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error_type"] == "validation"


def test_metrics_count_every_dialect_route(client):
    for path, body in [
        ("/embed", {"inputs": "a"}),
        ("/rerank", RERANK),
        ("/similarity", {"inputs": {"source_sentence": "a", "sentences": ["b"]}}),
        ("/predict", {"inputs": PAIR}),
        ("/v1/embeddings", {"input": "a", "model": "ranking"}),
        ("/v1/rerank", v1_body()),
        ("/v2/rerank", v1_body()),
    ]:
        post(client, path, body)
    client.get("/v1/models")
    counts = re.findall(
        r'request_total\{endpoint="([^"]+)",http_response_code="200"[^}]*\} (\S+)', client.get("/metrics").text
    )
    counted = {endpoint for endpoint, count in counts if float(count) > 0}
    assert ROUTES - {f"/v1/models/{task}" for task in ("entailment", "paraphrase", "ranking")} <= counted


def test_docs_json_declares_the_dialect_routes_and_openai_errors(client):
    spec = client.get("/docs.json").json()
    assert {"/rerank", "/similarity", "/predict", "/v1/embeddings", "/v1/rerank", "/v2/rerank"} <= set(spec["paths"])
    assert set(spec["paths"]["/v1/models"]) == set(spec["paths"]["/v1/models/{model}"]) == {"get"}
    errors = spec["paths"]["/v1/embeddings"]["post"]["responses"]["404"]["content"]["application/json"]["schema"]
    assert errors == {"$ref": "#/components/schemas/OpenAIError"} and "OpenAIError" in spec["components"]["schemas"]
    predict = spec["components"]["schemas"]["predict__Input"]["properties"]
    assert {"inputs", "raw_scores", "truncate", "truncation_direction", "parameters"} == set(predict)


@pytest.fixture(scope="module")
def configured(tiny_models, tmp_path_factory):
    """A server whose TEI routes are set to other models than the defaults."""
    with serving(
        tiny_models,
        tmp_path_factory.mktemp("tei_tasks"),
        PAIRSCORE_TEI_EMBED_TASK="ranking",
        PAIRSCORE_TEI_PREDICT_TASK="paraphrase",
    ) as http:
        yield http


def test_tei_routes_answer_with_the_configured_models(configured):
    (ours,) = post(configured, "/paraphrase", {"pairs": [{"text_a": PAIR[0], "text_b": PAIR[1]}]})
    predicted = {item["label"]: item["score"] for item in post(configured, "/predict", {"inputs": PAIR})}
    assert predicted == {"paraphrase": ours["probability"], "not_paraphrase": pytest.approx(1 - ours["probability"])}
    sigmoid_ok = post(configured, "/predict", {"inputs": PAIR, "parameters": {"function_to_apply": "sigmoid"}})
    assert sigmoid_ok == post(configured, "/predict", {"inputs": PAIR})
    raw = np.array(post(configured, "/embed", {"texts": ["A dog runs."], "task": "ranking"}))
    unit = np.array(post(configured, "/embed", {"inputs": ["A dog runs."]}))
    assert np.allclose(unit, raw / np.linalg.norm(raw), atol=1e-6)
