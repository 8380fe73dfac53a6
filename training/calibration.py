"""Temperature scaling (Guo et al. 2017) for the entailment softmax and the paraphrase sigmoid.

One scalar T divides the logits; it is fit by NLL on a calibration slice held out of the
training data (data.calibration), never on the selection split, and folded into the
exported head graph, so the served probabilities are the calibrated ones. Dividing by
T > 0 keeps every argmax and every ranking: accuracy is unchanged, only confidence moves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torchmetrics.functional.classification import binary_calibration_error, multiclass_calibration_error

from pairscore import tasks
from pairscore.features import PairFeatures
from pairscore.metrics import ECE_BINS
from pairscore.schema import Pair
from training import objectives
from training.batching import padded

# T is kept within these bounds: a degenerate slice (a head that outputs one value) would send T to infinity,
# squeezing every float32 probability onto 0.5 and merging decisions that T > 0 must keep apart.
TEMPERATURE_RANGE = (0.05, 20.0)
BATCH = 256


def pair_logits(
    model: torch.nn.Module, token_ids, pairs: Sequence[Pair], features: PairFeatures | None
) -> torch.Tensor:
    """The head's logits ([n, 3] or [n]) for pairs, in batches; token_ids maps texts to ids (the served tokenizer)."""

    out = []
    with torch.no_grad():
        for start in range(0, len(pairs), BATCH):
            chunk = pairs[start : start + BATCH]
            a, b = [p.text_a for p in chunk], [p.text_b for p in chunk]
            extra = torch.from_numpy(features.pairs(a, b)) if features else None
            out.append(model(*padded(token_ids(a)), *padded(token_ids(b)), extra))
    return torch.cat(out)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor, task: str) -> float:
    """The T in TEMPERATURE_RANGE minimising the NLL of softmax/sigmoid(logits / T) (LBFGS over log T)."""
    spec = tasks.get(task)
    if not spec.calibrated:
        raise ValueError(f"temperature scaling is for probabilities, not {task!r}'s output")
    logits, labels = logits.detach().double(), labels.detach()
    log_t = torch.zeros((), dtype=torch.float64, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=200, line_search_fn="strong_wolfe")

    def nll() -> torch.Tensor:
        optimizer.zero_grad()
        loss = objectives.loss(spec, logits / log_t.exp(), labels)
        loss.backward()
        return loss

    optimizer.step(nll)
    low, high = TEMPERATURE_RANGE
    return min(high, max(low, float(log_t.detach().exp())))


def calibration_error(logits: torch.Tensor, labels: torch.Tensor, task: str, temperature: float = 1.0) -> float:
    """torchmetrics' expected calibration error (l1, ECE_BINS equal-width bins) of the (tempered) probabilities:
    the top class's confidence for softmax classes, the positive-class probability for a sigmoid."""
    probabilities = objectives.activate(tasks.get(task), logits.detach().float() / temperature)
    if probabilities.ndim == 2:  # one column per class
        return float(
            multiclass_calibration_error(probabilities, labels, num_classes=probabilities.shape[-1], n_bins=ECE_BINS)
        )
    return float(binary_calibration_error(probabilities, labels, n_bins=ECE_BINS))


def fresh_pairs(pairs: Sequence[Pair], seen: Sequence[Pair]) -> list[Pair]:
    """Pairs that do not repeat a pair of `seen` in either order (the shared corpora repeat pairs).

    First occurrences only.
    """
    known = {frozenset((p.text_a, p.text_b)) for p in seen}
    out = []
    for pair in pairs:
        key = frozenset((pair.text_a, pair.text_b))
        if key not in known:
            known.add(key)
            out.append(pair)
    return out


def summarize(logits: torch.Tensor, labels: Sequence[int], task: str) -> dict[str, float]:
    """Fit T and the calibration slice's ECE before and after."""
    target = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    temperature = fit_temperature(logits, target, task)
    return {
        "temperature": round(temperature, 6),
        "ece_before": calibration_error(logits, target, task),
        "ece_after": calibration_error(logits, target, task, temperature),
    }
