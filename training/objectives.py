"""What training does with a head's output, by the kind the task registry gives it (pairscore.tasks): the loss, the
activation the served head applies, and the validation metrics a checkpoint is selected on.

A new task whose head gives one of the registry's output kinds needs nothing here.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torchmetrics
from torch.nn import functional as F
from torchmetrics import classification as tmc
from torchmetrics import retrieval

from pairscore.tasks import Task


def listwise_loss(scores: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy over each question's candidates against its correct answers (ListNet-style).

    Questions without a correct answer give no signal and are left out.
    """
    _, group = torch.unique(groups, return_inverse=True)
    n = int(group.max()) + 1
    top = torch.full((n,), float("-inf"), device=scores.device).scatter_reduce(0, group, scores.detach(), "amax")
    log_norm = torch.zeros(n, device=scores.device).index_add(0, group, (scores - top[group]).exp()).log() + top
    target = labels.float()
    positives = torch.zeros(n, device=scores.device).index_add(0, group, target)
    weight = target / positives[group].clamp(min=1)
    per_group = torch.zeros(n, device=scores.device).index_add(0, group, -weight * (scores - log_norm[group]))
    answered = positives > 0
    return per_group[answered].mean() if answered.any() else scores.sum() * 0.0


def clean_groups(labels: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """Mask of pairs whose question has at least one correct and one wrong answer."""
    _, group = torch.unique(groups, return_inverse=True)
    n = int(group.max()) + 1
    positives = torch.zeros(n, device=labels.device).index_add(0, group, labels.float())
    counts = torch.zeros(n, device=labels.device).index_add(0, group, torch.ones_like(labels, dtype=torch.float))
    return ((positives > 0) & (positives < counts))[group]


Loss = Callable[..., torch.Tensor]
# (logits, labels, groups) -> loss, by the registry's loss names (Task.loss). A binary target takes the logits' dtype.
LOSSES: dict[str, Loss] = {
    "cross_entropy": lambda logits, labels, groups: F.cross_entropy(logits, labels),
    "binary_cross_entropy": lambda logits, labels, groups: F.binary_cross_entropy_with_logits(
        logits, labels.to(logits.dtype)
    ),
    "listwise": listwise_loss,
}
ACTIVATIONS: dict[str | None, Callable[[torch.Tensor], torch.Tensor]] = {
    "softmax": lambda logits: logits.softmax(dim=-1),
    "sigmoid": torch.sigmoid,
    None: lambda logits: logits,
}


def loss(task: Task, logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor | None = None) -> torch.Tensor:
    """The task's training loss; `groups` (each row's question) for a grouped task."""
    return LOSSES[task.loss](logits, labels, groups)


def activate(task: Task, logits: torch.Tensor) -> torch.Tensor:
    """What the served head gives for these logits: softmax probabilities, a sigmoid probability or the raw score."""
    return ACTIVATIONS[task.activation](logits)


def validation_metrics(task: Task) -> torchmetrics.MetricCollection:
    """The metrics validation logs (val_<name>), the selection metric among them; per-class F1 for classes."""
    if task.kind == "classes":
        classes = len(task.labels)
        return torchmetrics.MetricCollection(
            {
                "accuracy": tmc.MulticlassAccuracy(classes, average="micro"),
                "f1": tmc.MulticlassF1Score(classes, average=None),
            }
        )
    if task.kind == "probability":
        return torchmetrics.MetricCollection(
            {
                "f1": tmc.BinaryF1Score(),
                "precision": tmc.BinaryPrecision(),
                "recall": tmc.BinaryRecall(),
                "accuracy": tmc.BinaryAccuracy(),
            }
        )
    return torchmetrics.MetricCollection({"map": retrieval.RetrievalMAP(), "mrr": retrieval.RetrievalMRR()})


def update_validation(
    metrics: torchmetrics.MetricCollection, task: Task, logits: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor
) -> None:
    """Feed one validation batch to validation_metrics(task)."""
    if not task.grouped:
        # class logits as they are (torchmetrics takes their argmax), a probability through its sigmoid
        metrics.update(logits if task.kind == "classes" else activate(task, logits), labels)
        return
    keep = clean_groups(labels, groups)
    if keep.any():
        # torchmetrics' retrieval metrics score a query 0 when its scores are negative
        # (1.9: AP of [-3, -1, -2, -0.5] with the 2nd relevant is 0, not 0.5);
        # shift the batch's scores positive: order within a question is kept.
        scores = logits[keep] - logits[keep].min() + 1.0
        metrics.update(scores, labels[keep], indexes=groups[keep])
