"""Pair heads: one logit per class (entailment), one logit (paraphrase) or one score (ranking), as the task registry
says (Task.logits), from the two sentence vectors and the exact-match pair features.

`mlp` learns any comparison of [u, v, |u-v|, u*v]; `cosine` only weighs the cosine of u and v against the pair
features: a handful of parameters, so a task with a few hundred questions cannot overfit it, and the score keeps
the vector space's own sense of similarity (what distillation taught the encoder).
"""

from __future__ import annotations

import torch
from torch import nn

from pairscore import tasks
from training.objectives import activate


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


class CosineHead(nn.Module):
    """scale * cos(u, v) + features . w + bias: one logit or score (paraphrase, ranking)."""

    def __init__(self, task: str, dim: int, n_features: int = 0, scale: float = 10.0):
        super().__init__()
        self.task, self.n_features, self.outputs = task, n_features, tasks.get(task).logits
        if self.outputs != 1:
            raise ValueError(f"a cosine head scores one logit: {task} has {self.outputs} classes")
        self.scale = nn.Parameter(torch.tensor(float(scale)))
        self.bias = nn.Parameter(torch.zeros(()))
        self.features = nn.Linear(n_features, 1, bias=False) if n_features else None

    def forward(self, u: torch.Tensor, v: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        score = self.scale * nn.functional.cosine_similarity(u, v, dim=-1, eps=1e-8) + self.bias
        if self.features is not None:
            score = score + self.features(features.to(u.dtype)).squeeze(-1)
        return score


HEADS = ("mlp", "cosine")


def build_head(
    kind: str, task: str, dim: int, hidden_size: int, dropout: float, n_features: int
) -> PairHead | CosineHead:
    if kind == "cosine":
        return CosineHead(task, dim, n_features)
    if kind != "mlp":
        raise ValueError(f"head must be one of {HEADS}, got {kind!r}")
    return PairHead(task, dim, hidden_size, dropout, n_features)


class ServingHead(nn.Module):
    """The exported head: the task's activation of logits / temperature (softmax or sigmoid probabilities), or the
    raw score."""

    def __init__(self, head: PairHead | CosineHead, temperature: float = 1.0):
        super().__init__()
        self.head = head
        self.temperature = float(temperature)

    def forward(self, u: torch.Tensor, v: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.head(u, v, features)
        if self.temperature != 1.0:
            logits = logits / self.temperature
        return activate(tasks.get(self.head.task), logits)
