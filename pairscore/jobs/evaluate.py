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

from pairscore import artifact, io, metrics, tasks
from pairscore.oov import oov_rates
from pairscore.runtime.model import PairModel
from pairscore.schema import Columns, Pair, columns_arg, labels_arg, parse_labels
from pairscore.specs import DataError, clean_questions, file_rows, labelled_pairs

SHOWN_GROUPS = 20  # dropped questions named in the result (all are counted)


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


def read_pairs(
    spec: str,
    task: str,
    rows_slice: slice = slice(None),
    columns: Columns | None = None,
    text: io.TextFormat = io.TextFormat(),
    labels: dict[str, int] | None = None,
) -> list[Pair]:
    """Labelled pairs of JSONL/CSV/Parquet data (a file, folder, glob or URI), by `columns` or any shared schema,
    `labels` (a user's label words) or the built-in spellings; rows without a gold label (SNLI's -1) are skipped."""
    try:
        pairs = labelled_pairs(file_rows(spec, text)[rows_slice], task, columns, labels)
    except DataError as exc:
        raise DataFileError(str(exc)) from exc
    if not pairs:
        raise DataFileError(f"{spec}: no labelled rows")
    return pairs


def evaluate(model: PairModel, pairs: Sequence[Pair], threshold: float | None = None) -> dict[str, Any]:
    """The task's metrics (the `pairscore evaluate` keys) plus `rows`."""
    labels = np.array([p.label for p in pairs])
    outputs = model.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
    threshold = model.decision_threshold if threshold is None else threshold
    try:
        result = model.behaviour.measure(labels, outputs, threshold, [p.group for p in pairs], model.labels)
    except ValueError as exc:  # a class id the head does not have
        raise DataFileError(str(exc)) from None
    return {**result, "rows": len(pairs)}


def dropped_questions(pairs: Sequence[Pair]) -> dict[str, Any]:
    """The questions a ranking metric leaves out (no correct or no wrong answer: nothing to rank), counted, and the
    first SHOWN_GROUPS of them named."""
    kept, dropped = clean_questions(list(pairs))
    left_out = {p.group for p in kept}
    groups = list(dict.fromkeys(p.group for p in pairs if p.group not in left_out))
    return {**dropped, "groups": groups[:SHOWN_GROUPS]}


def calibration_errors(model: PairModel, pairs: Sequence[Pair]) -> dict[str, float]:
    """ECE of the served (calibrated) probabilities and of the same head without its temperature.

    The temperature is the card's `calibration`.
    """
    temperature = model.card.temperature
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
        "--labels",
        type=labels_arg,
        help="WORD=LABEL,...: your label words, e.g. same=1,different=0 (entailment: yes=entailment,...); "
        "default: integers, true/false, yes/no, the label names",
    )
    parser.add_argument(
        "--rows", type=parse_rows, default=slice(None), help="evaluate only these rows, e.g. -1000: (the last 1000)"
    )
    parser.add_argument("--encoding", default=io.DEFAULT_ENCODING, help="text encoding of JSONL/CSV (default utf-8)")
    parser.add_argument("--delimiter", help="CSV delimiter: , tab ; | (default: tab for .tsv, else sniffed)")
    parser.add_argument("--encoder", help="encoder graph to run instead of the card's (e.g. encoder.int8.onnx)")
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime threads")
    args = parser.parse_args(argv)
    try:
        text = io.text_format(args.encoding, args.delimiter)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        model = PairModel(args.model_dir, threads=args.threads, encoder_file=args.encoder)
        try:
            labels = parse_labels(args.labels, model.task)
        except ValueError as exc:
            raise DataFileError(str(exc)) from None
        pairs = read_pairs(args.data, model.task, args.rows, args.columns, text, labels)
        result = {
            **evaluate(model, pairs),
            "oov": oov_rates(model.tokenizer, [t for p in pairs for t in (p.text_a, p.text_b)]),
        }
    except (artifact.ArtifactError, DataFileError) as exc:
        print(f"pairscore evaluate: {exc}", file=sys.stderr)
        return 1
    if tasks.get(model.task).grouped:
        result["dropped"] = dropped_questions(pairs)
        if result["dropped"]["questions"]:
            d = result["dropped"]
            print(
                f"pairscore evaluate: {d['questions']} questions ({d['rows']} rows) left out of map/mrr: "
                f"{d['no_correct_answer']} with no correct answer, {d['no_wrong_answer']} with no wrong answer "
                f'("dropped" names the first {SHOWN_GROUPS})',
                file=sys.stderr,
            )
    print(json.dumps({"task": model.task, "model": str(args.model_dir), "data": str(args.data), **result}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
