"""Evaluation metrics in numpy, so `pairscore evaluate` runs on the serving install.

Definitions match the torchmetrics ones used in training (accuracy, per-class
precision/recall/F1, positive-class F1, MAP/MRR over clean questions).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Sequence

import numpy as np


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def classification(y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str]) -> dict:
    """Accuracy, per-class precision/recall/F1 and the confusion matrix (rows gold, columns predicted)."""
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    n = len(labels)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (y_true, y_pred), 1)
    per_class = {}
    for k, name in enumerate(labels):
        tp = confusion[k, k]
        precision, recall = _ratio(tp, confusion[:, k].sum()), _ratio(tp, confusion[k, :].sum())
        per_class[name] = {
            "precision": precision,
            "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall),
        }
    return {
        "accuracy": _ratio(np.trace(confusion), len(y_true)),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def binary(y_true: Sequence[int], y_pred: Sequence[int]) -> dict:
    """F1, precision and recall of the positive class (1), and accuracy."""
    y_true, y_pred = np.asarray(y_true, dtype=bool), np.asarray(y_pred, dtype=bool)
    tp = float(np.sum(y_true & y_pred))
    precision, recall = _ratio(tp, y_pred.sum()), _ratio(tp, y_true.sum())
    return {
        "f1": _ratio(2 * precision * recall, precision + recall),
        "precision": precision,
        "recall": recall,
        "accuracy": _ratio(np.sum(y_true == y_pred), len(y_true)),
    }


def best_threshold(y_true: Sequence[int], probability: Sequence[float]) -> float:
    """The observed probability t with the highest positive-class F1 for `probability >= t` (the smallest on ties).

    One sort and cumulative counts, so it scales to a whole training split.
    """
    y_true, probability = np.asarray(y_true, dtype=np.int64), np.asarray(probability, dtype=np.float64)
    if not len(probability):
        return 0.5
    order = np.argsort(-probability, kind="stable")
    ranked, labels = probability[order], y_true[order]
    tp, predicted = np.cumsum(labels), np.arange(1, len(labels) + 1)
    cut = np.r_[ranked[1:] != ranked[:-1], True]  # a threshold keeps every tie together
    f1 = np.where(cut, 2 * tp / (predicted + labels.sum()), -1.0)
    best = len(f1) - 1 - int(np.argmax(f1[::-1]))
    return float(ranked[best])


def ranking(groups: Sequence[Hashable], y_true: Sequence[int], scores: Sequence[float]) -> dict:
    """MAP and MRR over clean questions (at least one correct and one wrong answer)."""
    by_group: dict[Hashable, list[tuple[float, int]]] = defaultdict(list)
    for group, label, score in zip(groups, y_true, scores):
        by_group[group].append((float(score), int(label)))
    average_precisions, reciprocal_ranks = [], []
    for items in by_group.values():
        labels = np.array([label for _, label in items]) > 0
        if labels.all() or not labels.any():
            continue
        order = np.argsort(-np.array([score for score, _ in items]), kind="stable")
        hits = labels[order]
        ranks = np.flatnonzero(hits) + 1
        average_precisions.append(float(np.mean(np.arange(1, len(ranks) + 1) / ranks)))
        reciprocal_ranks.append(float(1.0 / ranks[0]))
    return {
        "map": float(np.mean(average_precisions)) if average_precisions else 0.0,
        "mrr": float(np.mean(reciprocal_ranks)) if reciprocal_ranks else 0.0,
        "questions": len(average_precisions),
    }


ECE_BINS = 15  # torchmetrics' default, so training (torchmetrics) and serving (this) report the same ECE


def expected_calibration_error(y_true: Sequence[int], probabilities: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE (l1) over equal-width bins, as torchmetrics' CalibrationError computes it: for [n, classes]
    probabilities the top class's confidence against whether it is right, for [n] ones the positive-class
    probability against the label."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    y_true = np.asarray(y_true, dtype=np.int64)
    if probabilities.ndim == 2:
        confidence, correct = probabilities.max(axis=1), (probabilities.argmax(axis=1) == y_true)
    else:
        confidence, correct = probabilities, y_true > 0
    if not len(confidence):
        return 0.0
    bins = np.searchsorted(np.linspace(0.0, 1.0, n_bins + 1), confidence, side="right") - 1
    gap = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins + 1) - np.bincount(
        bins, weights=confidence, minlength=n_bins + 1
    )
    return float(np.abs(gap).sum() / len(confidence))


def retemper(probabilities: np.ndarray, factor: float) -> np.ndarray:
    """Softmax/sigmoid probabilities with their logits multiplied by factor: a head calibrated with temperature T
    gives back its uncalibrated probabilities with factor=T."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1.0 - 1e-12)
    if p.ndim == 2:
        logits = np.log(p) * factor
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)
    return 1.0 / (1.0 + np.exp(-(np.log(p) - np.log1p(-p)) * factor))
