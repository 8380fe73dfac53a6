"""Does a pair's answer depend on what else is in its batch? Per task and encoder file, in process.

For the first --pairs real pairs of each task's dataset (snli/validation, twitter_url/train,
wiki_qa/validation), pairscore.runtime.model.PairModel scores them one by one, all together, and
together with --noise other pairs shuffled in (what adaptive batching does to a request).
Prints the max |difference| of the head outputs against one-by-one and the decisions that
flip (label / paraphrase at the card's threshold / rank order within a question), plus the
time to score them together. The served encoder must show 0 flips and ≤ 1e-6.

    python -m benchmarks.batch_independence [--models models] [--pairs 200] [--encoders encoder.onnx encoder.int8.onnx]
"""

from __future__ import annotations

import argparse
import random
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import harness
from benchmarks.harness import DATASETS, md_table, read_jsonl, relative
from pairscore.runtime.model import PairModel

SOURCES = {"entailment": "snli", "paraphrase": "twitter_url", "ranking": "wiki_qa"}


def first_pairs(root: Path, task: str, n: int, offset: int = 0) -> list[tuple[str, str]]:
    """The first n pairs of the task's dataset, in file order (no shuffling: "the first 200 of snli/validation")."""
    rel, _, col_a, col_b = DATASETS[SOURCES[task]]
    rows = [r for r in read_jsonl(root / rel) if isinstance(r.get(col_a), str) and isinstance(r.get(col_b), str)]
    return [(r[col_a], r[col_b]) for r in rows[offset : offset + n]]


def decisions(model: PairModel, out: np.ndarray, pairs: list[tuple[str, str]]) -> list[Any]:
    if not model.behaviour.grouped:  # the label, or the decision at the card's threshold
        return list(model.behaviour.decide(out, model.decision_threshold))
    # grouped (ranking): position of each answer in its question's order
    by_question: dict[str, list[int]] = {}
    for i, (q, _) in enumerate(pairs):
        by_question.setdefault(q, []).append(i)
    rank = [0] * len(pairs)
    for members in by_question.values():
        for r, i in enumerate(sorted(members, key=lambda i: -float(out[i]))):
            rank[i] = r
    return rank


def measure(model: PairModel, pairs: list[tuple[str, str]], noise: list[tuple[str, str]], seed: int) -> dict[str, Any]:
    a, b = [p for p, _ in pairs], [h for _, h in pairs]
    alone = np.stack([model.score_pairs([x], [y])[0] for x, y in pairs])
    t0 = time.perf_counter()
    together = model.score_pairs(a, b)
    seconds = time.perf_counter() - t0
    mixed = pairs + noise
    order = list(range(len(mixed)))
    random.Random(seed).shuffle(order)
    merged_out = model.score_pairs([mixed[i][0] for i in order], [mixed[i][1] for i in order])
    merged = np.zeros_like(together)
    for row, i in enumerate(order):
        if i < len(pairs):
            merged[i] = merged_out[row]
    base = decisions(model, alone, pairs)
    flips = lambda out: int(sum(x != y for x, y in zip(base, decisions(model, out, pairs))))  # noqa: E731
    return {
        "together_max_diff": float(np.abs(together - alone).max()),
        "merged_max_diff": float(np.abs(merged - alone).max()),
        "together_flips": flips(together),
        "merged_flips": flips(merged),
        "together_ms": 1000 * seconds,
    }


def encoder_files(graphs: dict[str, str], chosen: list[str] | None) -> list[str]:
    """--encoders, else the card's encoders, each once (the served one is often also the fp32 or int8 one)."""
    return chosen or list(
        dict.fromkeys(f for f in (graphs.get("encoder_fp32"), graphs.get("encoder_int8"), graphs["encoder"]) if f)
    )


def measure_task(task: str, root: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One result per encoder file of the task's model; a file the model folder lacks is skipped."""
    folder = Path(args.models) / task
    graphs = PairModel(folder, threads=args.threads).card.graphs.model_dump(exclude_unset=True)
    pairs = first_pairs(root, task, args.pairs)
    noise = first_pairs(root, task, args.noise, offset=args.pairs)
    results = []
    for name in encoder_files(graphs, args.encoders):
        if not (folder / name).is_file():
            continue
        model = PairModel(folder, threads=args.threads, encoder_file=name)
        m = measure(model, pairs, noise, seed=1)
        results.append({"task": task, "encoder": name, "served": name == graphs["encoder"], "pairs": len(pairs), **m})
    return results


def records(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`batch:served`: the worst difference and the flips of the encoders the service serves, for the targets."""
    served = [r for r in result["results"] if r["served"]]
    if not served:
        return {}
    worst = max(max(r["together_max_diff"], r["merged_max_diff"]) for r in served)
    flips = sum(r["together_flips"] + r["merged_flips"] for r in served)
    encoders = ", ".join(f"{r['task']} {r['encoder']}" for r in served)
    return {"batch:served": {"worst": worst, "flips": flips, "encoders": encoders, "pairs": served[0]["pairs"]}}


def markdown(result: dict[str, Any]) -> str:
    rows = [
        [
            r["task"],
            r["encoder"],
            "yes" if r["served"] else "",
            r["pairs"],
            f"{r['together_max_diff']:.2g}",
            r["together_flips"],
            f"{r['merged_max_diff']:.2g}",
            r["merged_flips"],
            r["together_ms"],
        ]
        for r in result["results"]
    ]
    header = ["task", "encoder", "served", "pairs", "max |Δ| together vs alone", "flips"]
    header += ["max |Δ| merged+shuffled vs alone", "flips", f"ms together ({result['threads']} thread)"]
    return (
        f"### Batch independence on {result['models']} (first {result['pairs']} pairs; "
        f"merged with {result['noise']} others, shuffled)\n\n"
        "Flips: entailment label, paraphrase decision at the card's threshold, "
        "rank of the answer within its question.\n\n" + md_table(header, rows)
    )


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "batch_independence")
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--noise", type=int, default=300, help="other pairs merged in, shuffled")
    p.add_argument(
        "--encoders", nargs="+", help="encoder files (default: the card's encoder_fp32, encoder_int8, encoder)"
    )
    p.add_argument("--threads", type=int, default=1)
    args = harness.parse(p, argv, pairs=20, noise=30)
    root = harness.data_dir(args.data_dir)
    settings = {k: getattr(args, k) for k in ("pairs", "noise", "threads")}
    with harness.measuring(args, models=relative(str(args.models.resolve())), **settings) as result:
        result["results"] = [r for task in SOURCES for r in measure_task(task, root, args)]
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
