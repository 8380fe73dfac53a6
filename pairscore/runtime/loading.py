"""Load and check the three served models at start-up; any problem names the file."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np

from pairscore import artifact, tasks
from pairscore.card import Card, read
from pairscore.runtime.cache import CachedPairModel, VectorCache
from pairscore.runtime.model import PairModel, default_threads
from pairscore.settings import settings

REPO_MODELS = Path(__file__).resolve().parents[2] / "models"  # the folder holding pairscore/: repo root or Bento src
# Quantizations whose vectors do not depend on the other texts in a batch (docs/artifact-format.md).
BATCH_INDEPENDENT = ("none", "weight_only", "static")
logger = logging.getLogger("pairscore")


def model_root() -> Path:
    """PAIRSCORE_MODEL_DIR, else models/ next to the service package (repo root or Bento)."""
    return settings().model_dir or REPO_MODELS


def served_encoder(card: Card, model_dir: Path) -> tuple[str, str]:
    """(encoder file, quantization) to serve: the card's `encoder` when its answers cannot depend on the batch.

    A card without `quantization` (format v1) that serves `encoder_int8` serves a dynamically
    quantized encoder (the only int8 v1 wrote), whose activation scale comes from the whole
    batch; so does an explicit "dynamic". Those fall back to the card's fp32 encoder.
    """
    graphs = card.graphs
    quantization = card.quantization
    if quantization is None:
        quantization = "dynamic" if graphs.encoder == graphs.encoder_int8 else "none"
    if quantization in BATCH_INDEPENDENT:
        return graphs.encoder, quantization
    fp32 = graphs.encoder_fp32
    if not fp32 or fp32 not in card.files:
        raise artifact.ArtifactError(
            f"{model_dir / artifact.CARD_FILE}: the served encoder {graphs.encoder} is {quantization!r}-quantized, "
            "so answers "
            f"would depend on the batch, and graphs.encoder_fp32 names no file to serve instead"
        )
    return fp32, "none"


def check_model(model: PairModel, task: str) -> None:
    """Beyond the card's hashes (pairscore.card.read): right task and labels, and both graphs run with the card's
    shapes."""
    card_path = model.model_dir / artifact.CARD_FILE
    if model.task != task:
        raise artifact.ArtifactError(f"{card_path}: task {model.task!r}, but the folder is served as {task!r}")
    expected = list(tasks.TASKS[task].labels)
    if sorted(model.labels) != sorted(expected):
        raise artifact.ArtifactError(f"{card_path}: labels {model.labels}, expected {expected}")
    try:
        vectors = model.encode(["", "a probe sentence ."])
    except Exception as exc:  # onnxruntime errors are untyped
        raise artifact.ArtifactError(f"{model.model_dir / model.encoder_file}: does not run ({exc})") from exc
    if vectors.shape != (2, model.dim) or not np.isfinite(vectors).all():
        raise artifact.ArtifactError(
            f"{model.model_dir / model.encoder_file}: gives {vectors.shape} vectors, card.json says dim {model.dim}"
        )
    head_path = model.model_dir / model.card.graphs.head
    try:
        out = model.score_pairs([""], ["a probe sentence ."])
    except Exception as exc:
        raise artifact.ArtifactError(f"{head_path}: does not run ({exc})") from exc
    expected = model.behaviour.output_shape(1)
    if out.shape != expected:
        raise artifact.ArtifactError(f"{head_path}: output shape {out.shape}, expected {expected}")


def read_cards(root: Path | None = None) -> dict[str, Card]:
    """The three cards (hashes checked), for what needs no model: labels, thresholds, /info."""
    root = Path(root or model_root())
    missing_tasks(root)
    cards = {}
    for task in tasks.NAMES:
        card = read(root / task)
        if card.task != task:
            raise artifact.ArtifactError(
                f"{root / task / artifact.CARD_FILE}: task {card.task!r}, but the folder is served as {task!r}"
            )
        cards[task] = card
    return cards


def missing_tasks(root: Path) -> None:
    """ArtifactError when a task has no folder in `root`: the server serves every task from one folder, so a folder
    with only your own model says how to put the shipped ones beside it."""
    missing = [task for task in tasks.NAMES if not (root / task / artifact.CARD_FILE).is_file()]
    if not missing:
        return
    if len(missing) == len(tasks.NAMES):
        raise artifact.ArtifactError(f"{root}: no model folders in it (expected {', '.join(tasks.NAMES)})")
    shipped = " ".join(str(readable(REPO_MODELS / task)) for task in missing)
    raise artifact.ArtifactError(
        f"{root}: no {' or '.join(missing)} model; the server serves every task from one folder: put the shipped "
        f"ones beside yours: cp -r {shipped} {readable(root)}/"
    )


def readable(path: Path) -> Path:
    """A path relative to the working directory where it lies inside it, else absolute: what a message or /info
    shows."""
    path = Path(path).resolve()
    try:
        return path.relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def load_models(root: Path | None = None, cache_entries: int = 0, cache_bytes: int = 0) -> dict[str, PairModel]:
    """All three tasks from `root` (default model_root()), validated, each serving served_encoder().

    With cache_entries > 0 each model encodes through a VectorCache; tasks whose served
    encoder files are identical (same sha256: one vector space) share one cache.
    """
    root = Path(root or model_root())
    models: dict[str, PairModel] = {}
    caches: dict[str, VectorCache] = {}
    for task, card in read_cards(root).items():
        encoder_file, quantization = served_encoder(card, root / task)
        if encoder_file != card.graphs.encoder:
            logger.warning(
                "pairscore: %s: serving %s, not the batch-dependent (dynamic int8) %s the card names",
                root / task,
                encoder_file,
                card.graphs.encoder,
            )
        if cache_entries > 0 and cache_bytes > 0:
            cache = caches.setdefault(card.files[encoder_file], VectorCache(cache_entries, cache_bytes))
            model: PairModel = CachedPairModel(root / task, cache, encoder_file=encoder_file, card=card)
        else:
            model = PairModel(root / task, encoder_file=encoder_file, card=card)
        model.quantization = quantization
        check_model(model, task)
        if isinstance(model, CachedPairModel):
            model.cache.clear()  # the probe texts are not traffic
        models[task] = model
    return models


def check_all() -> int:
    """Load and check the models in model_root() (the server's start-up check): 0, or 1 with the file named."""
    root = model_root()
    try:
        default_threads()
    except ValueError as exc:  # a bad PAIRSCORE_ORT_THREADS: one line, not a traceback
        print(f"pairscore: {exc}", file=sys.stderr)
        return 1
    try:
        load_models(root)
    except artifact.ArtifactError as exc:
        print(f"pairscore: cannot serve the models in {root}: {exc}", file=sys.stderr)
        return 1
    return 0
