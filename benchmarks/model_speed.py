"""Served speed of this checkout's models against an older release's, on the same service code, under wrk.

A model release must not slow serving down: served pairs/s over HTTP with the vector cache off stays at or
above 0.9x the v2.1 models. On a shared machine only a ratio measured in the same run says that, so two
servers run side by side on 127.0.0.1, both with THIS checkout's service code and the vector cache off
(PAIRSCORE_CACHE_ENTRIES=0: every text goes through the encoder, the cost a model change moves), each with a
BENTOML_HOME of its own:
  baseline  models/ of --baseline COMMIT (git archive; default the v2.1 models, 46b7fec)
  current   --models (default this checkout's models/)

Cells: /entailment with 1 and with 32 pairs per request, /paraphrase with 32 pairs (Twitter URL), /rank with
100 answers (WikiQA), each at --connections (default 8 and 32). Per cell: --warmup s of wrk unmeasured on each
server, then --duration s measured per server, split into --rounds wrk runs taken in the order A B B A A B ...
(A: the baseline, or the current models in every other cell), so that a drift in the machine's load hits both
alike. Reported: pairs/s (answers/s for /rank) from the 2xx answers, their ratio current/baseline, p99 (worst
round), errors; the target row judges the worst cell. Request bodies are real pairs, the files
benchmarks/wrk_load.py's write_bodies writes.

Needs wrk (`apt-get install -y wrk`). Writes benchmarks/out/model_speed.json (markdown and target rows
included; benchmarks/run_all.py puts both in results.md). ~5 min with the defaults (single cells swing
±5-10% on a shared machine at 8 s).

    python benchmarks/model_speed.py [--baseline 46b7fec] [--models models] [--duration 16] [--rounds 4]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT_DIR, REPO, busy_processes, data_dir, machine, md_table, publish, versions  # noqa: E402
from benchmarks.http_load import Server, free_port  # noqa: E402
from benchmarks.wrk_load import (  # noqa: E402
    baseline_checkout,
    commit_of,
    find_wrk,
    run_wrk,
    write_bodies,
    wrk_version,
)

V21_MODELS = "46b7fec"  # the last commit of the v2.1 models
TARGET = 0.9  # current / baseline pairs/s, every cell
CELLS = (  # (path, body kind of write_bodies, pairs per request)
    ("/entailment", "1 pair", 1),
    ("/entailment", "32 pairs", 32),
    ("/paraphrase", "32 paraphrase pairs", 32),
    ("/rank", "100 answers", 100),
)
SIDES = ("baseline", "current")
CACHE_OFF = {"PAIRSCORE_CACHE_ENTRIES": "0"}


def baseline_label(commit: str) -> str:
    return "the v2.1 models" if commit == V21_MODELS else f"the models of {commit}"


def describe(models: Path) -> dict[str, str]:
    """Per task folder: architecture, parameters, encoder size and creation date, from its card."""
    found = {}
    for card_path in sorted(Path(models).glob("*/card.json")):
        card = json.loads(card_path.read_text())
        arch = card.get("architecture") or {}
        shape = f"{arch.get('cell', '?')} {arch.get('layers', '?')}×{arch.get('hidden_size', '?')}"
        encoder = card_path.parent / (card.get("graphs") or {}).get("encoder", "encoder.onnx")
        size = f"{encoder.stat().st_size / 2**20:.1f} MB encoder" if encoder.is_file() else "no encoder file"
        found[card_path.parent.name] = (
            f"{shape}, {arch.get('parameters', 0):,} parameters, {size}, format {card.get('format_version', '?')}, "
            f"created {str(card.get('created', '?'))[:10]}"
        )
    if not found:
        raise SystemExit(f"no model folders (*/card.json) under {models}")
    return found


def start_servers(models: dict[str, Path], out: Path, home: Path, timeout: float) -> dict[str, Server]:
    """Both servers started before either is awaited (their start-ups overlap); stops them all on a failure."""
    servers: dict[str, Server] = {}
    try:
        for side, folder in models.items():
            env = {**CACHE_OFF, "BENTOML_HOME": str(home / side)}
            servers[side] = Server(folder, free_port(), out / f"model_speed_server_{side}.log", env=env, repo=REPO)
        for server in servers.values():
            server.wait_ready(timeout)
    except BaseException:
        for server in servers.values():
            server.stop()
        raise
    return servers


def measure_cell(
    args: argparse.Namespace,
    wrk: str,
    servers: dict[str, Server],
    cell: tuple[str, str, int, int],
    bodies: Path,
    flip: bool = False,
) -> dict[str, dict[str, Any]]:
    """One cell on both servers: a warm-up each, then --rounds runs in the order A B B A A B ...

    A is the baseline, or the current models with `flip` (the caller flips it from cell to cell, so neither
    server is always the one that opens a cell, nor the one that runs twice in a row).
    """
    path, _, per_request, connections = cell
    first = SIDES[::-1] if flip else SIDES
    for side in first:
        run_wrk(wrk, servers[side].url + path, bodies, connections, args.warmup)
    runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for r in range(args.rounds):
        for side in first if r % 2 == 0 else first[::-1]:
            runs[side].append(run_wrk(wrk, servers[side].url + path, bodies, connections, args.duration / args.rounds))
    return {side: summarize(rounds, per_request) for side, rounds in runs.items()}


def summarize(rounds: list[dict[str, Any]], per_request: int) -> dict[str, Any]:
    """Pairs/s over all rounds from the 2xx answers; the worst round's p99."""
    seconds = sum(r["seconds"] for r in rounds)
    ok = sum(r["requests"] - r["non_2xx"] for r in rounds)
    return {
        "requests": sum(r["requests"] for r in rounds),
        "seconds": seconds,
        "pairs_per_s": ok * per_request / seconds,
        "requests_per_s": ok / seconds,
        "p50_ms": sorted(r["p50_ms"] for r in rounds)[len(rounds) // 2],
        "p99_ms": max(r["p99_ms"] for r in rounds),
        "errors": sum(r["non_2xx"] + r["socket_errors"] for r in rounds),
        "rounds": rounds,
    }


def measure(args: argparse.Namespace, wrk: str, models: dict[str, Path], out: Path) -> list[dict[str, Any]]:
    """Every cell at every connection count, both servers up throughout."""
    bodies = write_bodies(data_dir(args.data_dir), out)
    cells = []
    with tempfile.TemporaryDirectory(prefix="model-speed-bentoml-home-") as home:
        servers = start_servers(models, out, Path(home), args.ready_timeout)
        try:
            for path, kind, per_request in CELLS:
                for connections in args.connections:
                    cell = (path, kind, per_request, connections)
                    sides = measure_cell(args, wrk, servers, cell, bodies[kind], flip=len(cells) % 2 == 1)
                    name = cell_name(path, per_request, connections)
                    cells.append({"name": name, "path": path, "connections": connections, **sides})
                    print(cell_line(cells[-1]), flush=True)
        finally:
            for server in servers.values():
                server.stop()
    return cells


def cell_name(path: str, per_request: int, connections: int) -> str:
    items = "answers" if path == "/rank" else "pairs" if per_request > 1 else "pair"
    return f"{path}, {per_request} {items}, {connections} connections"


def ratio(cell: dict[str, Any]) -> float:
    """current / baseline pairs/s; nan where the baseline answered nothing (its errors say why)."""
    base = cell["baseline"]["pairs_per_s"]
    return cell["current"]["pairs_per_s"] / base if base else math.nan


def cell_line(cell: dict[str, Any]) -> str:
    b, c = cell["baseline"], cell["current"]
    return (
        f"{cell['name']}: baseline {b['pairs_per_s']:,.0f} pairs/s, current {c['pairs_per_s']:,.0f} pairs/s, "
        f"{ratio(cell):.2f}× (errors {b['errors']} / {c['errors']})"
    )


# ----------------------------------------------------------------------------- report


def met(ok: bool) -> str:
    return "yes" if ok else "**no**"


def targets(result: dict[str, Any]) -> list[list[str]]:
    """The target rows (target, wanted, measured, met?): the worst cell's ratio, and errors on the current models."""
    cells = result.get("cells") or []
    if not cells:
        return []
    label = baseline_label(result["baseline"])
    unmeasured = [c["name"] for c in cells if math.isnan(ratio(c))]
    if unmeasured:
        measured, ok = f"n/a: no 2xx answer from the baseline in {'; '.join(unmeasured)}", "n/a"
    else:
        worst = min(cells, key=ratio)
        mean = math.exp(sum(math.log(max(ratio(c), 1e-9)) for c in cells) / len(cells))
        measured = f"worst {ratio(worst):.2f}× ({worst['name']}); geometric mean {mean:.2f}× over {len(cells)} cells"
        ok = met(ratio(worst) >= TARGET)
    errors = sum(c["current"]["errors"] for c in cells)
    requests = sum(c["current"]["requests"] for c in cells)
    return [
        [
            f"served pairs/s, vector cache off, this checkout's models vs {label} (same run, wrk, every cell)",
            f"≥ {TARGET:g}× {label}",
            measured,
            ok,
        ],
        ["… errors (non-2xx + socket) on this checkout's models", "0", f"{errors} of {requests}", met(errors == 0)],
    ]


def cells_table(result: dict[str, Any]) -> str:
    rows = [
        [
            c["name"],
            f"{c['baseline']['pairs_per_s']:,.0f}",
            f"{c['current']['pairs_per_s']:,.0f}",
            "n/a" if math.isnan(ratio(c)) else f"{ratio(c):.2f}×",
            f"{c['baseline']['p99_ms']:.1f} / {c['current']['p99_ms']:.1f}",
            f"{c['baseline']['errors']} / {c['current']['errors']}",
        ]
        for c in result["cells"]
    ]
    header = ["load", "baseline pairs/s", "current pairs/s", "current / baseline", "p99 ms (worst round)", "errors"]
    return md_table(header, rows)


def markdown(result: dict[str, Any]) -> str:
    """The run, both model sets, the target rows and the cell table."""
    busy = "; ".join(result.get("busy_before") or []) or "none over 20% CPU"
    label = baseline_label(result["baseline"])
    models = md_table(
        ["task", f"baseline: {label} (`{result['baseline']}`)", f"current: `{result['models']}`"],
        [[t, result["described"]["baseline"].get(t, "–"), d] for t, d in result["described"]["current"].items()],
    )
    return (
        f"`{result['command']}`, {result['machine']['time_utc']}, on a shared 2-core VM (busy before the run: "
        f"{busy}; load average at start {result['machine']['loadavg'][0]}). Both servers run this checkout's "
        f"service code (`{result['service_commit']}`) with the vector cache off, side by side on 127.0.0.1; "
        f"wrk {result['wrk_version']}, 1 thread, on the same cores. Each cell: {result['warmup']:g} s of wrk "
        f"unmeasured per server, then {result['duration']:g} s measured per server in {result['rounds']} runs, "
        "alternating A B B A (A: the baseline, or the current models in every other cell). "
        "Pairs/s count 2xx answers only (answers/s for /rank)."
        f"\n\n{models}\n\n"
        + md_table(["target", "wanted", "measured", "met?"], targets(result))
        + "\n\n"
        + cells_table(result)
    )


# ----------------------------------------------------------------------------- main


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "--baseline", default=V21_MODELS, help=f"commit whose models/ to compare with (default {V21_MODELS})"
    )
    p.add_argument("--models", default=str(REPO / "models"), help="the current models (default: this checkout's)")
    p.add_argument("--data-dir", help="data folder (default: $PAIRSCORE_DATA_DIR, else ../shared/data)")
    p.add_argument("--connections", type=int, nargs="+", default=[8, 32], help="wrk connections per cell")
    p.add_argument("--duration", type=float, default=16.0, help="measured seconds per cell and server (default 16)")
    p.add_argument("--rounds", type=int, default=4, help="wrk runs the measured seconds are split into (default 4)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds of wrk per cell and server")
    p.add_argument("--wrk", help="path of the wrk binary (default: wrk on PATH)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    p.add_argument("--out", default=str(OUT_DIR / "model_speed.json"))
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if not args.baseline:
        raise SystemExit("--baseline: a commit whose models/ to compare with")
    per_run = args.duration / max(args.rounds, 1)
    if args.rounds < 1 or per_run < 1 or per_run != int(per_run):
        raise SystemExit(f"--duration / --rounds = {per_run:g}: wrk runs for a whole number of seconds, at least 1")
    wrk = find_wrk(args.wrk)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    shown = sys.argv[1:] if argv is None else argv
    result: dict[str, Any] = {
        "command": " ".join(["python benchmarks/model_speed.py", *shown]),
        "machine": machine(),
        "busy_before": busy_processes(exclude={os.getpid()}),
        "versions": versions(),
        "wrk_version": wrk_version(wrk),
        "service_commit": commit_of(REPO),
        "baseline": args.baseline,
        "models": os.path.relpath(Path(args.models).resolve(), REPO),
        **{k: getattr(args, k) for k in ("duration", "rounds", "warmup", "connections")},
    }
    with baseline_checkout(args.baseline, ("models",)) as before:
        models = {"baseline": before / "models", "current": Path(args.models).resolve()}
        result["described"] = {side: describe(folder) for side, folder in models.items()}
        result["cells"] = measure(args, wrk, models, out.parent)
    result["targets"] = targets(result)
    result["markdown"] = markdown(result)
    publish(result, out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
