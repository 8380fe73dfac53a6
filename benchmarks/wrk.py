"""wrk, a load generator in C that sends each request as soon as the last is answered, for the suites that measure
under it (wrk_load, model_speed): request bodies, one wrk run, and one cell measured on several servers side by side.

Paced Python clients leave gaps between requests in which the server catches up and hide its tail; wrk does not.
Needs wrk: `apt-get install -y wrk` (Debian/Ubuntu), `brew install wrk` (macOS).
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from benchmarks.harness import BENCH, REPO, answer_pool, load_pairs
from benchmarks.servers import worker_rss_mb
from service.serve import LocalServer

LUA = BENCH / "wrk_post.lua"
INSTALL_HINT = (
    "wrk not found: install it (Debian/Ubuntu: `apt-get install -y wrk`; macOS: `brew install wrk`; "
    "or build https://github.com/wg/wrk) or pass --wrk PATH"
)
LONG_PAUSE_S = 0.02  # a GC pause longer than this shows in a 1-pair request's p99


@dataclass
class Texts:
    """The real texts request bodies are made of."""

    snli: list[tuple[str, str]]
    twitter: list[tuple[str, str]]
    questions: list[str]
    answers: list[str]


def pair_bodies(pairs: list[tuple[str, str]], per_body: int, names: tuple[str, str]) -> list[dict[str, Any]]:
    return [
        {"pairs": [dict(zip(names, pair)) for pair in pairs[i : i + per_body]]}
        for i in range(0, len(pairs) - per_body + 1, per_body)
    ]


def rank_bodies(t: Texts, answers: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(0)
    starts = [rng.randrange(0, len(t.answers) - answers) for _ in range(count)]
    return [{"question": t.questions[i], "answers": t.answers[s : s + answers]} for i, s in enumerate(starts)]


NLI, TEXTS = ("premise", "hypothesis"), ("text_a", "text_b")
# body kind -> (items per body, the bodies): wrk_post.lua sends a kind's bodies in turn. A new route's cell needs a
# kind here (if no existing one fits) and a line in its suite's CELLS.
BODIES: dict[str, tuple[int, Callable[[Texts], list[dict[str, Any]]]]] = {
    "1 pair": (1, lambda t: pair_bodies(t.snli[:2048], 1, NLI)),
    "32 pairs": (32, lambda t: pair_bodies(t.snli, 32, NLI)),
    "32 paraphrase pairs": (32, lambda t: pair_bodies(t.twitter, 32, TEXTS)),
    "100 answers": (100, lambda t: rank_bodies(t, 100, 64)),
    # the drop-in dialects (service/dialects), each beside the native route it equals
    "1 text": (1, lambda t: [{"texts": [a]} for a, _ in t.snli[:2048]]),
    "1 pair, TEI": (1, lambda t: [{"inputs": list(pair)} for pair in t.snli[:2048]]),
    "1 text, OpenAI": (
        1,
        lambda t: [{"input": [a], "model": "entailment", "encoding_format": "float"} for a, _ in t.snli[:2048]],
    ),
    "100 answers, Cohere": (
        100,
        lambda t: [
            {"model": "ranking", "query": b["question"], "documents": b["answers"]} for b in rank_bodies(t, 100, 64)
        ],
    ),
}


def write_bodies(root: Path, out: Path, kinds: set[str]) -> dict[str, Path]:
    """One file per body kind, one JSON body per line."""
    questions, answers = answer_pool(root)
    texts = Texts(load_pairs(root, "snli", seed=1), load_pairs(root, "twitter_url", seed=1), questions, answers)
    files = {}
    for kind in kinds:
        files[kind] = out / f"wrk_bodies_{kind.replace(' ', '_')}.txt"
        files[kind].write_text("".join(json.dumps(b) + "\n" for b in BODIES[kind][1](texts)))
    return files


def find_wrk(explicit: str | None) -> str:
    found = explicit or shutil.which("wrk")
    if not found or not Path(found).exists():
        raise SystemExit(INSTALL_HINT)
    return found


def wrk_version(wrk: str) -> str:
    shown = subprocess.run([wrk, "-v"], capture_output=True, text=True)  # exits 1 after printing it
    words = (shown.stdout or shown.stderr).split()
    return words[1] if len(words) > 1 else "?"


def run_wrk(wrk: str, url: str, bodies: Path, connections: int, seconds: float) -> dict[str, Any]:
    """One wrk run of 1 thread: requests, latency percentiles (wrk's own) and errors."""
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s", "-s", str(LUA), url]
    done = subprocess.run([*cmd, "--", str(bodies)], capture_output=True, text=True, timeout=seconds + 60)
    line = next((x for x in done.stdout.splitlines() if x.startswith("WRK_JSON ")), None)
    if done.returncode != 0 or line is None:
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    raw = json.loads(line.removeprefix("WRK_JSON "))
    lat, errors = raw["latency_us"], raw["errors"]
    return {
        "requests": raw["requests"],
        "seconds": raw["duration_us"] / 1e6,
        **{f"{q}_ms": lat[q] / 1000 for q in ("p50", "p90", "p99", "p999", "max", "mean")},
        "non_2xx": errors["status"],
        "socket_errors": errors["connect"] + errors["read"] + errors["write"] + errors["timeout"],
    }


def serves(server: LocalServer, path: str, bodies: Path) -> bool:
    """Whether `server` has the route (an older --baseline commit may not): its answer to the first body is no 404."""
    first = bodies.read_text().splitlines()[0]
    headers = {"content-type": "application/json"}
    return httpx.post(server.url + path, content=first, headers=headers, timeout=60).status_code != 404


def summarize(rounds: list[dict[str, Any]], per_request: int = 1) -> dict[str, Any]:
    """Requests/s and pairs/s over all rounds from the 2xx answers; the median round's p50, the worst round's p99."""
    seconds = sum(r["seconds"] for r in rounds)
    ok = sum(r["requests"] - r["non_2xx"] for r in rounds)
    non_2xx, socket_errors = sum(r["non_2xx"] for r in rounds), sum(r["socket_errors"] for r in rounds)
    return {
        "requests": sum(r["requests"] for r in rounds),
        "seconds": seconds,
        "pairs_per_s": ok * per_request / seconds,
        "requests_per_s": ok / seconds,
        "p50_ms": sorted(r["p50_ms"] for r in rounds)[len(rounds) // 2],
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "max_ms": max(r["max_ms"] for r in rounds),
        "non_2xx": non_2xx,
        "socket_errors": socket_errors,
        "errors": non_2xx + socket_errors,
        "rounds": rounds,
    }


def gc_pauses(url: str) -> dict[str, float] | None:
    """The worker's collections so far, summed over generations; None from a server without the metrics.

    From the pairscore_gc_pause_seconds / pairscore_gc_cpu_seconds histograms on /metrics (service/gcstats.py):
    collections; over_20ms (wall-clock pauses over 20 ms); cpu_over_20ms (of those, the collector's own CPU time over
    20 ms; the rest waited for a core); seconds (wall) and cpu_seconds in GC.
    """
    text = httpx.get(f"{url}/metrics", timeout=30).text

    def histogram(family: str) -> tuple[dict[str, float], float]:
        buckets: dict[str, float] = {}
        for m in re.finditer(rf"^{family}_bucket\{{([^}}]*)\}} ([0-9.e+]+)$", text, re.M):
            le = re.search(r'le="([^"]+)"', m.group(1)).group(1)
            buckets[le] = buckets.get(le, 0.0) + float(m.group(2))
        total = sum(float(x) for x in re.findall(rf"^{family}_sum\{{[^}}]*\}} ([0-9.e+]+)$", text, re.M))
        return buckets, total

    (wall, wall_s), (cpu, cpu_s) = histogram("pairscore_gc_pause_seconds"), histogram("pairscore_gc_cpu_seconds")
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
    return None if after is None or before is None else {k: after[k] - before[k] for k in after}


def measure_cell(
    wrk: str,
    servers: dict[str, LocalServer],
    path: str,
    kind: str,
    bodies: Path,
    connections: int,
    warmup: float,
    seconds: float,
    rounds: int = 1,
    flip: bool = False,
) -> dict[str, dict[str, Any]]:
    """One cell on every server: a warm-up on each, then `rounds` wrk runs per server, taken in the order A B B A A B …
    (B A A B … with `flip`), so that a drift in the machine's load hits every server alike.

    Per server: its rounds summarized, its GC pauses over them and its worker's RSS after.
    """
    order = list(servers)[::-1] if flip else list(servers)
    for name in order:
        run_wrk(wrk, servers[name].url + path, bodies, connections, warmup)
    gc0 = {name: gc_pauses(server.url) for name, server in servers.items()}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
    for r in range(rounds):
        for name in order if r % 2 == 0 else order[::-1]:
            runs[name].append(run_wrk(wrk, servers[name].url + path, bodies, connections, seconds / rounds))
    return {
        name: {
            **summarize(runs[name], BODIES[kind][0]),
            "gc": delta(gc_pauses(server.url), gc0[name]),
            "rss_mb": worker_rss_mb(server),
        }
        for name, server in servers.items()
    }


def commit_of(repo: Path) -> str:
    """HEAD, and whether the served code (service/, pairscore/) differs from it."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True)
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "service", "pairscore"], cwd=repo, capture_output=True, text=True
    )
    return (head.stdout.strip() or "?") + (" + uncommitted changes to the served code" if dirty.stdout.strip() else "")


@contextmanager
def checkout(commit: str | None, paths: tuple[str, ...]) -> Iterator[Path | None]:
    """`paths` of `commit` (this clone's history) in a temporary folder, or None without a commit."""
    if not commit:
        yield None
        return
    archive = subprocess.run(["git", "archive", commit, *paths], cwd=REPO, capture_output=True)
    if archive.returncode != 0:
        why = archive.stderr.decode().strip()
        raise SystemExit(f"git archive {commit}: {why} (a shallow clone may lack it: git fetch --unshallow)")
    with tempfile.TemporaryDirectory(prefix=f"pairscore-{commit}-") as folder:
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
            tar.extractall(folder, filter="data")
        yield Path(folder)
