"""POST /explain and GET /ui over real HTTP: the task's own answer, token weights, the error taxonomy."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path

import pytest
import yaml

from helpers import MODELS, TASKS
from pairscore.runtime.model import PairModel
from server_process import REPO, serving

LONG = "x" * 2001  # PAIRSCORE_MAX_CHARS is 2000 in server_process.TEST_LIMITS
PAIRS = [
    ("A man is playing a guitar on stage.", "A man is playing music."),
    ("Two dogs run through the snow.", "The cat is sleeping on the couch."),
    ("A child eats.", ""),
]
SHIPPED = MODELS


def endpoint_answer(client, task: str, a: str, b: str) -> dict:
    """What the task's own endpoint answers for the pair (ranking: the one answer's score)."""
    if task == "entailment":
        return client.post("/entailment", json={"pairs": [{"premise": a, "hypothesis": b}]}).json()[0]
    if task == "paraphrase":
        return client.post("/paraphrase", json={"pairs": [{"text_a": a, "text_b": b}]}).json()[0]
    (ranked,) = client.post("/rank", json={"question": a, "answers": [b]}).json()
    return {"score": ranked["score"]}


def assert_same(got, expected) -> None:
    """Same keys and strings, numbers within 1e-6."""
    if isinstance(expected, dict):
        assert set(got) == set(expected)
        for key in expected:
            assert_same(got[key], expected[key])
    elif isinstance(expected, bool) or isinstance(expected, str):
        assert got == expected
    else:
        assert abs(got - expected) <= 1e-6, (got, expected)


def check_explanation(model_dir: Path, task: str, a: str, b: str, body: dict) -> None:
    model = PairModel(model_dir / task)
    assert body["task"] == task and body["method"] == "winners"
    for text, side in ((a, body["text_a"]), (b, body["text_b"])):
        assert side["tokens"] == model.tokenizer.encode(text).tokens
        assert len(side["weights"]) == len(side["tokens"]) == len(side["offsets"])
        if side["tokens"]:
            assert min(side["weights"]) >= 0 and abs(sum(side["weights"]) - 1) <= 1e-6


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("a, b", PAIRS)
def test_result_is_the_task_endpoint_answer(client, tiny_models, task, a, b):
    response = client.post("/explain", json={"task": task, "text_a": a, "text_b": b})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"task", "result", "method", "text_a", "text_b"}
    assert_same(body["result"], endpoint_answer(client, task, a, b))
    check_explanation(tiny_models, task, a, b, body)


def test_each_occurrence_of_a_repeated_word_gets_its_own_weight(client):
    text = "the dog chased the dog around the dog house"
    body = client.post("/explain", json={"task": "entailment", "text_a": text, "text_b": "a dog"}).json()
    tokens, weights = body["text_a"]["tokens"], body["text_a"]["weights"]
    assert tokens.count("dog") == 3 and tokens.count("the") == 3 and len(weights) == len(tokens)
    spans = [tuple(body["text_a"]["offsets"][i]) for i, t in enumerate(tokens) if t == "dog"]
    assert [text[s:e] for s, e in spans] == ["dog"] * 3 and len(set(spans)) == 3


ERRORS = [
    # (id, body, status, text expected in the detail)
    ("unknown task", {"task": "sentiment", "text_a": "a", "text_b": "b"}, 400, "task"),
    ("missing text_b", {"task": "entailment", "text_a": "a"}, 400, "text_b"),
    ("missing task", {"text_a": "a", "text_b": "b"}, 400, "task"),
    ("text not a string", {"task": "ranking", "text_a": ["a"], "text_b": "b"}, 400, "text_a"),
    ("long text_a", {"task": "entailment", "text_a": LONG, "text_b": "b"}, 413, "text_a"),
    ("long text_b", {"task": "paraphrase", "text_a": "a", "text_b": LONG}, 413, "PAIRSCORE_MAX_CHARS"),
    ("malformed json", b'{"task": "entailment", "text_a":', 400, "json"),
    ("body too large", b'{"task": "ranking", "text_a": "' + b"x" * 70000 + b'"}', 413, "PAIRSCORE_MAX_BODY_BYTES"),
]


@pytest.mark.parametrize("body, status, needle", [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS])
def test_bad_requests_get_a_4xx_json_envelope(client, body, status, needle):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    response = client.post("/explain", content=content, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    payload = response.json()
    assert set(payload) == {"error", "detail"}
    assert needle.lower() in payload["detail"].lower(), payload


def test_explain_is_a_guarded_route(client):
    response = client.post(
        "/explain", content=b"task=entailment", headers={"content-type": "application/x-www-form-urlencoded"}
    )
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"


def test_ui_is_served_by_the_same_service(client):
    page = client.get("/ui/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/explain" in page.text and "<script" in page.text
    assert client.get("/ui", follow_redirects=True).text == page.text
    missing = client.get("/ui/nothing.js")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"


@pytest.fixture(scope="module")
def shipped_client(tmp_path_factory: pytest.TempPathFactory):
    """A real server on the shipped models/ (they carry the winners output)."""
    assert all(PairModel(SHIPPED / task).has_winners for task in TASKS)
    with serving(SHIPPED, tmp_path_factory.mktemp("shipped")) as http:
        yield http


@pytest.mark.parametrize("task", TASKS)
def test_shipped_models_explain_their_own_answers(shipped_client, task):
    a, b = PAIRS[0]
    body = shipped_client.post("/explain", json={"task": task, "text_a": a, "text_b": b}).json()
    assert_same(body["result"], endpoint_answer(shipped_client, task, a, b))
    check_explanation(SHIPPED, task, a, b, body)


def test_the_bento_ships_the_ui_page():
    """The service mounts service/ui at import: a Bento without it would not start."""
    include = yaml.safe_load((REPO / "bentofile.yaml").read_text())["include"]
    assert any(fnmatch.fnmatch("service/ui/index.html", pattern) for pattern in include)
