"""A real `bentoml serve` of the service for the tests: service/serve.py's launcher with the tests' small limits."""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from service.serve import REPO, LocalServer, command, free_port, poll_ready, start

__all__ = ["REPO", "free_port", "poll_ready"]  # re-exported: the tests import them from here
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


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """What the tests' servers run with on top of the environment: the small limits and a BENTOML_HOME of their own."""
    return {**TEST_LIMITS, "BENTOML_HOME": str(home), "BENTOML_DO_NOT_TRACK": "true", **extra}


def serve_env(model_dir: Path, home: Path, **extra: str) -> dict[str, str]:
    """The whole environment, for tests that start `serve_command()` themselves (to watch it fail)."""
    return {**os.environ, **server_env(home, PAIRSCORE_MODEL_DIR=str(model_dir), **extra)}


def serve_command(port: int) -> list[str]:
    return command("127.0.0.1", port)


class Server(LocalServer):
    def client(self, **kwargs) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, **kwargs)


def start_server(model_dir: Path, workdir: Path, **env: str) -> Server:
    log = Path(tempfile.mkstemp(prefix="serve-", suffix=".log", dir=workdir)[1])  # one per server in a shared folder
    local = start(model_dir, log, env=server_env(workdir / "bentoml", **env))
    server = Server(local.process, local.url, local.log, local.command)
    try:
        server.wait_ready()
    except RuntimeError:
        server.stop()
        raise
    return server


def wait_ready(url: str, process: subprocess.Popen, log: Path | None = None, seconds: float = 90) -> None:
    """Until `url`/readyz answers 200, for a server a test started itself; RuntimeError with the log's end if not."""
    LocalServer(process, url, log or Path(os.devnull), []).wait_ready(seconds)


def stop_server(server: LocalServer) -> None:
    server.stop()


@contextmanager
def serving(model_dir: Path, workdir: Path, **env: str) -> Iterator[httpx.Client]:
    """A client of a real server on model_dir, stopped on exit (module-scoped fixtures yield from this)."""
    server = start_server(model_dir, workdir, **env)
    try:
        with server.client() as http:
            yield http
    finally:
        server.stop()
