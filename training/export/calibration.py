"""The temperature export folds into the head graph: fit on the calibration specs the run held out of training."""

from __future__ import annotations

from typing import Any

from tokenizers import Tokenizer

from pairscore import tasks
from pairscore.specs import DataError
from training import calibration
from training.export.checkpoint import Checkpoint
from training.export.errors import ExportError


def fit_calibration(source: Checkpoint, data_dir: str | None) -> dict[str, Any] | None:
    """Temperature scaling on the calibration specs the run held out (data.calibration), minus pairs repeating a
    training pair; None for a task without probabilities or a run without calibration specs."""
    specs, task = source.specs("calibration"), source.task
    if not tasks.get(task).calibrated or not specs:
        return None
    try:
        pairs = calibration.fresh_pairs(source.pairs("calibration", data_dir), source.pairs("train", data_dir))
    except (DataError, FileNotFoundError) as exc:
        raise ExportError(f"calibration data: {exc}") from exc
    if not pairs:
        raise ExportError(f"calibration specs {specs}: no pair left once pairs repeating a training pair are dropped")
    tokenizer = Tokenizer.from_str(source.record.tokenizer)
    tokenizer.no_padding()
    tokenizer.enable_truncation(source.record.max_tokens)
    logits = calibration.pair_logits(
        source.model, lambda texts: [e.ids for e in tokenizer.encode_batch(texts)], pairs, source.features
    )
    return {"splits": specs, "pairs": len(pairs), **calibration.summarize(logits, [p.label for p in pairs], task)}
