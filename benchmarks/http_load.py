"""HTTP load test: starts a real pairscore server on 127.0.0.1, drives it with asyncio + httpx, stops it.

Cells (each bounded by --duration seconds after a short warm-up), first on a server with the vector
cache off (PAIRSCORE_CACHE_ENTRIES=0: every text is new to the encoder, as for MiniLM), then on one with
the default cache:
  cache off: /entailment, 1 pair per request and 32 pairs per request, at concurrency 1, 8, 32 (closed
      loop: each client sends its next request when the previous one is answered)
  cache off: /entailment, 1 and 32 pairs, at a fixed arrival rate (--rate requests/s, open loop: latency
      is measured from the scheduled send time, so queueing is counted)
  cache off: /rank with 1,000 answers at concurrency 1
  cache on: /rank with 1,000 new answers (WikiQA answers, each tagged with the request number, so none
      is in the cache: the miss path with its insertions and evictions)
  cache on: /rank with the same 1,000 answers every time and a new question each time (an FAQ pool)
Reports requests/s, pairs/s, p50/p95/p99 latency, error rate, the server's peak RSS (psutil over the
server process tree, sampled every 0.2 s) and CPU seconds per request of server and client. With
--profile, py-spy samples the server during two cells and the stacks are split into tokenization,
padding, onnx run, head, JSON/validation, HTTP and batching (benchmarks/pyspy_breakdown.py).

Targets 127.0.0.1 only; kills the server (its whole process group) at the end, also on Ctrl-C.

    python benchmarks/http_load.py [--models models] [--duration 10] [--rate 20] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
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
    percentile,
    publish,
    versions,
)

HOST = "127.0.0.1"
CONCURRENCY = (1, 8, 32)
NEW_RANK_BODIES = 160  # distinct tagged /rank bodies: more than a 10 s cell sends at ~10 req/s
PHASES = {
    "cache off": {"PAIRSCORE_CACHE_ENTRIES": "0"},
    "cache on": {},
}  # server env per phase (cache on: the defaults)
Bodies = dict[str, list[tuple[bytes, int]]]  # payload kind -> pre-serialized request bodies and the pairs in each


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------- server


class Server:
    """`bentoml serve service.app:PairScore` (what `pairscore serve` execs) in its own process group.

    `repo`: the checkout whose service is served (another one compares before and after a change).
    """

    def __init__(
        self,
        models: Path,
        port: int,
        log: Path,
        env: dict[str, str] | None = None,
        service: str = "service.app:PairScore",
        repo: Path = REPO,
    ):
        self.port = port
        self.url = f"http://{HOST}:{port}"
        cmd = [
            sys.executable,
            "-m",
            "bentoml",
            "serve",
            service,
            "--working-dir",
            str(repo),
            "--host",
            HOST,
            "--port",
            str(port),
        ]
        full_env = {**os.environ, "PAIRSCORE_MODEL_DIR": str(Path(models).resolve()), **(env or {})}
        log.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log
        self._log = open(log, "w")
        self.proc = subprocess.Popen(
            cmd, cwd=repo, env=full_env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.command = " ".join(cmd)

    def wait_ready(self, timeout: float) -> float:
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise SystemExit(
                    f"server exited with {self.proc.returncode} before it was ready; log: {self.log_path}\n"
                    f"{self.log_tail()}"
                )
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return time.perf_counter() - t0
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"server not ready after {timeout:.0f} s; log: {self.log_path}\n{self.log_tail()}")

    def log_tail(self, n: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text().splitlines()[-n:])
        except OSError:
            return ""

    def tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.Error:
            return []

    def worker_pids(self) -> list[int]:
        """The processes that run the service code (BentoML workers), else the whole tree."""
        procs = self.tree()
        workers = []
        for p in procs:
            try:
                if "_bentoml_impl.worker" in " ".join(p.cmdline()):
                    workers.append(p.pid)
            except psutil.Error:
                continue
        return workers or [p.pid for p in procs]

    def stop(self) -> None:
        """SIGTERM to the server's process group, SIGKILL after 10 s."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.proc.wait(5)
        for p in self.tree():  # stragglers that left the group (none expected)
            try:
                p.kill()
            except psutil.Error:
                pass
        self._log.close()


class RssSampler(threading.Thread):
    """Peak memory of the server process tree: RSS summed over processes (counts shared pages once per
    process, so it over-states), the largest single RSS, and PSS summed (shared pages split; sampled less often)."""

    def __init__(self, server: Server, interval: float = 0.2, pss_every: int = 5):
        super().__init__(daemon=True)
        self.server, self.interval, self.pss_every = server, interval, pss_every
        self.stop_event = threading.Event()
        self.peak_total = self.peak_single = self.peak_pss = 0
        self.cell_total = self.cell_single = self.cell_pss = 0
        self.processes = 0

    def sample(self, pss: bool = False) -> tuple[int, int, int]:
        total = single = pss_total = 0
        procs = self.server.tree()
        self.processes = max(self.processes, len(procs))
        for p in procs:
            try:
                if pss:
                    info = p.memory_full_info()
                    pss_total += getattr(info, "pss", info.rss)
                else:
                    info = p.memory_info()
            except psutil.Error:
                continue
            total += info.rss
            single = max(single, info.rss)
        return total, single, pss_total

    def peaks(self) -> dict[str, float]:
        """The run's peaks so far, under the names the JSON gives them."""
        return {
            "peak_rss_mb": self.peak_total / 2**20,
            "peak_rss_single_mb": self.peak_single / 2**20,
            "peak_pss_mb": self.peak_pss / 2**20,
            "server_processes": self.processes,
        }

    def reset_cell(self) -> None:
        self.cell_total, self.cell_single, self.cell_pss = self.sample(pss=True)

    def run(self) -> None:
        k = 0
        while not self.stop_event.is_set():
            total, single, pss = self.sample(pss=k % self.pss_every == 0)
            k += 1
            self.peak_total, self.peak_single, self.peak_pss = (
                max(self.peak_total, total),
                max(self.peak_single, single),
                max(self.peak_pss, pss),
            )
            self.cell_total, self.cell_single, self.cell_pss = (
                max(self.cell_total, total),
                max(self.cell_single, single),
                max(self.cell_pss, pss),
            )
            self.stop_event.wait(self.interval)


def role(p: psutil.Process) -> str:
    try:
        cmd = " ".join(p.cmdline())
    except psutil.Error:
        return "gone"
    return "worker" if "_bentoml_impl.worker" in cmd else "arbiter"


def cpu_by_role(procs: list[psutil.Process]) -> dict[str, float]:
    out: dict[str, float] = {}
    for p in procs:
        try:
            t = p.cpu_times()
        except psutil.Error:
            continue
        out[role(p)] = out.get(role(p), 0.0) + t.user + t.system
    return out


def tree_cpu(procs: list[psutil.Process]) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            continue
    return total


# ----------------------------------------------------------------------------- payloads


def payloads(root: Path) -> Bodies:
    """Pre-serialized request bodies (so the client spends little CPU) and the pairs in each."""
    pairs = load_pairs(root, "snli", limit=4096, seed=1)
    one = [(json.dumps({"pairs": [{"premise": a, "hypothesis": b}]}).encode(), 1) for a, b in pairs[:2048]]
    many = [
        (json.dumps({"pairs": [{"premise": a, "hypothesis": b} for a, b in pairs[i : i + 32]]}).encode(), 32)
        for i in range(0, 4096 - 32, 32)
    ]
    questions, answers = answer_pool(root)
    rng = random.Random(0)
    rank, tagged = [], []
    for i in range(16):
        start = rng.randrange(0, len(answers) - 1000)
        rank.append((json.dumps({"question": questions[i], "answers": answers[start : start + 1000]}).encode(), 1000))
    for k in range(NEW_RANK_BODIES):
        start = rng.randrange(0, len(answers) - 1000)
        tagged.append(
            (
                json.dumps(
                    {
                        "question": questions[k % len(questions)],
                        "answers": [f"{a} ( {k} )" for a in answers[start : start + 1000]],
                    }
                ).encode(),
                1000,
            )
        )
    pool = json.dumps(answers[:1000])
    repeat = [(f'{{"question": {json.dumps(q)}, "answers": {pool}}}'.encode(), 1000) for q in questions[:256]]
    return {
        "entailment1": one,
        "entailment32": many,
        "rank1000": rank,
        "rank1000_new": tagged,
        "rank1000_repeat": repeat,
    }


# ----------------------------------------------------------------------------- load


class Recorder:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.items = 0
        self.errors = 0
        self.statuses: dict[str, int] = {}

    def add(self, latency: float, status: str, items: int) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == "200":
            self.latencies.append(latency)
            self.items += items
        else:
            self.errors += 1


async def send(client: httpx.AsyncClient, path: str, body: bytes) -> str:
    try:
        response = await client.post(path, content=body, headers={"content-type": "application/json"})
        return str(response.status_code)
    except httpx.HTTPError as exc:
        return type(exc).__name__


async def closed_loop(client, path, bodies, concurrency: int, duration: float, warmup: float) -> tuple[Recorder, float]:
    rec = Recorder()
    counter = iter(range(10**9))
    t_start = time.perf_counter()
    t_measure = t_start + warmup
    t_end = t_measure + duration

    async def worker() -> None:
        while True:
            now = time.perf_counter()
            if now >= t_end:
                return
            body, items = bodies[next(counter) % len(bodies)]
            status = await send(client, path, body)
            done = time.perf_counter()
            if now >= t_measure:
                rec.add(done - now, status, items)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return rec, time.perf_counter() - t_measure


async def open_loop(
    client, path, bodies, rate: float, duration: float, warmup: float, max_outstanding: int = 512
) -> tuple[Recorder, float]:
    """Requests sent at fixed times (rate per second) whatever the server does.

    Latency counts from the scheduled time.
    """
    rec = Recorder()
    t_start = time.perf_counter()
    t_measure = t_start + warmup
    total = int(rate * (warmup + duration))
    tasks: set[asyncio.Task] = set()

    async def one(k: int, scheduled: float) -> None:
        body, items = bodies[k % len(bodies)]
        status = await send(client, path, body)
        if scheduled >= t_measure:
            rec.add(time.perf_counter() - scheduled, status, items)

    for k in range(total):
        scheduled = t_start + k / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(tasks) >= max_outstanding:
            if scheduled >= t_measure:
                rec.add(0.0, "client-backlog", 0)
            continue
        task = asyncio.create_task(one(k, scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks, timeout=60)
    return rec, max(duration, time.perf_counter() - t_measure)


def summarize(rec: Recorder, wall: float) -> dict[str, Any]:
    n = len(rec.latencies) + rec.errors
    return {
        "requests": n,
        "ok": len(rec.latencies),
        "requests_per_s": len(rec.latencies) / wall if wall else float("nan"),
        "pairs_per_s": rec.items / wall if wall else float("nan"),
        "p50_ms": 1000 * percentile(rec.latencies, 50),
        "p95_ms": 1000 * percentile(rec.latencies, 95),
        "p99_ms": 1000 * percentile(rec.latencies, 99),
        "max_ms": 1000 * max(rec.latencies) if rec.latencies else float("nan"),
        "errors": rec.errors,
        "error_rate": rec.errors / n if n else 0.0,
        "statuses": rec.statuses,
        "seconds": wall,
    }


def cells(args: argparse.Namespace) -> list[dict[str, Any]]:
    plan = []
    off = {"phase": "cache off"}
    for kind, path in (("entailment1", "/entailment"), ("entailment32", "/entailment")):
        for c in args.concurrency:
            plan.append(
                {
                    "name": f"{path} {kind[10:]} pair(s), concurrency {c}",
                    "kind": kind,
                    "path": path,
                    "mode": "closed",
                    "concurrency": c,
                    **off,
                }
            )
        plan.append(
            {
                "name": f"{path} {kind[10:]} pair(s), {args.rate:g} req/s",
                "kind": kind,
                "path": path,
                "mode": "open",
                "rate": args.rate,
                **off,
            }
        )
    plan.append(
        {
            "name": "/rank 1000 answers, concurrency 1",
            "kind": "rank1000",
            "path": "/rank",
            "mode": "closed",
            "concurrency": 1,
            **off,
        }
    )
    on = {"path": "/rank", "mode": "closed", "concurrency": 1, "phase": "cache on"}
    plan.append({"name": "/rank 1000 new answers, cache on, concurrency 1", "kind": "rank1000_new", **on})
    plan.append({"name": "/rank same 1000 answers, cache on, concurrency 1", "kind": "rank1000_repeat", **on})
    if args.only:
        plan = [c for c in plan if any(o in c["name"] for o in args.only)]
    return plan


PROFILED = (
    "/entailment 1 pair(s), concurrency 1",
    "/entailment 32 pair(s), concurrency 8",
    "/rank 1000 answers, concurrency 1",
    "/rank same 1000 answers, cache on, concurrency 1",
)


def start_profile(server: Server, name: str, seconds: float, out: Path) -> subprocess.Popen | None:
    """py-spy record (raw collapsed stacks) of the whole server tree (arbiter and worker) for the cell."""
    slug = name.replace("/", "").replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    path = out / f"pyspy_{slug}.txt"
    exe = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [
        exe,
        "record",
        "--format",
        "raw",
        "--rate",
        "250",
        "--nonblocking",
        "--subprocesses",
        "--duration",
        str(int(seconds)),
        "-o",
        str(path),
        "-p",
        str(server.proc.pid),
    ]
    try:
        return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        print("py-spy not found: pip install -c constraints.txt py-spy", flush=True)
        return None


async def check_payloads(client: httpx.AsyncClient, bodies: Bodies, plan: list[dict[str, Any]]) -> None:
    """One request of every payload kind in the plan: a wrong status or result count stops the run before any cell."""
    for kind, path in {(c["kind"], c["path"]) for c in plan}:
        body, items = bodies[kind][-1]
        r = await client.post(path, content=body, headers={"content-type": "application/json"})
        if r.status_code != 200 or len(r.json()) != items:
            raise SystemExit(f"{path}: status {r.status_code}, body {r.text[:300]}")


async def drive(
    args: argparse.Namespace, client: httpx.AsyncClient, cell: dict[str, Any], bodies: list[tuple[bytes, int]]
) -> tuple[Recorder, float]:
    if cell["mode"] == "closed":
        return await closed_loop(client, cell["path"], bodies, cell["concurrency"], args.duration, args.warmup)
    return await open_loop(client, cell["path"], bodies, cell["rate"], args.duration, args.warmup)


async def run_cell(
    args: argparse.Namespace,
    client: httpx.AsyncClient,
    server: Server,
    sampler: RssSampler,
    bodies: Bodies,
    out: Path,
    cell: dict[str, Any],
) -> dict[str, Any]:
    """One cell's load, with the server's peak memory and CPU over it (and its py-spy stacks with --profile)."""
    sampler.reset_cell()
    procs = server.tree()
    me = psutil.Process()
    cpu0, me0, roles0 = tree_cpu(procs), sum(me.cpu_times()[:2]), cpu_by_role(procs)
    profiler = None
    if args.profile and cell["name"] in PROFILED:
        # py-spy starts slowly; give it the cell's duration, starting after the warm-up
        profiler = start_profile(server, cell["name"], args.duration, out)
    rec, wall = await drive(args, client, cell, bodies[cell["kind"]])
    if profiler is not None:
        try:
            profiler.wait(30)
        except subprocess.TimeoutExpired:
            profiler.kill()
    summary = summarize(rec, wall)
    span = wall + args.warmup
    n_req = max(1, summary["ok"] + summary["errors"])
    roles1 = cpu_by_role(procs)
    summary.update(
        {
            **cell,
            "pairs_per_request": bodies[cell["kind"]][0][1],
            "peak_rss_mb": sampler.cell_total / 2**20,
            "peak_rss_single_mb": sampler.cell_single / 2**20,
            "peak_pss_mb": sampler.cell_pss / 2**20,
            "server_cpu_s_per_s": (tree_cpu(procs) - cpu0) / span,
            "client_cpu_s_per_s": (sum(me.cpu_times()[:2]) - me0) / span,
            # CPU ms per request by server process (warm-up requests included in the CPU,
            # not in n_req: an upper bound)
            "cpu_ms_per_request": {r: 1000 * (roles1[r] - roles0.get(r, 0.0)) / n_req for r in roles1},
        }
    )
    return summary


def progress(summary: dict[str, Any]) -> str:
    return (
        f"{summary['name']}: {summary['requests_per_s']:.1f} req/s, {summary['pairs_per_s']:.0f} pairs/s, "
        f"p50 {summary['p50_ms']:.1f} p95 {summary['p95_ms']:.1f} p99 {summary['p99_ms']:.1f} ms, "
        f"errors {summary['errors']}/{summary['requests']}, RSS {summary['peak_rss_mb']:.0f} MB, "
        f"server CPU {summary['server_cpu_s_per_s']:.2f} cores, client {summary['client_cpu_s_per_s']:.2f}"
    )


async def run_cells(
    args: argparse.Namespace, server: Server, sampler: RssSampler, bodies: Bodies, out: Path, plan: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    results = []
    connections = max(max(args.concurrency), 64) + 8
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=server.url, limits=limits, timeout=httpx.Timeout(60.0), trust_env=False
    ) as client:
        await check_payloads(client, bodies, plan)
        for cell in plan:
            summary = await run_cell(args, client, server, sampler, bodies, out, cell)
            results.append(summary)
            print(progress(summary), flush=True)
    return results


def markdown(r: dict[str, Any]) -> str:
    def per_req(c: dict[str, Any]) -> str:
        parts = c.get("cpu_ms_per_request", {})
        return " + ".join(f"{parts[k]:.1f} {k}" for k in ("worker", "arbiter") if k in parts) or "n/a"

    rows = [
        [
            f"{c['name']}" if c.get("phase") != "cache off" or "cache" in c["name"] else f"{c['name']} (cache off)",
            c["requests_per_s"],
            c["pairs_per_s"],
            c["p50_ms"],
            c["p95_ms"],
            c["p99_ms"],
            f"{c['errors']}/{c['requests']}",
            c["peak_rss_mb"],
            f"{c['server_cpu_s_per_s']:.2f} / {c['client_cpu_s_per_s']:.2f}",
            per_req(c),
        ]
        for c in r["cells"]
    ]
    text = (
        f"### HTTP load (server on 127.0.0.1, {r['duration']:g} s per cell after {r['warmup']:g} s warm-up; "
        "client and server share the machine)\n\n"
        + md_table(
            [
                "cell",
                "req/s",
                "pairs/s",
                "p50 ms",
                "p95 ms",
                "p99 ms",
                "errors",
                "peak RSS MB",
                "CPU cores server / client",
                "server CPU ms per request",
            ],
            rows,
        )
    )
    text += (
        f"\n\nServer memory over the run ({r.get('server_processes', '?')} processes: "
        "BentoML's arbiter and its worker): peak RSS "
        f"{r['peak_rss_mb']:.0f} MB summed over the tree, {r['peak_rss_single_mb']:.0f} MB largest single process, "
        "peak PSS "
        f"{r.get('peak_pss_mb', float('nan')):.0f} MB summed (shared pages counted once). Per server: "
        + "; ".join(
            f"{name}: ready in {p['ready_s']:.1f} s, idle RSS {p['rss_idle_mb']:.0f} MB, "
            f"peak RSS {p['peak_rss_mb']:.0f} MB"
            for name, p in r.get("phases", {}).items()
        )
        + ". Served encoders: "
        + ", ".join(f"{t} {e}" for t, e in r.get("served_encoders", {}).items())
        + "."
    )
    if r.get("profile"):
        text += "\n\n" + r["profile_markdown"]
    return text


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--models",
        default=str(REPO / "models"),
        help="folder with entailment/, paraphrase/, ranking/ (default: models/)",
    )
    p.add_argument("--data-dir", help="data folder (default: $PAIRSCORE_DATA_DIR, else ../shared/data)")
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per cell (default 10)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds at the start of each cell")
    p.add_argument("--concurrency", nargs="+", type=int, default=list(CONCURRENCY))
    p.add_argument("--rate", type=float, default=20.0, help="arrival rate (requests/s) of the open-loop cells")
    p.add_argument(
        "--service", default="service.app:PairScore", help="BentoML service to serve (default: the real one)"
    )
    p.add_argument("--port", type=int, help="server port (default: a free one)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    p.add_argument(
        "--only", nargs="+", help="run only the cells whose name contains one of these strings, e.g. 'concurrency 1'"
    )
    p.add_argument("--profile", action="store_true", help="py-spy the server during " + "; ".join(PROFILED))
    p.add_argument("--out", default=str(OUT_DIR / "http_load.json"))
    return p


def run_info(args: argparse.Namespace) -> dict[str, Any]:
    """The run's machine, the load on it before the servers start, versions and settings."""
    return {
        "machine": machine(),
        "busy_before": busy_processes(exclude={os.getpid()}),
        "versions": versions(),
        "duration": args.duration,
        "warmup": args.warmup,
        "rate": args.rate,
        "models": str(Path(args.models).resolve()),
        "service": args.service,
        "ort_threads": os.environ.get("PAIRSCORE_ORT_THREADS", "default (min(4, cores))"),
    }


def run_phase(
    args: argparse.Namespace,
    phase: str,
    env: dict[str, str],
    plan: list[dict[str, Any]],
    bodies: Bodies,
    out: Path,
    result: dict[str, Any],
) -> RssSampler | None:
    """A server with the phase's env through the phase's cells, stopped however they end; None after Ctrl-C."""
    slug = phase.replace(" ", "_")
    server = Server(
        Path(args.models), args.port or free_port(), out / f"http_server_{slug}.log", env=env, service=args.service
    )
    result["server_command"] = server.command
    sampler = RssSampler(server)
    try:
        ready = server.wait_ready(args.ready_timeout)
        info = httpx.post(f"{server.url}/info", timeout=30).json()["models"]
        result["served_encoders"] = {
            task: f"{m['encoder']} ({m['quantization']}; "
            f"{m['architecture'].get('cell', '?')} {m['architecture'].get('hidden_size', '?')})"
            for task, m in info.items()
        }
        sampler.start()
        idle = sampler.sample(pss=True)
        result["phases"][phase] = {
            "env": env,
            "ready_s": ready,
            "rss_idle_mb": idle[0] / 2**20,
            "pss_idle_mb": idle[2] / 2**20,
        }
        result["cells"] += asyncio.run(run_cells(args, server, sampler, bodies, out, plan))
    except KeyboardInterrupt:
        print("interrupted: stopping the server", file=sys.stderr)
        return None
    finally:
        sampler.stop_event.set()
        server.stop()
    return sampler


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    root = data_dir(args.data_dir)
    out = Path(args.out).parent
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("pyspy_*.txt"):
        stale.unlink()
    bodies = payloads(root)
    result = run_info(args)
    plan = cells(args)
    result["cells"], result["phases"] = [], {}
    peak = {"peak_rss_mb": 0.0, "peak_rss_single_mb": 0.0, "peak_pss_mb": 0.0, "server_processes": 0}
    for phase, env in PHASES.items():
        phase_plan = [c for c in plan if c["phase"] == phase]
        if not phase_plan:
            continue
        sampler = run_phase(args, phase, env, phase_plan, bodies, out, result)
        if sampler is None:
            return 130
        for key, value in sampler.peaks().items():
            peak[key] = max(peak[key], value)
            result["phases"][phase][key] = value
    result.update(peak)
    first = next(iter(result["phases"].values()), {})
    result["ready_s"], result["rss_idle_mb"] = (
        first.get("ready_s", float("nan")),
        first.get("rss_idle_mb", float("nan")),
    )
    if args.profile:
        from benchmarks.pyspy_breakdown import summarize_dir

        result["profile"], result["profile_markdown"] = summarize_dir(out)
    result["markdown"] = markdown(result)
    publish(result, Path(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
