"""The compose stack under load while a replica is killed, with and without Traefik's buffering middleware.

docs/deploy.md's failover figures and what the buffering costs. For each compose CLI installed
(`docker-compose` 1.29, `docker compose` v2) and each variant, one after the other on the image
`pairscore:latest` (build it first: docs/deploy.md step 0):
  buffer+retry  docker-compose.yml as shipped (each request read whole by Traefik, then resent on a 502)
  retry         the same with the router's middlewares set to the retry alone (an override file)

Per run: `up -d`, wait until Traefik routes; then 100 clients that stop 4 bytes into their body,
while 20 normal requests are sent, and 20 more once they have hung up (their statuses); then
8 clients each posting 16 real SNLI pairs (snli/validation, the shared data) for --duration s,
one replica `docker kill`ed at --kill-at s: requests, failed, and the answers' p50 / p99 / max; then `down`.
Prints a table and writes benchmarks/out/compose_failover.json. About a minute per run.

    python -m benchmarks.compose_failover [--duration 15] [--kill-at 5]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import latency_ms
from pairscore.specs import load_pairs
from service.serve import REPO, free_port, poll_ready

OUT = REPO / "benchmarks" / "out"
CLIENTS, PAIRS_PER_REQUEST = 8, 16  # tests/container/test_compose.py's load
RETRY_ONLY = "services:\n  pairscore:\n    labels:\n      traefik.http.routers.pairscore.middlewares: pairscore-retry\n"


def clis() -> dict[str, list[str]]:
    found = {}
    if shutil.which("docker-compose"):
        found["1.29"] = ["docker-compose"]
    if subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        found["v2"] = ["docker", "compose"]
    return found


def run(argv: list[str], env: dict[str, str] | None = None) -> str:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done.stdout


def replicas(project: str) -> list[str]:
    names = run(["docker", "ps", "--filter", f"label=com.docker.compose.project={project}", "--format", "{{.Names}}"])
    return sorted(name for name in names.split() if "pairscore" in name)


async def stalled_clients(url: str, key: str, body: dict) -> dict[str, list[int]]:
    host, port = httpx.URL(url).host, httpx.URL(url).port
    head = (
        f"POST /entailment HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {key}\r\nContent-Length: 1000\r\n\r\n"
    )
    held = [socket.create_connection((host, port)) for _ in range(100)]
    for sock in held:
        sock.sendall(head.encode() + b'{"pa')
    await asyncio.sleep(1)
    async with httpx.AsyncClient(base_url=url, timeout=30, headers={"Authorization": f"Bearer {key}"}) as http:
        during = [(await http.post("/entailment", json=body)).status_code for _ in range(20)]
        for sock in held:
            sock.close()
        await asyncio.sleep(0.5)
        after = [(await http.post("/entailment", json=body)).status_code for _ in range(20)]
    return {"during": during, "after": after}


async def load_with_kill(url: str, key: str, bodies: list[dict], victim: str, args: argparse.Namespace) -> dict:
    outcomes: collections.Counter = collections.Counter()
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    headers = {"Authorization": f"Bearer {key}"}
    started = time.monotonic()

    async def client(http: httpx.AsyncClient, index: int) -> None:
        i = index
        while time.monotonic() - started < args.duration:
            t0 = time.monotonic()
            try:
                outcome = str((await http.post("/entailment", json=bodies[i % len(bodies)])).status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            if outcome == "200":  # the answers' latency: a fast refusal would flatter it
                latencies.append(1000 * (time.monotonic() - t0))
            outcomes[outcome] += 1
            i += CLIENTS

    async def kill() -> None:
        await asyncio.sleep(args.kill_at)
        await asyncio.to_thread(run, ["docker", "kill", victim])

    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits, headers=headers) as http:
        await asyncio.gather(kill(), *(client(http, i) for i in range(CLIENTS)))
    ms = sorted(latencies)
    requests = sum(outcomes.values())
    return {
        "requests": requests,
        "failed": requests - outcomes["200"],
        "outcomes": dict(outcomes),
        **{key: round(value, 1) for key, value in latency_ms([t / 1000 for t in ms], (50, 99)).items()},
        "max_ms": round(ms[-1], 1),
        "answered_per_s": round(len(ms) / args.duration, 1),
    }


def one_run(cli: list[str], files: list[Path], bodies: list[dict], args: argparse.Namespace) -> dict[str, Any]:
    key = secrets.token_urlsafe(24)
    project = f"failover{os.getpid()}"
    url = f"http://127.0.0.1:{free_port()}"
    env = {
        **os.environ,
        "PAIRSCORE_PORT": url.removeprefix("http://"),
        "PROMETHEUS_PORT": f"127.0.0.1:{free_port()}",
        "PAIRSCORE_API_KEYS": key,
    }
    compose = [*cli, "-p", project, *(a for f in files for a in ("-f", str(f))), "--project-directory", str(REPO)]
    try:
        run([*compose, "up", "-d"], env)
        if poll_ready(url, 120) is None:
            raise SystemExit(f"Traefik on {url} did not route to the replicas within 120 s")
        time.sleep(3)  # both replicas in Traefik's rotation
        stalled = asyncio.run(stalled_clients(url, key, bodies[0]))
        kill = asyncio.run(load_with_kill(url, key, bodies, replicas(project)[-1], args))
    finally:
        subprocess.run([*compose, "down", "-v", "--remove-orphans", "-t", "10"], capture_output=True, env=env)
    return {"stalled": stalled, "kill": kill}


def markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| compose CLI | Traefik middlewares | stalled: answers while / after | a replica killed: requests "
        "| failed | answered: p50 | p99 | max | answers/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        k, s = r["kill"], r["stalled"]
        stalled = f"{s['during'].count(200)}/20 / {s['after'].count(200)}/20 answered"
        failed = ", ".join(f"{n} × {o}" for o, n in k["outcomes"].items() if o != "200") or "0"
        lines.append(
            f"| {r['cli']} | {r['variant']} | {stalled} | {k['requests']:,} | {failed} "
            f"| {k['p50_ms']} ms | {k['p99_ms']} ms | {k['max_ms']} ms | {k['answered_per_s']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds of load per run")
    parser.add_argument("--kill-at", type=float, default=5.0, help="second of the load at which a replica is killed")
    parser.add_argument("--out", type=Path, default=OUT / "compose_failover.json")
    args = parser.parse_args(argv)
    snli = [(p.text_a, p.text_b) for p in load_pairs("snli/validation[:200]", "entailment")]
    bodies = [
        {"pairs": [{"premise": a, "hypothesis": b} for a, b in snli[i : i + PAIRS_PER_REQUEST]]}
        for i in range(0, len(snli) - PAIRS_PER_REQUEST + 1, PAIRS_PER_REQUEST)
    ]
    results = []
    with tempfile.TemporaryDirectory() as folder:
        override = Path(folder) / "retry-only.yml"
        override.write_text(RETRY_ONLY)
        variants = {"buffer+retry": [REPO / "docker-compose.yml"], "retry": [REPO / "docker-compose.yml", override]}
        for name, cli in clis().items():
            for variant, files in variants.items():
                result = {"cli": name, "variant": variant, **one_run(cli, files, bodies, args)}
                print(json.dumps(result), flush=True)
                results.append(result)
    table = markdown(results)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"runs": results, "markdown": table}, indent=2) + "\n")
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
