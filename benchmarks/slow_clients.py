"""Stalled request bodies against a normal client: its status and latency, and what the stalled ones get.

Issue 28's trial on loopback: N connections each send a `POST /entailment` request line, headers
(`Content-Length: 1000`) and the first 4 bytes of the body, then stop. While they hang, a normal
client sends 1-pair `/entailment` requests one after another. Servers, each started by
service/serve.py's launcher on 127.0.0.1 with the default limits and the shipped models
(`--models`), one after the other:
  before  with --baseline COMMIT: service/ and pairscore/ of that commit (git archive)
  after   this checkout

Per server: the normal client's latency alone (--normal requests after a warm-up), then with the
stalled connections open, the same count again: statuses, p50 / p99 / max; then each stalled
connection's answer (status, and seconds from its headers to the answer; `none` when the server
closed the connection without one, `open` when nothing came within --wait s). Writes
benchmarks/out/slow_clients.json (the table included). About a minute per server: the old server
holds each stalled request for 40 s.

    python -m benchmarks.slow_clients --baseline ce1e405 [--stalled 90] [--normal 30]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.harness import latency_ms
from benchmarks.wrk import checkout
from service.serve import REPO, start

OUT = REPO / "benchmarks" / "out"
PAIR = {"pairs": [{"premise": "A man is playing a guitar.", "hypothesis": "A person plays music."}]}
STALLED = (
    b"POST /entailment HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    b'{"pa'  # 4 of the 1,000 bytes declared
)


async def stall(host: str, port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, float]:
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(STALLED)
    await writer.drain()
    return reader, writer, time.perf_counter()


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, sent: float, wait: float) -> dict:
    """The stalled connection's status, `none` (closed without an answer) or `open` (nothing within `wait` s)."""
    try:
        line = await asyncio.wait_for(reader.readline(), wait)
        status = line.split()[1].decode() if line.startswith(b"HTTP/") else "none"
    except asyncio.TimeoutError:
        status = "open"
    except ConnectionError:
        status = "none"
    took = time.perf_counter() - sent
    writer.close()
    return {"status": status, "s": took}


async def normal(http: httpx.AsyncClient, count: int) -> list[tuple[str, float]]:
    results = []
    for _ in range(count):
        t0 = time.perf_counter()
        try:
            status = str((await http.post("/entailment", json=PAIR)).status_code)
        except httpx.HTTPError as exc:
            status = type(exc).__name__
        results.append((status, 1000 * (time.perf_counter() - t0)))
    return results


def latency(results: list[tuple[str, float]]) -> dict[str, Any]:
    ms = [t for _, t in results]
    return {
        "statuses": dict(collections.Counter(s for s, _ in results)),
        **latency_ms([t / 1000 for t in ms], (50, 99)),
        "max_ms": max(ms),
    }


async def trial(url: str, stalled: int, count: int, wait: float) -> dict[str, Any]:
    host, port = httpx.URL(url).host, httpx.URL(url).port
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        await normal(http, 20)  # warm-up
        alone = latency(await normal(http, count))
        held = await asyncio.gather(*(stall(host, port) for _ in range(stalled)))
        await asyncio.sleep(0.5)  # every stalled request has reached the server
        during = latency(await normal(http, count))
        answers = await asyncio.gather(*(answer(r, w, t, wait) for r, w, t in held))
    seconds = sorted(a["s"] for a in answers if a["status"] not in ("open", "none"))
    return {
        "alone": alone,
        "during": during,
        "stalled": {
            "statuses": dict(collections.Counter(a["status"] for a in answers)),
            "median_s": float(np.median(seconds)) if seconds else None,
            "max_s": seconds[-1] if seconds else None,
        },
    }


def measure(name: str, label: str, working_dir: Path, args: argparse.Namespace, home: Path) -> dict[str, Any]:
    server = start(Path(args.models), OUT / f"slow_clients_{name}.log", {"BENTOML_HOME": str(home)}, working_dir)
    try:
        server.wait_ready(120)
        result = asyncio.run(trial(server.url, args.stalled, args.normal, args.wait))
    finally:
        server.stop()
    return {"name": name, "code": label, **result}


def statuses(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} × {s}" for s, n in sorted(counts.items()))


def markdown(result: dict[str, Any]) -> str:
    lines = [
        f"{result['stalled']} connections stall after 4 bytes of a 1,000-byte `/entailment` body; meanwhile "
        f"{result['normal']} normal 1-pair `/entailment` requests, one after another:",
        "",
        "| server | normal, alone: p50 / p99 | normal, while stalled: answers | p50 / p99 / max "
        "| stalled: answers | after (median / max) |",
        "|---|---|---|---|---|---|",
    ]
    for r in result["servers"]:
        a, d, s = r["alone"], r["during"], r["stalled"]
        after = "—" if s["median_s"] is None else f"{s['median_s']:.1f} s / {s['max_s']:.1f} s"
        lines.append(
            f"| {r['name']} ({r['code']}) | {a['p50_ms']:.1f} / {a['p99_ms']:.1f} ms | {statuses(d['statuses'])} "
            f"| {d['p50_ms']:.1f} / {d['p99_ms']:.1f} / {d['max_ms']:.1f} ms | {statuses(s['statuses'])} | {after} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", help="commit to measure as `before` (its service/ and pairscore/)")
    parser.add_argument("--models", default=str(REPO / "models"), help="model folders both servers serve")
    parser.add_argument("--stalled", type=int, default=90, help="stalled connections")
    parser.add_argument("--normal", type=int, default=30, help="normal requests alone, and again while stalled")
    parser.add_argument("--wait", type=float, default=60, help="seconds a stalled connection waits for its answer")
    parser.add_argument("--out", type=Path, default=OUT / "slow_clients.json")
    args = parser.parse_args(argv)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    result: dict[str, Any] = {"stalled": args.stalled, "normal": args.normal, "servers": []}
    with tempfile.TemporaryDirectory(prefix="slow-clients-home-") as homes:
        if args.baseline:
            with checkout(args.baseline, ("service", "pairscore")) as before:
                result["servers"].append(measure("before", args.baseline, before, args, Path(homes) / "before"))
        label = f"{head.stdout.strip()} + working tree"
        result["servers"].append(measure("after", label, REPO, args, Path(homes) / "after"))
    result["markdown"] = markdown(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(result["markdown"])
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
