"""Split py-spy samples of the server (raw collapsed stacks) into where the CPU goes: one classifier for
http_load's profile table and benchmarks/breakdown.py.

A sample goes to the category of its innermost frame that belongs to one; frames of asyncio, threading and the like
belong to none, so a coroutine of BentoML's dispatcher waiting in asyncio.sleep counts as dispatch, and a thread that
runs the model under BentoML's worker counts as the model. py-spy cannot tell a waiting thread from a running one here
(a 2-thread worker showed 40 % of its samples in Condition.wait), so a sample whose innermost frame waits (a
condition, a queue, the event loop's own native code, mostly its epoll wait) is idle, and shares are of the other
samples: where the busy time goes, not how busy the server was. (The loop's real work in C, sockets and timers, is
idle too, and so spread over the rest; and `tokenizers` encodes a batch on its own rayon threads while the calling
thread waits, so tokenization is mostly unseen: benchmarks/roofline.py times it in process.)

    python -m benchmarks.pyspy_breakdown benchmarks/out/pyspy_*.txt
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from benchmarks.harness import md_table

# (category, substrings of a py-spy frame "function (file:line)"): the innermost frame that has one decides
CATEGORIES = (
    ("encoder graph", ("onnxruntime/capi/",)),  # under PairModel.head: the head graph
    ("tokenization", ("tokenizers", "token_ids")),  # its rayon threads have no Python frames: unseen (see above)
    ("buckets and padding", ("pairscore/padding.py", "pairscore/runtime/chunks.py", "encoder_calls", "encode_ids")),
    ("vector cache", ("pairscore/runtime/cache.py",)),
    ("pair features", ("pairscore/features.py",)),
    ("model, other", ("pairscore/", "service/app.py", "numpy/", "concurrent/futures/")),  # + the encoder threads
    ("JSON and validation", ("pydantic", "json", "service/schemas.py", "service/limits.py", "io_models.py", "serde")),
    ("BentoML dispatch", ("bentoml/_internal/marshal/", "batch_infer", "runner/container.py", "anyio/")),
    ("tracing and metrics", ("opentelemetry", "instruments.py", "prometheus_client", "service/gcstats.py")),
    ("HTTP", ("uvicorn", "httptools", "h11", "starlette", "service/", "_bentoml_impl/", "bentoml/")),
)
IDLE = "idle (waits, and the event loop's native code)"
ORDER = [name for name, _ in CATEGORIES] + ["head graph", "other"]
GENERIC = ("asyncio/", "threading.py", "queue.py", "functools.py", "contextlib.py", "<frozen", "typing.py", "abc.py")
WAITS = ("Condition.wait", "Event.wait", "Queue.get", "select (selectors.py", "EpollSelector.select", "_worker (conc")
WAITS += ("Runner.run (asyncio/runners.py",)  # the loop's innermost Python frame while uvloop runs (or waits) in C


def classify(stack: str) -> str:
    """The category of one py-spy stack (outermost frame first, `;`-separated), or IDLE."""
    frames = [f for f in stack.split(";") if not f.startswith("process ")]
    if not frames or any(frames[-1].startswith(w) for w in WAITS):
        return IDLE
    for frame in reversed(frames):
        if any(g in frame for g in GENERIC):
            continue
        for name, needles in CATEGORIES:
            if any(n in frame for n in needles):
                if name == "encoder graph" and "head (pairscore/runtime/model.py" in stack:
                    return "head graph"
                return name
    return "other"


def counts(raw: Path) -> dict[str, int]:
    """Samples per category in a py-spy raw file."""
    found: dict[str, int] = {}
    for line in raw.read_text(errors="replace").splitlines() if raw.is_file() else []:
        stack, _, n = line.rpartition(" ")
        if n.isdigit():
            found[classify(stack)] = found.get(classify(stack), 0) + int(n)
    return found


def split_process(stack: str) -> tuple[str, str]:
    """(process, code stack) of one py-spy stack.

    py-spy --subprocesses prefixes each stack with `process PID:"cmdline"` frames (parent first).
    """
    frames = stack.split(";")
    procs = [f for f in frames if f.startswith("process ")]
    code = ";".join(f for f in frames if not f.startswith("process "))
    if not procs:
        return "process: (one)", code
    if "_bentoml_impl.worker" in procs[-1]:
        return "process: worker", code
    return "process: arbiter", code


def summarize_file(path: Path) -> dict[str, Any]:
    """Each category's share of the busy samples, each process's share of all samples, and the sample counts."""
    found: dict[str, int] = {}
    procs: dict[str, int] = {}
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        proc, code = split_process(stack)
        found[classify(code)] = found.get(classify(code), 0) + int(n)
        procs[proc] = procs.get(proc, 0) + int(n)
    total, idle = sum(found.values()), found.pop(IDLE, 0)
    busy = total - idle
    return {
        "samples": busy,
        "idle_samples": idle,
        "share": {k: v / busy for k, v in sorted(found.items(), key=lambda kv: -kv[1])} if busy else {},
        "process_share": {k: v / total for k, v in sorted(procs.items())} if total else {},
    }


def summarize_dir(folder: Path) -> dict[str, Any]:
    """Each py-spy file's shares, by the cell it sampled."""
    return {p.stem.removeprefix("pyspy_"): summarize_file(p) for p in sorted(Path(folder).glob("pyspy_*.txt"))}


def table(found: dict[str, Any]) -> str:
    if not found:
        return "_py-spy produced no samples (is py-spy installed? ptrace allowed?)_"
    names = [n for n in ORDER if any(n in f["share"] for f in found.values())]
    rows = [[cat] + [f"{100 * f['share'].get(cat, 0):.0f}%" for f in found.values()] for cat in names]
    pnames = sorted({p for f in found.values() for p in f.get("process_share", {})})
    rows += [[p] + [f"{100 * f['process_share'].get(p, 0):.0f}%" for f in found.values()] for p in pnames]
    rows.append(["samples: busy / idle"] + [f"{f['samples']} / {f.get('idle_samples', '?')}" for f in found.values()])
    title = "### Server CPU breakdown (py-spy, share of the busy samples; benchmarks/pyspy_breakdown.py)"
    return f"{title}\n\n" + md_table(["where"] + list(found), rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+", type=Path, help="py-spy record --format raw outputs")
    args = p.parse_args(argv)
    for f in args.files:
        s = summarize_file(f)
        print(f"{f}: {s['samples']} samples")
        for k, v in {**s["share"], **s["process_share"]}.items():
            print(f"  {100 * v:5.1f}%  {k}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
