"""`pairscore serve`: start the HTTP service, exactly as `bentoml serve` in the repo root does.

`start()` runs the same command on a loopback port and `LocalServer.wait_ready()` waits for /readyz: the one
launcher the tests (tests/service/server_process.py) and the benchmarks (benchmarks/servers.py) share, so both
exercise the command users run.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVICE = "service.app:PairScore"
LOOPBACK = "127.0.0.1"
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # a loopback probe never goes through a proxy


def command(host: str | None = None, port: int | None = None, working_dir: Path = REPO) -> list[str]:
    """The `bentoml serve` command line (BentoML's own default host and port where None)."""
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--working-dir",
        str(working_dir),
        *(["--host", host] if host else []),
        *(["--port", str(port)] if port else []),
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def poll_ready(url: str, seconds: float, gone: Callable[[], bool] = lambda: False, every: float = 0.3) -> float | None:
    """Seconds until `url`/readyz answers 200; None when `seconds` run out or `gone()` says the server stopped."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            with _DIRECT.open(f"{url}/readyz", timeout=2) as response:
                if response.status == 200:
                    return time.monotonic() - started
        except OSError:  # refused, reset, timed out, or a non-2xx answer (HTTPError)
            pass
        if gone():
            return None
        time.sleep(every)
    return None


@dataclass
class LocalServer:
    """A `bentoml serve` of the service on a loopback port, in a process group of its own (stop() ends it all)."""

    process: subprocess.Popen
    url: str
    log: Path
    command: list[str]

    def wait_ready(self, seconds: float = 90) -> float:
        """Seconds until /readyz answers 200; RuntimeError with the log's end if the server exits or time runs out."""
        took = poll_ready(self.url, seconds, lambda: self.process.poll() is not None)
        if took is not None:
            return took
        tail = self.log.read_text(errors="replace")[-3000:] if self.log.is_file() else ""
        if self.process.poll() is not None:
            raise RuntimeError(f"the server exited with {self.process.returncode}:\n{tail}")
        raise RuntimeError(f"the server was not ready in {seconds:g} s:\n{tail}")

    def stop(self, grace: float = 15) -> None:
        """SIGTERM to the process group (the arbiter and its workers), SIGKILL after `grace` seconds."""
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, sig)
                self.process.wait(grace)
            except ProcessLookupError:
                return
            except subprocess.TimeoutExpired:
                continue


def start(
    models: Path | None, log: Path, env: Mapping[str, str] | None = None, working_dir: Path = REPO
) -> LocalServer:
    """`bentoml serve` of `working_dir`'s service on `models`, on a free loopback port; `env` on top of this
    process's environment. Returns at once: call wait_ready()."""
    port = free_port()
    argv = command(LOOPBACK, port, working_dir)
    model_dir = {"PAIRSCORE_MODEL_DIR": str(Path(models).resolve())} if models is not None else {}
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        process = subprocess.Popen(
            argv,
            cwd=working_dir,
            env={**os.environ, **model_dir, **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return LocalServer(process, f"http://{LOOPBACK}:{port}", log, argv)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairscore serve", description=__doc__.splitlines()[0])
    parser.add_argument("--host", help="address to bind (default: BentoML's, $BENTOML_HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default: BentoML's, $BENTOML_PORT or 3000)")
    parser.add_argument(
        "--models",
        type=Path,
        help="folder with entailment/, paraphrase/, ranking/ (default: PAIRSCORE_MODEL_DIR or models/)",
    )
    args = parser.parse_args(argv)
    if args.models is not None:
        os.environ["PAIRSCORE_MODEL_DIR"] = str(args.models.resolve())
    argv_serve = command(args.host, args.port)
    os.execv(argv_serve[0], argv_serve)  # signals reach bentoml directly; never returns
    return 0
