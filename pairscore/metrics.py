"""Evaluation metrics in numpy, so `pairscore evaluate` runs on the serving install.

Definitions match the torchmetrics ones used in training (accuracy, per-class
precision/recall/F1, positive-class F1, MAP/MRR over clean questions).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Hashable, Sequence

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
        per_class[name] = {"precision": precision, "recall": recall, "f1": _ratio(2 * precision * recall, precision + recall)}
    return {"accuracy": _ratio(np.trace(confusion), len(y_true)), "per_class": per_class, "confusion": confusion.tolist()}


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
