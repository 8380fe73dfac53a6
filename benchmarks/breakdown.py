"""Where each millisecond of a served request goes (issue 27), before and now: the worker's CPU per request, split by
py-spy's samples into HTTP, JSON and validation, BentoML's dispatch, tokenization, buckets and padding, the encoder,
the head and the rest.

Three servers side by side, the vector cache off, on the same models: this checkout's service, the same with
BentoML's OpenTelemetry spans on (PAIRSCORE_TRACING=1, what the service did before), and --baseline's (by default
the commit before issue 27's engine and serving changes). Each cell is wrk on /entailment (1 pair per request
and 1 connection; 32 pairs and 8 connections), taken in the order A B C C B A; while it runs, py-spy samples the worker
and psutil counts its CPU seconds; the shares of the busy samples (benchmarks/pyspy_breakdown.py's classifier,
which says what counts as idle) split the worker's CPU time. py-spy cannot tell a runnable thread from one on a core
either, so a share is of the time a category's threads were busy or ready, not only on a core. Last, each server in
turn gets --burst seconds of 32 pairs × 8 connections and then 1 pair × 1 connection: whether the batcher holds a
lone request back after a burst.

    python -m benchmarks.breakdown [--models models] [--seconds 8] [--burst 12] [--baseline ce1e405]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness, servers
from benchmarks.harness import md_table, relative
from benchmarks.pyspy_breakdown import IDLE, ORDER, counts
from benchmarks.wrk import checkout, commit_of, find_wrk, run_wrk, summarize, write_bodies
from service.serve import LocalServer

BASELINE = "ce1e405"  # the last commit before issue 27's engine (length buckets, threads) and serving changes
CELLS = (("1 pair", 1), ("32 pairs", 8))  # (body kind of benchmarks.wrk.BODIES, connections)
PAIRS = {"1 pair": 1, "32 pairs": 32}
RATE = 250  # py-spy samples per second


def profile(server: LocalServer, seconds: float, raw: Path) -> subprocess.Popen:
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    worker = next(p for p in servers.tree(server) if servers.role(p) == "worker")
    cmd = [exe, "record", "--format", "raw", "--rate", str(RATE), "--nonblocking", "--pid", str(worker.pid)]
    return subprocess.Popen([*cmd, "--duration", str(int(seconds)), "-o", str(raw)], stdout=subprocess.DEVNULL)


def measure(
    wrk: str, name: str, server: LocalServer, body: Path, kind: str, connections: int, seconds: float, out: Path
):
    """One wrk run on one server with py-spy on its worker: wrk's figures, the worker's CPU s, py-spy's counts."""
    raw = out / f"breakdown_{name}_{kind.replace(' ', '_')}_{connections}.txt"
    procs = servers.tree(server)
    spy = profile(server, seconds + 3, raw)
    time.sleep(1.0)  # py-spy attaches; its samples outside wrk's run are idle ones
    cpu0 = servers.cpu_seconds(procs).get("worker", 0.0)
    run = run_wrk(wrk, server.url + "/entailment", body, connections, seconds)
    cpu = servers.cpu_seconds(procs).get("worker", 0.0) - cpu0
    spy.wait(60)
    return run, cpu, counts(raw)


def measure_cells(args, up: dict[str, LocalServer], bodies: dict[str, Path], out: Path) -> list[dict[str, Any]]:
    wrk = find_wrk(args.wrk)
    cells = []
    for kind, connections in CELLS:
        for server in up.values():
            run_wrk(wrk, server.url + "/entailment", bodies[kind], connections, 1)  # warm-up
        got: dict[str, list] = {name: [] for name in up}
        for turn in (list(up), list(up)[::-1]):
            for name in turn:
                got[name].append(measure(wrk, name, up[name], bodies[kind], kind, connections, args.seconds / 2, out))
        for name, runs in got.items():
            summary = summarize([r[0] for r in runs], PAIRS[kind])
            requests = max(1, summary["requests"])
            seen = {k: sum(r[2].get(k, 0) for r in runs) for k in [*ORDER, IDLE]}
            counted = sum(n for k, n in seen.items() if k != IDLE)
            share = {k: seen[k] / counted for k in ORDER} if counted else {}
            cpu_ms = 1000 * sum(r[1] for r in runs) / requests
            cells.append(
                {
                    "server": name,
                    "kind": kind,
                    "connections": connections,
                    **{k: v for k, v in summary.items() if k != "rounds"},
                    "worker_cpu_ms_per_request": cpu_ms,
                    "samples": seen,
                    "share": share,
                    "ms_per_request": {k: v * cpu_ms for k, v in share.items()},
                }
            )
    return cells


def after_burst(args, up: dict[str, LocalServer], bodies: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Per server, one after the other: BURST_S of 32 pairs × 8 connections, then 1 pair × 1 connection at once
    (whether the batcher holds a lone request back for what it learned in the burst)."""
    wrk, found = find_wrk(args.wrk), {}
    for name, server in up.items():
        run_wrk(wrk, server.url + "/entailment", bodies["32 pairs"], 8, args.burst)
        found[name] = run_wrk(wrk, server.url + "/entailment", bodies["1 pair"], 1, max(1.0, args.seconds / 2))
    return found


def records(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`breakdown:<kind>x<connections>`: now's dispatch share of the worker's CPU and its CPU per request."""
    found = {}
    for c in result.get("cells", []):
        if c["server"] == "now":
            found[f"breakdown:{PAIRS[c['kind']]}x{c['connections']}"] = {
                "dispatch_pct": 100 * c["share"].get("BentoML dispatch", 0.0),
                "cpu_ms": c["worker_cpu_ms_per_request"],
                "samples": sum(c["samples"].values()),
            }
    return found


def markdown(result: dict[str, Any]) -> str:
    cells = result.get("cells", [])
    heads = [f"{c['kind']} × {c['connections']}: {c['server']}" for c in cells]
    rows = [
        [k] + [f"{c['ms_per_request'].get(k, 0.0):.3f} ({100 * c['share'].get(k, 0.0):.0f}%)" for c in cells]
        for k in ORDER
        if any(c["share"].get(k) for c in cells)
    ]
    rows.append(["worker CPU ms per request"] + [f"{c['worker_cpu_ms_per_request']:.3f}" for c in cells])
    rows.append(["requests/s"] + [f"{c['requests_per_s']:,.0f}" for c in cells])
    rows.append(["p50 / p99 ms (wrk)"] + [f"{c['p50_ms']:.2f} / {c['p99_ms']:.2f}" for c in cells])
    rows.append(
        ["py-spy samples: counted / idle"]
        + [f"{sum(c['samples'].values()) - c['samples'][IDLE]} / {c['samples'][IDLE]}" for c in cells]
    )
    servers_line = f"now: {result['now']}; before: {result['before']}"
    return (
        "### Where a served request's time goes (benchmarks/breakdown.py)\n\n"
        f"/entailment under wrk, vector cache off; the worker's CPU ms per request by category (share of its CPU "
        f"time). {servers_line}.\n\n" + md_table(["", *heads], rows) + burst_table(result)
    )


def burst_table(result: dict[str, Any]) -> str:
    after = result.get("after_burst") or {}
    rows = [[name, r["requests"] / r["seconds"], r["p50_ms"], r["p99_ms"]] for name, r in after.items()]
    if not rows:
        return ""
    return (
        f"\n\n/entailment, 1 pair × 1 connection right after {result['burst_s']:g} s of 32 pairs × 8 connections "
        "(wrk):\n\n" + md_table(["server", "requests/s", "p50 ms", "p99 ms"], rows)
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "breakdown")
    p.add_argument("--seconds", type=float, default=8.0, help="measured seconds per cell and server")
    p.add_argument("--baseline", default=BASELINE, help="the commit whose service is `before` ('' for none)")
    p.add_argument("--wrk", help="the wrk binary (default: wrk on PATH)")
    p.add_argument("--burst", type=float, default=12.0, help="seconds of 32 pairs × 8 before the lone requests")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    args = harness.parse(p, argv, seconds=2.0, burst=2.0)
    root = harness.data_dir(args.data_dir)
    off = {"PAIRSCORE_CACHE_ENTRIES": "0"}
    with (
        tempfile.TemporaryDirectory(prefix="breakdown-") as tmp,
        checkout(args.baseline, ("service", "pairscore")) as old,
    ):
        out = Path(tmp)
        bodies = write_bodies(root, out, {kind for kind, _ in CELLS})
        launches = {"now": servers.Launch(args.models, off)}
        launches |= {"now, tracing on": servers.Launch(args.models, off | {"PAIRSCORE_TRACING": "1"})}
        launches |= {"before": servers.Launch(args.models, off, old)} if old else {}
        with harness.measuring(args, models=relative(str(args.models.resolve()))) as result:
            result["now"], result["before"] = commit_of(harness.REPO), args.baseline or "none"
            with servers.running(launches, out / "server", args.ready_timeout) as (up, _):
                result["cells"] = measure_cells(args, up, bodies, out)
                result["burst_s"], result["after_burst"] = args.burst, after_burst(args, up, bodies)
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
