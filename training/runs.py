"""What a training run leaves behind for whoever comes next: its logs, and best.json beside them.

`pairscore train` and `python -m training.distill` both end by writing best.json (the best checkpoint, the metric
it was picked on, its score) in the run's log folder. Scripts that chain runs (the studies: release, ablation,
experiments) read that file; nothing parses what a run prints.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from pytorch_lightning import Trainer
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from training.progress import ProgressFile

BEST_FILE = "best.json"


@dataclass(frozen=True)
class Best:
    checkpoint: str
    monitor: str
    score: float

    def write(self, folder: str | Path) -> Path:
        path = Path(folder) / BEST_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, path: str | Path) -> Best:
        data = json.loads(Path(path).read_text())
        return cls(str(data["checkpoint"]), str(data["monitor"]), float(data["score"]))


def checkpoint_of(path: str | Path) -> Path:
    """A checkpoint named directly, or through the best.json of a run (the file, or the run's folder)."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST_FILE
    if path.suffix == ".json":
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file (a run folder hands over {BEST_FILE} when it ends)")
        return Path(Best.read(path).checkpoint)
    return path


def default_loggers(root: str, name: str) -> list[Logger]:
    """CSV always; TensorBoard too when it is installed (same version folder)."""
    loggers: list[Logger] = [CSVLogger(root, name=name)]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append(TensorBoardLogger(root, name=name, version=loggers[0].version))
    return loggers


class RunCLI(LightningCLI):
    """A LightningCLI whose runs log under default_root_dir/<log_name()> and hand over best.json when they end."""

    def log_name(self) -> str:
        raise NotImplementedError

    def instantiate_trainer(self, **kwargs) -> Trainer:
        trainer_config = self.config_init["trainer"]
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = default_loggers(trainer_config.get("default_root_dir") or "runs", self.log_name())
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks.append(ProgressFile())  # progress.json beside the logs: how far the run is (training.stages)
        return trainer

    def fit_and_hand_over(self, ckpt_path: str | None = None) -> Best | None:
        """Fit, then write best.json in the run's log folder (rank 0); every rank says which checkpoint it kept.
        None without a checkpoint. A run that fails leaves no folder that looks like a run: without a checkpoint
        its folder is removed (so the next run takes its version number), with one it is kept to resume from."""
        checkpoints = self.trainer.checkpoint_callback
        try:
            self.trainer.fit(self.model, self.datamodule, ckpt_path=ckpt_path)
        except BaseException:
            if self.trainer.is_global_zero:
                discard_unfinished(self.trainer)
            raise
        if checkpoints is None or not checkpoints.best_model_path:
            return None
        best = Best(checkpoints.best_model_path, checkpoints.monitor, float(checkpoints.best_model_score))
        print(f"best checkpoint: {best.checkpoint} ({best.monitor}={best.score:.4f})")
        log_dir = self.trainer.log_dir  # a collective under DDP: every rank asks
        if self.trainer.is_global_zero:
            print(f"handed over in {best.write(log_dir)}")
        return best


def discard_unfinished(trainer: Trainer) -> None:
    """After a failed fit: remove the run's log folder when it holds no checkpoint, else say what is kept in it."""
    folder = Path(trainer.loggers[0].log_dir) if trainer.loggers else None  # not trainer.log_dir: a DDP collective
    if folder is None or not folder.is_dir() or (folder / BEST_FILE).exists():
        return
    kept = sorted(folder.rglob("*.ckpt"))
    if kept:
        print(f"the run failed: {folder} has no {BEST_FILE}; its checkpoints are kept (--ckpt_path {kept[-1]} resumes)")
    else:
        shutil.rmtree(folder)
        print(f"the run failed before its first checkpoint: {folder} removed", file=sys.stderr)
