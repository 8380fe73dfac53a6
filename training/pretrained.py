"""A model folder as a starting point: the weights, tokenizer and pair features a fine-tuning run continues from.

Format v3 folders carry weights.safetensors: the trained torch weights (float32) of everything but the token
table, which is read back from encoder.onnx, where it is stored once (float16 for the release models, exactly the
values the served encoder uses). So a run started from a folder starts from the model that folder serves.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from safetensors.torch import load_file, save_file
from tokenizers import Tokenizer

from pairscore import artifact
from pairscore.card import Card, read
from pairscore.features import PairFeatures

TABLE_KEY = "encoder.embedding.weight"  # the token table's name in the torch state dict
PROJECTION = "projection."  # the distillation's map into the teacher's space, kept beside the task weights
# The model arguments that shape the weights a run takes from a folder: the encoder's always, the head's for the
# same task (another task's run takes the encoder alone).
ENCODER_SHAPE = ("embedding_dim", "cell", "hidden_size", "layers", "bidirectional", "pooling", "embeddings")
HEAD_SHAPE = ("head", "head_hidden")


def token_table(encoder_onnx: Path) -> np.ndarray:
    """The float32 token table an encoder graph looks its input ids up in (the Gather on `input_ids`)."""
    graph = onnx.load(str(encoder_onnx)).graph
    tables = {init.name: init for init in graph.initializer if len(init.dims) == 2}
    lookups = [
        node
        for node in graph.node
        if node.op_type == "Gather" and node.input[0] in tables and node.input[1] == artifact.ENCODER_INPUTS[0]
    ]
    if len(lookups) != 1:
        raise artifact.ArtifactError(f"{encoder_onnx}: expected one token-table lookup, found {len(lookups)}")
    return numpy_helper.to_array(tables[lookups[0].input[0]]).astype(np.float32)


def save_weights(path: Path, state: dict[str, torch.Tensor]) -> None:
    """weights.safetensors: every tensor but the token table, float32."""
    tensors = {k: v.detach().float().contiguous() for k, v in state.items() if k != TABLE_KEY}
    save_file(tensors, str(path), metadata={"format": "pairscore", "token_table": artifact.ENCODER_FILE})
    path.chmod(0o644)  # safetensors creates the file owner-only; the folder's other files are world-readable


@dataclass
class Pretrained:
    """A v3 model folder, read for training."""

    folder: Path
    card: Card

    @classmethod
    def load(cls, folder: str | Path) -> Pretrained:
        folder = Path(folder)
        card = read(folder)  # every file's sha256 checked
        if card.weights is None:
            raise artifact.ArtifactError(
                f"{folder / artifact.CARD_FILE}: format {card.format_version} folder without weights "
                f"({artifact.WEIGHTS_FILE}, format 3): it can be served but not trained further"
            )
        return cls(folder, card)

    @property
    def tokenizer(self) -> Tokenizer:
        tokenizer = Tokenizer.from_file(str(self.folder / self.card.graphs.tokenizer))
        tokenizer.no_padding()
        tokenizer.enable_truncation(self.card.max_tokens)
        return tokenizer

    @property
    def features(self) -> PairFeatures | None:
        described = self.card.features
        return PairFeatures.load(self.folder / described.file) if described else None

    @property
    def model_config(self) -> dict[str, Any]:
        """The model's init arguments as its training config recorded them."""
        return dict(self.card.config["model"])

    def architecture(self, task: str) -> dict[str, Any]:
        """The model arguments a `task` run starting from this folder takes from it (ENCODER_SHAPE, and HEAD_SHAPE
        for the folder's own task), as its training config recorded them."""
        keys = ENCODER_SHAPE + (HEAD_SHAPE if self.card.task == task else ())
        config = self.model_config
        return {key: config[key] for key in keys if key in config}

    @property
    def feature_names(self) -> list[str]:
        """The pair features the folder's head takes, in order ([] for none)."""
        return list(self.card.features.names) if self.card.features else []

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The torch weights, token table included, as the folder serves them."""
        state = load_file(str(self.folder / self.card.weights.file))
        table = token_table(self.folder / self.card.graphs.encoder_fp32)
        state[TABLE_KEY] = torch.from_numpy(table)
        return state

    def describe(self) -> dict[str, Any]:
        """What a card says a model started from."""
        return {
            "folder": str(self.folder),
            "task": self.card.task,
            "created": self.card.created,
            "card_sha256": artifact.sha256_file(self.folder / artifact.CARD_FILE),
            "reproduce": self.card.reproduce,
        }
