"""The distillation student: the sentence encoder and a linear map from its vector into the teacher's space.

Only the encoder is kept afterwards (it starts the task recipes); the projection exists so that a 256-d student
can be trained against a 384-d (or 768-d) teacher without constraining the student's own width.
"""

from __future__ import annotations

import torch
from torch import nn

from training.encoder import SentenceEncoder


class Distiller(nn.Module):
    """The sentence encoder and a linear map from its vector to the teacher's space."""

    def __init__(self, encoder: SentenceEncoder, teacher_dim: int):
        super().__init__()
        self.encoder = encoder
        self.projection = nn.Linear(encoder.dim, teacher_dim)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(the served sentence vectors, their projection into the teacher's space)."""
        vectors = self.encoder(input_ids, lengths)
        return vectors, self.projection(vectors)
