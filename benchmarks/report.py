"""benchmarks/results.md and its plots, rendered from the suites' JSON alone (benchmarks/out/*.json): the machine, who
else used it, the serving targets (benchmarks/targets.py) judged against the suites' records, then every suite's
tables. `python -m benchmarks.run_all --report-only` re-renders the figures of the runs that wrote the JSON.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from benchmarks import (
    batch_independence,
    breakdown,
    engines,
    http_load,
    model_speed,
    ray_scoring,
    roofline,
    train_speed,
    wrk_load,
)
from benchmarks.harness import md_table, relative
from benchmarks.targets import judge

SUITES = ("engines", "engines_1thread", "batch_independence", "http_load", "wrk_load", "model_speed", "train_speed")
SUITES += ("ray_scoring", "roofline", "breakdown")
TIMED = ("engines", "http_load", "wrk_load", "model_speed", "train_speed", "roofline", "breakdown")  # load averages
RECORDS = {"http:": "http_load", "batch:": "batch_independence", "models:": "model_speed", "wrk:": "wrk_load"}
RECORDS |= {"roofline:": "roofline", "breakdown:": "breakdown"}
LOWER = "treat them as lower bounds"
WARNING = f"⚠ Other processes used the CPU while this ran, or it was a --quick smoke run (see the top): {LOWER}."


def load(out: Path, name: str) -> dict[str, Any] | None:
    path = out / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def noted(runs: dict[str, Any]) -> dict[str, list[str]]:
    """Per run, why its figures are marked: other busy processes before or during it, or a --quick smoke run."""
    notes = {}
    for name, r in runs.items():
        found = [f"before {name}: {b}" for b in r.get("busy_before") or []]
        found += [f"during {name}: {b}" for b in r.get("busy_during") or []]
        found += [f"{name} was a --quick smoke run: its figures measure nothing"] if r.get("quick") else []
        if found:
            notes[name] = found
    return notes


def machine_section(runs: dict[str, Any]) -> str:
    """The machine and versions from the first timed run, and the load average when each timed run started."""
    first = next(runs[n] for n in (*TIMED, *runs) if n in runs)
    m = first["machine"]
    rows = [["CPU", m["cpu"]], ["cores", m["cores"]], ["memory", f"{m['memory_gb']} GB"], ["OS", m["os"]]]
    for n in (n for n in TIMED if n in runs):
        at = runs[n]["machine"]
        rows.append([f"load average at start of {n}", f"{at['loadavg']} ({at['time_utc']})"])
    rows.append(["versions", ", ".join(f"{k} {v}" for k, v in first["versions"].items())])
    return "## Machine\n\n" + md_table(["", ""], rows)


def records(runs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every record the serving targets read; /entailment 32 × 8 gets its ratio to MiniLM's best SNLI batch."""
    found: dict[str, dict[str, Any]] = {}
    for suite in (http_load, batch_independence, model_speed, wrk_load, roofline, breakdown):
        name = suite.__name__.removeprefix("benchmarks.")
        found |= suite.records(runs[name]) if name in runs else {}
    snli = runs.get("engines", {}).get("pairs", {}).get("snli", {})
    minilm = max((c["minilm"]["items_per_s"] for c in snli.values() if "minilm" in c), default=None)
    if cell := found.get("http:entailment32@8"):
        ratio = cell["pairs_per_s"] / minilm if minilm else None
        found["http:entailment32@8"] = {**cell, "minilm": minilm, "vs_minilm": ratio}
    return found


def bounds(runs: dict[str, Any], found: dict[str, dict[str, Any]]) -> list[str]:
    """What the in-process numbers say each HTTP target can reach at best."""
    lines, eng = [], runs.get("engines", {})
    snli = eng.get("pairs", {}).get("snli", {})
    c1, b1 = found.get("http:entailment1@1"), snli.get("1", {}).get("ort-fp32")
    if c1 and b1:
        lines.append(
            f"- 1 pair at concurrency 1: the model itself (in-process ort fp32, batch 1, tokenization included) "
            f"takes p50 {b1['p50_ms']:.2f} ms; over HTTP p50 is {c1['p50_ms']:.1f} ms, "
            f"so ~{c1['p50_ms'] - b1['p50_ms']:.1f} ms is serving overhead "
            f"(server CPU per request: {1000 * c1['server_cpu_s_per_s'] / max(c1['requests_per_s'], 1e-9):.1f} ms)."
        )
    c8, fp32 = found.get("http:entailment32@8"), snli.get("64", {}).get("ort-fp32")
    if c8:
        have = f"; in process the served encoder (ort fp32) at batch 64 does {fp32['items_per_s']:,.0f}" if fp32 else ""
        lines.append(
            f"- 32 pairs at concurrency 8, p99 ≤ 100 ms: by Little's law 8 × 32 pairs in flight need ≥ "
            f"{8 * 32 / 0.1:,.0f} pairs/s of service rate{have + ' pairs/s' if fp32 else ''}; measured over HTTP "
            f"{c8['pairs_per_s']:,.0f} pairs/s, p50 {c8['p50_ms']:.0f} ms."
        )
    rk, r1000 = found.get("http:rank1000@1"), eng.get("rank", {}).get("1000", {})
    if rk and r1000:
        inner = ", ".join(f"{e} {c['p50_ms']:.0f} ms" for e, c in r1000.items() if e.startswith("ort"))
        lines.append(f"- /rank 1,000 answers: in-process p50 {inner}; over HTTP p50 {rk['p50_ms']:.0f} ms.")
    return lines


BATCH_WHY = (
    "Why the service serves the fp32 encoders: the int8 ones are dynamically quantized (activation scale taken "
    "from the whole batch tensor), so a pair's answer moves with its neighbours."
)
ENGINES_WHAT = (
    "Each number starts from raw text (tokenization included), same thread count for all engines ({threads}). "
    "MiniLM = sentence-transformers all-MiniLM-L6-v2 bi-encoder (both texts embedded, each distinct text once, "
    "cosine); ours = pairscore.runtime.model.PairModel (each distinct text once, length-sorted chunks of 64). "
    "Pairs are shuffled so consecutive pairs rarely share a text."
)
SPEED_WHERE = (
    "Where each comes from: the MiniLM ratio from http_load's cell over engines' best MiniLM SNLI batch; PairModel "
    "against its encoder graph alone from roofline (the same token ids in the same calls on the same threads); the "
    "dispatch share from breakdown's py-spy samples; the 1-pair latency from wrk_load; /rank from http_load."
)
ONE_THREAD = (
    "On a machine busy with other work, engines that use 2 threads lose most when one of their threads is descheduled "
    "(torch's OpenMP barriers after every small op: torch eager and MiniLM); at 1 thread every engine only loses its "
    "share of the CPU, so these ratios are the fairer ones under load."
)


def sections(runs: dict[str, Any], notes: dict[str, list[str]]) -> list[str]:
    """The serving targets, then each run's tables; a run with notes opens with the warning, its targets are marked."""
    mark = {prefix: " ⚠" for prefix, name in RECORDS.items() if name in notes}
    found = records(runs)
    targets = md_table(["target", "wanted", "measured", "met?"], judge("serving", found, mark))
    parts = [f"## Serving targets\n\n{targets}"]
    if why := "\n".join(bounds(runs, found)):
        parts.append(f"What bounds them (from the in-process numbers of the same run):\n\n{why}")
    if speed_rows := judge("speed", found, mark):
        table = md_table(["target", "wanted", "measured", "met?"], speed_rows)
        parts.append(f"## Speed targets (issue 27; same run, cache off)\n\n{table}\n\n{SPEED_WHERE}")

    def http(r: dict[str, Any]) -> str:
        return http_load.markdown(r) + f"\n\nServer: `{r['server_command']}` (onnxruntime threads: {r['ort_threads']})."

    def speed(r: dict[str, Any]) -> str:
        return model_speed.markdown(r, mark)

    shown = (  # run, title, introduction, tables
        ("batch_independence", "## Batch independence", lambda r: BATCH_WHY, batch_independence.markdown),
        ("engines", "## Engines (in process)", lambda r: ENGINES_WHAT.format(threads=r["threads"]), engines.markdown),
        ("engines_1thread", "### The same SNLI table at 1 thread per engine", lambda r: ONE_THREAD, engines.markdown),
        ("http_load", "## HTTP", lambda r: "", http),
        ("wrk_load", "## Tail latency and memory under wrk", lambda r: "", lambda r: wrk_load.markdown(r, mark)),
        ("model_speed", "## Served speed: this checkout's models against the baseline's", lambda r: "", speed),
        ("train_speed", "## Training", lambda r: "", train_speed.markdown),
        ("roofline", "## The encoder against the hardware's limit", lambda r: "", roofline.markdown),
        ("breakdown", "## Where a served request's time goes", lambda r: "", breakdown.markdown),
        (
            "ray_scoring",
            "## Batch scoring: local vs Ray Data",
            lambda r: f"`{r['command']}`, {r['machine']['time_utc']}.",
            ray_scoring.report,
        ),
    )
    for name, title, intro, tables in shown:
        if name in runs:
            r = runs[name]
            parts.append("\n\n".join(x for x in (title, WARNING * (name in notes), intro(r), tables(r)) if x))
    return parts


def render(out: Path, path: Path, command: str) -> Path:
    """results.md (at `path`) and the plots beside it, from the JSON in `out`."""
    runs = {name: r for name in SUITES if (r := load(out, name))}
    if not runs:
        raise SystemExit(f"no results in {relative(str(out))}: run the benchmarks first")
    run, notes = load(out, "run"), noted(runs)
    head = f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} from `{out}/*.json`"
    head += f" (the last run: `{run['command']}`, {run['time_utc']}; its steps under Run)" if run else ""
    parts = ["# pairscore benchmarks", head + "; plots: `engines.png`, `http_latency.png`, `wrk_soak.png`."]
    parts.append(machine_section(runs))
    if notes:
        busy = "\n".join(f"- {note}" for found in notes.values() for note in found)
        parts.append(f"**Other processes were using the CPU when these numbers were taken; {LOWER}:**\n\n{busy}")
    parts += sections(runs, notes)
    if run:
        steps = [[s["name"], s["rc"], s["seconds"], f"`{s['command']}`"] for s in run["steps"]]
        parts.append("## Run\n\n" + md_table(["step", "exit", "seconds", "command"], steps))
    parts.append("\n".join(f"![{p}]({p})" for p in plots(runs, path.parent)))
    path.write_text(relative("\n\n".join(parts)) + "\n")
    return path


def plots(runs: dict[str, Any], folder: Path) -> list[str]:
    """engines.png (pairs/s by engine and batch size), http_latency.png (latency vs concurrency), wrk_soak.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    made = []
    eng, http, wrk = runs.get("engines"), runs.get("http_load"), runs.get("wrk_load")
    if eng and eng.get("pairs"):
        datasets = list(eng["pairs"])
        fig, axes = plt.subplots(1, len(datasets), figsize=(5 * len(datasets), 4), squeeze=False)
        for ax, ds in zip(axes[0], datasets):
            batches, width = list(eng["pairs"][ds]), 0.8 / len(engines.ENGINES)
            for k, e in enumerate(engines.ENGINES):
                ys = [eng["pairs"][ds][b].get(e, {}).get("items_per_s", 0) for b in batches]
                ax.bar([i + k * width for i in range(len(batches))], ys, width, label=e)
            ax.set_xticks([i + 0.4 - width / 2 for i in range(len(batches))], [f"batch {b}" for b in batches])
            ax.set(yscale="log", ylabel="pairs/s (log)", title=ds)
            ax.grid(axis="y", alpha=0.3)
        axes[0][0].legend()
        fig.suptitle(f"pairs/s by engine and batch size ({eng['threads']} threads, {eng['machine']['cpu']})")
        made.append(save(fig, folder / "engines.png"))
    if http and http.get("cells"):
        fig, ax = plt.subplots(figsize=(6, 4))
        for pairs in ("1", "32"):
            cs = [c for c in http["cells"] if c["mode"] == "closed" and c["kind"] == f"entailment{pairs}"]
            xs = [c["concurrency"] for c in cs]
            for q, style in (("p50_ms", "-o"), ("p99_ms", "--x")):
                ax.plot(xs, [c[q] for c in cs], style, label=f"{pairs} pair(s)/request {q[:3]}")
        ax.axhline(100, color="grey", lw=0.8, ls=":")
        ax.set_xscale("log", base=2)
        ax.set_xticks(xs, [str(x) for x in xs])
        ax.set(yscale="log", xlabel="concurrent clients", ylabel="latency ms (log)")
        ax.set_title("/entailment latency vs concurrency")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        made.append(save(fig, folder / "http_latency.png"))
    soaks = [
        (f"{v['name']} ({v['commit'].split()[0]})", v["soak"]) for v in (wrk or {}).get("variants", []) if v.get("soak")
    ]
    if soaks:
        fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 6), sharex=True)
        for name, s in soaks:
            t0 = s["rss_series"][0][0]
            line = top.plot([t - t0 for t, _ in s["rss_series"]], [r for _, r in s["rss_series"]], label=name)[0]
            ends = [w["t_end_s"] - t0 for w in s["windows"]]
            bottom.plot(ends, [w["p99_ms"] for w in s["windows"]], "o-", color=line.get_color())
        top.set(ylabel="worker RSS (MB)", title="soak: /entailment, 1 pair, 32 connections (wrk)")
        top.grid(alpha=0.3)
        top.legend(fontsize=8)
        bottom.axhline(100, color="grey", lw=0.8, ls=":")
        bottom.set_yscale("log")
        bottom.yaxis.set_major_formatter(ScalarFormatter())
        bottom.yaxis.set_minor_formatter(ScalarFormatter())
        bottom.set(ylabel=f"p99 per {soaks[0][1]['window_s']:g} s window (ms, log)", xlabel="seconds into the soak")
        bottom.grid(alpha=0.3)
        made.append(save(fig, folder / "wrk_soak.png"))
    return made


def save(fig: Any, path: Path) -> str:
    import matplotlib.pyplot as plt

    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path.name
