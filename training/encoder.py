"""Siamese sentence encoder: embeddings -> stacked recurrent layers -> pooled sentence vector.

Padding never changes a vector: each direction of each layer is its own
single-layer RNN, and the backward one reads every sequence reversed within its
own length (a gather, ONNX-friendly), so right-padding only ever follows the real
tokens; pooling masks the pads out.
"""

from __future__ import annotations

import torch
from torch import nn

CELLS = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}
POOLINGS = ("max", "mean", "last")


def _gather_time(x: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """x[b, index[b, t]] for every b, t."""
    return x.gather(1, index.unsqueeze(-1).expand(-1, -1, x.size(-1)))


class SentenceEncoder(nn.Module):
    """(input_ids [batch, seq] right-padded with 0, lengths [batch]) -> vectors [batch, dim]."""

    def __init__(
        self,
        embedding: nn.Embedding,
        cell: str = "lstm",
        hidden_size: int = 256,
        layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "max",
        dropout: float = 0.0,
    ):
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"cell must be one of {tuple(CELLS)}, got {cell!r}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        if layers < 1:
            raise ValueError(f"layers must be at least 1, got {layers}")
        self.embedding = embedding
        self.pooling = pooling
        self.directions = 2 if bidirectional else 1
        self.hidden_size = hidden_size
        self.dim = hidden_size * self.directions
        self.dropout = nn.Dropout(dropout)
        self.rnns = nn.ModuleList()
        size = embedding.embedding_dim
        for _ in range(layers):
            for _ in range(self.directions):
                self.rnns.append(CELLS[cell](size, hidden_size, batch_first=True))
            size = self.dim
        if cell == "lstm":  # forget-gate bias 1 (gates are ordered i, f, g, o)
            for rnn in self.rnns:
                rnn.bias_ih_l0.data[hidden_size : 2 * hidden_size] = 1.0
                rnn.bias_hh_l0.data[hidden_size : 2 * hidden_size] = 0.0

    def states(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Last layer's per-token states [batch, seq, dim], the mask of real tokens [batch, seq], lengths [batch, 1].

        Lengths are at least 1.
        """
        lengths = lengths.clamp(min=1).unsqueeze(1)  # an empty text is one [PAD] token
        steps = torch.arange(input_ids.size(1), device=input_ids.device).unsqueeze(0)
        valid = steps < lengths  # [batch, seq]
        reverse = torch.where(valid, lengths - 1 - steps, steps)
        x = self.dropout(self.embedding(input_ids))
        for start in range(0, len(self.rnns), self.directions):
            outputs = [self.rnns[start](x)[0]]
            if self.directions == 2:
                outputs.append(_gather_time(self.rnns[start + 1](_gather_time(x, reverse))[0], reverse))
            x = self.dropout(torch.cat(outputs, dim=-1))
        return x, valid, lengths

    def forward_with_winners(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Max pooling's vectors [batch, dim] and winners [batch, dim]: the position of the token whose state
        gave each dim (what /explain counts). Padding is -inf, so it never wins."""
        if self.pooling != "max":
            raise ValueError(f"winners exist only for max pooling, not {self.pooling!r}")
        x, valid, _ = self.states(input_ids, lengths)
        vectors, winners = x.masked_fill(~valid.unsqueeze(-1), float("-inf")).max(dim=1)
        return vectors, winners

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x, valid, lengths = self.states(input_ids, lengths)
        if self.pooling == "max":
            return x.masked_fill(~valid.unsqueeze(-1), float("-inf")).max(dim=1).values
        if self.pooling == "mean":
            return (x * valid.unsqueeze(-1)).sum(dim=1) / lengths
        last = _gather_time(x[..., : self.hidden_size], lengths - 1).squeeze(1)
        return torch.cat([last, x[:, 0, self.hidden_size :]], dim=-1) if self.directions == 2 else last
