"""Token ids of several texts as one right-padded batch: the encoder graph's inputs, for serving and training alike.

The encoder is padding-invariant (training.encoder), so any batch of any texts may be padded to its longest; one
helper keeps the padding id (0, [PAD]) and the empty-text rule (a batch is at least one token wide) the same
everywhere. numpy only: training wraps the arrays with torch.from_numpy.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def pad(ids: Sequence[Sequence[int]]) -> tuple[np.ndarray, np.ndarray]:
    """int64 ids [len(ids), longest (at least 1)] right-padded with 0, and int64 lengths [len(ids)]."""
    lengths = np.array([len(seq) for seq in ids], dtype=np.int64)
    batch = np.zeros((len(ids), max(1, int(lengths.max(initial=0)))), dtype=np.int64)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = seq
    return batch, lengths
