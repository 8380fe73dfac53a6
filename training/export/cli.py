"""`pairscore export CKPT --out models/TASK [--int8]`: a checkpoint -> a served model folder.

Writes the weights, tokenizer and graphs, opens them through the serving code with the card built in memory,
checks them (every graph input dim symbolic; onnxruntime within 1e-5 of torch), measures the card's metrics,
then writes card.json, once: a folder whose check failed has no card, so nothing serves it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from pairscore import artifact
from pairscore.card import Card, write
from pairscore.runtime.model import PairModel
from training.export.calibration import fit_calibration
from training.export.card import describe, measure, measure_int8
from training.export.checkpoint import read_checkpoint
from training.export.errors import ExportError
from training.export.folder import check_destination, write_folder
from training.export.parity import checked_parity, parity_texts
from training.runs import checkpoint_of

Finish = Callable[[Card, PairModel], None]  # adds to the card what a caller measures on the served model


def export(
    checkpoint_path: Path,
    out: Path,
    int8: bool = False,
    tune_threshold: bool = False,
    data_dir: str | None = None,
    table_dtype: str = "float16",
    force: bool = False,
    finish: Finish | None = None,
) -> Card:
    """Write and check the model folder; returns the card. `finish` (the release's reported splits, say) adds to
    the card before it is written."""
    check_destination(out, checkpoint_path, force)
    source = read_checkpoint(checkpoint_path, table_dtype)
    selection = source.selection(data_dir)
    fitted = fit_calibration(source, data_dir)
    temperature = fitted["temperature"] if fitted else 1.0
    card = describe(source, write_folder(source, out, temperature, int8, table_dtype), fitted, table_dtype)
    served = PairModel(out, encoder_file=artifact.ENCODER_FILE, card=card)
    texts = parity_texts([p for pairs in selection.values() for p in pairs])
    card.parity = checked_parity(source.model, served, texts, temperature, out)
    measure(card, served, selection, tune_threshold)
    if int8:
        measure_int8(card, out, served, selection, texts)
    if finish:
        finish(card, served)
    write(out, card)
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairscore export", description=__doc__.splitlines()[0])
    parser.add_argument(
        "checkpoint", help="a .ckpt written by `pairscore train`, or its run's best.json or run folder (version_N)"
    )
    parser.add_argument("--out", type=Path, required=True, help="model folder to write, e.g. models/entailment")
    parser.add_argument("--int8", action="store_true", help="also write encoder.int8.onnx (dynamic quantization)")
    parser.add_argument("--force", action="store_true", help="replace a folder that holds another model")
    parser.add_argument(
        "--tune-threshold",
        action="store_true",
        help="a probability task (paraphrase): pick the F1-best threshold on the validation split instead of 0.5",
    )
    parser.add_argument(
        "--table-dtype",
        choices=("float16", "float32"),
        default="float16",
        help="storage of the encoder's token table (float16 halves the file; the lookup is cast back to float32)",
    )
    parser.add_argument("--data_dir", help="data folder for the validation split (default: the training one)")
    args = parser.parse_args(argv)
    try:
        args.checkpoint = checkpoint_of(args.checkpoint)
        card = export(
            args.checkpoint, args.out, args.int8, args.tune_threshold, args.data_dir, args.table_dtype, args.force
        )
    except (ExportError, artifact.ArtifactError, FileNotFoundError) as exc:
        print(f"pairscore export: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out}: parity {card.parity.model_dump(exclude_unset=True)}, metrics {card.metrics}")
    return 0
