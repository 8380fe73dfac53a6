"""The error matrix: bad input gets 400/404/405/413 with the JSON envelope, never a 500."""

from __future__ import annotations

import json

import pytest

PAIR = {"premise": "a", "hypothesis": "b"}
LONG = "x" * 2001  # PAIRSCORE_MAX_CHARS is 2000 in server_process.TEST_LIMITS

CASES = [
    # (id, path, raw body, status, text expected in the detail)
    ("malformed json", "/entailment", b'{"pairs": [{"premise":', 400, "json"),
    ("not an object", "/entailment", b"[1, 2]", 400, ""),
    ("null body", "/paraphrase", b"null", 400, ""),
    ("empty body", "/rank", b"", 400, ""),
    ("missing field", "/entailment", {"pairs": [{"premise": "a"}]}, 400, "hypothesis"),
    ("missing list", "/entailment", {}, 400, "pairs"),
    ("wrong type", "/entailment", {"pairs": [{"premise": 1, "hypothesis": "b"}]}, 400, "premise"),
    ("list of strings", "/paraphrase", {"pairs": ["a", "b"]}, 400, "pairs"),
    ("wrong field names", "/paraphrase", {"pairs": [PAIR]}, 400, "text_a"),
    ("empty pairs", "/entailment", {"pairs": []}, 400, "at least 1"),
    ("empty answers", "/rank", {"question": "q", "answers": []}, 400, "answers"),
    ("empty texts", "/embed", {"texts": []}, 400, "texts"),
    ("unknown task", "/embed", {"texts": ["a"], "task": "sentiment"}, 400, "task"),
    ("top_k zero", "/rank", {"question": "q", "answers": ["a"], "top_k": 0}, 400, "top_k"),
    ("top_k string", "/rank", {"question": "q", "answers": ["a"], "top_k": "two"}, 400, "top_k"),
    ("question not text", "/rank", {"question": ["q"], "answers": ["a"]}, 400, "question"),
    ("too many pairs", "/entailment", {"pairs": [PAIR] * 17}, 413, "PAIRSCORE_MAX_PAIRS"),
    ("too many answers", "/rank", {"question": "q", "answers": ["a"] * 33}, 413, "PAIRSCORE_MAX_ANSWERS"),
    ("too many texts", "/embed", {"texts": ["a"] * 17}, 413, "PAIRSCORE_MAX_TEXTS"),
    ("long premise", "/entailment", {"pairs": [PAIR, {"premise": LONG, "hypothesis": "b"}]}, 413, "pairs[1].premise:"),
    ("long text_b", "/paraphrase", {"pairs": [{"text_a": "a", "text_b": LONG}]}, 413, "pairs[0].text_b:"),
    ("long question", "/rank", {"question": LONG, "answers": ["a"]}, 413, "PAIRSCORE_MAX_CHARS"),
    ("long text", "/embed", {"texts": ["a", LONG]}, 413, "texts[1]:"),
    ("long answer", "/rank", {"question": "q", "answers": ["a", "b", LONG]}, 413, "answers[2]:"),
    (
        "long single text",
        "/explain",
        {"task": "ranking", "text_a": "q", "text_b": LONG},
        413,
        '"text_b: 2001 characters',
    ),
    ("unknown nested field", "/entailment", {"pairs": [{**PAIR, "label": "x"}]}, 400, "pairs[0].label"),
    ("lone surrogate", "/embed", b'{"texts": ["\\ud800"]}', 400, "json"),
    ("deep nesting", "/embed", b'{"texts": ' + b"[" * 3000 + b"]" * 3000 + b"}", 400, "json"),
    ("body too large", "/entailment", b'{"pairs": []' + b" " * 70000 + b"}", 413, "PAIRSCORE_MAX_BODY_BYTES"),
]


@pytest.mark.parametrize("path, body, status, needle", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error_matrix(client, path, body, status, needle):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post(path, content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    payload = response.json()
    assert set(payload) == {"error", "detail"}, payload
    assert needle.lower() in json.dumps(payload["detail"]).lower(), payload


# A valid body for every POST endpoint: one unknown top-level field added must make it a 400 naming that field.
VALID = {
    "/entailment": {"pairs": [PAIR]},
    "/paraphrase": {"pairs": [{"text_a": "a", "text_b": "b"}]},
    "/rank": {"question": "q", "answers": ["a"], "top_k": 1},
    "/embed": {"texts": ["a"], "task": "paraphrase"},
    "/explain": {"task": "entailment", "text_a": "a", "text_b": "b"},
    "/info": {},
}


@pytest.mark.parametrize("path", VALID)
def test_unknown_top_level_field_is_refused(client, path):
    assert client.post(path, json=VALID[path]).status_code == 200
    response = client.post(path, json={**VALID[path], "top-k": 1})
    assert response.status_code == 400, response.text
    assert response.json() == {"error": "invalid_request", "detail": "top-k: Extra inputs are not permitted"}


def test_over_limit_texts_are_named_by_their_path_like_400s(client):
    """413 and 400 name a text the same way: `pairs[2].premise`, `text_b`."""
    missing = client.post("/entailment", json={"pairs": [PAIR, PAIR, {"premise": "a"}]}).json()["detail"]
    too_long = client.post("/entailment", json={"pairs": [PAIR, PAIR, {"premise": LONG, "hypothesis": "b"}]})
    assert missing == "pairs[2].hypothesis: Field required"
    assert (
        too_long.json()["detail"] == "pairs[2].premise: 2001 characters, over the limit of 2000 (PAIRSCORE_MAX_CHARS)"
    )


def test_limit_error_names_field_and_limit(client):
    response = client.post("/paraphrase", json={"pairs": [{"text_a": "a", "text_b": "b"}] * 17})
    assert response.status_code == 413
    assert response.json() == {
        "error": "limit_exceeded",
        "detail": "pairs: 17 items, over the limit of 16 (PAIRSCORE_MAX_PAIRS)",
    }


@pytest.mark.parametrize(
    "method, path, status",
    [("GET", "/entailment", 405), ("POST", "/no-such-endpoint", 404), ("DELETE", "/rank", 405)],
)
def test_routing_errors_are_enveloped(client, method, path, status):
    response = client.request(method, path)
    assert response.status_code == status
    assert set(response.json()) == {"error", "detail"}


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "multipart/form-data; boundary=x",
        "application/x-www-form-urlencoded",
        "application/vnd.bentoml+pickle",
    ],
)
def test_non_json_bodies_get_415(client, content_type):
    response = client.post("/embed", content=b"garbage", headers={"content-type": content_type})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"


def test_json_with_charset_is_fine(client):
    response = client.post(
        "/embed", content=b'{"texts": ["a"]}', headers={"content-type": "application/json; charset=utf-8"}
    )
    assert response.status_code == 200


def test_service_still_answers_after_errors(client):
    assert client.post("/embed", json={"texts": ["still fine"]}).status_code == 200
