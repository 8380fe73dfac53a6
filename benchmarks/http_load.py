"""HTTP load test: a real pairscore server on 127.0.0.1, driven with asyncio + httpx, then stopped.

Cells (each bounded by --duration seconds after a short warm-up), first on a server with the vector cache off
(PAIRSCORE_CACHE_ENTRIES=0: every text is new to the encoder, as for MiniLM), then on one with the default cache:
  cache off: /entailment, 1 pair per request and 32 pairs per request, at concurrency 1, 8, 32 (closed loop: each
      client sends its next request when the previous one is answered)
  cache off: /entailment, 1 and 32 pairs, at a fixed arrival rate (--rate requests/s, open loop: latency is
      measured from the scheduled send time, so queueing is counted)
  cache off: /rank with 1,000 answers at concurrency 1
  cache on: /rank with 1,000 new answers (WikiQA answers, each tagged with the request number, so none is in the
      cache: the miss path with its insertions and evictions)
  cache on: /rank with the same 1,000 answers every time and a new question each time (an FAQ pool)
Reports requests/s, pairs/s, p50/p95/p99 latency, error rate, the server's peak RSS (psutil over the server process
tree, sampled every 0.2 s) and CPU seconds per request of server and client. With --profile, py-spy samples the
server during the PROFILED cells and the stacks are split into tokenization, padding, onnx run, head,
JSON/validation, HTTP and batching (benchmarks/pyspy_breakdown.py).

    python -m benchmarks.http_load [--models models] [--duration 10] [--rate 20] [--profile]
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import psutil

from benchmarks import harness, pyspy_breakdown, servers
from benchmarks.harness import answer_pool, latency_ms, load_pairs, md_table, relative
from pairscore.settings import settings
from service.serve import LocalServer

NEW_RANK_BODIES = 160  # distinct tagged /rank bodies: more than a 10 s cell sends at ~10 req/s
PHASES = {"cache off": {"PAIRSCORE_CACHE_ENTRIES": "0"}, "cache on": {}}  # server env per phase (on: the defaults)
PROFILED = ("entailment1@1", "entailment32@8", "rank1000@1", "rank1000_repeat@1")  # cell keys
Bodies = dict[str, list[tuple[bytes, int]]]  # payload kind -> pre-serialized request bodies and the pairs in each


def payloads(root: Path) -> Bodies:
    """Pre-serialized request bodies (so the client spends little CPU) and the pairs in each."""
    pairs = load_pairs(root, "snli", seed=1)
    one = [(json.dumps({"pairs": [{"premise": a, "hypothesis": b}]}).encode(), 1) for a, b in pairs[:2048]]
    many = [
        (json.dumps({"pairs": [{"premise": a, "hypothesis": b} for a, b in pairs[i : i + 32]]}).encode(), 32)
        for i in range(0, 4096 - 32, 32)
    ]
    questions, answers = answer_pool(root)
    rng, faq = random.Random(0), questions[:256]

    def rank(question: str, texts: list[str]) -> tuple[bytes, int]:
        return json.dumps({"question": question, "answers": texts}).encode(), len(texts)

    starts = [rng.randrange(0, len(answers) - 1000) for _ in range(16 + NEW_RANK_BODIES)]
    pool = json.dumps(answers[:1000])
    return {
        "entailment1": one,
        "entailment32": many,
        "rank1000": [rank(questions[i], answers[s : s + 1000]) for i, s in enumerate(starts[:16])],
        "rank1000_new": [
            rank(questions[k % len(questions)], [f"{a} ( {k} )" for a in answers[s : s + 1000]])
            for k, s in enumerate(starts[16:])
        ],
        "rank1000_repeat": [(f'{{"question": {json.dumps(q)}, "answers": {pool}}}'.encode(), 1000) for q in faq],
    }


def plan(args) -> list[dict[str, Any]]:
    """The cells, in the order they run."""
    cells = []
    for kind in ("entailment1", "entailment32"):
        name, at = f"/entailment {kind[10:]} pair(s), ", {"kind": kind, "path": "/entailment", "phase": "cache off"}
        closed = [{"name": f"{name}concurrency {c}", "mode": "closed", "concurrency": c} for c in args.concurrency]
        cells += [{**c, **at} for c in closed]
        cells.append({"name": f"{name}{args.rate:g} req/s", "mode": "open", "rate": args.rate, **at})
    for kind, name, phase in (
        ("rank1000", "/rank 1000 answers, concurrency 1", "cache off"),
        ("rank1000_new", "/rank 1000 new answers, cache on, concurrency 1", "cache on"),
        ("rank1000_repeat", "/rank same 1000 answers, cache on, concurrency 1", "cache on"),
    ):
        cells.append({"name": name, "kind": kind, "path": "/rank", "mode": "closed", "concurrency": 1, "phase": phase})
    return [c for c in cells if not args.only or any(o in c["name"] for o in args.only)]


def key(cell: dict[str, Any]) -> str:
    """`kind@concurrency` (closed loop) or `kind@rate/s` (open loop): what targets and --profile name a cell by."""
    return f"{cell['kind']}@{cell['concurrency']}" if cell["mode"] == "closed" else f"{cell['kind']}@{cell['rate']:g}/s"


# ----------------------------------------------------------------------------- load


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.items = self.errors = 0
        self.statuses: dict[str, int] = {}

    def add(self, latency: float, status: str, items: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == "200":
            self.latencies.append(latency)
            self.items += items
        else:
            self.errors += 1

    def summary(self, wall: float) -> dict[str, Any]:
        n = len(self.latencies) + self.errors
        return {
            "requests": n,
            "ok": len(self.latencies),
            "requests_per_s": len(self.latencies) / wall,
            "pairs_per_s": self.items / wall,
            **latency_ms(self.latencies),
            "max_ms": 1000 * max(self.latencies, default=float("nan")),
            "errors": self.errors,
            "error_rate": self.errors / n if n else 0.0,
            "statuses": self.statuses,
            "seconds": wall,
        }


async def send(client: httpx.AsyncClient, path: str, body: bytes) -> str:
    try:
        response = await client.post(path, content=body, headers={"content-type": "application/json"})
        return str(response.status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


async def closed_loop(client, cell, bodies, duration: float, warmup: float) -> tuple[Recorder, float]:
    """`concurrency` clients, each sending its next request when its last is answered."""
    rec, counter = Recorder(), iter(range(10**9))
    t_measure = time.perf_counter() + warmup
    t_end = t_measure + duration

    async def worker() -> None:
        while (now := time.perf_counter()) < t_end:
            body, items = bodies[next(counter) % len(bodies)]
            status = await send(client, cell["path"], body)
            if now >= t_measure:
                rec.add(time.perf_counter() - now, status, items)

    await asyncio.gather(*(worker() for _ in range(cell["concurrency"])))
    return rec, time.perf_counter() - t_measure


async def open_loop(client, cell, bodies, duration: float, warmup: float, most: int = 512) -> tuple[Recorder, float]:
    """Requests sent at fixed times (`rate` per second) whatever the server does; latency counts from that time."""
    rec, tasks = Recorder(), set()
    t_start = time.perf_counter()
    t_measure = t_start + warmup

    async def one(k: int, scheduled: float) -> None:
        body, items = bodies[k % len(bodies)]
        status = await send(client, cell["path"], body)
        if scheduled >= t_measure:
            rec.add(time.perf_counter() - scheduled, status, items)

    for k in range(int(cell["rate"] * (warmup + duration))):
        scheduled = t_start + k / cell["rate"]
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        if len(tasks) >= most:
            if scheduled >= t_measure:
                rec.add(0.0, "client-backlog", 0)
            continue
        task = asyncio.create_task(one(k, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    return rec, max(duration, time.perf_counter() - t_measure)


class RssSampler(threading.Thread):
    """Peak memory of the server process tree every 0.2 s: RSS summed over processes (shared pages once per process,
    so it over-states), the largest single RSS, and PSS summed (shared pages split; every 5th sample)."""

    KEYS = ("peak_rss_mb", "peak_rss_single_mb", "peak_pss_mb")

    def __init__(self, server: LocalServer) -> None:
        super().__init__(daemon=True)
        self.server, self.halt, self.processes = server, threading.Event(), 0
        self.run_peak = dict.fromkeys(self.KEYS, 0.0)
        self.cell_peak = dict.fromkeys(self.KEYS, 0.0)

    def sample(self, pss: bool = False) -> dict[str, float]:
        procs = servers.tree(self.server)
        self.processes = max(self.processes, len(procs))
        rss, pss_mb = [], 0.0
        for proc in procs:
            try:
                info = proc.memory_full_info() if pss else proc.memory_info()
            except psutil.Error:
                continue
            rss.append(info.rss / 2**20)
            pss_mb += getattr(info, "pss", info.rss) / 2**20 if pss else 0.0
        return dict(zip(self.KEYS, (sum(rss), max(rss, default=0.0), pss_mb)))

    def reset_cell(self) -> None:
        self.cell_peak = self.sample(pss=True)

    def run(self) -> None:
        k = 0
        while not self.halt.is_set():
            now = self.sample(pss=k % 5 == 0)
            k += 1
            for peak in (self.run_peak, self.cell_peak):
                peak.update({key: max(peak[key], now[key]) for key in self.KEYS})
            self.halt.wait(0.2)


def start_profile(server: LocalServer, name: str, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy record (raw collapsed stacks) of the whole server tree (arbiter and worker) for the cell."""
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    path = out / f"pyspy_{re.sub(r'[/,()]', '', name).replace(' ', '_')}.txt"
    cmd = [exe, "record", "--format", "raw", "--rate", "250", "--nonblocking", "--subprocesses"]
    cmd += ["--duration", str(int(seconds)), "-o", str(path)]
    try:
        return subprocess.Popen(
            [*cmd, "-p", str(server.process.pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    except OSError:
        print("py-spy not found: pip install -c constraints.txt py-spy", flush=True)
        return None


async def run_cell(args, client, server: LocalServer, sampler: RssSampler, bodies: Bodies, cell) -> dict[str, Any]:
    """One cell's load, with the server's peak memory and CPU over it (and its py-spy stacks with --profile)."""
    sampler.reset_cell()
    procs, me = servers.tree(server), psutil.Process()
    cpu0, me0 = servers.cpu_seconds(procs), sum(me.cpu_times()[:2])
    # py-spy starts slowly: it gets the cell's duration, starting with the warm-up
    profiled = key(cell) in args.profile
    profiler = start_profile(server, cell["name"], args.duration, args.out.parent) if profiled else None
    loop = closed_loop if cell["mode"] == "closed" else open_loop
    rec, wall = await loop(client, cell, bodies[cell["kind"]], args.duration, args.warmup)
    if profiler is not None:
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()
    summary, span = rec.summary(wall), wall + args.warmup
    cpu1, n_req = servers.cpu_seconds(procs), max(1, summary["requests"])
    return {
        **summary,
        **cell,
        "pairs_per_request": bodies[cell["kind"]][0][1],
        **sampler.cell_peak,
        "server_cpu_s_per_s": (sum(cpu1.values()) - sum(cpu0.values())) / span,
        "client_cpu_s_per_s": (sum(me.cpu_times()[:2]) - me0) / span,
        # CPU ms per request by server process (warm-up requests in the CPU, not in n_req: an upper bound)
        "cpu_ms_per_request": {r: 1000 * (cpu1[r] - cpu0.get(r, 0.0)) / n_req for r in cpu1},
    }


async def run_cells(args, server: LocalServer, sampler: RssSampler, bodies: Bodies, cells) -> list[dict[str, Any]]:
    results = []
    connections = max(max(args.concurrency), 64) + 8
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60.0, trust_env=False) as client:
        for kind, path in {(c["kind"], c["path"]) for c in cells}:  # a wrong payload stops the run before any cell
            body, items = bodies[kind][-1]
            r = await client.post(path, content=body, headers={"content-type": "application/json"})
            if r.status_code != 200 or len(r.json()) != items:
                raise SystemExit(f"{path}: status {r.status_code}, body {r.text[:300]}")
        for cell in cells:
            results.append(await run_cell(args, client, server, sampler, bodies, cell))
            c = results[-1]
            print(
                f"{c['name']}: {c['requests_per_s']:.1f} req/s, {c['pairs_per_s']:.0f} pairs/s, p50 {c['p50_ms']:.1f} "
                f"p99 {c['p99_ms']:.1f} ms, errors {c['errors']}/{c['requests']}, RSS {c['peak_rss_mb']:.0f} MB",
                flush=True,
            )
    return results


def run_phase(args, phase: str, cells: list[dict[str, Any]], bodies: Bodies, result: dict[str, Any]) -> None:
    """A server with the phase's env through the phase's cells, stopped however they end."""
    launch = {phase.replace(" ", "_"): servers.Launch(args.models, PHASES[phase])}
    with servers.running(launch, args.out.parent / "http_server", args.ready_timeout) as (up, ready):
        server = next(iter(up.values()))
        result["server_command"] = relative(" ".join(server.command))
        info = httpx.post(f"{server.url}/info", timeout=30).json()["models"]
        result["served_encoders"] = {
            task: f"{m['encoder']} ({m['quantization']}; "
            f"{m['architecture'].get('cell', '?')} {m['architecture'].get('hidden_size', '?')})"
            for task, m in info.items()
        }
        sampler = RssSampler(server)
        sampler.start()
        idle = sampler.sample(pss=True)
        try:
            result["cells"] += asyncio.run(run_cells(args, server, sampler, bodies, cells))
        finally:
            sampler.halt.set()
        ready_s = next(iter(ready.values()))
        peaks = {**sampler.run_peak, "server_processes": sampler.processes}
        result["phases"][phase] = {"env": PHASES[phase], "ready_s": ready_s, "rss_idle_mb": idle["peak_rss_mb"]}
        result["phases"][phase].update(pss_idle_mb=idle["peak_pss_mb"], **peaks)
        for key, value in peaks.items():
            result[key] = max(result.get(key, 0), value)


# ----------------------------------------------------------------------------- report


def records(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each cell by key (`http:entailment1@1`), and the server's memory as `http:server`, for the targets."""
    return {f"http:{key(c)}": c for c in result["cells"]} | {"http:server": result}


def markdown(result: dict[str, Any]) -> str:
    def per_req(c: dict[str, Any]) -> str:
        parts = c.get("cpu_ms_per_request", {})
        return " + ".join(f"{parts[k]:.1f} {k}" for k in ("worker", "arbiter") if k in parts) or "n/a"

    rows = [
        [
            c["name"] if c.get("phase") != "cache off" or "cache" in c["name"] else f"{c['name']} (cache off)",
            *(c[k] for k in ("requests_per_s", "pairs_per_s", "p50_ms", "p95_ms", "p99_ms")),
            f"{c['errors']}/{c['requests']}",
            c["peak_rss_mb"],
            f"{c['server_cpu_s_per_s']:.2f} / {c['client_cpu_s_per_s']:.2f}",
            per_req(c),
        ]
        for c in result["cells"]
    ]
    header = ["cell", "req/s", "pairs/s", "p50 ms", "p95 ms", "p99 ms", "errors", "peak RSS MB"]
    header += ["CPU cores server / client", "server CPU ms per request"]
    phases = "; ".join(
        f"{name}: ready in {p['ready_s']:.1f} s, idle RSS {p['rss_idle_mb']:.0f} MB, peak RSS {p['peak_rss_mb']:.0f} MB"
        for name, p in result.get("phases", {}).items()
    )
    text = (
        f"### HTTP load (server on 127.0.0.1, {result['duration']:g} s per cell after {result['warmup']:g} s warm-up; "
        "client and server share the machine)\n\n"
        + md_table(header, rows)
        + f"\n\nServer memory over the run ({result.get('server_processes', '?')} processes: BentoML's arbiter and "
        f"its worker): peak RSS {result['peak_rss_mb']:.0f} MB summed over the tree, "
        f"{result['peak_rss_single_mb']:.0f} MB largest single process, peak PSS "
        f"{result.get('peak_pss_mb', float('nan')):.0f} MB summed (shared pages counted once). Per server: {phases}. "
        "Served encoders: " + ", ".join(f"{t} {e}" for t, e in result.get("served_encoders", {}).items()) + "."
    )
    if result.get("profile"):
        text += "\n\n" + pyspy_breakdown.table(result["profile"])
    return text


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "http_load")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell (default 10)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds at the start of each cell")
    p.add_argument("--concurrency", nargs="+", type=int, default=[1, 8, 32])
    p.add_argument("--rate", type=float, default=20.0, help="arrival rate (requests/s) of the open-loop cells")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    p.add_argument("--only", nargs="+", help="only the cells whose name contains one of these, e.g. 'concurrency 1'")
    p.add_argument(
        "--profile",
        action="store_const",
        const=PROFILED,
        default=(),
        help="py-spy the server in " + ", ".join(PROFILED),
    )
    args = harness.parse(p, argv, duration=2.0, warmup=0.5, concurrency=[1, 8])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for stale in args.out.parent.glob("pyspy_*.txt"):
        stale.unlink()
    bodies, cells = payloads(harness.data_dir(args.data_dir)), plan(args)
    ort_threads = settings().ort_threads or "default (min(4, cores))"
    settings_ = {"duration": args.duration, "warmup": args.warmup, "rate": args.rate, "ort_threads": ort_threads}
    with harness.measuring(args, **settings_, models=relative(str(args.models.resolve()))) as result:
        result.update(cells=[], phases={})
        for phase in PHASES:
            if any(c["phase"] == phase for c in cells):
                run_phase(args, phase, [c for c in cells if c["phase"] == phase], bodies, result)
        first = next(iter(result["phases"].values()), {})
        result.update(ready_s=first.get("ready_s"), rss_idle_mb=first.get("rss_idle_mb"))
        if args.profile:
            result["profile"] = pyspy_breakdown.summarize_dir(args.out.parent)
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
