"""Tail latency and memory under wrk (benchmarks/wrk.py), on servers side by side on 127.0.0.1, each with the default
limits and vector cache:
  before     with --baseline COMMIT: service/, pairscore/ and models/ of that commit (git archive; an older service
             may not read today's artifact format, and the models are the same size)
  default    this checkout as `make serve` runs it
  no-freeze  the same with PAIRSCORE_GC_FREEZE=0 (what gc.freeze() after loading does)
(--variants picks among the last two.) All servers start first, then:

  cells  CELLS below, each on every server in turn (drifting machine load hits them alike): --warmup s of wrk
         unmeasured, then --duration s measured; p50 / p99 / max latency, requests/s (ratio to `before`), non-2xx
         and socket errors, the worker's GC pauses over 20 ms while it ran, its RSS after.
  soak   /entailment, 1 pair, 32 connections for --soak s per server, one after the other, as consecutive --window s
         wrk runs: p99 and requests/s per window, the worker's RSS every second (growth = last sample - first), its
         GC pauses.

Request bodies are real pairs (SNLI validation, WikiQA answers); the warm-up puts their texts in the vector cache, so
the soak measures the serving path, not a filling cache. GC pauses come from the worker's /metrics (benchmarks/wrk.py);
a server without them (an older commit) shows n/a. ~10 min with the defaults and a baseline.

    python -m benchmarks.wrk_load --baseline 5c05e3f [--duration 10] [--soak 120]
    python -m benchmarks.wrk_load --variants default --soak 0        # cells only, ~2 min
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import harness, servers, wrk
from benchmarks.harness import md_table, relative
from benchmarks.targets import judge
from service.serve import LocalServer

VARIANTS = {  # this checkout's servers: name -> (label, env)
    "default": ("defaults, as `make serve` runs it", {}),
    "no-freeze": ("PAIRSCORE_GC_FREEZE=0 (no gc.freeze() after loading)", {"PAIRSCORE_GC_FREEZE": "0"}),
}
BEFORE = "before"  # the --baseline commit's server
CELLS = (  # (path, body kind of benchmarks.wrk.BODIES, connections): a new cell is a line here
    ("/entailment", "1 pair", 1),
    ("/entailment", "1 pair", 32),
    ("/entailment", "32 pairs", 1),
    ("/entailment", "32 pairs", 32),
    ("/rank", "100 answers", 1),
    ("/rank", "100 answers", 32),
    # the drop-in routes beside the native ones they equal (a server without the route, e.g. `before`, skips them)
    ("/predict", "1 pair, TEI", 1),
    ("/predict", "1 pair, TEI", 32),
    ("/embed", "1 text", 1),
    ("/embed", "1 text", 32),
    ("/v1/embeddings", "1 text, OpenAI", 1),
    ("/v1/embeddings", "1 text, OpenAI", 32),
    ("/v2/rerank", "100 answers, Cohere", 1),
    ("/v2/rerank", "100 answers, Cohere", 32),
)
SOAK = ("/entailment", "1 pair", 32)


@dataclass
class Variant:
    """One server to measure: a checkout of pairscore and the environment it runs with."""

    name: str
    label: str
    repo: Path
    commit: str
    models: Path
    env: dict[str, str] = field(default_factory=dict)


class RssSeries(threading.Thread):
    """The worker's RSS every `interval` s, with the time since start."""

    def __init__(self, server: LocalServer, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.server, self.interval, self.t0 = server, interval, time.perf_counter()
        self.samples: list[tuple[float, float]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.perf_counter() - self.t0, servers.worker_rss_mb(self.server)))
            self.halt.wait(self.interval)


def cell_name(path: str, kind: str, connections: int) -> str:
    return f"{path} {kind}, {connections} connection{'s' if connections > 1 else ''}"


def measure(args, exe: str, variants: list[Variant], bodies: dict[str, Path]) -> list[dict[str, Any]]:
    """All servers up at once; each cell on each server in turn; then the soaks, one server after the other."""
    launches = {v.name: servers.Launch(v.models, v.env, v.repo) for v in variants}
    with servers.running(launches, args.out.parent / "wrk_server", args.ready_timeout) as (up, ready):
        results = {
            v.name: {
                **asdict(v),
                "repo": relative(str(v.repo)),
                "models": relative(str(v.models)),
                "server_command": relative(" ".join(up[v.name].command)),
                "ready_s": ready[v.name],
                "rss_idle_mb": servers.worker_rss_mb(up[v.name]),
                "gc_metrics": wrk.gc_pauses(up[v.name].url) is not None,
                "cells": [],
            }
            for v in variants
        }
        for path, kind, connections in CELLS if args.cells else ():
            serving = {name: server for name, server in up.items() if wrk.serves(server, path, bodies[kind])}
            measured = wrk.measure_cell(exe, serving, path, kind, bodies[kind], connections, args.warmup, args.duration)
            for name, cell in measured.items():
                cell.update(name=cell_name(path, kind, connections), path=path, kind=kind, connections=connections)
                results[name]["cells"].append({**cell, "loadavg": os.getloadavg()[0]})
                print(f"[{name}] {cell['name']}: {cell_line(cell)}", flush=True)
        for v in variants if args.soak > 0 else ():
            print(f"[{v.name}] soak", flush=True)
            results[v.name]["soak"] = soak(args, exe, up[v.name], bodies)
    return list(results.values())


def soak(args, exe: str, server: LocalServer, bodies: dict[str, Path]) -> dict[str, Any]:
    path, kind, connections = SOAK
    series = RssSeries(server)
    series.start()
    windows = []
    gc0 = last = wrk.gc_pauses(server.url)
    try:
        for _ in range(max(1, round(args.soak / args.window))):
            window = wrk.run_wrk(exe, server.url + path, bodies[kind], connections, args.window)
            now = wrk.gc_pauses(server.url)
            window.update(gc=wrk.delta(now, last), t_end_s=time.perf_counter() - series.t0)
            window.update(rss_mb=servers.worker_rss_mb(server), requests_per_s=window["requests"] / window["seconds"])
            last = now
            windows.append(window)
            print(f"  soak {window['t_end_s']:5.0f} s: {cell_line(window)}", flush=True)
    finally:
        series.halt.set()
        series.join()
    rss = [r for _, r in series.samples]
    requests, seconds = sum(w["requests"] for w in windows), sum(w["seconds"] for w in windows)
    p99s = sorted(w["p99_ms"] for w in windows)
    return {
        "name": f"soak: {path} {kind}, {connections} connections, {seconds:.0f} s",
        "connections": connections,
        "window_s": args.window,
        "windows": windows,
        "rss_series": series.samples,
        "rss_start_mb": rss[0],
        "rss_end_mb": rss[-1],
        "rss_max_mb": max(rss),
        "rss_growth_mb": rss[-1] - rss[0],
        "requests": requests,
        "seconds": seconds,
        "requests_per_s": requests / seconds,
        "p99_ms_median_window": p99s[len(windows) // 2],
        "p99_ms_worst_window": p99s[-1],
        "max_ms": max(w["max_ms"] for w in windows),
        "non_2xx": sum(w["non_2xx"] for w in windows),
        "socket_errors": sum(w["socket_errors"] for w in windows),
        "gc": wrk.delta(last, gc0),
    }


def cell_line(c: dict[str, Any]) -> str:
    gc = c.get("gc")
    return (
        f"{c['requests_per_s']:.0f} req/s, p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} "
        f"max {c['max_ms']:.1f} ms, errors {c['non_2xx']}+{c['socket_errors']}, "
        f"GC pauses > 20 ms: {gc['over_20ms'] if gc else 'n/a'}, worker RSS {c['rss_mb']:.0f} MB"
    )


# ----------------------------------------------------------------------------- report


def pauses(gc: dict[str, float] | None) -> str:
    """Pauses over 20 ms (those whose own CPU time was over 20 ms) of all collections."""
    return "n/a" if gc is None else f"{gc['over_20ms']:.0f} ({gc['cpu_over_20ms']:.0f}) of {gc['collections']:.0f}"


def cells_by_key(result: dict[str, Any], name: str) -> dict[str, dict[str, Any]]:
    """A server's cells by key (path, body kind, connections): `/entailment 1 pair x32`."""
    variant = next((v for v in result["variants"] if v["name"] == name), {})
    return {f"{c['path']} {c['kind']} x{c['connections']}": c for c in variant.get("cells", [])}


def records(result: dict[str, Any], name: str = "default") -> dict[str, dict[str, Any]]:
    """The default server's cells and soak, keyed for the targets; req/s against `before` where it ran."""
    before = cells_by_key(result, BEFORE)
    found = {}
    for key, c in cells_by_key(result, name).items():
        was = before.get(key, {}).get("requests_per_s")
        extra = {"before_requests_per_s": was, "vs_before": c["requests_per_s"] / was if was else None}
        found[f"wrk:{key}"] = {**c, **extra}
    s = next((v.get("soak") for v in result["variants"] if v["name"] == name), None)
    if s:
        gc = {f"gc_{k}": v for k, v in (s.get("gc") or {}).items()}
        found["wrk:soak"] = {**s, **gc, "minutes": s["seconds"] / 60}
    return found


def cells_table(result: dict[str, Any]) -> str:
    base = cells_by_key(result, BEFORE)
    rows = []
    for path, kind, connections in CELLS:
        key = f"{path} {kind} x{connections}"
        for v in result["variants"]:
            c, b = cells_by_key(result, v["name"]).get(key), base.get(key)
            if c is None:
                continue
            ratio = f"{c['requests_per_s'] / b['requests_per_s']:.2f}×" if b and v["name"] != BEFORE else ""
            rows.append(
                [c["name"], v["name"], f"{c['p50_ms']:.2f}", f"{c['p99_ms']:.2f}", f"{c['max_ms']:.1f}"]
                + [f"{c['requests_per_s']:,.0f}", ratio, f"{c['non_2xx']} / {c['socket_errors']}"]
                + [pauses(c.get("gc")), f"{c['rss_mb']:.0f}"]
            )
    header = ["load", "server", "p50 ms", "p99 ms", "max ms", "req/s", "req/s vs before", "non-2xx / socket errors"]
    return md_table(header + ["GC pauses > 20 ms (CPU > 20 ms) of all", "worker RSS MB after"], rows)


def soak_table(result: dict[str, Any]) -> str:
    rows = [
        [
            v["name"],
            f"{s['seconds']:.0f} s, {s['requests']:,} requests",
            f"{s['requests_per_s']:,.0f}",
            f"{s['p99_ms_median_window']:.1f} / {s['p99_ms_worst_window']:.1f}",
            f"{s['max_ms']:.0f}",
            f"{s['rss_start_mb']:.0f} → {s['rss_end_mb']:.0f} ({s['rss_growth_mb']:+.1f}; max {s['rss_max_mb']:.0f})",
            pauses(s.get("gc")),
            f"{s['gc']['seconds']:.2f} / {s['gc']['cpu_seconds']:.2f}" if s.get("gc") else "n/a",
            f"{s['non_2xx']} / {s['socket_errors']}",
        ]
        for v in result["variants"]
        if (s := v.get("soak"))
    ]
    header = ["server", "soak", "req/s", "p99 ms (median / worst window)", "max ms", "worker RSS MB (growth)"]
    header += ["GC pauses > 20 ms (CPU > 20 ms) of all", "GC seconds wall / CPU", "non-2xx / socket errors"]
    return md_table(header, rows)


def markdown(result: dict[str, Any], mark: dict[str, str] | None = None) -> str:
    names = "; ".join(f"`{v['name']}`: `{v['commit']}`, {v['label']}" for v in result["variants"])
    busy = "; ".join(result.get("busy_before") or []) or "none over 20% CPU"
    text = (
        f"`{result['command']}`, {result['machine']['time_utc']}, on a shared 2-core VM (other agents' jobs may run "
        f"at the same time; busy before the run: {busy}; load average at start "
        f"{result['machine']['loadavg'][0]}). wrk {result['wrk_version']}, 1 thread, on the same cores as the "
        f"server. Servers: {names}. Each cell: {result['warmup']:g} s of wrk unmeasured, then "
        f"{result['duration']:g} s; the servers take turns cell by cell.\n\n"
    )
    rows = judge("wrk", records(result), mark)
    if rows:
        text += md_table(["target", "wanted", "measured", "met?"], rows) + "\n\n"
    text += cells_table(result)
    s = next((v["soak"] for v in result["variants"] if v.get("soak")), None)
    if s:
        text += (
            f"\n\nSoak: {s['name'].removeprefix('soak: ')}, one server after the other, as consecutive "
            f"{s['window_s']:g} s wrk runs (p99 per window); the worker's RSS every second "
            "(plot: `wrk_soak.png`).\n\n" + soak_table(result)
        )
    return text


def variants(args, before: Path | None) -> list[Variant]:
    """The --baseline commit's server first (where there is one), then this checkout's --variants."""
    commit = wrk.commit_of(harness.REPO)
    found = [Variant(BEFORE, "defaults, its own models", before, args.baseline, before / "models")] if before else []
    for name in args.variants:
        label, env = VARIANTS[name]
        found.append(Variant(name, label, harness.REPO, commit, args.models, env))
    return found


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "wrk_load")
    p.add_argument("--baseline", help="also serve service/, pairscore/ and models/ of this commit (server `before`)")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds of wrk before each cell")
    p.add_argument("--no-cells", dest="cells", action="store_false", help="the soak only")
    p.add_argument("--soak", type=float, default=120.0, help="soak seconds per server (default 120; 0: no soak)")
    p.add_argument("--window", type=float, default=10.0, help="soak window: seconds per wrk run")
    p.add_argument("--wrk", help="path of the wrk binary (default: wrk on PATH)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    args = harness.parse(p, argv, duration=2.0, warmup=1.0, soak=4.0, window=2.0, variants=["default"])
    exe = wrk.find_wrk(args.wrk)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    kinds = {kind for _, kind, _ in CELLS} | {SOAK[1]}
    bodies = wrk.write_bodies(harness.data_dir(args.data_dir), args.out.parent, kinds)
    settings = {"wrk_version": wrk.wrk_version(exe), "duration": args.duration, "warmup": args.warmup}
    with harness.measuring(args, **settings, soak_s=args.soak, models=relative(str(args.models))) as result:
        # the baseline serves its own commit's models: an older service may not read today's artifact format
        with wrk.checkout(args.baseline, ("service", "pairscore", "models")) as before:
            result["variants"] = measure(args, exe, variants(args, before), bodies)
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
