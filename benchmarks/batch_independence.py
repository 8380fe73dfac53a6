"""Does a pair's answer depend on what else is in its batch? Per task and encoder file, in process.

For the first --pairs real pairs of each task's dataset (snli/validation, twitter_url/train,
wiki_qa/validation), pairscore.runtime.model.PairModel scores them one by one, all together, and
together with --noise other pairs shuffled in (what adaptive batching does to a request).
Prints the max |difference| of the head outputs against one-by-one and the decisions that
flip (label / paraphrase at the card's threshold / rank order within a question), plus the
time to score them together. The served encoder must show 0 flips and ≤ 1e-6.

    python benchmarks/batch_independence.py [--models models] [--pairs 200] [--encoders encoder.onnx encoder.int8.onnx]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import DATASETS, OUT_DIR, REPO, data_dir, machine, md_table, publish, read_jsonl  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402

SOURCES = {"entailment": "snli", "paraphrase": "twitter_url", "ranking": "wiki_qa"}


def first_pairs(root: Path, task: str, n: int, offset: int = 0) -> list[tuple[str, str]]:
    """The first n pairs of the task's dataset, in file order (no shuffling: "the first 200 of snli/validation")."""
    rel, _, col_a, col_b = DATASETS[SOURCES[task]]
    rows = [r for r in read_jsonl(root / rel) if isinstance(r.get(col_a), str) and isinstance(r.get(col_b), str)]
    return [(r[col_a], r[col_b]) for r in rows[offset : offset + n]]


def decisions(model: PairModel, out: np.ndarray, pairs: list[tuple[str, str]]) -> list[Any]:
    if model.task == "entailment":
        return list(out.argmax(axis=1))
    if model.task == "paraphrase":
        threshold = model.decision_threshold
        return list(out >= threshold)
    # ranking: position of each answer in its question's order
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=str(REPO / "models"))
    p.add_argument("--data-dir")
    p.add_argument("--pairs", type=int, default=200)
    p.add_argument("--noise", type=int, default=300, help="other pairs merged in, shuffled")
    p.add_argument(
        "--encoders",
        nargs="+",
        help="encoder files to compare (default: the card's encoder_fp32, encoder_int8, encoder)",
    )
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default=str(OUT_DIR / "batch_independence.json"))
    return p.parse_args(argv)


def encoder_files(graphs: dict[str, str], chosen: list[str] | None) -> list[str]:
    """--encoders, else the card's encoders, each once (the served one is often also the fp32 or int8 one)."""
    return chosen or list(
        dict.fromkeys(f for f in (graphs.get("encoder_fp32"), graphs.get("encoder_int8"), graphs["encoder"]) if f)
    )


def measure_task(task: str, root: Path, args: argparse.Namespace) -> list[dict[str, Any]]:
    """One result per encoder file of the task's model; a file the model folder lacks is skipped."""
    folder = Path(args.models) / task
    graphs = PairModel(folder, threads=args.threads).card["graphs"]
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


def render(args: argparse.Namespace, results: list[dict[str, Any]]) -> str:
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
        for r in results
    ]
    table = md_table(
        [
            "task",
            "encoder",
            "served",
            "pairs",
            "max |Δ| together vs alone",
            "flips",
            "max |Δ| merged+shuffled vs alone",
            "flips",
            f"ms together ({args.threads} thread)",
        ],
        rows,
    )
    return (
        f"### Batch independence on {args.models} (first {args.pairs} pairs; "
        f"merged with {args.noise} others, shuffled)\n\n"
        "Flips: entailment label, paraphrase decision at the card's threshold, "
        "rank of the answer within its question.\n\n" + table
    )


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    root = data_dir(args.data_dir)
    results = [result for task in SOURCES for result in measure_task(task, root, args)]
    markdown = render(args, results)
    publish(
        {"machine": machine(), "models": str(Path(args.models).resolve()), "results": results, "markdown": markdown},
        Path(args.out),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
