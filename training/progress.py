"""A running fit's progress as a small file in its log folder, for whoever watches the run from another process.

Every run of `pairscore train` and `python -m training.distill` (training.runs.RunCLI) writes progress.json beside
its logs, where best.json lands when it ends; training.stages reads it to print how far a stage is, instead of
reading Lightning's progress bar out of the stage's log.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pytorch_lightning as pl

PROGRESS_FILE = "progress.json"


@dataclass(frozen=True)
class Progress:
    epoch: int  # the running epoch, from 1
    epochs: int | None  # trainer.max_epochs; None when the run is bounded otherwise
    batch: int  # training batches done in this epoch
    batches: int | None  # training batches per epoch; None when unknown (an iterable dataset)
    seconds: float  # spent in this epoch's training batches so far

    def seconds_left(self) -> float | None:
        """The rest of this epoch at its rate so far, plus every epoch still to run at this epoch's length."""
        if not self.batch or not self.batches or not self.epochs:
            return None
        epoch_left = self.seconds / self.batch * (self.batches - self.batch)
        return epoch_left + (self.epochs - self.epoch) * (self.seconds + epoch_left)

    def write(self, path: Path) -> None:
        """Replaced whole (written aside, then renamed), so a reader never sees half a file."""
        partial = path.with_suffix(".partial")
        partial.write_text(json.dumps(asdict(self)) + "\n")
        partial.replace(path)

    @classmethod
    def read(cls, path: Path) -> Progress:
        return cls(**json.loads(path.read_text()))


class ProgressFile(pl.Callback):
    """Writes the fit's Progress into the run's log folder (rank 0): after a training batch, at most every `every`
    seconds, and when an epoch's training ends."""

    def __init__(self, every: float = 2.0):
        self.every = every
        self.path: Path | None = None
        self.epoch_start = self.written = 0.0
        self.batch = 0

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        log_dir = trainer.log_dir  # a collective under DDP: every rank comes here
        if trainer.is_global_zero and log_dir:
            self.path = Path(log_dir) / PROGRESS_FILE
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.epoch_start, self.batch = time.perf_counter(), 0

    def on_train_batch_end(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.batch = batch_idx + 1
        if time.perf_counter() - self.written >= self.every:
            self._write(trainer)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._write(trainer)

    def _write(self, trainer: pl.Trainer) -> None:
        if self.path is None:
            return
        now = time.perf_counter()
        batches, epochs = trainer.num_training_batches, trainer.max_epochs
        Progress(
            epoch=trainer.current_epoch + 1,
            epochs=epochs if epochs is not None and epochs > 0 else None,
            batch=self.batch,
            batches=int(batches) if math.isfinite(batches) else None,
            seconds=now - self.epoch_start,
        ).write(self.path)
        self.written = now
