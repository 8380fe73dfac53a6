"""The model artifact format: the one contract between training (writes) and serving (reads).

See docs/artifact-format.md. Bump FORMAT_VERSION on any incompatible change, and
change the writer (training/export.py), the reader (pairscore/runtime/model.py) and their
tests together. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pairscore import tasks

FORMAT_VERSION = 3  # written
READABLE_VERSIONS = (1, 2, 3)  # read: each version adds optional parts the server can do without

CARD_FILE = "card.json"
TOKENIZER_FILE = "tokenizer.json"
ENCODER_FILE = "encoder.onnx"
ENCODER_INT8_FILE = "encoder.int8.onnx"
HEAD_FILE = "head.onnx"
FEATURES_FILE = "features.json"  # v2, optional: statistics for pairscore.features
WEIGHTS_FILE = "weights.safetensors"  # v3: the torch weights training continues from (training.pretrained)

# ONNX graph interface (names are part of the format).
ENCODER_INPUTS = ("input_ids", "lengths")  # int64 [batch, seq], int64 [batch]
ENCODER_OUTPUT = "embeddings"  # float32 [batch, dim]
ENCODER_WINNERS = "winners"  # v2, max pooling: int64 [batch, dim], the token position that wins each dim
HEAD_INPUTS = ("u", "v")  # float32 [batch, dim] each; the output is named per task (pairscore.tasks)
HEAD_FEATURES = "features"  # v2, when card["features"] is set: float32 [batch, len(names)]
PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"  # ids 0 and 1


class ArtifactError(Exception):
    """A model folder that cannot be served; the message names the file."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_card(model_dir: Path) -> dict[str, Any]:
    """Read and check card.json, and that every file it lists is present with its sha256."""
    model_dir = Path(model_dir)
    card_path = model_dir / CARD_FILE
    if not card_path.is_file():
        raise ArtifactError(f"{card_path}: missing (not a pairscore model folder?)")
    try:
        card = json.loads(card_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{card_path}: not valid JSON ({exc})") from exc
    for key in ("format_version", "task", "labels", "graphs", "files"):
        if key not in card:
            raise ArtifactError(f"{card_path}: missing key {key!r}")
    if card["format_version"] not in READABLE_VERSIONS:
        raise ArtifactError(
            f"{card_path}: format_version {card['format_version']!r}, this pairscore reads {list(READABLE_VERSIONS)}"
        )
    if card["task"] not in tasks.NAMES:
        raise ArtifactError(f"{card_path}: task {card['task']!r} is not one of {tasks.NAMES}")
    for name, expected in card["files"].items():
        path = model_dir / name
        if not path.is_file():
            raise ArtifactError(f"{path}: missing (listed in {CARD_FILE})")
        actual = sha256_file(path)
        if actual != expected:
            raise ArtifactError(
                f"{path}: sha256 {actual} does not match {CARD_FILE} ({expected}): file is corrupt or was changed"
            )
    for role in ("encoder", "head", "tokenizer"):
        name = card["graphs"].get(role)
        if name is None or name not in card["files"]:
            raise ArtifactError(f"{card_path}: graphs.{role} must name a file listed in 'files'")
    return card


def write_card(model_dir: Path, card: dict[str, Any]) -> Path:
    """Write card.json with the sha256 of every other file in the folder."""
    model_dir = Path(model_dir)
    card = dict(card)
    card["format_version"] = FORMAT_VERSION
    card["files"] = {
        path.name: sha256_file(path)
        for path in sorted(model_dir.iterdir())
        if path.is_file() and path.name != CARD_FILE
    }
    path = model_dir / CARD_FILE
    path.write_text(json.dumps(card, indent=2, sort_keys=False) + "\n")
    return path
