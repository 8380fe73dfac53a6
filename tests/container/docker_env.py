"""The Docker side of the container tests: the engine, the image, compose, and the figures the tests measure.

The commands here are docs/deploy.md's (DOC_*), adapted only where a test must: a loopback port of
its own, a container name, detached. Every container, network and compose project a test starts
is removed by that test; the images stay cached (they are rebuilt from the layer cache in seconds).
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from server_process import poll_ready

REPO = Path(__file__).resolve().parents[2]
IMAGE = "pairscore:latest"
# docs/deploy.md's commands; tests/container/test_docs_commands.py checks they are the doc's.
DOC_BUILD = "bentoml build"
DOC_CONTAINERIZE = f"bentoml containerize {IMAGE} -t {IMAGE}"
DOC_RUN = (
    f"docker run --rm -p 3000:3000 --cpus 2 --memory 768m -e PAIRSCORE_ORT_THREADS=2 -e PAIRSCORE_API_KEYS {IMAGE}"
)
DOC_COMPOSE_UP = "docker compose up -d"
DOC_COMPOSE_SCALE = "docker compose up -d --scale pairscore=3"
READY_BOUND_S = 30.0  # a started container answers /readyz within this (measured: see FIGURES["ready_s"])
FIGURES: dict[str, Any] = {}  # what the tests measured; printed at the end of the run (conftest.py)


def docker(*args: str, check: bool = True, timeout: float = 300, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout, env=env)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {shlex.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_args(port: int, name: str, rm: bool = True) -> list[str]:
    """DOC_RUN as a test runs it: detached, named, published on 127.0.0.1:port only."""
    args = shlex.split(DOC_RUN)[1:]
    args[args.index("-p") + 1] = f"127.0.0.1:{port}:3000"
    if not rm:
        args.remove("--rm")
    return [args[0], "-d", "--name", name, *args[1:]]


def wait_ready(url: str, container: str, bound_s: float = READY_BOUND_S) -> float:
    """Seconds until GET /readyz answers 200; fails with the container's log when it exits or takes longer."""

    def stopped() -> bool:
        return docker("inspect", "-f", "{{.State.Running}}", container, check=False).strip() == "false"

    seconds = poll_ready(url, bound_s, stopped, every=0.1)
    if seconds is not None:
        return seconds
    raise AssertionError(f"{container} not ready within {bound_s} s:\n{docker('logs', container, check=False)}")


def memory_mib(container: str) -> float:
    usage = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", container).split("/")[0].strip()
    number, unit = re.fullmatch(r"([\d.]+)\s*([KMG]i?B)", usage).groups()
    return float(number) * {"KiB": 1 / 1024, "MiB": 1, "GiB": 1024}[unit]


def image_mb(image: str) -> float:
    return int(docker("image", "inspect", "-f", "{{.Size}}", image)) / 1e6


def buildkit_env() -> dict[str, str]:
    """Docker's legacy builder where the CLI has no buildx (its BuildKit path needs it); BuildKit elsewhere."""
    has_buildx = subprocess.run(["docker", "buildx", "version"], capture_output=True).returncode == 0
    return {} if has_buildx else {"DOCKER_BUILDKIT": "0"}


def compose_implementations() -> dict[str, list[str]]:
    """The compose CLIs installed here: `docker-compose` 1.29 (Debian's) and `docker compose` v2 (the CLI plugin)."""
    found = {}
    if shutil.which("docker-compose"):
        found["docker-compose-v1"] = ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        found["docker-compose-v2"] = ["docker", "compose"]
    return found


def replicas(project: str) -> list[dict[str, str]]:
    """The project's pairscore containers that are running, oldest first: name, health."""
    out = docker(
        "ps",
        "--filter",
        f"label=com.docker.compose.project={project}",
        "--filter",
        "label=com.docker.compose.service=pairscore",
        "--format",
        "{{json .}}",
    )
    rows = [json.loads(line) for line in out.splitlines() if line.strip()]
    found = [
        {"name": row["Names"], "health": _health(row["Status"]), "created": row["CreatedAt"]}
        for row in rows
        if row["State"] == "running" or row["Status"].startswith("Up")
    ]
    return sorted(found, key=lambda r: (r["created"], r["name"]))


def _health(status: str) -> str:
    found = re.search(r"\((healthy|unhealthy|health: starting)\)", status)
    return found.group(1) if found else "none"


def wait_for_replicas(project: str, count: int, bound_s: float = 120) -> list[dict[str, str]]:
    """Exactly `count` running replicas, all healthy (Traefik routes only to healthy ones)."""
    deadline = time.monotonic() + bound_s
    while time.monotonic() < deadline:
        found = replicas(project)
        if len(found) == count and all(r["health"] == "healthy" for r in found):
            return found
        time.sleep(0.5)
    raise AssertionError(f"{project}: not {count} healthy replicas within {bound_s} s: {replicas(project)}")


def served_requests(container: str, path: str) -> float:
    """Requests to `path` a replica answered with 200, from its own /metrics (read inside its network namespace)."""
    return metric(container, "bentoml_service_request_total", path, 'http_response_code="200"')


def requests_in_progress(container: str, path: str) -> float:
    """Requests to `path` a replica has received the head of and not answered yet (BentoML's gauge)."""
    return metric(container, "bentoml_service_request_in_progress", path)


def metric(container: str, name: str, path: str, label: str = "") -> float:
    """The sum of a replica's `name` samples for endpoint `path` (and `label`), from its own /metrics."""
    code = "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:3000/metrics').read().decode())"
    metrics = docker("exec", container, "python", "-c", code)
    total = 0.0
    for line in metrics.splitlines():
        if line.startswith(name + "{") and f'endpoint="{path}"' in line and label in line:
            total += float(line.rsplit(" ", 1)[1])
    return total
