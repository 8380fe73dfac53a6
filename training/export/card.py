"""The card export writes (pairscore.card): what the model is and came from, then what export measured on the
folder through the serving code; built in memory and written once, after every check passed."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from pairscore import artifact, machine, metrics, tasks
from pairscore.card import Calibration, Card, Features, Graphs, Oov, Weights
from pairscore.jobs.evaluate import calibration_errors, evaluate
from pairscore.oov import fallback_token, oov_rates
from pairscore.runtime.model import PairModel
from pairscore.schema import Pair
from training.export.checkpoint import Checkpoint

VERSIONED = (
    "pairscore",
    "torch",
    "pytorch-lightning",
    "onnx",
    "onnxruntime",
    "tokenizers",
    "numpy",
    "datasets",
    "torchmetrics",
)


def architecture(source: Checkpoint, table_dtype: str) -> dict[str, Any]:
    """card.architecture: the encoder's and the head's shape, the token table's storage, the parameter counts."""
    hp, model = source.hp, source.model
    described = {key: hp[key] for key in ("cell", "layers", "bidirectional", "hidden_size", "pooling")}
    described |= {key: hp[key] for key in ("embeddings", "embedding_dim", "vocab_size")}
    return described | {
        "table_dtype": table_dtype,
        "embedding_coverage": source.record.embedding_coverage,
        "head": hp.get("head", "mlp"),
        "head_hidden": hp["head_hidden"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "encoder_parameters": sum(p.numel() for p in model.encoder.parameters()),
    }


def describe(source: Checkpoint, graphs: Graphs, fitted: dict[str, Any] | None, table_dtype: str) -> Card:
    """The card before measurement: what the model is, what it was trained on and by which versions."""
    task, record, features = tasks.get(source.task), source.record, source.features
    calibrated = None
    if fitted:
        fit_on = {k: v for k, v in fitted.items() if k != "temperature"}
        calibrated = Calibration(temperature=fitted["temperature"], fit_on=fit_on, splits={})
    return Card(
        task=task.name,
        labels=list(task.labels),
        threshold=task.default_threshold,
        dim=source.model.encoder.dim,
        max_tokens=record.max_tokens,
        graphs=graphs,
        architecture=architecture(source, table_dtype),
        explain=artifact.ENCODER_WINNERS if source.hp["pooling"] == "max" else None,
        features=Features(file=artifact.FEATURES_FILE, names=features.names) if features else None,
        calibration=calibrated,
        quantization="none",  # fp32 served: a text's vector never depends on its batch (dynamic int8's would)
        teacher=record.teacher,  # the distillation teacher and run (training.distill), or None
        weights=Weights(file=artifact.WEIGHTS_FILE, dtype="float32", token_table=artifact.ENCODER_FILE),
        init_from=record.started_from,  # the model folder this one continued from, or None
        data=record.data,
        config=record.recipe or {"model": source.hp, "data": source.data_hp},
        metrics={},
        versions=machine.package_versions(VERSIONED),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        checkpoint=str(source.path),
        training=record.training or None,
    )


def split_oov(model: PairModel, pairs: list[Pair]) -> dict[str, float]:
    """card.oov.splits[spec]: the fallback-token rates of a split's texts, as the served tokenizer sees them."""
    return oov_rates(model.tokenizer, [t for p in pairs for t in (p.text_a, p.text_b)])


def measure(card: Card, served: PairModel, selection: dict[str, list[Pair]], tune_threshold: bool) -> None:
    """The card's threshold (a probability task's, when tuned), metrics, calibration errors and fallback-token
    rates."""
    if tasks.get(card.task).thresholded and tune_threshold:
        pairs = [p for split in selection.values() for p in split]
        probability = served.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
        card.threshold = metrics.best_threshold([p.label for p in pairs], probability)
    card.metrics = {spec: evaluate(served, pairs, card.threshold) for spec, pairs in selection.items()}
    if card.calibration:
        card.calibration.splits = {spec: calibration_errors(served, pairs) for spec, pairs in selection.items()}
    card.oov = Oov(
        token=fallback_token(served.tokenizer),
        splits={spec: split_oov(served, pairs) for spec, pairs in selection.items()},
    )


def measure_int8(card: Card, out: Path, served: PairModel, selection: dict[str, list[Pair]], texts: list[str]) -> None:
    """For comparison only (never served: dynamic int8 depends on the batch): its gap to fp32 and its metrics."""
    int8_model = PairModel(out, encoder_file=artifact.ENCODER_INT8_FILE, card=card)
    ids = served.token_ids(texts)
    card.parity.int8_vs_fp32 = float(np.abs(int8_model.encode_ids(ids) - served.encode_ids(ids)).max())
    card.metrics_int8 = {spec: evaluate(int8_model, pairs, card.threshold) for spec, pairs in selection.items()}
