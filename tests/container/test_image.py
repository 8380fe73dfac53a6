"""One container of the image, run as docs/deploy.md runs it: ready in bounded time, the local server's answers,
not root, API keys, a graceful stop with requests in flight, and a broken model file that stops it for good."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import threading
import time

import httpx
import numpy as np
import pytest
import yaml
from docker_env import FIGURES, READY_BOUND_S, REPO, docker, free_port, memory_mib, run_args, wait_ready

from helpers import TASKS
from pairscore.specs import load_pairs
from server_process import start_server, stop_server

pytestmark = pytest.mark.container
TOL = 1e-6
GRACE_S = 45  # deploy/k8s terminationGracePeriodSeconds; docker stop waits this long before SIGKILL
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
DEPLOYMENT = yaml.safe_load((REPO / "deploy" / "k8s" / "deployment.yaml").read_text())
# the local server runs with the container's serving settings (docker-compose.yml's environment)
SERVED = {k: v for k, v in COMPOSE["services"]["pairscore"]["environment"].items() if not v.startswith("${")}


class Running:
    def __init__(self, name: str, port: int, key: str) -> None:
        self.name, self.url, self.key = name, f"http://127.0.0.1:{port}", key

    def client(self, key: str | None = None) -> httpx.Client:
        key = self.key if key is None else key
        return httpx.Client(base_url=self.url, timeout=60, headers={"Authorization": f"Bearer {key}"} if key else {})


def start(image: str, key: str, name_prefix: str, rm: bool = True) -> Running:
    port = free_port()
    name = f"{name_prefix}-{port}"
    docker(*run_args(port, name, rm=rm), env={**os.environ, "PAIRSCORE_API_KEYS": key})
    return Running(name, port, key)


@pytest.fixture(scope="module")
def container(image, api_key):
    running = start(image, api_key, "pairscore-test")
    try:
        FIGURES["ready_s"] = round(wait_ready(running.url, running.name), 1)
        yield running
    finally:
        docker("rm", "-f", running.name, check=False)


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    """`bentoml serve` of the same models in this checkout, outside any container."""
    server = start_server(REPO / "models", tmp_path_factory.mktemp("local"), **SERVED)
    yield server
    stop_server(server)


def test_ready_within_the_bound(container):
    assert FIGURES["ready_s"] < READY_BOUND_S


def test_runs_as_the_non_root_user_the_manifests_name(container):
    assert docker("image", "inspect", "-f", "{{.Config.User}}", "pairscore:latest").strip() == "bentoml"
    uid = int(docker("exec", container.name, "id", "-u"))
    processes = docker("top", container.name, "-o", "pid,uid,comm").splitlines()[1:]
    assert uid != 0 and processes and all(int(line.split()[1]) == uid for line in processes), processes
    security = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["securityContext"]
    assert security["runAsNonRoot"] is True and security["runAsUser"] == uid


def test_the_healthcheck_and_pre_stop_commands_run_in_the_image(container):
    """The compose healthcheck and the Kubernetes preStop hook are commands inside the image: they must exist there."""
    healthcheck = COMPOSE["services"]["pairscore"]["healthcheck"]["test"][1:]
    docker("exec", container.name, *healthcheck)
    pre_stop = DEPLOYMENT["spec"]["template"]["spec"]["containers"][0]["lifecycle"]["preStop"]["exec"]["command"]
    docker("exec", container.name, pre_stop[0], "0")


def body(task: str, chunk: list[tuple[str, str]]) -> dict:
    keys = ("premise", "hypothesis") if task == "entailment" else ("text_a", "text_b")
    return {"pairs": [{keys[0]: a, keys[1]: b} for a, b in chunk]}


def answers(client: httpx.Client, task: str, pairs: list[tuple[str, str]]) -> dict[str, np.ndarray]:
    """Every number the endpoints give for these pairs: the task's scores and both texts' vectors."""
    if task == "ranking":
        question = pairs[0][0]
        response = client.post("/rank", json={"question": question, "answers": [b for _, b in pairs]})
        assert response.status_code == 200, response.text
        scores = np.array([item["score"] for item in sorted(response.json(), key=lambda item: item["index"])])
    else:
        response = client.post(f"/{task}", json=body(task, pairs))
        assert response.status_code == 200, response.text
        items = response.json()
        if task == "entailment":
            labels = ("entailment", "neutral", "contradiction")
            scores = np.array([[i["probabilities"][k] for k in labels] for i in items])
        else:
            scores = np.array([i["probability"] for i in items])
    texts = [a for a, _ in pairs[:64]] + [b for _, b in pairs[:64]]
    vectors = client.post("/embed", json={"texts": texts, "task": task})
    assert vectors.status_code == 200, vectors.text
    return {"scores": scores, "vectors": np.array(vectors.json())}


@pytest.mark.parametrize("task", TASKS)
def test_answers_equal_the_local_servers(container, local, pairs, task):
    with container.client() as remote, local.client() as here:
        got, want = answers(remote, task, pairs[task]), answers(here, task, pairs[task])
    for kind in ("scores", "vectors"):
        assert got[kind].shape == want[kind].shape and len(got[kind]) > 0
        diff = float(np.abs(got[kind] - want[kind]).max())
        FIGURES.setdefault("max_abs_diff_vs_local_server", {})[f"{task} {kind}"] = diff
        assert diff <= TOL, kind
    FIGURES["memory_mib_after_answers"] = round(memory_mib(container.name))


def test_api_keys_in_the_container(container):
    with container.client(key="") as anonymous, container.client(key="wrong") as wrong:
        for client in (anonymous, wrong):
            response = client.post("/entailment", json=body("entailment", [("a", "b")]))
            assert response.status_code == 401 and response.json()["error"] == "unauthorized"
        for path in ("/livez", "/readyz", "/metrics"):
            assert anonymous.get(path).status_code == 200, path


def test_sigterm_with_requests_in_flight_answers_every_request_and_exits_0(image, api_key):
    """32 requests of 256 distinct real pairs (none cached: the model works for seconds), then `docker stop`."""
    snli = [(p.text_a, p.text_b) for p in load_pairs(f"snli/validation[:{32 * 256}]", "entailment")]
    running = start(image, api_key, "pairscore-stop", rm=False)
    try:
        wait_ready(running.url, running.name)
        done_at: list[float] = []

        async def one(http: httpx.AsyncClient, i: int) -> int:
            response = await http.post("/entailment", json=body("entailment", snli[i * 256 : (i + 1) * 256]))
            done_at.append(time.monotonic())
            return response.status_code

        async def flight() -> list[int]:
            headers = {"Authorization": f"Bearer {api_key}"}
            async with httpx.AsyncClient(base_url=running.url, timeout=GRACE_S, headers=headers) as http:
                return await asyncio.gather(*(one(http, i) for i in range(32)))

        statuses: list[int] = []
        sender = threading.Thread(target=lambda: statuses.extend(asyncio.run(flight())))
        sender.start()
        time.sleep(0.5)  # all 32 sent; answering them takes the model seconds
        stop_at = time.monotonic()
        docker("stop", "-t", str(GRACE_S), running.name, timeout=GRACE_S + 30)
        stopped_s = time.monotonic() - stop_at
        sender.join(GRACE_S)
        exit_code = int(docker("inspect", "-f", "{{.State.ExitCode}}", running.name))
        after = sum(t > stop_at for t in done_at)
        FIGURES["sigterm"] = {
            "requests": len(statuses),
            "answered_200": statuses.count(200),
            "answered_after_sigterm": after,
            "stop_s": round(stopped_s, 1),
            "exit_code": exit_code,
        }
        assert after > 0, "no request was still in flight at the SIGTERM: the test proves nothing"
        assert statuses == [200] * 32
        assert exit_code == 0 and stopped_s < GRACE_S
    finally:
        docker("rm", "-f", running.name, check=False)


def test_a_corrupted_model_file_stops_the_container_naming_it_and_restarts_are_bounded(image, tmp_path):
    """One byte changed in a mounted copy of models/: exit non-zero naming the file, and with compose's restart
    policy (on-failure:N) a bounded number of restarts, then the container stays down."""
    models = tmp_path / "models"
    shutil.copytree(REPO / "models", models)
    damaged = models / "paraphrase" / "encoder.onnx"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0x01
    damaged.write_bytes(bytes(data))
    for path in [models, *models.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)  # readable by the image's user
    policy = COMPOSE["services"]["pairscore"]["restart"]
    restarts = int(policy.split(":")[1])
    name = f"pairscore-broken-{free_port()}"
    started = time.monotonic()
    docker(
        "run", "-d", "--name", name, "--restart", policy, "-v", f"{models}:/models:ro",
        "-e", "PAIRSCORE_MODEL_DIR=/models", image,
    )  # fmt: skip
    try:
        state = {}
        while time.monotonic() - started < 180:
            status, restarting, count, code = docker(
                "inspect", "-f", "{{.State.Status}} {{.State.Restarting}} {{.RestartCount}} {{.State.ExitCode}}", name
            ).split()
            state = {"status": status, "restarting": restarting, "restart_count": int(count), "exit_code": int(code)}
            if status == "exited" and restarting == "false" and int(count) >= restarts:
                break
            time.sleep(0.5)
        done = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=60)
        logs = done.stdout + done.stderr  # the server logs to stderr
        down_s = time.monotonic() - started
        FIGURES["broken_model"] = {**state, "policy": policy, "down_for_good_s": round(down_s, 1)}
        assert state["status"] == "exited" and state["restart_count"] == restarts, state
        assert state["exit_code"] != 0
        assert f"/models/{damaged.relative_to(models)}" in logs, logs[-2000:]
        time.sleep(3)  # and it stays down
        assert docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", name).split() == ["exited", str(restarts)]
    finally:
        docker("rm", "-f", name, check=False)
