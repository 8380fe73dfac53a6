"""Load and check the three served models at start-up; any problem names the file."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from pairscore import artifact
from service.runtime import PairModel

REPO_MODELS = Path(__file__).resolve().parent.parent / "models"


def model_root() -> Path:
    """PAIRSCORE_MODEL_DIR, else models/ next to the service package (repo root or Bento)."""
    return Path(os.environ.get("PAIRSCORE_MODEL_DIR") or REPO_MODELS)


def check_model(model: PairModel, task: str) -> None:
    """Beyond read_card's hashes: right task and labels, and both graphs run with the card's shapes."""
    card_path = model.model_dir / artifact.CARD_FILE
    if model.task != task:
        raise artifact.ArtifactError(f"{card_path}: task {model.task!r}, but the folder is served as {task!r}")
    if sorted(model.labels) != sorted(artifact.LABELS[task]):
        raise artifact.ArtifactError(f"{card_path}: labels {model.labels}, expected {artifact.LABELS[task]}")
    try:
        vectors = model.encode(["", "a probe sentence ."])
    except Exception as exc:  # onnxruntime errors are untyped
        raise artifact.ArtifactError(f"{model.model_dir / model.encoder_file}: does not run ({exc})") from exc
    if vectors.shape != (2, model.dim) or not np.isfinite(vectors).all():
        raise artifact.ArtifactError(
            f"{model.model_dir / model.encoder_file}: gives {vectors.shape} vectors, card.json says dim {model.dim}"
        )
    head_path = model.model_dir / model.card["graphs"]["head"]
    try:
        out = model.head(vectors[:1], vectors[1:], model.pair_features([""], ["a probe sentence ."]))
    except Exception as exc:
        raise artifact.ArtifactError(f"{head_path}: does not run ({exc})") from exc
    expected = (1, len(model.labels)) if task == "entailment" else (1,)
    if out.shape != expected:
        raise artifact.ArtifactError(f"{head_path}: output shape {out.shape}, expected {expected}")


def read_cards(root: Path | None = None) -> dict[str, dict]:
    """The three cards (hashes checked), for what needs no model: labels, thresholds, /info."""
    root = Path(root or model_root())
    cards = {}
    for task in artifact.TASKS:
        card = artifact.read_card(root / task)
        if card["task"] != task:
            raise artifact.ArtifactError(f"{root / task / artifact.CARD_FILE}: task {card['task']!r}, but the folder is served as {task!r}")
        cards[task] = card
    return cards


def load_models(root: Path | None = None) -> dict[str, PairModel]:
    """All three tasks from `root` (default model_root()), validated."""
    root = Path(root or model_root())
    models = {}
    for task in artifact.TASKS:
        model = PairModel(root / task)
        check_model(model, task)
        models[task] = model
    return models
