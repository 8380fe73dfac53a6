"""`pairscore evaluate MODEL_DIR --data FILE`: a model folder's metrics on a labelled file.

Runs the artifact exactly as the service does (pairscore.runtime.model.PairModel, onnxruntime
only: no torch), and prints the metrics as one JSON object on the last line of stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pairscore import artifact, metrics
from pairscore.oov import oov_rates
from pairscore.runtime.model import PairModel
from pairscore.schema import Columns, Pair, columns_arg
from pairscore.specs import DataError, file_rows, labelled_pairs


class DataFileError(ValueError):
    """A data file that cannot be evaluated; the message names the file and line."""


def parse_rows(text: str) -> slice:
    """'-1000:' -> slice(-1000, None): the same selection as the datasets split spec 'validation[-1000:]'."""
    parts = text.split(":")
    try:
        if len(parts) != 2:
            raise ValueError
        return slice(*(int(part) if part.strip() else None for part in parts))
    except ValueError:
        raise argparse.ArgumentTypeError(f"--rows {text!r}: expected START:STOP, e.g. -1000: or :400") from None


def read_pairs(spec: str, task: str, rows_slice: slice = slice(None), columns: Columns | None = None) -> list[Pair]:
    """Labelled pairs of JSONL/CSV/Parquet data (a file, folder, glob or URI), by `columns` or any shared schema;
    rows without a gold label (SNLI's -1) are skipped."""
    try:
        pairs = labelled_pairs(file_rows(spec)[rows_slice], task, columns)
    except DataError as exc:
        raise DataFileError(str(exc)) from exc
    if not pairs:
        raise DataFileError(f"{spec}: no labelled rows")
    return pairs


def evaluate(model: PairModel, pairs: Sequence[Pair], threshold: float | None = None) -> dict[str, Any]:
    """The task's metrics (the `pairscore evaluate` keys) plus `rows`."""
    labels = np.array([p.label for p in pairs])
    outputs = model.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
    if model.task == "entailment":
        if labels.max() >= len(model.labels):
            raise DataFileError(f"label {int(labels.max())} is not one of the model's {len(model.labels)} classes")
        result = metrics.classification(labels, outputs.argmax(axis=1), model.labels)
    elif model.task == "paraphrase":
        result = metrics.binary(labels > 0, outputs >= (model.decision_threshold if threshold is None else threshold))
    else:
        result = metrics.ranking([p.group for p in pairs], labels, outputs)
    return {**result, "rows": len(pairs)}


def calibration_errors(model: PairModel, pairs: Sequence[Pair]) -> dict[str, float]:
    """ECE of the served (calibrated) probabilities and of the same head without its temperature.

    The temperature is the card's `calibration`.
    """
    temperature = float((model.card.get("calibration") or {}).get("temperature", 1.0))
    labels = [p.label for p in pairs]
    served = model.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
    return {
        "ece_before": metrics.expected_calibration_error(labels, metrics.retemper(served, temperature)),
        "ece_after": metrics.expected_calibration_error(labels, served),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairscore evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("model_dir", type=Path, help="a model folder (models/entailment, ...)")
    parser.add_argument(
        "--data", required=True, help="labelled JSONL, CSV or Parquet data: a file, folder, glob or URI (s3://...)"
    )
    parser.add_argument(
        "--columns",
        type=columns_arg,
        help="text_a=COL,text_b=COL[,label=COL][,group=COL]: the texts and label columns (default: by schema)",
    )
    parser.add_argument(
        "--rows", type=parse_rows, default=slice(None), help="evaluate only these rows, e.g. -1000: (the last 1000)"
    )
    parser.add_argument("--encoder", help="encoder graph to run instead of the card's (e.g. encoder.int8.onnx)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    args = parser.parse_args(argv)
    try:
        model = PairModel(args.model_dir, threads=args.threads, encoder_file=args.encoder)
        pairs = read_pairs(args.data, model.task, args.rows, args.columns)
        result = {
            **evaluate(model, pairs),
            "oov": oov_rates(model.tokenizer, [t for p in pairs for t in (p.text_a, p.text_b)]),
        }
    except (artifact.ArtifactError, DataFileError) as exc:
        print(f"pairscore evaluate: {exc}", file=sys.stderr)
        return 1
    print(json.dumps({"task": model.task, "model": str(args.model_dir), "data": str(args.data), **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
