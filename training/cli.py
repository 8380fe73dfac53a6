"""`pairscore train`: LightningCLI over PairModule and PairDataModule, one YAML recipe per release model.

    pairscore train --config training/configs/entailment.yaml [--trainer.max_epochs=3 ...] [--ckpt_path CKPT]

The run ends by writing best.json (training.runs) beside its logs.
"""

from __future__ import annotations

import json
import sys
import warnings

from pytorch_lightning.cli import LightningArgumentParser

from pairscore.specs import DataError
from training.data import PairDataModule
from training.model import PairModule
from training.runs import RunCLI


class PairCLI(RunCLI):
    """No subcommand (`pairscore train` always fits); the task is given once; loggers are named after the task."""

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.link_arguments("data.task", "model.task")
        parser.link_arguments("data.features", "model.features")
        parser.link_arguments("model.init_from", "data.init_from")  # a folder's tokenizer and features stay
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="resume training from this checkpoint")

    def log_name(self) -> str:
        return self.config_init["data"].hparams.task


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")  # pairscore.cli passes argv on purpose
    try:
        cli = PairCLI(
            PairModule,
            PairDataModule,
            args=argv,
            run=False,
            seed_everything_default=42,
            trainer_defaults={"use_distributed_sampler": False},  # under DDP, BucketBatchSampler shares the batches
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
    cli.fit_and_hand_over(cli.config["ckpt_path"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
