"""A client that writes its whole body before reading (urllib, requests) still receives the JSON 413.

Answering while an over-limit body is still arriving and then closing resets the connection
under such a client (urllib: `Broken pipe` / `Connection reset by peer`, never the 413); the
server reads and discards the body first, up to 4x the limit. The default 2 MiB limit and a
5 MB body, as a client reported it: a body small enough for the kernel's socket buffers would
pass without the fix too.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
import requests

from server_process import start_server, stop_server

LIMIT = 2 * 2**20
BODY = b'{"pairs": [' + b", ".join([b'{"premise": "a dog runs", "hypothesis": "an animal moves"}'] * 90_000) + b"]}"


@pytest.fixture(scope="module")
def url(tiny_models, tmp_path_factory):
    server = start_server(tiny_models, tmp_path_factory.mktemp("body_limit"), PAIRSCORE_MAX_BODY_BYTES=str(LIMIT))
    yield f"{server.url}/entailment"
    stop_server(server)


def check(status: int, payload: dict) -> None:
    assert status == 413
    assert payload == {
        "error": "limit_exceeded",
        "detail": f"request body over the limit of {LIMIT} bytes (PAIRSCORE_MAX_BODY_BYTES)",
    }


def test_urllib_gets_the_413(url):
    assert 2 * LIMIT < len(BODY) < 4 * LIMIT
    for _ in range(3):  # and the server keeps answering
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(
                urllib.request.Request(url, data=BODY, headers={"content-type": "application/json"}), timeout=60
            )
        check(refused.value.code, json.loads(refused.value.read()))


def test_requests_gets_the_413(url):
    response = requests.post(url, data=BODY, headers={"content-type": "application/json"}, timeout=60)
    check(response.status_code, response.json())


def test_keep_alive_survives_a_drained_413(url):
    with requests.Session() as session:
        check(
            *(lambda r: (r.status_code, r.json()))(
                session.post(url, data=BODY, headers={"content-type": "application/json"}, timeout=60)
            )
        )
        ok = session.post(url, json={"pairs": [{"premise": "a dog runs", "hypothesis": "an animal moves"}]}, timeout=60)
        assert ok.status_code == 200 and len(ok.json()) == 1
