"""Optional API keys, over HTTP on a real server: keys from the environment and from a mounted file."""

from __future__ import annotations

import subprocess

import pytest
import requests

from pairscore.settings import read
from server_process import REPO, free_port, serve_command, serve_env, start_server, stop_server
from service.auth import api_keys

ENV_KEYS = ("env-key-one", "env-key-two")
FILE_KEY = "file-key-from-a-secret"
PAIR = {"pairs": [{"premise": "A man is playing a guitar.", "hypothesis": "A person plays music."}]}


@pytest.fixture(scope="module")
def keyed(tiny_models, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("keys")
    keys_file = workdir / "keys"
    keys_file.write_text(f"# mounted from a Kubernetes Secret\n{FILE_KEY}\n\n")
    server = start_server(
        tiny_models, workdir, PAIRSCORE_API_KEYS=" , ".join(ENV_KEYS), PAIRSCORE_API_KEYS_FILE=str(keys_file)
    )
    yield server
    stop_server(server)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize("key", [*ENV_KEYS, FILE_KEY])
def test_every_key_from_the_environment_and_the_file_is_accepted(keyed, key):
    with keyed.client() as http:
        assert http.post("/entailment", json=PAIR, headers=bearer(key)).status_code == 200
        assert http.post("/info", headers=bearer(key)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("not-a-key"),
        bearer(ENV_KEYS[0] + "x"),
        {"Authorization": f"Basic {ENV_KEYS[0]}"},
        {"Authorization": "Bearer"},
    ],
    ids=["no header", "wrong key", "longer key", "other scheme", "no key"],
)
@pytest.mark.parametrize("path", ["/entailment", "/info", "/docs.json", "/ui/", "/no-such-route"])
def test_a_request_without_a_valid_key_gets_a_json_401(keyed, headers, path):
    with keyed.client() as http:
        response = http.post(path, json=PAIR, headers=headers) if path != "/ui/" else http.get(path, headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert body["error"] == "unauthorized" and "Authorization: Bearer" in body["detail"]


def test_probes_and_the_scrape_need_no_key(keyed):
    with keyed.client() as http:
        for path in ("/livez", "/readyz", "/metrics"):
            assert http.get(path).status_code == 200, path


def test_a_client_that_writes_its_whole_body_first_gets_the_401(keyed):
    """requests sends the body before reading: the server must read it, not reset the connection under it."""
    body = {"pairs": [{"premise": "word " * 1000, "hypothesis": "a"}] * 6}  # ~60 kB, under the test body limit
    response = requests.post(f"{keyed.url}/entailment", json=body, timeout=30)
    assert response.status_code == 401


def test_keys_are_never_shown(keyed):
    with keyed.client() as http:
        info = http.post("/info", headers=bearer(FILE_KEY)).text
        metrics = http.get("/metrics").text
    log = keyed.log.read_text()
    for key in (*ENV_KEYS, FILE_KEY):
        assert key not in info and key not in metrics and key not in log


def test_a_keys_file_that_cannot_be_read_stops_startup(tiny_models, tmp_path):
    missing = tmp_path / "unmounted" / "keys"
    result = subprocess.run(
        serve_command(free_port()),
        env=serve_env(tiny_models, tmp_path / "bentoml", PAIRSCORE_API_KEYS_FILE=str(missing)),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert f"PAIRSCORE_API_KEYS_FILE={missing}" in result.stdout + result.stderr


def test_key_sources():
    assert api_keys(read({})) == ()  # unset: no key needed
    assert api_keys(read({"PAIRSCORE_API_KEYS": ""})) == ()
    assert api_keys(read({"PAIRSCORE_API_KEYS": " a, b ,,"})) == ("a", "b")


def test_an_empty_keys_file_is_refused(tmp_path):
    empty = tmp_path / "keys"
    empty.write_text("# no key yet\n\n")
    with pytest.raises(ValueError, match="holds no API key"):
        api_keys(read({"PAIRSCORE_API_KEYS_FILE": str(empty)}))
