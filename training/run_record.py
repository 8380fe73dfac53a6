"""What a `pairscore train` checkpoint keeps beside the weights, typed: export builds the model card from it.

PairModule writes it when Lightning saves a checkpoint and reads its totals back when a run resumes; export
(training.export.checkpoint) reads all of it. It is stored as a plain dict under RECORD_KEY, so a checkpoint
written before this class loads the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

import torch

RECORD_KEY = "pairscore"  # the checkpoint's entry beside Lightning's own


@dataclass
class RunRecord:
    tokenizer: str = ""  # the tokenizer's JSON (the served tokenizer.json)
    max_tokens: int = 128  # tokens kept per text
    data: list[dict[str, Any]] = field(default_factory=list)  # every split used, with its role (card `data`)
    features: str | None = None  # the pair features' statistics (PairFeatures.to_json), or None
    embedding_coverage: float | None = None  # the share of the vocabulary whose input vectors were pre-trained
    teacher: dict[str, Any] | None = None  # the distillation teacher and run the encoder started from
    started_from: dict[str, Any] | None = None  # the model folder the run continued from (card `init_from`)
    projection: dict[str, torch.Tensor] = field(default_factory=dict)  # the distilled encoder's map to the teacher
    recipe: dict[str, Any] | None = None  # the full training config `pairscore train` ran
    training: dict[str, Any] = field(default_factory=dict)  # seconds, examples, epochs, hardware, threads, processes

    def save(self, checkpoint: dict[str, Any]) -> None:
        """Into a checkpoint Lightning is saving (a plain dict: a checkpoint loads without this class)."""
        checkpoint[RECORD_KEY] = {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def of(cls, checkpoint: dict[str, Any]) -> RunRecord | None:
        """The record of a loaded checkpoint, None when it has none (not written by `pairscore train`); keys a
        later version adds are left out."""
        saved = checkpoint.get(RECORD_KEY)
        if saved is None:
            return None
        known = {f.name for f in fields(cls)}
        record = cls(**{key: value for key, value in saved.items() if key in known})
        record.projection, record.training = record.projection or {}, record.training or {}
        return record
