"""`pairscore train`: LightningCLI over PairModule and PairDataModule, one YAML recipe per release model.

pairscore train --config training/configs/entailment.yaml [--trainer.max_epochs=3 ...] [--ckpt_path CKPT]
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings

from pytorch_lightning import Trainer
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI
from pytorch_lightning.loggers import CSVLogger, Logger, TensorBoardLogger

from training.data import DataError, PairDataModule
from training.model import PairModule


def default_loggers(root: str, name: str) -> list[Logger]:
    """CSV always; TensorBoard too when it is installed (same version folder)."""
    loggers: list[Logger] = [CSVLogger(root, name=name)]
    if importlib.util.find_spec("tensorboard") or importlib.util.find_spec("tensorboardX"):
        loggers.append(TensorBoardLogger(root, name=name, version=loggers[0].version))
    return loggers


class PairCLI(LightningCLI):
    """No subcommand (`pairscore train` always fits); the task is given once; loggers default to CSV (+TensorBoard)."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.task", "model.task")
        parser.link_arguments("data.features", "model.features")
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume training from this checkpoint")

    def instantiate_trainer(self, **kwargs) -> Trainer:
        trainer_config = self.config_init["trainer"]
        if trainer_config.get("logger") in (None, True):
            kwargs["logger"] = default_loggers(
                trainer_config.get("default_root_dir") or "runs", self.config_init["data"].hparams.task
            )
        return super().instantiate_trainer(**kwargs)


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # pairscore.cli passes argv on purpose
    try:
        cli = PairCLI(
            PairModule,
            PairDataModule,
            args=argv,
            run=False,
            seed_everything_default=42,
            trainer_defaults={
                "use_distributed_sampler": False
            },  # under DDP, BucketBatchSampler shares the batches itself
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "pairscore train"},
        )
    except DataError as exc:  # raised while checking split specs
        print(f"pairscore train: {exc}", file=sys.stderr)
        return 2
    try:
        cli.datamodule.setup("fit")
    except (DataError, FileNotFoundError) as exc:
        print(f"pairscore train: {exc}", file=sys.stderr)
        return 2
    cli.model.recipe = json.loads(cli.parser.dump(cli.config, format="json"))
    checkpoints = cli.trainer.checkpoint_callback
    cli.trainer.fit(cli.model, cli.datamodule, ckpt_path=cli.config["ckpt_path"])
    if checkpoints is not None and checkpoints.best_model_path:
        print(
            f"best checkpoint: {checkpoints.best_model_path} ({checkpoints.monitor}={float(checkpoints.best_model_score):.4f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
