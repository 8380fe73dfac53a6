"""Run every benchmark suite, then render benchmarks/results.md and the plots (`make bench` runs this).

    python -m benchmarks.run_all [--models models] [--data-dir ../shared/data] [--skip train] [--allow-busy]
    python -m benchmarks.run_all --quick           # every suite in a smoke run, into a temporary folder
    python -m benchmarks.run_all --report-only     # re-render results.md and the plots from benchmarks/out/*.json

Steps (each a suite, `python -m benchmarks.<suite>` in a process of its own, writing out/<suite>.json):
  engines             in-process engines (ort fp32/int8, torch, MiniLM), then SNLI at 1 thread, ~4-6 min on 2 cores
  batch_independence  batch vs single per task and encoder file (fp32, int8), in process, ~20 s
  http_load           real servers on 127.0.0.1 (vector cache off, then on), 11 cells x --duration s, py-spy, ~3 min
  wrk_load            tail latency and memory under wrk (`apt-get install -y wrk`): 14 cells (the drop-in routes
                      beside the native ones among them) and a 2-minute soak on this checkout (gc.freeze on and off)
                      and on --wrk-baseline (the commit before the timeout-timer mend), ~14 min
  model_speed         this checkout's models/ against --models-baseline's (default the v2.1 models), same service
                      code, vector cache off, under wrk: pairs/s and their ratio per cell, ~5 min
  train_speed         the three release recipes for --train-steps steps, ~3-5 min
  ray_scoring         the batch scorer, local vs --ray on a local Ray cluster, ~2 min
  roofline            the encoder against the CPU's peak by batch, length and student size, and PairModel against
                      its graph alone (issue 27), ~3 min
  breakdown           a served request's worker CPU by category (py-spy), this checkout and the commit before issue
                      27 side by side under wrk, ~2 min
It refuses to start while another process is busy on the CPU (unless --allow-busy); a suite that meets one later
goes on, and results.md marks its figures.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import report
from benchmarks.harness import BENCH, OUT_DIR, REPO, CpuWatch, relative
from benchmarks.wrk import INSTALL_HINT

STEPS = ("engines", "batch", "http", "wrk", "models", "train", "ray", "roofline", "breakdown")
WRK_BASELINE = "5c05e3f"  # the last commit whose requests lived on for BentoML's traffic timeout


def steps(args: argparse.Namespace) -> list[tuple[str, str, list[str], float]]:
    """(step, suite, its arguments, timeout s) of every step not skipped; --out, --data-dir and --quick go to all."""
    models, seconds, threads = ["--models", str(args.models)], ["--seconds", str(args.seconds)], str(args.threads)
    one_thread = [*models, "--threads", "1", "--datasets", "snli", "--no-sweeps", *seconds]
    speed = [*models, "--duration", str(args.models_duration)]
    speed += ["--baseline", args.models_baseline] if args.models_baseline else []
    planned = [
        ("engines", "engines", [*models, "--threads", threads, *seconds], 900),
        *([("engines", "engines_1thread", one_thread, 600)] if args.threads != 1 else []),
        ("batch", "batch_independence", models, 300),
        ("http", "http_load", [*models, "--duration", str(args.duration), "--profile"], 900),
        ("wrk", "wrk_load", [*models, "--duration", str(args.duration), "--baseline", args.wrk_baseline], 1200),
        ("models", "model_speed", speed, 600),
        ("train", "train_speed", ["--steps", str(args.train_steps), "--threads", threads], 1200),
        ("ray", "ray_scoring", models, 600),
        ("roofline", "roofline", models, 900),
        ("breakdown", "breakdown", models, 900),
    ]
    return [step for step in planned if step[0] not in args.skip]


def run_step(args: argparse.Namespace, step: str, out: str, flags: list[str], timeout: float) -> dict[str, Any]:
    suite = "engines" if out == "engines_1thread" else out
    cmd = [sys.executable, "-m", f"benchmarks.{suite}", *flags, "--out", str(args.out_dir / f"{out}.json")]
    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
    cmd += ["--allow-busy"] + ["--quick"] * args.quick  # this run's own check is done; later load gets marked
    shown = relative(shlex.join(["python", *cmd[1:]]))
    if step in ("wrk", "models", "breakdown") and not shutil.which("wrk"):
        print(f"\n=== {out}: skipped. {INSTALL_HINT}", flush=True)
        return {"name": out, "rc": "skipped: no wrk", "seconds": 0.0, "command": shown}
    print(f"\n=== {out}: {shown}", flush=True)
    t0 = time.perf_counter()
    try:
        rc = subprocess.run(cmd, cwd=REPO, timeout=timeout).returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    return {"name": out, "rc": rc, "seconds": time.perf_counter() - t0, "command": shown}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=REPO / "models", help="folder of the model folders (models/)")
    p.add_argument("--data-dir", help="data folder (default: $PAIRSCORE_DATA_DIR, else ../shared/data)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seconds", type=float, default=2.0, help="engines: timed seconds per cell")
    p.add_argument("--duration", type=float, default=10.0, help="http_load, wrk_load: measured seconds per cell")
    p.add_argument("--wrk-baseline", default=WRK_BASELINE, help=f"wrk_load's `before` server ({WRK_BASELINE})")
    p.add_argument("--models-baseline", help="model_speed: the commit whose models/ to compare with (the v2.1 ones)")
    p.add_argument("--models-duration", type=float, default=16.0, help="model_speed: seconds per cell and server")
    p.add_argument("--train-steps", type=int, default=60, help="train_speed: steps per recipe")
    p.add_argument("--skip", nargs="*", default=[], choices=STEPS)
    p.add_argument("--quick", action="store_true", help="every suite in a smoke run, into a temporary --out-dir")
    p.add_argument("--allow-busy", action="store_true", help="start beside another busy process (figures are marked)")
    p.add_argument(
        "--out-dir", type=Path, help="where the JSON, results.md and the plots go (benchmarks/out, benchmarks)"
    )
    p.add_argument("--report-only", action="store_true", help="only re-render results.md and the plots from the JSON")
    args = p.parse_args(argv)
    command = shlex.join(["python", "-m", "benchmarks.run_all", *(sys.argv[1:] if argv is None else argv)])
    args.out_dir = args.out_dir or (Path(tempfile.mkdtemp(prefix="pairscore-bench-")) if args.quick else OUT_DIR)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    results = BENCH / "results.md" if args.out_dir == OUT_DIR else args.out_dir / "results.md"
    done: list[dict[str, Any]] = []
    if not args.report_only:
        busy = CpuWatch().busy_now()
        if busy and not args.allow_busy:
            raise SystemExit("other processes are using the CPU:\n  " + "\n  ".join(busy) + "\nwait, or --allow-busy")
        started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        done = [run_step(args, *step) for step in steps(args)]
        run = {"command": relative(command), "time_utc": started, "steps": done}
        (args.out_dir / "run.json").write_text(json.dumps(run, indent=2) + "\n")
    path = report.render(args.out_dir, results, relative(command))
    print(f"\nwrote {relative(str(path))}\n\n" + path.read_text().split("## Batch independence")[0])
    return 0 if all(s["rc"] == 0 for s in done) else 1


if __name__ == "__main__":
    raise SystemExit(main())
