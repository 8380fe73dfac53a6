"""Batch scoring rows/s: the local scorer vs `pairscore score --ray`, same file, same run.

One JSONL file of real SNLI validation pairs (repeated to --rows rows, each with an id) is
scored by the entailment model:
  local     `pairscore score` (one process, onnxruntime threads = its default, all cores up to 4)
  ray N     `pairscore score --ray` on a local Ray cluster of this machine's CPUs, N actors of
            1 CPU (1 onnxruntime thread) each: N = the CPUs (the default), then N = 1
  model     PairModel at 1 thread in this process, chunks of --chunk rows: one actor's ceiling
  read      pairscore.io parsing the file: one read task's ceiling
Each job's rows/s counts from its start (model load, actors' start) to its last row written;
Ray's cluster start and a first warm-up job are left out; every job runs --repeat times,
interleaved, and the best round counts. Then per-actor rows/s and what N actors would give.
What one machine can and cannot show is printed with the tables.

    python -m benchmarks.ray_scoring [--rows 40000] [--repeat 2] [--data-dir ../shared/data] [--models models]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import md_table, read_jsonl
from pairscore.cli import main as pairscore
from pairscore.io import iter_rows
from pairscore.jobs.rows import chunks
from pairscore.runtime.model import PairModel

PROJECTED_ACTORS = (1, 2, 4, 8, 16, 32, 64)
WARMUP_ROWS = 2000


def write_input(root: Path, rows: int, path: Path) -> None:
    base = [r for r in read_jsonl(root / "snli" / "validation.jsonl") if isinstance(r.get("premise"), str)]
    with open(path, "w") as handle:
        for i in range(rows):
            handle.write(json.dumps({"id": i, **base[i % len(base)]}) + "\n")


def run_job(args: list[str], rows: int) -> float:
    """One `pairscore score` job in this process: its rows/s (its summary line must count every row)."""
    err = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stderr(err):
        code = pairscore(["score", "--no-progress", *args])
    seconds = time.perf_counter() - start
    summary = next(line for line in err.getvalue().splitlines() if line.startswith("pairscore score:"))
    scored, rejected = int(summary.split()[2]), int(summary.split(", ")[1].split()[0])
    assert code == 0 and scored + rejected == rows, summary
    return rows / seconds


def model_ceiling(model_dir: Path, path: Path, chunk: int, rows: int) -> float:
    """Rows/s of PairModel alone at 1 thread (what one actor's scoring can reach), on the first `rows` rows."""
    model = PairModel(model_dir, threads=1)
    pairs = [(row["premise"], row["hypothesis"]) for _, row in zip(range(rows), (r for _, r in iter_rows(path)))]
    start = time.perf_counter()
    for batch in chunks(pairs, chunk):
        model.score_pairs([a for a, _ in batch], [b for _, b in batch])
    return len(pairs) / (time.perf_counter() - start)


def read_ceiling(path: Path) -> float:
    start = time.perf_counter()
    count = sum(1 for _ in iter_rows(path))
    return count / (time.perf_counter() - start)


def run_rounds(
    args: argparse.Namespace, common: list[str], model_dir: Path, source: Path, work: Path
) -> dict[str, list[float]]:
    """Rows/s of every job per round, interleaved so that a burst of load on the shared machine hits every job alike."""
    jobs: dict[str, list[float]] = {}
    for round_ in range(args.repeat):
        local = [*common, "--input", str(source), "--output", str(work / f"{round_}-local.parquet")]
        jobs.setdefault("local", []).append(run_job(local, args.rows))
        for actors in dict.fromkeys((args.cpus, 1)):
            on_ray = [
                *common,
                "--input",
                str(source),
                "--output",
                str(work / f"{round_}-ray{actors}"),
                "--ray",
                "--concurrency",
                str(actors),
                "--num-cpus",
                "1",
            ]
            jobs.setdefault(f"ray, {actors} actor(s) x 1 CPU", []).append(run_job(on_ray, args.rows))
        jobs.setdefault("model", []).append(model_ceiling(model_dir, source, args.chunk, min(args.rows, 10_000)))
    return jobs


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__.splitlines()[0], "ray_scoring")
    p.add_argument("--rows", type=int, default=40_000)
    p.add_argument("--chunk", type=int, default=1024, help="rows per model call (the scorer's default)")
    p.add_argument("--cpus", type=int, default=os.cpu_count(), help="CPUs of the local Ray cluster")
    p.add_argument("--repeat", type=int, default=2, help="rounds of every job, interleaved; the best round counts")
    args = harness.parse(p, argv, rows=4000, repeat=1)
    import ray

    model_dir = args.models / "entailment"
    work = Path(tempfile.mkdtemp(prefix="ray-bench-"))
    source = work / "snli.jsonl"
    write_input(harness.data_dir(args.data_dir), args.rows, source)
    write_input(harness.data_dir(args.data_dir), WARMUP_ROWS, work / "warmup.jsonl")
    common = ["--model", str(model_dir), "--chunk", str(args.chunk)]
    settings = {"rows": args.rows, "chunk": args.chunk, "cpus": args.cpus}
    model = harness.relative(str((model_dir / PairModel(model_dir).encoder_file).resolve()))
    with harness.measuring(args, **settings, model=model) as result:
        start = time.perf_counter()
        ray.init(num_cpus=args.cpus, include_dashboard=False, log_to_driver=False)
        result["ray_start_s"] = time.perf_counter() - start
        try:  # a first, uncounted job on a small file starts Ray's worker processes and their imports
            warmup = ["--input", str(work / "warmup.jsonl"), "--output", str(work / "warmup"), "--ray"]
            run_job([*common, *warmup], WARMUP_ROWS)
            result["jobs"] = run_rounds(args, common, model_dir, source, work)
        finally:
            ray.shutdown()
        result["read_rows_per_s"] = read_ceiling(source)
        result["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return harness.publish(result, args.out, report)


def setup_paragraph(r: dict[str, Any]) -> str:
    """What ran and how it was counted, with the machine's load around it (the figures mean little without it)."""
    return (
        f"{r['rows']:,} SNLI validation pairs (repeated, with ids) in one JSONL file, entailment model "
        f"(`{Path(r['model']).name}`), chunks of {r['chunk']} rows, a local Ray cluster of {r['cpus']} CPUs "
        f"(started in {r['ray_start_s']:.1f} s, and a warm-up job, not counted below); "
        "rows/s from each job's start (model load, actors' "
        f"start) to its last row written, best of {len(r['jobs']['local'])} interleaved rounds. Load average "
        f"{r['machine']['loadavg']} at start, {r['loadavg_at_end']} at the end"
        + (f"; busy at start: {'; '.join(r['busy_before'])}" if r["busy_before"] else "")
        + "."
    )


def projection_table(per_actor: float, reader: float) -> str:
    """N actors as N × one actor, and the input files N actors need so that reading keeps up with them."""
    return md_table(
        ["actors (1 CPU each)", "rows/s if linear", "10M rows take", "read tasks needed (files ≥)"],
        [
            [
                n,
                n * per_actor,
                f"{1e7 / (n * per_actor) / 60:.1f} min",
                max(1, -(-round(n * per_actor) // round(reader))),
            ]
            for n in PROJECTED_ACTORS
        ],
    )


def overhead_note(per_actor: float, model: float) -> str:
    """Where one actor's end-to-end rate falls short of the model alone, or why no shortfall shows."""
    return (
        f"{100 * (1 - per_actor / model):.0f}% below the model alone: the actor's start (model load), "
        "Ray's hand-offs between read, score and write, and the Parquet write"
        if per_actor < model
        else "not below the model alone measured at another moment: on this loaded machine the difference is noise, "
        "and Ray's per-row overhead is too small to see"
    )


def report(r: dict[str, Any]) -> str:
    best = {name: max(runs) for name, runs in r["jobs"].items()}
    local, model, reader = best["local"], best["model"], r["read_rows_per_s"]
    per_actor = next(rate for name, rate in best.items() if name.startswith("ray, 1 actor"))
    jobs = md_table(
        ["job", "rows/s (best)", "every round", "vs local"],
        [
            [name, best[name], ", ".join(f"{x:,.0f}" for x in runs), f"{best[name] / local:.2f}×"]
            for name, runs in r["jobs"].items()
            if name != "model"
        ],
    )
    ceilings = md_table(
        ["measure", "rows/s"],
        [
            ["one Ray actor (1 CPU), end to end", per_actor],
            ["PairModel alone at 1 thread (an actor's scoring ceiling)", model],
            ["reading + parsing the JSONL file (one read task's ceiling)", reader],
        ],
    )
    return "\n\n".join(
        [
            setup_paragraph(r),
            jobs,
            ceilings,
            projection_table(per_actor, reader),
            f"- Per actor: {per_actor:,.0f} rows/s end to end, {overhead_note(per_actor, model)}.",
            "- N actors: the projection is N × one actor, which holds only while every actor has its own CPU, "
            f"the input is split into enough files (one read task parses ~{reader:,.0f} rows/s), "
            "and storage and the object store keep up.",
            f"- One machine with {r['cpus']} CPUs shows the pipeline's overhead and scaling from 1 to {r['cpus']} "
            "actors on shared cores, nothing more: it cannot show cross-node transfer, object-store spilling, "
            "S3/GCS read throughput, or scheduling at many nodes; with other work on the cores (load above), "
            "a second actor mostly competes for the same CPU time. On one machine the local scorer is the right tool "
            "(no cluster start, no hand-offs); --ray pays off when the actors outnumber one machine's cores.",
        ]
    )


if __name__ == "__main__":
    raise SystemExit(main())
