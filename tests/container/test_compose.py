"""docker-compose.yml as an operator runs it, with each compose CLI installed (1.29 and v2): two replicas behind
Traefik take traffic, Prometheus scrapes both, stalled clients stay at Traefik, and neither a replica killed under
load nor a 2 -> 3 -> 2 rescale under load fails a request. Requests go to Traefik's port on 127.0.0.1; the
containers talk on the network compose creates for the project, which `down` removes.
"""

from __future__ import annotations

import os
import shlex
import socket
import subprocess
import time

import httpx
import pytest
from docker_env import (
    DOC_COMPOSE_SCALE,
    DOC_COMPOSE_UP,
    FIGURES,
    REPO,
    compose_implementations,
    docker,
    free_port,
    replicas,
    requests_in_progress,
    served_requests,
    wait_for_replicas,
)
from load_generator import Load

from server_process import poll_ready

pytestmark = pytest.mark.container
IMPLEMENTATIONS = compose_implementations()
CLIENTS, PAIRS_PER_REQUEST = 8, 16  # the load of the hand trial


class Stack:
    """One compose project of docker-compose.yml, run by one compose CLI, with its own ports and API key."""

    def __init__(self, name: str, project: str, env: dict[str, str], key: str) -> None:
        self.name, self.project, self.env, self.key = name, project, env, key
        self.url = f"http://{env['PAIRSCORE_PORT']}"
        self.prometheus = f"http://{env['PROMETHEUS_PORT']}"

    def compose(self, *args: str, timeout: float = 300) -> str:
        """`docker compose ARGS` (or `docker-compose ARGS`) for this project, from the repo root."""
        argv = [
            *IMPLEMENTATIONS[self.name],
            *("-p", self.project, "-f", str(REPO / "docker-compose.yml"), "--project-directory", str(REPO)),
            *args,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, env=self.env, timeout=timeout)
        assert done.returncode == 0, f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}


@pytest.fixture(scope="module", params=sorted(IMPLEMENTATIONS) or ["none installed"])
def stack(request, image, api_key):
    name = request.param
    if name not in IMPLEMENTATIONS:
        pytest.fail("no compose CLI: .ci/run installs docker-compose")
    env = {
        **os.environ,
        "PAIRSCORE_IMAGE": image,
        "PAIRSCORE_PORT": f"127.0.0.1:{free_port()}",  # published on the loopback address only
        "PROMETHEUS_PORT": f"127.0.0.1:{free_port()}",
        "PAIRSCORE_API_KEYS": api_key,
    }
    env.pop("PAIRSCORE_REPLICAS", None)  # the file's default: 2
    running = Stack(name, f"pairscoretest{os.getpid()}{name[-2:]}", env, api_key)
    started = time.monotonic()
    try:
        running.compose(*shlex.split(DOC_COMPOSE_UP)[2:])
        wait_for_replicas(running.project, 2)
        wait_routed(running)
        FIGURES[f"compose[{name}]"] = {"up_s": round(time.monotonic() - started, 1)}
        yield running
    finally:
        running.compose("down", "-v", "--remove-orphans", "-t", "10")
        left = docker("ps", "-a", "-q", "--filter", f"label=com.docker.compose.project={running.project}")
        networks = docker("network", "ls", "-q", "--filter", f"label=com.docker.compose.project={running.project}")
        assert not left.strip() and not networks.strip(), "compose down left containers or networks behind"


def wait_routed(stack: Stack, bound_s: float = 60) -> None:
    if poll_ready(stack.url, bound_s) is not None:
        return
    raise AssertionError(f"Traefik on {stack.url} does not route to the replicas within {bound_s} s")


@pytest.fixture(scope="module")
def bodies(pairs) -> list[dict]:
    snli = pairs["entailment"]
    return [
        {"pairs": [{"premise": a, "hypothesis": b} for a, b in snli[i : i + PAIRS_PER_REQUEST]]}
        for i in range(0, len(snli) - PAIRS_PER_REQUEST + 1, PAIRS_PER_REQUEST)
    ]


def test_both_replicas_take_traffic_and_prometheus_scrapes_both(stack, bodies):
    with httpx.Client(base_url=stack.url, timeout=30, headers=stack.headers()) as http:
        for body in bodies * 4:
            assert http.post("/entailment", json=body).status_code == 200
        refused = http.post("/entailment", json=bodies[0], headers={"Authorization": "Bearer wrong"})
        assert refused.status_code == 401  # the key reached the replicas through the compose file
    served = {r["name"]: served_requests(r["name"], "/entailment") for r in replicas(stack.project)}
    assert len(served) == 2 and all(count > 0 for count in served.values()), served
    addresses = {
        docker("inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", name).strip()
        for name in served
    }
    started = time.monotonic()
    targets: dict[str, str] = {}
    while time.monotonic() - started < 90:
        data = httpx.get(f"{stack.prometheus}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        targets = {t["labels"]["instance"].split(":")[0]: t["health"] for t in data}
        if targets == dict.fromkeys(addresses, "up"):
            break
        time.sleep(1)
    assert targets == dict.fromkeys(addresses, "up"), targets
    FIGURES[f"compose[{stack.name}]"]["prometheus_both_up_s"] = round(time.monotonic() - started, 1)


def test_stalled_clients_never_reach_a_replica(stack, bodies):
    """Traefik reads each request whole before it forwards it (its buffering middleware): 100 clients that stop 4
    bytes into their body are held there, no replica sees their requests, and others are answered. When they
    hang up, no replica is taken out for it (the kill test after this one would meet Traefik's 503s)."""
    host, port = stack.url.removeprefix("http://").rsplit(":", 1)
    head = (
        f"POST /entailment HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {stack.key}\r\nContent-Length: 1000\r\n\r\n"
    )
    held = []
    try:
        for _ in range(100):
            sock = socket.create_connection((host, int(port)))
            sock.sendall(head.encode() + b'{"pa')
            held.append(sock)
        time.sleep(1)
        with httpx.Client(base_url=stack.url, timeout=30, headers=stack.headers()) as http:
            answered = [http.post("/entailment", json=bodies[i % len(bodies)]).status_code for i in range(20)]
        reached = {r["name"]: requests_in_progress(r["name"], "/entailment") for r in replicas(stack.project)}
    finally:
        for sock in held:
            sock.close()
    time.sleep(0.5)
    with httpx.Client(base_url=stack.url, timeout=30, headers=stack.headers()) as http:
        after = [http.post("/entailment", json=bodies[i % len(bodies)]).status_code for i in range(20)]
    FIGURES[f"compose[{stack.name}]"]["stalled"] = {"answered": answered, "at_replicas": reached, "after": after}
    assert answered == [200] * 20 and after == [200] * 20
    assert reached == dict.fromkeys(reached, 0.0), reached


def test_a_replica_killed_under_load_fails_no_request(stack, bodies):
    """Every request the dead replica did not answer whole is resent and answered: each answer leaves a replica in
    one write (service/connections.py), so Traefik gets it whole or not at all, and not at all is the 502 its
    retry middleware resends. Nothing may fail: no cut-off answer, no 502, no 504, no timeout."""
    victim = replicas(stack.project)[-1]["name"]
    load = Load(stack.url, "/entailment", bodies, clients=CLIENTS, duration_s=15, headers=stack.headers())
    load.start()
    try:
        time.sleep(5)
        served_before = served_requests(victim, "/entailment")
        docker("kill", victim)
        load.join()
    finally:
        load.stop()
        stack.compose(*shlex.split(DOC_COMPOSE_UP)[2:])  # starts the killed replica again: 2 for the next test
        wait_for_replicas(stack.project, 2)
    result = {**load.result.summary(), "victim_served_before_kill": served_before}
    FIGURES[f"compose[{stack.name}]"]["kill"] = result
    assert served_before > 0, "the killed replica was taking no traffic: the test proves nothing"
    assert result["requests"] > 100
    assert result["failed"] == 0, result


def test_scaling_2_3_2_under_load_fails_no_request(stack, bodies):
    load = Load(stack.url, "/entailment", bodies, clients=CLIENTS, duration_s=120, headers=stack.headers())
    load.start()
    try:
        time.sleep(3)
        before = {r["name"] for r in replicas(stack.project)}
        stack.compose(*shlex.split(DOC_COMPOSE_SCALE)[2:])  # to 3
        (added,) = {r["name"] for r in wait_for_replicas(stack.project, 3)} - before
        deadline = time.monotonic() + 30
        while served_requests(added, "/entailment") == 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert served_requests(added, "/entailment") > 0, "the third replica never took traffic"
        stack.compose(*shlex.split(DOC_COMPOSE_SCALE.replace("=3", "=2"))[2:])
        wait_for_replicas(stack.project, 2)
        time.sleep(3)
    finally:
        result = load.stop().summary()
    FIGURES[f"compose[{stack.name}]"]["scale_2_3_2"] = result
    assert result["failed"] == 0, result
