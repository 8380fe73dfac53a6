"""What the max-pool `winners` output costs the plain encoding path (which asks only for `embeddings`).

onnxruntime runs every node of a graph whatever outputs a call asks for, so the ArgMax
behind `winners` runs on every encode. This times PairModel.encode on real texts with a
model folder's served encoder as it is (embeddings + winners) and with the same graph
cut back to `embeddings` (the `winners` output and the nodes only it needs removed,
same weights), alternating rounds, one onnxruntime thread, and prints the ratio.

    python -m benchmarks.explain_overhead [--model models/entailment] [--texts 500] [--rounds 15]
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from benchmarks import harness
from benchmarks.harness import load_pairs, md_table
from pairscore import artifact
from pairscore.card import read, write
from pairscore.runtime.model import PairModel


def without_winners(model_dir: Path, out: Path) -> Path:
    """A copy of the folder whose served encoder has only the `embeddings` output."""
    shutil.copytree(model_dir, out)
    card = read(out)
    path = out / card.graphs.encoder
    graph = onnx.load(str(path))
    if artifact.ENCODER_WINNERS not in [o.name for o in graph.graph.output]:
        raise SystemExit(f"{path}: has no {artifact.ENCODER_WINNERS!r} output; nothing to compare")
    onnx.utils.extract_model(str(path), str(path), list(artifact.ENCODER_INPUTS), [artifact.ENCODER_OUTPUT])
    write(out, card)
    return out


def markdown(result: dict[str, Any]) -> str:
    table = md_table(["encoder graph", "texts", "median ms", "best ms", "ratio to embeddings only"], result["rows"])
    shown = f"PairModel.encode of {result['texts']} snli/validation texts, {result['rounds']} alternating rounds"
    return f"{shown}, 1 thread\n\n{table}"


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__.splitlines()[0], "explain_overhead", models=False)
    p.add_argument("--model", type=Path, default=Path("models/entailment"))
    p.add_argument("--texts", type=int, default=500)
    p.add_argument("--rounds", type=int, default=15)
    args = harness.parse(p, argv, texts=50, rounds=2)
    pairs = load_pairs(harness.data_dir(args.data_dir), "snli", limit=args.texts)
    texts = list(dict.fromkeys(t for pair in pairs for t in pair))[: args.texts]
    with harness.measuring(args, model=str(args.model), texts=len(texts), rounds=args.rounds) as result:
        with tempfile.TemporaryDirectory() as tmp:
            models = {
                "embeddings + winners (served)": PairModel(args.model, threads=1),
                "embeddings only": PairModel(without_winners(args.model, Path(tmp) / "plain"), threads=1),
            }
            vectors = [m.encode(texts) for m in models.values()]
            assert np.abs(vectors[0] - vectors[1]).max() == 0.0, "the cut graph gives other vectors"
            times: dict[str, list[float]] = {name: [] for name in models}
            for _ in range(args.rounds):
                for name, model in models.items():
                    start = time.perf_counter()
                    model.encode(texts)
                    times[name].append(time.perf_counter() - start)
        base = float(np.median(times["embeddings only"]))
        result["encoder"] = models["embeddings only"].encoder_file
        result["rows"] = [
            [name, len(texts), 1000 * float(np.median(t)), 1000 * float(min(t)), float(np.median(t)) / base]
            for name, t in times.items()
        ]
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
