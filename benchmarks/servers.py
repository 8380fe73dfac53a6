"""Servers for the benchmarks: service/serve.py's launcher (the tests' too), and what a benchmark reads off a
running server's process tree (BentoML's arbiter and its worker)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from service.serve import REPO, LocalServer, start


@dataclass
class Launch:
    """One server to start: the models it serves, the environment on top of ours, the checkout whose service runs."""

    models: Path
    env: dict[str, str] = field(default_factory=dict)
    repo: Path = REPO


@contextmanager
def running(
    launches: dict[str, Launch], logs: Path, timeout: float
) -> Iterator[tuple[dict[str, LocalServer], dict[str, float]]]:
    """(the servers, their start-up seconds): every server started before any is awaited (their start-ups overlap),
    each with a BENTOML_HOME of its own (a starting server empties its home's Prometheus folder, other servers'
    metrics too) and its log at <logs>_<name>.log; all stopped on exit."""
    up: dict[str, LocalServer] = {}
    with tempfile.TemporaryDirectory(prefix="bench-bentoml-home-") as homes:
        try:
            for name, launch in launches.items():
                env = {"BENTOML_HOME": f"{homes}/{name}", **launch.env}
                up[name] = start(launch.models, Path(f"{logs}_{name}.log"), env, launch.repo)
            yield up, {name: server.wait_ready(timeout) for name, server in up.items()}
        finally:
            for server in up.values():
                server.stop()


def tree(server: LocalServer) -> list[psutil.Process]:
    try:
        root = psutil.Process(server.process.pid)
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def role(proc: psutil.Process) -> str:
    """ "worker" for the processes that run the service code, "arbiter" for BentoML's supervisor."""
    try:
        return "worker" if "_bentoml_impl.worker" in " ".join(proc.cmdline()) else "arbiter"
    except psutil.Error:
        return "gone"


def cpu_seconds(procs: list[psutil.Process]) -> dict[str, float]:
    """User + system CPU seconds so far, per role."""
    spent: dict[str, float] = {}
    for proc in procs:
        try:
            times = proc.cpu_times()
        except psutil.Error:
            continue
        spent[role(proc)] = spent.get(role(proc), 0.0) + times.user + times.system
    return spent


def worker_rss_mb(server: LocalServer) -> float:
    """RSS of the worker process(es) that run the service code."""
    total = 0
    for proc in tree(server):
        try:
            total += proc.memory_info().rss if role(proc) == "worker" else 0
        except psutil.Error:
            continue
    return total / 2**20
