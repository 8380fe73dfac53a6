"""The task registry: what each task is and how it behaves, in one place that training, serving, the studies and the
tests read.

Adding a task is one entry here plus its column schemas (pairscore.schema); a task whose head gives one of the
three output kinds below needs nothing else. What differs between tasks lives on `Task`: the labels, the head
graph's output and its kind (softmax classes, sigmoid probability or raw score), the training loss, the metrics
and the one a model is selected on, how an answer is read (argmax, threshold, score) and rendered, whether rows
are grouped (ranking's candidates per question), the splits a release reports besides. Nothing here imports torch.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from pairscore import metrics

Kind = Literal["classes", "probability", "score"]
# What turns the head's training logits into the served output, per kind (training.objectives applies it in torch).
ACTIVATIONS: dict[str, str | None] = {"classes": "softmax", "probability": "sigmoid", "score": None}
# The training loss per kind, by the name training.objectives.LOSSES gives it.
LOSSES: dict[str, str] = {"classes": "cross_entropy", "probability": "binary_cross_entropy", "score": "listwise"}
DEFAULT_THRESHOLD = 0.5  # a probability head's decision threshold until export tunes one


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]  # in the order of the head's output; ids follow the hub datasets
    output: str  # the head graph's output name (artifact format): float32
    kind: Kind  # classes: [batch, labels] softmax; probability: [batch] sigmoid of the positive class; score: [batch]
    metric: str  # the selection metric, as pairscore.metrics and `pairscore evaluate` name it
    reported: tuple[str, ...]  # split specs a release reports besides its selection splits (never selected on)
    texts: tuple[str, str]  # what its endpoint calls the two texts (the default columns, pairscore.schema)
    grouped: bool = False  # rows are candidates grouped by question: trained listwise, measured per question

    @property
    def monitor(self) -> str:
        """The validation metric training logs for `metric`: checkpointing and early stopping watch it."""
        return f"val_{self.metric}"

    @property
    def logits(self) -> int:
        """The head's output width in training: one logit per class, or one logit / score."""
        return len(self.labels) if self.kind == "classes" else 1

    @property
    def activation(self) -> str | None:
        return ACTIVATIONS[self.kind]

    @property
    def loss(self) -> str:
        return LOSSES[self.kind]

    @property
    def calibrated(self) -> bool:
        """Probabilities whose temperature export fits (a softmax or a sigmoid), not scores."""
        return self.activation is not None

    @property
    def thresholded(self) -> bool:
        """A probability decided at a threshold: the card keeps it and export may tune it on the selection splits."""
        return self.kind == "probability"

    @property
    def default_threshold(self) -> float | None:
        return DEFAULT_THRESHOLD if self.thresholded else None

    def empty_output(self) -> np.ndarray:
        """The head's output for no pairs, in its shape."""
        return np.zeros((0, len(self.labels)) if self.kind == "classes" else (0,), dtype=np.float32)

    def output_shape(self, pairs: int) -> tuple[int, ...]:
        return (pairs, len(self.labels)) if self.kind == "classes" else (pairs,)

    def decide(self, outputs: np.ndarray, threshold: float | None = None) -> np.ndarray:
        """How an answer is read: the class id (argmax), the decision at the threshold, or the score itself."""
        outputs = np.asarray(outputs)
        if self.kind == "classes":
            return outputs.argmax(axis=-1)
        if self.kind == "probability":
            return outputs >= (DEFAULT_THRESHOLD if threshold is None else threshold)
        return outputs

    def results(
        self, outputs: Any, threshold: float | None = None, labels: Sequence[str] | None = None
    ) -> Iterator[dict[str, Any]]:
        """Answer fields per head-output row, named as the HTTP endpoints, the batch scorer and /explain name them.
        `labels`: the class names in the head's output order, as a card lists them (default: the registry's)."""
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        labels = self.labels if labels is None else labels
        for row in outputs:
            if self.kind == "classes":
                probs = {label: float(p) for label, p in zip(labels, row)}
                yield {"label": max(probs, key=probs.get), "probabilities": probs}
            elif self.kind == "probability":
                yield {self.labels[-1]: bool(row >= threshold), "probability": float(row)}
            else:
                yield {"score": float(row)}

    def measure(
        self,
        labels: Sequence[int],
        outputs: np.ndarray,
        threshold: float | None = None,
        groups: Sequence[Hashable] | None = None,
        names: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        """The task's metrics (the `pairscore evaluate` keys) of head outputs against gold labels; ValueError for a
        class id the head does not have. `groups`: each row's question (grouped tasks); `names`: the class names in
        the head's output order (default: the registry's)."""
        labels, names = np.asarray(labels), self.labels if names is None else names
        if self.kind == "classes":
            if len(labels) and labels.max() >= len(names):
                raise ValueError(f"label {int(labels.max())} is not one of the model's {len(names)} classes")
            return metrics.classification(labels, self.decide(outputs), names)
        if self.kind == "probability":
            return metrics.binary(labels > 0, self.decide(outputs, threshold))
        return metrics.ranking(groups, labels, outputs)


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "entailment",
            ("entailment", "neutral", "contradiction"),
            "probabilities",
            "classes",
            "accuracy",
            ("sick/validation",),
            texts=("premise", "hypothesis"),
        ),
        Task(
            "paraphrase",
            ("not_paraphrase", "paraphrase"),
            "probability",
            "probability",
            "f1",
            ("mrpc/train[-400:]",),
            texts=("text_a", "text_b"),
        ),
        Task(
            "ranking",
            ("wrong", "correct"),
            "score",
            "score",
            "map",
            ("trec_qa/validation",),
            texts=("question", "answer"),
            grouped=True,
        ),
    )
}
NAMES: tuple[str, ...] = tuple(TASKS)
# For signatures that LightningCLI and pydantic check: the registry's names as a Literal type.
TaskName = Literal[NAMES]  # type: ignore[valid-type]


def get(name: str) -> Task:
    """The task called `name`; ValueError listing the known ones otherwise."""
    if name not in TASKS:
        raise ValueError(f"task must be one of {list(NAMES)}, got {name!r}")
    return TASKS[name]


def fmt(value: float | int | str | None, digits: int = 4) -> str:
    """How every table of the project writes a number: floats to `digits` places, counts with thousands commas."""
    if value is None:
        return "–"
    if isinstance(value, bool) or isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}f}"
