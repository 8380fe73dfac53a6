"""Start and stop a real `bentoml serve` of the service (used by conftest.py and the start-up tests)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
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
    try:
        wait_ready(server.url, process, log)
    except RuntimeError:
        stop_server(server)
        raise
    return server


def poll_ready(url: str, seconds: float, gone: Callable[[], bool] = lambda: False, every: float = 0.3) -> float | None:
    """Seconds until `url`/readyz answers 200; None when `seconds` run out or `gone()` says the server stopped."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        if gone():
            return None
        time.sleep(every)
    return None


def wait_ready(url: str, process: subprocess.Popen, log: Path | None = None, seconds: float = 90) -> None:
    """Until `url`/readyz answers 200; RuntimeError (with the log's end) if the process exits or time runs out."""
    if poll_ready(url, seconds, lambda: process.poll() is not None) is not None:
        return
    tail = log.read_text()[-3000:] if log and log.is_file() else ""
    if process.poll() is not None:
        raise RuntimeError(f"the server exited with {process.returncode}:\n{tail}")
    raise RuntimeError(f"the server was not ready in {seconds:g} s:\n{tail}")


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
