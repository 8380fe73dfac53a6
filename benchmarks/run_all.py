"""Run every benchmark and write benchmarks/results.md and the PNG plots (`make bench` runs this).

    python benchmarks/run_all.py [--models models] [--data-dir ../shared/data] [--quick] [--skip train]
    python benchmarks/run_all.py --report-only      # rebuild results.md/plots from benchmarks/out/*.json

Steps (each a separate process, each writes benchmarks/out/<name>.json):
  engines.py     in-process engines (ort fp32/int8, torch, MiniLM), ~4-6 min on 2 cores
  batch_independence.py  batch vs single per task and encoder file (fp32, int8), in process, ~20 s
  http_load.py   real servers on 127.0.0.1 (vector cache off, then on), 11 cells x --duration s,
                 with py-spy breakdown, ~3 min
  wrk_load.py    tail latency and memory under wrk (needs the wrk binary: `apt-get install -y wrk`):
                 6 cells and a 2-minute soak on this checkout (gc.freeze on and off) and on
                 --wrk-baseline (the commit before the timeout-timer mend), ~10 min
  model_speed.py this checkout's models/ against --models-baseline's (default the v2.1 models), same
                 service code, vector cache off, under wrk: pairs/s and their ratio per cell, ~5 min
  train_speed.py the three release recipes for --train-steps steps, ~3-5 min
  ray_scoring.py the batch scorer, local vs --ray on a local Ray cluster, ~2 min
Then results.md: the machine, the serving targets (target / measured / met?), every table, and
plots engines.png (pairs/s by engine and batch size), http_latency.png (latency vs concurrency)
and wrk_soak.png (worker RSS and p99 over the soak).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT_DIR, REPO, md_table, versions  # noqa: E402

BENCH = REPO / "benchmarks"
STEPS = ("engines", "batch", "http", "wrk", "models", "train", "ray")
WRK_BASELINE = "5c05e3f"  # the last commit whose requests lived on for BentoML's traffic timeout


def run_step(name: str, cmd: list[str], timeout: float, env: dict[str, str] | None = None) -> dict[str, Any]:
    print(f"\n=== {name}: {' '.join(cmd)}", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=REPO, timeout=timeout, env={**os.environ, **(env or {})})
        rc = proc.returncode
    except subprocess.TimeoutExpired:
        rc = "timeout"
    return {
        "name": name,
        "rc": rc,
        "seconds": time.perf_counter() - t0,
        "command": " ".join(Path(c).name if i == 0 else c for i, c in enumerate(cmd)),
    }


def script(args: argparse.Namespace, name: str, *flags: str) -> list[str]:
    """`python benchmarks/<name> FLAGS`, with --data-dir passed on when one was given."""
    return [sys.executable, str(BENCH / name), *flags, *(["--data-dir", args.data_dir] if args.data_dir else [])]


def no_wrk(name: str) -> dict[str, Any] | None:
    """A skipped step that says how to get wrk when it is not installed, else None."""
    if shutil.which("wrk"):
        return None
    from benchmarks.wrk_load import INSTALL_HINT

    print(f"\n=== {name}: skipped. {INSTALL_HINT}", flush=True)
    return {"name": name, "rc": "skipped: no wrk", "seconds": 0.0, "command": INSTALL_HINT}


def run_wrk(args: argparse.Namespace) -> dict[str, Any]:
    """wrk_load.py (tail latency and memory)."""
    flags = ["--models", args.models, "--duration", str(args.duration), "--out", str(OUT_DIR / "wrk_load.json")]
    flags += ["--baseline", args.wrk_baseline] if args.wrk_baseline else []
    flags += ["--soak", "20", "--warmup", "1"] if args.quick else []
    return no_wrk("wrk") or run_step("wrk", script(args, "wrk_load.py", *flags), 1200)


def run_model_speed(args: argparse.Namespace) -> dict[str, Any]:
    """model_speed.py (this checkout's models against the baseline commit's, same service code)."""
    out = str(OUT_DIR / "model_speed.json")
    flags = ["--models", args.models, "--duration", str(args.models_duration), "--out", out]
    flags += ["--baseline", args.models_baseline] if args.models_baseline else []
    return no_wrk("models") or run_step("models", script(args, "model_speed.py", *flags), 600)


def load(name: str) -> dict[str, Any] | None:
    path = OUT_DIR / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


# ----------------------------------------------------------------------------- targets


def cell(http: dict[str, Any] | None, name: str) -> dict[str, Any] | None:
    if not http:
        return None
    return next((c for c in http.get("cells", []) if c["name"] == name), None)


def met(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def entailment_rows(http: dict[str, Any] | None, minilm_best: float | None) -> list[list[Any]]:
    """/entailment at 1 pair × 1 client (latency) and 32 pairs × 8 clients (throughput against MiniLM)."""
    rows: list[list[Any]] = []
    c1 = cell(http, "/entailment 1 pair(s), concurrency 1")
    if c1:
        rows.append(
            [
                "/entailment, 1 pair per request, 1 client: p50",
                "≤ 4 ms",
                f"{c1['p50_ms']:.1f} ms",
                met(c1["p50_ms"] <= 4),
            ]
        )
        rows.append(["… p99", "≤ 10 ms", f"{c1['p99_ms']:.1f} ms", met(c1["p99_ms"] <= 10)])
    c8 = cell(http, "/entailment 32 pair(s), concurrency 8")
    if c8:
        ratio = c8["pairs_per_s"] / minilm_best if minilm_best else None
        rows.append(
            [
                "/entailment, 32 pairs × 8 clients: pairs/s vs MiniLM (in process, its best SNLI batch)",
                "≥ 10×",
                f"{ratio:.1f}× ({c8['pairs_per_s']:,.0f} vs {minilm_best:,.0f} pairs/s)"
                if ratio
                else f"{c8['pairs_per_s']:,.0f} pairs/s (no MiniLM number)",
                met(None if ratio is None else ratio >= 10),
            ]
        )
        rows.append(["… p99", "≤ 100 ms", f"{c8['p99_ms']:.1f} ms", met(c8["p99_ms"] <= 100)])
        rows.append(["… errors", "0", f"{c8['errors']} of {c8['requests']}", met(c8["errors"] == 0)])
    return rows


def rank_rows(http: dict[str, Any] | None) -> list[list[Any]]:
    """/rank with 1,000 answers: new ones with the cache off and on, then the same ones again."""
    rows: list[list[Any]] = []
    for name, label in (
        ("/rank 1000 answers, concurrency 1", "/rank, 1,000 new answers (cache off): p99"),
        (
            "/rank 1000 new answers, cache on, concurrency 1",
            "/rank, 1,000 new answers (cache on: misses + insertions): p99",
        ),
    ):
        rk = cell(http, name)
        if rk:
            rows.append(
                [
                    label,
                    "≤ 300 ms",
                    f"{rk['p99_ms']:.0f} ms (p50 {rk['p50_ms']:.0f} ms, {rk['errors']} errors)",
                    met(rk["p99_ms"] <= 300),
                ]
            )
    rr = cell(http, "/rank same 1000 answers, cache on, concurrency 1")
    if rr:
        rows.append(
            [
                "/rank, the same 1,000 answers again (cache on): p50",
                "≤ 30 ms",
                f"{rr['p50_ms']:.1f} ms (p99 {rr['p99_ms']:.0f} ms)",
                met(rr["p50_ms"] <= 30),
            ]
        )
    return rows


def memory_rows(http: dict[str, Any] | None) -> list[list[Any]]:
    if not (http and "peak_rss_mb" in http):
        return []
    return [
        [
            "peak RSS of the serving process tree under load",
            "≤ 400 MB",
            f"{http['peak_rss_mb']:.0f} MB summed over {http.get('server_processes', '?')} processes "
            f"(PSS {http.get('peak_pss_mb', float('nan')):.0f} MB; "
            f"largest process {http['peak_rss_single_mb']:.0f} MB)",
            met(http["peak_rss_mb"] <= 400),
        ]
    ]


def independence_rows(batch: dict[str, Any] | None) -> list[list[Any]]:
    """Batch == single for the encoders the service serves (the int8 ones are expected to fail it)."""
    served = [r for r in (batch or {}).get("results", []) if r["served"]]
    if not served:
        return []
    worst = max(max(r["together_max_diff"], r["merged_max_diff"]) for r in served)
    flips = sum(r["together_flips"] + r["merged_flips"] for r in served)
    return [
        [
            "served encoders: batch == single (in process, 200 real pairs per task)",
            "≤ 1e-6",
            f"max |Δ| {worst:.2g}, {flips} flips ({', '.join(r['task'] + ' ' + r['encoder'] for r in served)})",
            met(worst <= 1e-6),
        ]
    ]


def targets(
    eng: dict[str, Any] | None, http: dict[str, Any] | None, batch: dict[str, Any] | None, speed: dict[str, Any] | None
) -> list[list[Any]]:
    """The serving targets: client-side over HTTP, ratios against MiniLM and the baseline models in the same run."""
    snli = (eng or {}).get("pairs", {}).get("snli", {})
    minilm_best = max((c["minilm"]["items_per_s"] for c in snli.values() if "minilm" in c), default=None)
    return [
        *entailment_rows(http, minilm_best),
        *rank_rows(http),
        *memory_rows(http),
        *independence_rows(batch),
        *(speed or {}).get("targets", []),
    ]


def bounds(eng: dict[str, Any] | None, http: dict[str, Any] | None) -> list[str]:
    """What the in-process numbers say each HTTP target can reach at best."""
    lines = []
    snli = (eng or {}).get("pairs", {}).get("snli", {})
    c1 = cell(http, "/entailment 1 pair(s), concurrency 1")
    b1 = snli.get("1", {}).get("ort-fp32")
    if c1 and b1:
        lines.append(
            f"- 1 pair at concurrency 1: the model itself (in-process ort fp32, batch 1, tokenization included) "
            f"takes p50 {b1['p50_ms']:.2f} ms; over HTTP p50 is {c1['p50_ms']:.1f} ms, "
            f"so ~{c1['p50_ms'] - b1['p50_ms']:.1f} ms is serving overhead "
            f"(server CPU per request: {1000 * c1['server_cpu_s_per_s'] / max(c1['requests_per_s'], 1e-9):.1f} ms)."
        )
    c8 = cell(http, "/entailment 32 pair(s), concurrency 8")
    if c8:
        need = 8 * 32 / 0.1
        fp32 = snli.get("64", {}).get("ort-fp32")
        have = (
            f"; in process the served encoder (ort fp32) at batch 64 does {fp32['items_per_s']:,.0f} pairs/s"
            if fp32
            else ""
        )
        lines.append(
            f"- 32 pairs at concurrency 8, p99 ≤ 100 ms: by Little's law 8 × 32 pairs in flight "
            f"need ≥ {need:,.0f} pairs/s "
            f"of service rate{have}; measured over HTTP {c8['pairs_per_s']:,.0f} pairs/s, p50 {c8['p50_ms']:.0f} ms."
        )
    rk = cell(http, "/rank 1000 answers, concurrency 1")
    r1000 = (eng or {}).get("rank", {}).get("1000", {})
    if rk and r1000:
        inner = ", ".join(f"{e} {c['p50_ms']:.0f} ms" for e, c in r1000.items() if e.startswith("ort"))
        lines.append(f"- /rank 1,000 answers: in-process p50 {inner}; over HTTP p50 {rk['p50_ms']:.0f} ms.")
    return lines


# ----------------------------------------------------------------------------- plots


def plots(eng: dict[str, Any] | None, http: dict[str, Any] | None, wrk: dict[str, Any] | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    made = []
    if eng and eng.get("pairs"):
        datasets = list(eng["pairs"])
        fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
        engines = ["ort-fp32", "ort-int8", "torch", "minilm"]
        for ax, ds in zip(axes[0], datasets):
            batches = list(eng["pairs"][ds])
            width = 0.8 / len(engines)
            for k, e in enumerate(engines):
                ys = [eng["pairs"][ds][b].get(e, {}).get("items_per_s", 0) for b in batches]
                ax.bar([i + k * width for i in range(len(batches))], ys, width, label=e)
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(batches))], [f"batch {b}" for b in batches])
            ax.set_yscale("log")
            ax.set_ylabel("pairs/s (log)")
            ax.set_title(ds)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].legend()
        fig.suptitle(f"pairs/s by engine and batch size ({eng['threads']} threads, {eng['machine']['cpu']})")
        fig.tight_layout()
        fig.savefig(BENCH / "engines.png", dpi=100)
        plt.close(fig)
        made.append("engines.png")
    if http and http.get("cells"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for pairs in ("1", "32"):
            cs = [
                c for c in http["cells"] if c["mode"] == "closed" and c["name"].startswith(f"/entailment {pairs} pair")
            ]
            xs = [c["concurrency"] for c in cs]
            for q, style in (("p50_ms", "-o"), ("p99_ms", "--x")):
                ax.plot(xs, [c[q] for c in cs], style, label=f"{pairs} pair(s)/request {q[:3]}")
        ax.axhline(100, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set_yscale("log")
        ax.set_xlabel("concurrent clients")
        ax.set_ylabel("latency ms (log)")
        ax.set_title("/entailment latency vs concurrency")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(BENCH / "http_latency.png", dpi=100)
        plt.close(fig)
        made.append("http_latency.png")
    if wrk:
        from benchmarks.wrk_load import plot_soak

        plotted = plot_soak(wrk)
        if plotted:
            made.append(plotted.name)
    return made


# ----------------------------------------------------------------------------- report


def machine_section(first: dict[str, Any], runs: list[tuple[str, dict[str, Any] | None]]) -> str:
    """The machine and versions from the first result, and the load average when each timed step started."""
    m = first["machine"]
    v = first.get("versions") or versions()
    return "## Machine\n\n" + md_table(
        ["", ""],
        [
            ["CPU", m["cpu"]],
            ["cores", m["cores"]],
            ["memory", f"{m['memory_gb']} GB"],
            ["OS", m["os"]],
            *[
                [f"load average at start of {n}", f"{x['machine']['loadavg']} ({x['machine']['time_utc']})"]
                for n, x in runs
                if x
            ],
            ["versions", ", ".join(f"{k} {val}" for k, val in v.items())],
        ],
    )


def busy_section(runs: list[tuple[str, dict[str, Any] | None]]) -> list[str]:
    """A warning when other processes were using the CPU before a timed step, naming them."""
    busy = {n: x.get("busy_before") for n, x in runs if x and x.get("busy_before")}
    if not busy:
        return []
    return [
        "**Other processes were using the CPU when these numbers were taken; treat them as lower bounds:**\n\n"
        + "\n".join(f"- before {n}: " + "; ".join(b) for n, b in busy.items())
    ]


def target_sections(
    eng: dict[str, Any] | None, http: dict[str, Any] | None, batch: dict[str, Any] | None, speed: dict[str, Any] | None
) -> list[str]:
    rows = targets(eng, http, batch, speed)
    parts = ["## Serving targets\n\n" + md_table(["target", "wanted", "measured", "met?"], rows)]
    if bounds(eng, http):
        parts.append(
            "What bounds them (from the in-process numbers of the same run):\n\n" + "\n".join(bounds(eng, http))
        )
    return parts


def engine_sections(eng: dict[str, Any] | None, batch: dict[str, Any] | None) -> list[str]:
    """The in-process sections: batch independence, the engines, their agreement and the 1-thread table."""
    parts = []
    if batch:
        parts.append(
            "## Batch independence\n\nWhy the service serves the fp32 encoders: "
            "the int8 ones are dynamically quantized (activation "
            "scale taken from the whole batch tensor), so a pair's answer moves with its neighbours.\n\n"
            + batch["markdown"]
        )
    if eng:
        parts.append(
            "## Engines (in process)\n\nEach number starts from raw text (tokenization included), "
            f"same thread count for all engines ({eng['threads']}). "
            "MiniLM = sentence-transformers all-MiniLM-L6-v2 bi-encoder (both texts embedded, each "
            "distinct text once, cosine); ours = pairscore.runtime.model.PairModel "
            "(each distinct text once, length-sorted chunks of 64). "
            "Pairs are shuffled so consecutive pairs rarely share a text.\n\n" + eng["markdown"]
        )
    agr = load("agreement")
    if agr:
        parts.append(
            f"### Agreement, measured separately on {agr.get('models_root')} ({agr['machine']['time_utc']})\n\n"
            + agr["markdown"]
        )
    eng1 = load("engines_1thread")
    if eng1:
        parts.append(
            "### The same SNLI table at 1 thread per engine\n\n"
            "On a machine busy with other work, engines that use 2 threads "
            "lose most when one of their threads is descheduled "
            "(torch's OpenMP barriers after every small op: torch eager and MiniLM); "
            "at 1 thread every engine only loses its share of the CPU, "
            "so these ratios are the fairer ones under load.\n\n" + eng1["markdown"]
        )
    return parts


def later_sections(
    http: dict[str, Any] | None,
    wrk: dict[str, Any] | None,
    speed: dict[str, Any] | None,
    train: dict[str, Any] | None,
    steps: list[dict[str, Any]],
) -> list[str]:
    """HTTP, wrk, the models' served speed, training and Ray scoring, then the steps this run ran."""
    parts = []
    if http:
        parts.append(
            "## HTTP\n\n"
            + http["markdown"]
            + f"\n\nServer: `{http['server_command']}` (onnxruntime threads: {http['ort_threads']})."
        )
    if wrk:
        parts.append("## Tail latency and memory under wrk\n\n" + wrk["markdown"])
    if speed:
        parts.append("## Served speed: this checkout's models against the baseline's\n\n" + speed["markdown"])
    if train:
        parts.append("## Training\n\n" + train["markdown"])
    ray = load("ray_scoring")
    if ray:
        parts.append(
            "## Batch scoring: local vs Ray Data\n\n`python benchmarks/ray_scoring.py`, "
            f"{ray['machine']['time_utc']}.\n\n" + ray["markdown"]
        )
    if steps:
        parts.append(
            "## Run\n\n"
            + md_table(
                ["step", "exit", "seconds", "command"],
                [[s["name"], s["rc"], s["seconds"], f"`{s['command']}`"] for s in steps],
            )
        )
    return parts


def report(steps: list[dict[str, Any]], command: str) -> Path:
    eng, http, train, wrk = load("engines"), load("http_load"), load("train_speed"), load("wrk_load")
    speed = load("model_speed")
    runs = [("engines", eng), ("http_load", http), ("wrk_load", wrk), ("model_speed", speed), ("train_speed", train)]
    first = next((x for _, x in runs if x), None)
    if first is None:
        raise SystemExit(f"no results in {OUT_DIR}: run the benchmarks first")
    batch = load("batch_independence")
    parts = [
        "# pairscore benchmarks",
        f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. "
        "Raw numbers: `benchmarks/out/*.json`; "
        "plots: `engines.png`, `http_latency.png`, `wrk_soak.png`.",
        machine_section(first, runs),
        *busy_section(runs),
        *target_sections(eng, http, batch, speed),
        *engine_sections(eng, batch),
        *later_sections(http, wrk, speed, train, steps),
    ]
    made = plots(eng, http, wrk)
    parts.append("\n".join(f"![{p}]({p})" for p in made))
    path = BENCH / "results.md"
    path.write_text("\n\n".join(parts) + "\n")
    return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--models",
        default=str(REPO / "models"),
        help="folder with entailment/, paraphrase/, ranking/ (default: models/)",
    )
    p.add_argument("--data-dir", help="data folder (default: $PAIRSCORE_DATA_DIR, else ../shared/data)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--seconds", type=float, default=2.0, help="engines.py: timed seconds per cell")
    p.add_argument("--duration", type=float, default=10.0, help="http_load.py: measured seconds per cell")
    p.add_argument(
        "--wrk-baseline",
        default=WRK_BASELINE,
        help=f"wrk_load.py: commit also served, for same-run ratios (default {WRK_BASELINE}; '' for none)",
    )
    p.add_argument(
        "--models-baseline",
        default="",
        help="model_speed.py: commit whose models/ this checkout's are compared with (default: the v2.1 models)",
    )
    p.add_argument(
        "--models-duration", type=float, default=16.0, help="model_speed.py: measured seconds per cell and server"
    )
    p.add_argument("--train-steps", type=int, default=60, help="train_speed.py: steps per recipe")
    p.add_argument(
        "--quick",
        action="store_true",
        help="short cells (engines 0.5 s, HTTP 3 s, wrk soak 20 s, model speed 4 s, 20 training steps): a smoke run",
    )
    p.add_argument("--skip", nargs="*", default=[], choices=STEPS)
    p.add_argument(
        "--report-only", action="store_true", help="only rebuild results.md and the plots from benchmarks/out/"
    )
    return p


def in_process_steps(args: argparse.Namespace) -> list[dict[str, Any]]:
    """engines.py (at --threads, then SNLI alone at 1 thread) and batch_independence.py."""
    steps = []
    if "engines" not in args.skip:
        flags = ("--models", args.models, "--threads", str(args.threads), "--seconds", str(args.seconds))
        cmd = script(args, "engines.py", *flags, "--out", str(OUT_DIR / "engines.json"))
        steps.append(run_step("engines", cmd, 900))
        if args.threads != 1:
            flags = ("--models", args.models, "--threads", "1", "--datasets", "snli", "--no-sweeps")
            out = str(OUT_DIR / "engines_1thread.json")
            cmd = script(args, "engines.py", *flags, "--seconds", str(args.seconds), "--out", out)
            steps.append(run_step("engines-1thread", cmd, 600))
    if "batch" not in args.skip:
        out = str(OUT_DIR / "batch_independence.json")
        cmd = script(args, "batch_independence.py", "--models", args.models, "--out", out)
        steps.append(run_step("batch", cmd, 300))
    return steps


def server_steps(args: argparse.Namespace) -> list[dict[str, Any]]:
    """http_load.py, wrk_load.py and model_speed.py: real servers on 127.0.0.1."""
    steps = []
    if "http" not in args.skip:
        flags = ("--models", args.models, "--duration", str(args.duration), "--profile")
        cmd = script(args, "http_load.py", *flags, "--out", str(OUT_DIR / "http_load.json"))
        steps.append(run_step("http", cmd, 900))
    if "wrk" not in args.skip:
        steps.append(run_wrk(args))
    if "models" not in args.skip:
        steps.append(run_model_speed(args))
    return steps


def job_steps(args: argparse.Namespace) -> list[dict[str, Any]]:
    """train_speed.py and ray_scoring.py."""
    steps = []
    if "train" not in args.skip:
        flags = ("--steps", str(args.train_steps), "--threads", str(args.threads))
        cmd = script(args, "train_speed.py", *flags, "--out", str(OUT_DIR / "train_speed.json"))
        steps.append(run_step("train", cmd, 1200))
    if "ray" not in args.skip:
        steps.append(run_step("ray", script(args, "ray_scoring.py", "--models", args.models), 600))
    return steps


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    command = "python benchmarks/run_all.py" + (
        " " + " ".join(argv if argv is not None else sys.argv[1:]) if (argv or sys.argv[1:]) else ""
    )
    steps = []
    if not args.report_only:
        if args.quick:
            args.seconds, args.duration, args.models_duration, args.train_steps = 0.5, 3.0, 4.0, 20
        steps = [*in_process_steps(args), *server_steps(args), *job_steps(args)]
    path = report(steps, command)
    print(f"\nwrote {path}")
    print(path.read_text().split("## Engines")[0])
    return 0 if all(s["rc"] == 0 for s in steps) else 1


if __name__ == "__main__":
    raise SystemExit(main())
