"""Tail latency and memory under wrk, a load generator in C that sends each request as soon as the last is answered.

Paced Python clients leave gaps between requests in which the server catches up, and
hide its tail (benchmarks/http_load.py); wrk does not. Servers, each on 127.0.0.1 with
the default limits and vector cache and a BENTOML_HOME of its own:
  before     with --baseline COMMIT: service/, pairscore/ and models/ of that commit (git archive; an
             older service may not read today's artifact format, and the models are the same size)
  default    this checkout as `make serve` runs it
  no-freeze  the same with PAIRSCORE_GC_FREEZE=0 (what gc.freeze() after loading does)
(--variants picks among the last two.) All servers start first, then:

  cells  /entailment with 1 and with 32 pairs per request, /rank with 100 answers, each
         at 1 and at 32 connections, on each server in turn (drifting machine load hits
         them alike): --warmup s of wrk unmeasured, then --duration s measured; p50 / p99
         / max latency, requests/s (ratio to `before`), non-2xx and socket errors, the
         worker's GC pauses over 20 ms while it ran, its RSS after.
  soak   /entailment, 1 pair, 32 connections for --soak s per server, one after the
         other, as consecutive --window s wrk runs: p99 and requests/s per window, the
         worker's RSS every second (growth = last sample - first), its GC pauses.

Request bodies are real pairs (SNLI validation, WikiQA answers), a pool per cell that
each connection walks in turn; the warm-up puts their texts in the vector cache, so the
soak measures the serving path, not a filling cache. GC pauses come from the worker's
pairscore_gc_pause_seconds / pairscore_gc_cpu_seconds histograms on /metrics
(service/gcstats.py): wall time over 20 ms, and of those, CPU time over 20 ms (the rest
waited for a core). A server without them (an older commit) shows n/a.

Needs wrk: `apt-get install -y wrk` (Debian/Ubuntu), `brew install wrk` (macOS). Writes
benchmarks/out/wrk_load.json (markdown included) and benchmarks/wrk_soak.png. ~10 min
with the defaults and a baseline.

    python benchmarks/wrk_load.py --baseline 5c05e3f [--duration 10] [--soak 120]
    python benchmarks/wrk_load.py --variants default --soak 0        # cells only, ~2 min
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx  # noqa: E402
import psutil  # noqa: E402

from benchmarks.common import (  # noqa: E402
    OUT_DIR,
    REPO,
    answer_pool,
    busy_processes,
    data_dir,
    load_pairs,
    machine,
    md_table,
    publish,
    versions,
)
from benchmarks.http_load import Server, free_port  # noqa: E402

BENCH = REPO / "benchmarks"
LUA = BENCH / "wrk_post.lua"
PLOT = BENCH / "wrk_soak.png"
INSTALL_HINT = (
    "wrk not found: install it (Debian/Ubuntu: `apt-get install -y wrk`; macOS: `brew install wrk`; "
    "or build https://github.com/wg/wrk) or pass --wrk PATH"
)
VARIANTS = {  # this checkout's servers: name -> (label, env)
    "default": ("defaults, as `make serve` runs it", {}),
    "no-freeze": ("PAIRSCORE_GC_FREEZE=0 (no gc.freeze() after loading)", {"PAIRSCORE_GC_FREEZE": "0"}),
}
BEFORE = "before"  # the --baseline commit's server
CELLS = (  # (body kind, path, connections)
    ("1 pair", "/entailment", 1),
    ("1 pair", "/entailment", 32),
    ("32 pairs", "/entailment", 1),
    ("32 pairs", "/entailment", 32),
    ("100 answers", "/rank", 1),
    ("100 answers", "/rank", 32),
)
SOAK = ("1 pair", "/entailment", 32)
LONG_PAUSE_S = 0.02  # a GC pause longer than this shows in a 1-pair request's p99


def find_wrk(explicit: str | None) -> str:
    found = explicit or shutil.which("wrk")
    if not found or not Path(found).exists():
        raise SystemExit(INSTALL_HINT)
    return found


def wrk_version(wrk: str) -> str:
    shown = subprocess.run([wrk, "-v"], capture_output=True, text=True)  # exits 1 after printing it
    words = (shown.stdout or shown.stderr).split()
    return words[1] if len(words) > 1 else "?"


# ----------------------------------------------------------------------------- bodies


def write_bodies(root: Path, out: Path) -> dict[str, Path]:
    """One file per body kind, one JSON body per line (what wrk_post.lua sends in turn).

    "32 paraphrase pairs" (Twitter URL, for /paraphrase) serves benchmarks/model_speed.py.
    """
    pairs = load_pairs(root, "snli", limit=4096, seed=1)
    texts = load_pairs(root, "twitter_url", limit=4096, seed=1)
    questions, answers = answer_pool(root)
    rng = random.Random(0)
    kinds = {
        "1 pair": [{"pairs": [{"premise": a, "hypothesis": b}]} for a, b in pairs[:2048]],
        "32 pairs": [
            {"pairs": [{"premise": a, "hypothesis": b} for a, b in pairs[i : i + 32]]} for i in range(0, 4096, 32)
        ],
        "32 paraphrase pairs": [
            {"pairs": [{"text_a": a, "text_b": b} for a, b in texts[i : i + 32]]} for i in range(0, len(texts) - 31, 32)
        ],
        "100 answers": [
            {"question": questions[i], "answers": answers[start : start + 100]}
            for i, start in enumerate(rng.randrange(0, len(answers) - 100) for _ in range(64))
        ],
    }
    files = {}
    for kind, bodies in kinds.items():
        path = out / f"wrk_bodies_{kind.replace(' ', '_')}.txt"
        path.write_text("".join(json.dumps(b) + "\n" for b in bodies))
        files[kind] = path
    return files


# ----------------------------------------------------------------------------- measuring


def run_wrk(wrk: str, url: str, bodies: Path, connections: int, seconds: float) -> dict[str, Any]:
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(LUA),
        url,
        "--",
        str(bodies),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line[len("WRK_JSON ") :])
    lat, seconds_run = raw["latency_us"], raw["duration_us"] / 1e6
    errors = raw["errors"]
    return {
        "requests": raw["requests"],
        "seconds": seconds_run,
        "requests_per_s": raw["requests"] / seconds_run,
        "p50_ms": lat["p50"] / 1000,
        "p90_ms": lat["p90"] / 1000,
        "p99_ms": lat["p99"] / 1000,
        "p999_ms": lat["p999"] / 1000,
        "max_ms": lat["max"] / 1000,
        "mean_ms": lat["mean"] / 1000,
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }


def gc_pauses(url: str) -> dict[str, float] | None:
    """The worker's collections so far, summed over generations; None from a server without the metrics.

    collections; over_20ms (wall-clock pauses over 20 ms); cpu_over_20ms (of those, the collector's
    own CPU time over 20 ms; the rest waited for a core); seconds (wall) and cpu_seconds in GC.
    """
    text = httpx.get(f"{url}/metrics", timeout=30).text

    def histogram(family: str) -> tuple[dict[str, float], float]:
        buckets: dict[str, float] = {}
        for m in re.finditer(rf"^{family}_bucket\{{([^}}]*)\}} ([0-9.e+]+)$", text, re.M):
            le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
            buckets[le] = buckets.get(le, 0.0) + float(m.group(2))
        total = sum(float(x) for x in re.findall(rf"^{family}_sum\{{[^}}]*\}} ([0-9.e+]+)$", text, re.M))
        return buckets, total

    wall, wall_s = histogram("pairscore_gc_pause_seconds")
    cpu, cpu_s = histogram("pairscore_gc_cpu_seconds")
    if "+Inf" not in wall or "+Inf" not in cpu:
        return None
    edge = str(LONG_PAUSE_S)
    return {
        "collections": wall["+Inf"],
        "over_20ms": wall["+Inf"] - wall[edge],
        "cpu_over_20ms": cpu["+Inf"] - cpu[edge],
        "seconds": wall_s,
        "cpu_seconds": cpu_s,
    }


def delta(after: dict[str, float] | None, before: dict[str, float] | None) -> dict[str, float] | None:
    if after is None or before is None:
        return None
    return {k: after[k] - before[k] for k in after}


def worker_rss(server: Server) -> float:
    """RSS (MB) of the worker process(es) that run the service code."""
    total = 0
    for pid in server.worker_pids():
        try:
            total += psutil.Process(pid).memory_info().rss
        except psutil.Error:
            pass
    return total / 2**20


class RssSeries(threading.Thread):
    """The worker's RSS every `interval` s, with the time since start."""

    def __init__(self, server: Server, interval: float = 1.0) -> None:
        super().__init__(daemon=True)
        self.server, self.interval = server, interval
        self.samples: list[tuple[float, float]] = []
        self.stop_event = threading.Event()
        self.t0 = time.perf_counter()

    def run(self) -> None:
        while not self.stop_event.is_set():
            self.samples.append((time.perf_counter() - self.t0, worker_rss(self.server)))
            self.stop_event.wait(self.interval)


@dataclass
class Variant:
    """One server to measure: a checkout of pairscore and the environment it runs with."""

    name: str
    label: str
    repo: Path
    commit: str
    env: dict[str, str] = field(default_factory=dict)
    models: Path | None = None  # the model folders it serves (default: --models)


def commit_of(repo: Path) -> str:
    """HEAD, and whether the served code (service/, pairscore/) differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "service", "pairscore"], cwd=repo, capture_output=True, text=True
    )
    return (head.stdout.strip() or "?") + (" + uncommitted changes to the served code" if dirty.stdout.strip() else "")


@contextmanager
def baseline_checkout(commit: str | None, paths: tuple[str, ...] = ("service", "pairscore")) -> Iterator[Path | None]:
    """`paths` of `commit` (this clone's history) in a temporary folder, or None without a commit.

    The served code by default; benchmarks/model_speed.py takes models/ alone, to serve an older release's
    models with this checkout's code.
    """
    if not commit:
        yield None
        return
    archive = subprocess.run(["git", "archive", commit, *paths], cwd=REPO, capture_output=True)
    if archive.returncode != 0:
        raise SystemExit(
            f"git archive {commit}: {archive.stderr.decode().strip()} "
            "(a shallow clone may lack it: git fetch --unshallow)"
        )
    folder = Path(tempfile.mkdtemp(prefix=f"pairscore-{commit}-"))
    try:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def measure(args, wrk: str, variants: list[Variant], bodies: dict[str, Path], out: Path) -> list[dict[str, Any]]:
    """All servers up at once; each cell runs on each server in turn (drifting machine load hits all alike);
    then the soaks, one server after the other."""
    servers: dict[str, Server] = {}
    results = {v.name: {**asdict(v), "repo": str(v.repo), "cells": []} for v in variants}
    homes = tempfile.TemporaryDirectory(prefix="wrk-bentoml-home-")
    try:
        for v in variants:
            # a BENTOML_HOME each: a starting server empties its home's Prometheus folder, other servers' metrics too
            env = {**v.env, "BENTOML_HOME": str(Path(homes.name) / v.name)}
            models = v.models or Path(args.models)
            server = Server(models, free_port(), out / f"wrk_server_{v.name}.log", env=env, repo=v.repo)
            servers[v.name] = server
            results[v.name]["server_command"] = server.command
            results[v.name]["ready_s"] = server.wait_ready(args.ready_timeout)
            results[v.name]["rss_idle_mb"] = worker_rss(server)
            results[v.name]["gc_metrics"] = gc_pauses(server.url) is not None
        for kind, path, connections in CELLS if args.cells else ():
            for v in variants:
                server = servers[v.name]
                url = server.url + path
                run_wrk(wrk, url, bodies[kind], connections, args.warmup)
                before = gc_pauses(server.url)
                cell = run_wrk(wrk, url, bodies[kind], connections, args.duration)
                cell.update(
                    {
                        "name": f"{path} {kind}, {connections} connection{'s' if connections > 1 else ''}",
                        "path": path,
                        "kind": kind,
                        "connections": connections,
                        "gc": delta(gc_pauses(server.url), before),
                        "rss_mb": worker_rss(server),
                        "loadavg": os.getloadavg()[0],
                    }
                )
                results[v.name]["cells"].append(cell)
                print(cell_line(v.name, cell), flush=True)
        for v in variants if args.soak > 0 else ():
            print(f"[{v.name}] soak", flush=True)
            results[v.name]["soak"] = soak(args, wrk, servers[v.name], bodies)
    finally:
        for server in servers.values():
            server.stop()
        homes.cleanup()
    return list(results.values())


def soak(args, wrk: str, server: Server, bodies: dict[str, Path]) -> dict[str, Any]:
    kind, path, connections = SOAK
    series = RssSeries(server)
    series.start()
    windows = []
    gc0 = last = gc_pauses(server.url)
    try:
        for _ in range(max(1, round(args.soak / args.window))):
            window = run_wrk(wrk, server.url + path, bodies[kind], connections, args.window)
            now = gc_pauses(server.url)
            window["gc"] = delta(now, last)
            window["t_end_s"] = time.perf_counter() - series.t0
            window["rss_mb"] = worker_rss(server)
            last = now
            windows.append(window)
            print(
                f"  soak {window['t_end_s']:5.0f} s: p99 {window['p99_ms']:.1f} ms, max {window['max_ms']:.0f} ms, "
                f"{window['requests_per_s']:.0f} req/s, RSS {window['rss_mb']:.0f} MB, "
                f"GC pauses > 20 ms: {window['gc']['over_20ms'] if window['gc'] else 'n/a'}",
                flush=True,
            )
    finally:
        series.stop_event.set()
        series.join()
    rss = [r for _, r in series.samples]
    requests = sum(w["requests"] for w in windows)
    seconds = sum(w["seconds"] for w in windows)
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
        "p99_ms_median_window": sorted(w["p99_ms"] for w in windows)[len(windows) // 2],
        "p99_ms_worst_window": max(w["p99_ms"] for w in windows),
        "max_ms": max(w["max_ms"] for w in windows),
        "non_2xx": sum(w["non_2xx"] for w in windows),
        "socket_errors": sum(w["socket_errors"] for w in windows),
        "gc": delta(last, gc0),
    }


def cell_line(name: str, c: dict[str, Any]) -> str:
    gc = c.get("gc")
    return (
        f"[{name}] {c['name']}: {c['requests_per_s']:.0f} req/s, p50 {c['p50_ms']:.2f} p99 {c['p99_ms']:.2f} "
        f"max {c['max_ms']:.1f} ms, errors {c['non_2xx']}+{c['socket_errors']}, "
        f"GC pauses > 20 ms: {gc['over_20ms'] if gc else 'n/a'}, worker RSS {c['rss_mb']:.0f} MB"
    )


# ----------------------------------------------------------------------------- report


def pauses(gc: dict[str, float] | None) -> str:
    """Pauses over 20 ms (those whose own CPU time was over 20 ms) of all collections."""
    return "n/a" if gc is None else f"{gc['over_20ms']:.0f} ({gc['cpu_over_20ms']:.0f}) of {gc['collections']:.0f}"


def variant(result: dict[str, Any], name: str) -> dict[str, Any] | None:
    return next((v for v in result["variants"] if v["name"] == name), None)


def find_cell(v: dict[str, Any] | None, path: str, kind: str, connections: int) -> dict[str, Any] | None:
    cells = (v or {}).get("cells", [])
    return next((c for c in cells if (c["path"], c["kind"], c["connections"]) == (path, kind, connections)), None)


def cells_table(result: dict[str, Any]) -> str:
    base = variant(result, BEFORE)
    rows = []
    for kind, path, connections in CELLS:
        for v in result["variants"]:
            c = find_cell(v, path, kind, connections)
            if c is None:
                continue
            b = find_cell(base, path, kind, connections)
            ratio = f"{c['requests_per_s'] / b['requests_per_s']:.2f}×" if b and v is not base else ""
            rows.append(
                [
                    c["name"],
                    v["name"],
                    f"{c['p50_ms']:.2f}",
                    f"{c['p99_ms']:.2f}",
                    f"{c['max_ms']:.1f}",
                    f"{c['requests_per_s']:,.0f}",
                    ratio,
                    f"{c['non_2xx']} / {c['socket_errors']}",
                    pauses(c.get("gc")),
                    f"{c['rss_mb']:.0f}",
                ]
            )
    return md_table(
        [
            "load",
            "server",
            "p50 ms",
            "p99 ms",
            "max ms",
            "req/s",
            "req/s vs before",
            "non-2xx / socket errors",
            "GC pauses > 20 ms (CPU > 20 ms) of all",
            "worker RSS MB after",
        ],
        rows,
    )


def soak_table(result: dict[str, Any]) -> str:
    rows = []
    for v in result["variants"]:
        s = v.get("soak")
        if not s:
            continue
        rows.append(
            [
                v["name"],
                f"{s['seconds']:.0f} s, {s['requests']:,} requests",
                f"{s['requests_per_s']:,.0f}",
                f"{s['p99_ms_median_window']:.1f} / {s['p99_ms_worst_window']:.1f}",
                f"{s['max_ms']:.0f}",
                f"{s['rss_start_mb']:.0f} → {s['rss_end_mb']:.0f} "
                f"({s['rss_growth_mb']:+.1f}; max {s['rss_max_mb']:.0f})",
                pauses(s.get("gc")),
                f"{s['gc']['seconds']:.2f} / {s['gc']['cpu_seconds']:.2f}" if s.get("gc") else "n/a",
                f"{s['non_2xx']} / {s['socket_errors']}",
            ]
        )
    return md_table(
        [
            "server",
            "soak",
            "req/s",
            "p99 ms (median / worst window)",
            "max ms",
            "worker RSS MB (growth)",
            "GC pauses > 20 ms (CPU > 20 ms) of all",
            "GC seconds wall / CPU",
            "non-2xx / socket errors",
        ],
        rows,
    )


def targets(result: dict[str, Any], name: str = "default") -> list[list[str]]:
    """The serving targets, on this checkout's default server, ratios against --baseline in the same run."""

    def met(ok: bool | None) -> str:
        return "n/a" if ok is None else ("yes" if ok else "**no**")

    rows: list[list[str]] = []
    v, base = variant(result, name), variant(result, BEFORE)
    one = find_cell(v, "/entailment", "1 pair", 1)
    if one:
        rows.append(["1 connection, 1 pair: p99", "≤ 3 ms", f"{one['p99_ms']:.2f} ms", met(one["p99_ms"] <= 3)])
        rows.append(["… max", "≤ 20 ms", f"{one['max_ms']:.1f} ms", met(one["max_ms"] <= 20)])
    many = find_cell(v, "/entailment", "1 pair", 32)
    if many:
        rows.append(["32 connections, 1 pair: p99", "≤ 100 ms", f"{many['p99_ms']:.1f} ms", met(many["p99_ms"] <= 100)])
        was = find_cell(base, "/entailment", "1 pair", 32)
        ratio = many["requests_per_s"] / was["requests_per_s"] if was else None
        rows.append(
            [
                "… req/s vs before (same run)",
                "≥ 1.15×",
                f"{ratio:.2f}× ({many['requests_per_s']:,.0f} vs {was['requests_per_s']:,.0f})"
                if was
                else f"{many['requests_per_s']:,.0f} (no --baseline server in this run)",
                met(None if ratio is None else ratio >= 1.15),
            ]
        )
    s = (v or {}).get("soak")
    if s:
        rows.append(
            [
                f"{s['seconds'] / 60:.0f}-minute soak at 32 connections: worker RSS growth",
                "≤ 20 MB",
                f"{s['rss_growth_mb']:+.1f} MB ({s['rss_start_mb']:.0f} → {s['rss_end_mb']:.0f})",
                met(s["rss_growth_mb"] <= 20),
            ]
        )
        gc = s.get("gc")
        rows.append(
            [
                "… GC pauses over 20 ms",
                "0",
                f"{gc['over_20ms']:.0f} of {gc['collections']:.0f} collections "
                f"({gc['cpu_over_20ms']:.0f} with over 20 ms of CPU)"
                if gc
                else "n/a",
                met(None if gc is None else gc["over_20ms"] == 0),
            ]
        )
    return rows


def markdown(result: dict[str, Any]) -> str:
    servers = "; ".join(f"`{v['name']}`: `{v['commit']}`, {v['label']}" for v in result["variants"])
    busy = "; ".join(result.get("busy_before") or []) or "none over 20% CPU"
    text = (
        f"`{result['command']}`, {result['machine']['time_utc']}, on a shared 2-core VM (other agents' jobs may run "
        f"at the same time; busy before the run: {busy}; load average at start "
        f"{result['machine']['loadavg'][0]}). wrk {result['wrk_version']}, 1 thread, on the same cores as the "
        f"server. Servers: {servers}. Each cell: {result['warmup']:g} s of wrk unmeasured, then "
        f"{result['duration']:g} s; the servers take turns cell by cell.\n\n"
    )
    rows = targets(result)
    if rows:
        text += md_table(["target", "wanted", "measured", "met?"], rows) + "\n\n"
    text += cells_table(result)
    if any(v.get("soak") for v in result["variants"]):
        s = next(v["soak"] for v in result["variants"] if v.get("soak"))
        text += (
            f"\n\nSoak: {s['name'].removeprefix('soak: ')}, one server after the other, as consecutive "
            f"{s['window_s']:g} s wrk runs (p99 per window); the worker's RSS every second "
            f"(plot: `{PLOT.name}`).\n\n" + soak_table(result)
        )
    return text


def plot_soak(result: dict[str, Any], path: Path = PLOT) -> Path | None:
    """Worker RSS and p99 per window over the soak, one line per server."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    soaks = [(f"{v['name']} ({v['commit'].split()[0]})", v["soak"]) for v in result["variants"] if v.get("soak")]
    if not soaks:
        return None
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
    for name, s in soaks:
        t0 = s["rss_series"][0][0]
        line = top.plot([t - t0 for t, _ in s["rss_series"]], [r for _, r in s["rss_series"]], label=name)[0]
        bottom.plot(
            [w["t_end_s"] - t0 for w in s["windows"]], [w["p99_ms"] for w in s["windows"]], "o-", color=line.get_color()
        )
    top.set_ylabel("worker RSS (MB)")
    top.set_title("soak: /entailment, 1 pair, 32 connections (wrk)")
    top.grid(alpha=0.3)
    top.legend(fontsize=8)
    bottom.axhline(100, color="grey", lw=0.8, ls=":")
    bottom.set_yscale("log")
    bottom.yaxis.set_major_formatter(ScalarFormatter())
    bottom.yaxis.set_minor_formatter(ScalarFormatter())
    bottom.set_ylabel(f"p99 per {soaks[0][1]['window_s']:g} s window (ms, log)")
    bottom.set_xlabel("seconds into the soak")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- main


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=str(REPO / "models"), help="folder with the three model folders")
    p.add_argument("--data-dir", help="data folder (default: $PAIRSCORE_DATA_DIR, else ../shared/data)")
    p.add_argument(
        "--baseline", help="also serve service/ and pairscore/ of this commit (server `before`), for same-run ratios"
    )
    p.add_argument("--repo", default=str(REPO), help="the pairscore checkout whose variants to serve (default: this)")
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell (default 10)")
    p.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds of wrk before each cell")
    p.add_argument("--no-cells", dest="cells", action="store_false", help="the soak only")
    p.add_argument("--soak", type=float, default=120.0, help="soak seconds per server (default 120; 0: no soak)")
    p.add_argument("--window", type=float, default=10.0, help="soak window: seconds per wrk run")
    p.add_argument("--wrk", help="path of the wrk binary (default: wrk on PATH)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    p.add_argument("--out", default=str(OUT_DIR / "wrk_load.json"))
    p.add_argument("--plot", default=str(PLOT), help="soak plot (PNG); '' for none")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    wrk = find_wrk(args.wrk)
    out = Path(args.out).parent
    out.mkdir(parents=True, exist_ok=True)
    bodies = write_bodies(data_dir(args.data_dir), out)
    repo = Path(args.repo).resolve()
    shown = [Path(sys.argv[0]).name if argv is None else "wrk_load.py", *(sys.argv[1:] if argv is None else argv)]
    result: dict[str, Any] = {
        "command": "python benchmarks/" + " ".join(shown),
        "machine": machine(),
        "busy_before": busy_processes(exclude={os.getpid()}),
        "versions": versions(),
        "wrk_version": wrk_version(wrk),
        "duration": args.duration,
        "warmup": args.warmup,
        "soak_s": args.soak,
        "models": str(Path(args.models).resolve()),
    }
    # the baseline serves its own commit's models: an older service may not read today's artifact format
    with baseline_checkout(args.baseline, ("service", "pairscore", "models")) as before:
        variants = (
            [Variant(BEFORE, "defaults, its own models", before, args.baseline, models=before / "models")]
            if before
            else []
        )
        variants += [Variant(n, VARIANTS[n][0], repo, commit_of(repo), VARIANTS[n][1]) for n in args.variants]
        try:
            result["variants"] = measure(args, wrk, variants, bodies, out)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130
    result["markdown"] = markdown(result)
    publish(result, Path(args.out))
    if args.plot:
        print(f"wrote {plot_soak(result, Path(args.plot))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
