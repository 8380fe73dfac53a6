"""The task registry: what each task is, in one place that training, serving, the studies and the tests read.

Adding a task is one entry here plus its column schemas (pairscore.schema) and its head (training.heads): the
labels, the head graph's output, the metric a model is selected on and the splits a release reports besides.
Nothing here imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Task:
    name: str
    labels: tuple[str, ...]  # in the order of the head's output; ids follow the hub datasets
    output: str  # the head graph's output name (artifact format): float32
    logits: int  # the head's output width in training (3 classes, or one logit / score)
    metric: str  # the selection metric, as pairscore.metrics and `pairscore evaluate` name it
    reported: tuple[str, ...]  # split specs a release reports besides its selection splits (never selected on)
    calibrated: bool  # probabilities whose temperature export fits (entailment softmax, paraphrase sigmoid)

    @property
    def monitor(self) -> str:
        """The validation metric training logs for `metric`: checkpointing and early stopping watch it."""
        return f"val_{self.metric}"


TASKS: dict[str, Task] = {
    task.name: task
    for task in (
        Task(
            "entailment",
            ("entailment", "neutral", "contradiction"),
            "probabilities",  # [batch, labels], softmax
            3,
            "accuracy",
            ("sick/validation",),
            calibrated=True,
        ),
        Task(
            "paraphrase",
            ("not_paraphrase", "paraphrase"),
            "probability",  # [batch], sigmoid of the positive class
            1,
            "f1",
            ("mrpc/train[-400:]",),
            calibrated=True,
        ),
        Task("ranking", ("wrong", "correct"), "score", 1, "map", ("trec_qa/validation",), calibrated=False),
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
