"""Served speed of this checkout's models against an older release's, on the same service code, under wrk.

A model release must not slow serving down: served pairs/s over HTTP with the vector cache off stays at or above
0.9x the v2.1 models (benchmarks/targets.py). On a shared machine only a ratio measured in the same run says that,
so two servers run side by side on 127.0.0.1, both with THIS checkout's service code and the vector cache off
(PAIRSCORE_CACHE_ENTRIES=0: every text goes through the encoder, the cost a model change moves):
  baseline  models/ of --baseline COMMIT (git archive; default the v2.1 models, 46b7fec)
  current   --models (default this checkout's models/)

Cells: CELLS below, each at --connections (default 8 and 32). Per cell: --warmup s of wrk unmeasured on each server,
then --duration s measured per server, split into --rounds wrk runs taken in the order A B B A A B ... (A: the
baseline, or the current models in every other cell), so that a drift in the machine's load hits both alike
(benchmarks/wrk.py). Reported: pairs/s (answers/s for /rank) from the 2xx answers, their ratio current/baseline,
p99 (worst round), errors; the target row judges the worst cell. ~5 min with the defaults (single cells swing
±5-10% on a shared machine at 8 s).

    python -m benchmarks.model_speed [--baseline 46b7fec] [--models models] [--duration 16] [--rounds 4]
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from benchmarks import harness, servers, wrk
from benchmarks.harness import md_table, relative
from benchmarks.targets import judge

V21_MODELS = "46b7fec"  # the last commit of the v2.1 models
CELLS = (  # (path, body kind of benchmarks.wrk.BODIES): a new cell is a line here
    ("/entailment", "1 pair"),
    ("/entailment", "32 pairs"),
    ("/paraphrase", "32 paraphrase pairs"),
    ("/rank", "100 answers"),
)
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


def cell_name(path: str, kind: str, connections: int) -> str:
    per_request = wrk.BODIES[kind][0]
    items = "answers" if path == "/rank" else "pairs" if per_request > 1 else "pair"
    return f"{path}, {per_request} {items}, {connections} connections"


def measure(args, exe: str, models: dict[str, Path]) -> list[dict[str, Any]]:
    """Every cell at every connection count, both servers up throughout."""
    bodies = wrk.write_bodies(harness.data_dir(args.data_dir), args.out.parent, {kind for _, kind in CELLS})
    launches = {side: servers.Launch(folder, CACHE_OFF) for side, folder in models.items()}
    cells: list[dict[str, Any]] = []
    with servers.running(launches, args.out.parent / "model_speed_server", args.ready_timeout) as (up, _):
        for path, kind in CELLS:
            for connections in args.connections:
                flip = len(cells) % 2 == 1  # neither server always opens a cell, nor always runs twice in a row
                timing = (args.warmup, args.duration, args.rounds, flip)
                sides = wrk.measure_cell(exe, up, path, kind, bodies[kind], connections, *timing)
                cells.append({"name": cell_name(path, kind, connections), "path": path, "connections": connections})
                cells[-1].update(sides)
                print(cell_line(cells[-1]), flush=True)
    return cells


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


def records(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`models:all`: the worst cell's ratio, their geometric mean and the current models' errors, for the targets."""
    cells = result.get("cells") or []
    if not cells:
        return {}
    unmeasured = [c["name"] for c in cells if math.isnan(ratio(c))]
    worst = min(cells, key=ratio)
    return {
        "models:all": {
            "baseline_label": baseline_label(result["baseline"]),
            "worst": None if unmeasured else ratio(worst),
            "worst_cell": worst["name"],
            "mean": math.exp(sum(math.log(max(ratio(c), 1e-9)) for c in cells) / len(cells)),
            "cells": len(cells),
            "unmeasured": "; ".join(unmeasured),
            "errors": sum(c["current"]["errors"] for c in cells),
            "requests": sum(c["current"]["requests"] for c in cells),
        }
    }


def markdown(result: dict[str, Any], mark: dict[str, str] | None = None) -> str:
    """The run, both model sets, the target rows and the cell table."""
    busy = "; ".join(result.get("busy_before") or []) or "none over 20% CPU"
    label = baseline_label(result["baseline"])
    models = md_table(
        ["task", f"baseline: {label} (`{result['baseline']}`)", f"current: `{result['models']}`"],
        [[t, result["described"]["baseline"].get(t, "–"), d] for t, d in result["described"]["current"].items()],
    )
    cells = [
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
    return (
        f"`{result['command']}`, {result['machine']['time_utc']}, on a shared 2-core VM (busy before the run: "
        f"{busy}; load average at start {result['machine']['loadavg'][0]}). Both servers run this checkout's "
        f"service code (`{result['service_commit']}`) with the vector cache off, side by side on 127.0.0.1; "
        f"wrk {result['wrk_version']}, 1 thread, on the same cores. Each cell: {result['warmup']:g} s of wrk "
        f"unmeasured per server, then {result['duration']:g} s measured per server in {result['rounds']} runs, "
        "alternating A B B A (A: the baseline, or the current models in every other cell). "
        "Pairs/s count 2xx answers only (answers/s for /rank)."
        f"\n\n{models}\n\n"
        + md_table(["target", "wanted", "measured", "met?"], judge("serving", records(result), mark))
        + "\n\n"
        + md_table(header, cells)
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "model_speed")
    p.add_argument("--baseline", default=V21_MODELS, help=f"commit whose models/ to compare with ({V21_MODELS})")
    p.add_argument("--connections", type=int, nargs="+", default=[8, 32], help="wrk connections per cell")
    p.add_argument("--duration", type=float, default=16.0, help="measured seconds per cell and server (default 16)")
    p.add_argument("--rounds", type=int, default=4, help="wrk runs the measured seconds are split into (default 4)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds of wrk per cell and server")
    p.add_argument("--wrk", help="path of the wrk binary (default: wrk on PATH)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    args = harness.parse(p, argv, duration=2.0, rounds=2, connections=[8])
    per_run = args.duration / max(args.rounds, 1)
    if args.rounds < 1 or per_run < 1 or per_run != int(per_run):
        raise SystemExit(f"--duration / --rounds = {per_run:g}: wrk runs for a whole number of seconds, at least 1")
    exe = wrk.find_wrk(args.wrk)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(args, k) for k in ("baseline", "duration", "rounds", "warmup", "connections")}
    with harness.measuring(args, wrk_version=wrk.wrk_version(exe), **settings) as result:
        result.update(service_commit=wrk.commit_of(harness.REPO), models=relative(str(args.models.resolve())))
        with wrk.checkout(args.baseline, ("models",)) as before:
            models = {"baseline": before / "models", "current": args.models.resolve()}
            result["described"] = {side: describe(folder) for side, folder in models.items()}
            result["cells"] = measure(args, exe, models)
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
