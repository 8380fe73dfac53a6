"""The export's self-check: onnxruntime, through the serving code, within PARITY_TOLERANCE of torch on a real padded
batch of mixed lengths, the max-pool winners included (each a real token whose torch state is the max)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from pairscore.card import Parity
from pairscore.runtime.model import PairModel
from pairscore.schema import Pair
from training.batching import padded
from training.export.errors import ExportError
from training.heads import ServingHead
from training.model import PairModule

PARITY_TOLERANCE = 1e-5
PARITY_TEXTS = 64


def parity_texts(pairs: list[Pair]) -> list[str]:
    """Distinct validation texts spread over the length range (shortest to longest)."""
    texts = sorted(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)), key=len)
    step = max(1, len(texts) // PARITY_TEXTS)
    chosen = texts[::step][: PARITY_TEXTS - 1] + texts[-1:]
    return chosen if len(chosen) % 2 == 0 else chosen[:-1]


def parity(model: PairModule, served: PairModel, texts: list[str], temperature: float = 1.0) -> Parity:
    """Max abs difference torch vs the served graphs on one padded batch of real texts of mixed lengths
    (the head on the pairs (texts[i], texts[half + i]), with their pair features when it takes them)."""
    ids = served.token_ids(texts)
    batch, lengths = padded(ids)
    with torch.no_grad():
        vectors = model.encoder(batch, lengths)
        half = len(texts) // 2
        features = served.pair_features(texts[:half], texts[half : 2 * half])
        torch_features = None if features is None else torch.from_numpy(features)
        head = ServingHead(model.head, temperature)(vectors[:half], vectors[half : 2 * half], torch_features).numpy()
    onnx_vectors = served.encode_ids(ids)
    result = Parity(
        encoder=float(np.abs(onnx_vectors - vectors.numpy()).max()),
        head=float(
            np.abs(served.head(vectors[:half].numpy(), vectors[half : 2 * half].numpy(), features) - head).max()
        ),
        texts=len(texts),
        max_length=int(lengths.max()),
        min_length=int(lengths.min()),
    )
    if served.has_winners:
        result.winners = winners_gap(model.encoder, batch, lengths, served.winners(ids))
    return result


def winners_gap(encoder: torch.nn.Module, batch: torch.Tensor, lengths: torch.Tensor, winners: np.ndarray) -> float:
    """Max abs difference between torch's max pool and torch's state at the position onnxruntime says won each dim
    (a near-tie may pick another position; its state must still be the max). A padding winner is an error."""
    if (winners >= lengths.clamp(min=1).numpy()[:, None]).any() or (winners < 0).any():
        raise ExportError(
            f"the exported winners point outside the text: {winners.max(axis=1)} vs lengths {lengths.tolist()}"
        )
    with torch.no_grad():
        states, _, _ = encoder.states(batch, lengths)
        vectors = encoder(batch, lengths)
    picked = states.gather(1, torch.from_numpy(winners).unsqueeze(1)).squeeze(1)
    return float((picked - vectors).abs().max())


def checked_parity(model: PairModule, served: PairModel, texts: list[str], temperature: float, out: Path) -> Parity:
    """parity(), or ExportError when onnxruntime is further than PARITY_TOLERANCE from torch (the folder then has
    no card.json, so nothing serves it)."""
    measured = parity(model, served, texts, temperature)
    if max(measured.encoder, measured.head, measured.winners or 0.0) > PARITY_TOLERANCE:
        shown = measured.model_dump(exclude_unset=True)
        raise ExportError(f"{out}: onnxruntime differs from torch by {shown} (tolerance {PARITY_TOLERANCE})")
    return measured
