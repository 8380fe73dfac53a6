"""Start and stop a real `bentoml serve` of the service (used by conftest.py and the start-up tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
TEST_LIMITS = {
    "PAIRSCORE_MAX_PAIRS": "16",
    "PAIRSCORE_MAX_ANSWERS": "32",
    "PAIRSCORE_MAX_TEXTS": "16",
    "PAIRSCORE_MAX_CHARS": "2000",
    "PAIRSCORE_MAX_BODY_BYTES": "65536",
    "PAIRSCORE_ORT_THREADS": "1",
    "PAIRSCORE_CACHE_ENTRIES": "200",  # small caps, so tests/service/test_cache.py can fill the cache past them
    "PAIRSCORE_CACHE_MB": "0.02",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve_env(model_dir: Path, home: Path, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **TEST_LIMITS,
        "PAIRSCORE_MODEL_DIR": str(model_dir),
        "BENTOML_HOME": str(home),
        "BENTOML_DO_NOT_TRACK": "true",
        **extra,
    }


def serve_command(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        "service.app:PairScore",
        "--working-dir",
        str(REPO),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@dataclass
class Server:
    url: str
    log: Path
    process: subprocess.Popen

    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def start_server(model_dir: Path, workdir: Path, **env: str) -> Server:
    port = free_port()
    log = workdir / f"serve-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            serve_command(port),
            env=serve_env(model_dir, workdir / "bentoml", **env),
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(f"http://127.0.0.1:{port}", log, process)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"bentoml serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    stop_server(server)
    raise RuntimeError(f"bentoml serve not ready in 90 s:\n{log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


@contextmanager
def serving(model_dir: Path, workdir: Path, **env: str) -> Iterator[httpx.Client]:
    """A client of a real server on model_dir, stopped on exit (module-scoped fixtures yield from this)."""
    server = start_server(model_dir, workdir, **env)
    try:
        with server.client() as http:
            yield http
    finally:
        stop_server(server)
