"""Pair heads on [u, v, |u-v|, u*v] (+ exact-match pair features).

NLI (3 logits), paraphrase (1 logit), ranking (1 score).
"""

from __future__ import annotations

import torch
from torch import nn

from pairscore import tasks


def pair_features(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    return torch.cat([u, v, (u - v).abs(), u * v], dim=-1)


class PairHead(nn.Module):
    """An MLP over the pair vectors and n_features extra pair features.

    Logits [batch, 3] for entailment, [batch] otherwise.
    """

    def __init__(self, task: str, dim: int, hidden_size: int = 256, dropout: float = 0.0, n_features: int = 0):
        super().__init__()
        self.task, self.n_features = task, n_features
        self.outputs = tasks.get(task).logits
        self.mlp = nn.Sequential(
            nn.Linear(4 * dim + n_features, hidden_size),
            nn.ReLU(),
            nn.Dropout(dropout),
            nn.Linear(hidden_size, self.outputs),
        )

    def forward(self, u: torch.Tensor, v: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        x = pair_features(u, v)
        if self.n_features:
            x = torch.cat([x, features.to(x.dtype)], dim=-1)
        logits = self.mlp(x)
        return logits if self.outputs > 1 else logits.squeeze(-1)


class ServingHead(nn.Module):
    """The exported head: probabilities (softmax / sigmoid of logits / temperature) or the raw ranking score."""

    def __init__(self, head: PairHead, temperature: float = 1.0):
        super().__init__()
        self.head = head
        self.temperature = float(temperature)

    def forward(self, u: torch.Tensor, v: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.head(u, v, features)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        if self.head.task == "entailment":
            return logits.softmax(dim=-1)
        return logits.sigmoid() if self.head.task == "paraphrase" else logits
