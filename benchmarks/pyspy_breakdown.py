"""Split py-spy samples of the server (raw collapsed stacks) into where the CPU goes.

Categories (first match wins, in this order): onnx encoder run, onnx head run, tokenization,
vector cache (pairscore.runtime.cache), padding/batch arrays (runtime.encode_ids outside onnx), JSON +
validation (pydantic, json), BentoML batching/dispatch, HTTP (uvicorn, h11/httptools, starlette,
asyncio), other. Percentages are of the samples in which the worker was on CPU (py-spy without
--idle), so they say where the busy time goes, not how busy the server was.

    python benchmarks/pyspy_breakdown.py benchmarks/out/pyspy_*.txt
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import md_table  # noqa: E402

CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("onnx run: encoder", ("onnxruntime_inference_collection.py",)),  # refined below: under runtime.head -> head
    ("tokenization", ("token_ids (pairscore/runtime/model.py", "encode_batch", "tokenizers")),
    ("vector cache (cache.py)", ("pairscore/runtime/cache.py",)),
    (
        "padding / batch arrays",
        (
            "encode_ids (pairscore/runtime/model.py",
            "encode (pairscore/runtime/model.py",
            "rank (pairscore/runtime/model.py",
            "score_pairs (pairscore/runtime/model.py",
        ),
    ),
    (
        "JSON + validation",
        ("pydantic", "json", "orjson", "serde", "schemas.py", "limits.py", "model_validate", "model_dump"),
    ),
    ("BentoML batching / dispatch", ("marshal", "dispatcher", "_bentoml_sdk", "_bentoml_impl", "bentoml/_internal")),
    (
        "HTTP (uvicorn, starlette, asyncio)",
        ("uvicorn", "h11", "httptools", "starlette", "anyio", "asyncio", "middleware.py", "selectors"),
    ),
]


WAITS = ("EpollSelector.select", "Condition.wait", "Event.wait", "select (selectors.py", "Queue.get (queue.py")


def classify(stack: str) -> str:
    leaf = stack.rsplit(";", 1)[-1]
    if any(leaf.startswith(w) for w in WAITS):
        # py-spy --nonblocking sometimes counts a thread blocked in epoll/condition waits as active
        return "waiting (epoll / thread wait)"
    for name, needles in CATEGORIES:
        if any(n in stack for n in needles):
            if name == "onnx run: encoder" and "head (pairscore/runtime/model.py" in stack:
                return "onnx run: head"
            return name
    return "other"


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
    counts: dict[str, int] = {}
    procs: dict[str, int] = {}
    total = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, n = line.rpartition(" ")
        if not n.isdigit():
            continue
        proc, code = split_process(stack)
        counts[classify(code)] = counts.get(classify(code), 0) + int(n)
        procs[proc] = procs.get(proc, 0) + int(n)
        total += int(n)
    share = {k: v / total for k, v in sorted(counts.items(), key=lambda kv: -kv[1])} if total else {}
    return {
        "samples": total,
        "share": share,
        "process_share": {k: v / total for k, v in sorted(procs.items())} if total else {},
    }


def summarize_dir(folder: Path) -> tuple[dict[str, Any], str]:
    found = {p.stem.removeprefix("pyspy_"): summarize_file(p) for p in sorted(Path(folder).glob("pyspy_*.txt"))}
    if not found:
        return {}, "_py-spy produced no samples (is py-spy installed? ptrace allowed?)_"
    names = [n for n, _ in CATEGORIES] + ["onnx run: head", "other", "waiting (epoll / thread wait)"]
    names = [n for n in names if any(n in f["share"] for f in found.values())]
    rows = [[cat] + [f"{100 * f['share'].get(cat, 0):.0f}%" for f in found.values()] for cat in names]
    pnames = sorted({p for f in found.values() for p in f.get("process_share", {})})
    rows += [[p] + [f"{100 * f['process_share'].get(p, 0):.0f}%" for f in found.values()] for p in pnames]
    rows.append(["samples (on CPU)"] + [str(f["samples"]) for f in found.values()])
    return found, "### Server CPU breakdown (py-spy, share of on-CPU samples)\n\n" + md_table(
        ["where"] + list(found), rows
    )


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
