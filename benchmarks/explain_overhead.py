"""What the max-pool `winners` output costs the plain encoding path (which asks only for `embeddings`).

onnxruntime runs every node of a graph whatever outputs a call asks for, so the ArgMax
behind `winners` runs on every encode. This times PairModel.encode on real texts with a
model folder's served encoder as it is (embeddings + winners) and with the same graph
cut back to `embeddings` (the `winners` output and the nodes only it needs removed,
same weights), alternating rounds, one onnxruntime thread, and prints the ratio.

    python benchmarks/explain_overhead.py [--model models/entailment] [--texts 500] [--rounds 15]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import OUT_DIR, data_dir, load_pairs, machine, md_table, publish  # noqa: E402
from pairscore import artifact  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402


def without_winners(model_dir: Path, out: Path) -> Path:
    """A copy of the folder whose served encoder has only the `embeddings` output."""
    shutil.copytree(model_dir, out)
    card = artifact.read_card(out)
    path = out / card["graphs"]["encoder"]
    graph = onnx.load(str(path))
    if artifact.ENCODER_WINNERS not in [o.name for o in graph.graph.output]:
        raise SystemExit(f"{path}: has no {artifact.ENCODER_WINNERS!r} output; nothing to compare")
    onnx.utils.extract_model(str(path), str(path), list(artifact.ENCODER_INPUTS), [artifact.ENCODER_OUTPUT])
    artifact.write_card(out, card)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/entailment"))
    parser.add_argument("--texts", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--data-dir")
    args = parser.parse_args(argv)
    pairs = load_pairs(data_dir(args.data_dir), "snli", limit=args.texts)
    texts = list(dict.fromkeys(t for pair in pairs for t in pair))[: args.texts]
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
    rows = [
        [name, len(texts), 1000 * float(np.median(t)), 1000 * float(min(t)), float(np.median(t)) / base]
        for name, t in times.items()
    ]
    table = md_table(["encoder graph", "texts", "median ms", "best ms", "ratio to embeddings only"], rows)
    result = {
        "model": str(args.model),
        "encoder": models["embeddings only"].encoder_file,
        "machine": machine(),
        "rows": rows,
        "markdown": (
            f"PairModel.encode of {len(texts)} snli/validation texts, {args.rounds} alternating rounds, 1 thread\n\n"
            f"{table}"
        ),
    }
    publish(result, OUT_DIR / "explain_overhead.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
