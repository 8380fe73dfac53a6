"""The model artifact format: the one contract between training (writes) and serving (reads).

See docs/artifact-format.md. Bump FORMAT_VERSION on any incompatible change, and
change the card (pairscore/card.py), the writer (training/export/), the reader (pairscore/runtime/model.py)
and their tests together. Nothing here imports torch.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

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
HEAD_FEATURES = "features"  # v2, when card.features is set: float32 [batch, len(names)]
PAD_TOKEN, UNK_TOKEN = "[PAD]", "[UNK]"  # ids 0 and 1


class ArtifactError(Exception):
    """A model folder that cannot be served; the message names the file."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
