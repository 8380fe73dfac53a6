"""The speed axis of the quality/speed frontier (issue 26): served pairs/s of several model folders, and the
in-process pairs/s of the baselines, as ratios to all-MiniLM-L6-v2 measured in the same run.

Served points (--point NAME=MODELS_DIR, one per student size): a real pairscore server per point on 127.0.0.1, all
with this checkout's service code and the vector cache off (PAIRSCORE_CACHE_ENTRIES=0, as benchmarks/model_speed.py:
every text goes through the encoder). One cell, the `make bench` headline: /entailment, 32 SNLI pairs per request,
--connections 8 (default). The servers are up side by side (an idle one costs no CPU); after --warmup s of wrk on
each, --duration s are measured per point in --rounds wrk runs taken in the order A B C C B A A B C ...
(benchmarks/wrk.measure_cell), so that a drift in the machine's load hits every point alike. Pairs/s count 2xx
answers; p99 is the worst round's.

In-process baselines, on the same SNLI pairs as the request bodies (benchmarks.wrk's, seed 1), in batches of 64 at
--threads (2), before the servers start:
  all-MiniLM-L6-v2   engines.MiniLMEngine: each distinct text of a batch encoded once, then a cosine; timed again
                     after the servers stop, and every ratio is to the mean of the two runs
  all-mpnet-base-v2  the same code path on training.teacher's `mpnet` folder (skipped, with a note, without the
                     `mpnet` extra)
  model2vec-minilm   the same on the static folder of training/studies/baselines/static.py (skipped, with the
                     command that builds it, when it is not built)
  lexical            what training/studies/baselines/lexical.py computes per SNLI pair: its 14 lexical-overlap
                     features (TF-IDF fit on 2,000 SNLI rows) and its logistic regression's probabilities (fit on
                     the same rows: the weights do not change the cost). Its paraphrase (TF-IDF cosine) and ranking
                     (BM25) paths are not timed.
The frozen teacher + head baselines run at their encoder's speed (the head is one small MLP over [u, v, |u-v|, u*v]
per pair, next to a transformer per text): on the frontier they take the MiniLM and mpnet rows' ratios, and are not
timed apart.

    python -m benchmarks.frontier --point v3=models --point h256=runs/v4-h256/models [--duration 16] [--rounds 4]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import harness, servers, wrk
from benchmarks.engines import Engine, MiniLMEngine
from benchmarks.harness import DATASETS, load_pairs, md_table, read_jsonl, relative, timed_loop
from benchmarks.model_speed import CACHE_OFF, cell_name, describe
from pairscore.schema import Pair
from pairscore.specs import DataError

PATH, KIND = "/entailment", "32 pairs"  # the served cell
BATCH = 64  # pairs per in-process call
LEXICAL_FIT_ROWS = 2000


class FolderEngine(MiniLMEngine):
    """A sentence-transformers folder on MiniLM's code path: each distinct text once, normalised, cosine."""

    def __init__(self, name: str, folder: Path, threads: int):
        from training.teacher import load_model, shown

        self.name, self.path, self.model = name, folder, load_model(folder, threads)
        self.note = f"{name} from {shown(folder)}"


class LexicalEngine(Engine):
    """training/studies/baselines/lexical.py's entailment features and logistic regression, per pair."""

    name = "lexical"

    def __init__(self, root: Path):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from training.studies.baselines import lexical

        rows = read_jsonl(root / DATASETS["snli"][0])[:LEXICAL_FIT_ROWS]
        pairs = [Pair(r["premise"], r["hypothesis"], r["label"]) for r in rows if r["label"] in (0, 1, 2)]
        self.features = lexical.entailment_features
        self.vectorizer = lexical._vectorizer([p.text_a for p in pairs] + [p.text_b for p in pairs])
        self.classifier = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
        self.classifier.fit(self.features(pairs, self.vectorizer), [p.label for p in pairs])
        self.note = f"lexical features + logistic regression, fit on the first {LEXICAL_FIT_ROWS} SNLI rows"

    def score(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        pairs = [Pair(x, y) for x, y in zip(a, b)]
        return self.classifier.predict_proba(self.features(pairs, self.vectorizer))


def baselines(root: Path, threads: int) -> tuple[dict[str, Engine], dict[str, str]]:
    """The in-process engines after MiniLM that can run here, and why each other one cannot."""
    from training.studies.baselines.static import default_folder
    from training.teacher import TEACHERS

    engines: dict[str, Engine] = {}
    skipped: dict[str, str] = {}
    try:
        engines["all-mpnet-base-v2"] = FolderEngine("all-mpnet-base-v2", TEACHERS["mpnet"].folder(), threads)
    except DataError as exc:
        skipped["all-mpnet-base-v2"] = str(exc)
    static = default_folder()
    if (static / "modules.json").is_file():
        engines["model2vec-minilm"] = FolderEngine("model2vec-minilm", static, threads)
    else:
        skipped["model2vec-minilm"] = f"not built: python -m training.studies.baselines.static (-> {static})"
    try:
        engines["lexical"] = LexicalEngine(root)
    except ModuleNotFoundError as exc:
        skipped["lexical"] = f"needs the 'baselines' extra ({exc.name} is not installed)"
    return engines, skipped


def in_process(engine: Engine, pairs: list[tuple[str, str]], seconds: float) -> dict[str, Any]:
    batches = len(pairs) // BATCH

    def call(i: int) -> int:
        chunk = pairs[(i % batches) * BATCH : (i % batches + 1) * BATCH]
        engine.score([a for a, _ in chunk], [b for _, b in chunk])
        return len(chunk)

    timed = timed_loop(call, seconds)
    print(f"{engine.name}: {timed['items_per_s']:,.0f} pairs/s in process", flush=True)
    note = relative(engine.note)
    return {"name": engine.name, "kind": "in-process", "pairs_per_s": timed["items_per_s"], "note": note}


def served(args: argparse.Namespace, exe: str, points: dict[str, Path]) -> list[dict[str, Any]]:
    """The cell on every point's server, the servers up side by side."""
    bodies = wrk.write_bodies(harness.data_dir(args.data_dir), args.out.parent, {KIND})[KIND]
    launches = {name: servers.Launch(folder, CACHE_OFF) for name, folder in points.items()}
    with servers.running(launches, args.out.parent / "frontier_server", args.ready_timeout) as (up, _):
        timing = (args.warmup, args.duration, args.rounds)
        cell = wrk.measure_cell(exe, up, PATH, KIND, bodies, args.connections, *timing)
    rows = []
    for name, folder in points.items():
        measured = {k: v for k, v in cell[name].items() if k != "rounds"}
        rows.append({"name": name, "kind": "served", "models": relative(str(folder)), **measured})
        print(f"{name}: {measured['pairs_per_s']:,.0f} pairs/s served, p99 {measured['p99_ms']:.1f} ms", flush=True)
    return rows


def point(text: str) -> tuple[str, Path]:
    name, sep, folder = text.partition("=")
    if not sep or not name or not folder:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=MODELS_DIR")
    return name, Path(folder)


def markdown(result: dict[str, Any]) -> str:
    busy = "; ".join(result.get("busy_before") or []) or "none over 20% CPU"
    rows = [
        [
            r["name"],
            r["kind"],
            f"{r['pairs_per_s']:,.0f}" if "pairs_per_s" in r else "—",
            f"{r['vs_minilm']:.1f}×" if r.get("vs_minilm") is not None else "—",
            f"{r['p99_ms']:.1f}" if "p99_ms" in r else "—",
            r.get("skipped") or (f"{r['errors']} errors of {r['requests']}" if r["kind"] == "served" else r["note"]),
        ]
        for r in result["points"]
    ]
    minilm = result["minilm_pairs_per_s"]
    return (
        f"`{result['command']}`, {result['machine']['time_utc']} (busy before the run: {busy}; load average at start "
        f"{result['machine']['loadavg'][0]}). Served: {result['cell']}, vector cache off, this checkout's service "
        f"code (`{result['service_commit']}`), {result['duration']:g} s per point in {result['rounds']} wrk runs. "
        f"In process: batches of {BATCH} SNLI pairs, {result['threads']} threads. Ratios are to all-MiniLM-L6-v2 in "
        f"process: {minilm['mean']:,.0f} pairs/s (mean of {minilm['before']:,.0f} before the servers and "
        f"{minilm['after']:,.0f} after)."
        "\n\n" + md_table(["point", "kind", "pairs/s", "vs MiniLM", "p99 ms", "note"], rows)
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "frontier", models=False)
    p.add_argument("--point", type=point, action="append", required=True, help="NAME=MODELS_DIR, once per point")
    p.add_argument("--duration", type=float, default=16.0, help="measured seconds per point (default 16)")
    p.add_argument("--rounds", type=int, default=4, help="wrk runs the measured seconds are split into (default 4)")
    p.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds of wrk per point")
    p.add_argument("--connections", type=int, default=8, help="wrk connections (default 8)")
    p.add_argument("--threads", type=int, default=2, help="threads of the in-process engines (default 2)")
    p.add_argument("--seconds", type=float, default=4.0, help="timed seconds per in-process engine (default 4)")
    p.add_argument("--wrk", help="path of the wrk binary (default: wrk on PATH)")
    p.add_argument("--ready-timeout", type=float, default=180.0)
    args = harness.parse(p, argv, duration=2.0, rounds=1, seconds=1.0)
    per_run = args.duration / max(args.rounds, 1)
    if args.rounds < 1 or per_run < 1 or per_run != int(per_run):
        raise SystemExit(f"--duration / --rounds = {per_run:g}: wrk runs for a whole number of seconds, at least 1")
    points = dict(args.point)
    if len(points) != len(args.point):
        raise SystemExit("--point: every NAME once")
    exe = wrk.find_wrk(args.wrk)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    root = harness.data_dir(args.data_dir)
    pairs = load_pairs(root, "snli", seed=1)  # the request bodies' pairs (benchmarks.wrk.write_bodies)
    settings = {k: getattr(args, k) for k in ("duration", "rounds", "warmup", "connections", "threads", "seconds")}
    with harness.measuring(args, wrk_version=wrk.wrk_version(exe), **settings) as result:
        result.update(service_commit=wrk.commit_of(harness.REPO), cell=cell_name(PATH, KIND, args.connections))
        result["described"] = {name: describe(folder) for name, folder in points.items()}
        minilm = MiniLMEngine(args.threads)
        minilm.name = "all-MiniLM-L6-v2"
        before = in_process(minilm, pairs, args.seconds)
        engines, skipped = baselines(root, args.threads)
        rows = [before] + [in_process(engine, pairs, args.seconds) for engine in engines.values()]
        rows += [{"name": name, "kind": "in-process", "skipped": why} for name, why in skipped.items()]
        rows = served(args, exe, points) + rows
        after = in_process(minilm, pairs, args.seconds)["pairs_per_s"]
        mean = (before["pairs_per_s"] + after) / 2
        result["minilm_pairs_per_s"] = {"before": before["pairs_per_s"], "after": after, "mean": mean}
        for row in rows:
            row["vs_minilm"] = row["pairs_per_s"] / mean if "pairs_per_s" in row and mean else None
        result["points"] = rows
        result["speed"] = {r["name"]: r["vs_minilm"] for r in rows if r["vs_minilm"] is not None}
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
