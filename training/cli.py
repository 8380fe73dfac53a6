"""`pairscore train`: LightningCLI over PairModule and PairDataModule, one YAML recipe per release model.

    pairscore train --config training/configs/entailment.yaml [--trainer.max_epochs=3 ...] [--ckpt_path CKPT]

The run ends by writing best.json (training.runs) beside its logs. `--model.init_from=FOLDER` starts from a model
folder, whose architecture the run takes over the recipe's (the weights only fit that shape), so every task's recipe
fine-tunes every shipped model as it is: `--config training/configs/ranking.yaml --model.init_from=models/ranking`.
"""

from __future__ import annotations

import json
import sys
import warnings
from typing import Any

from pytorch_lightning.cli import LightningArgumentParser
from pytorch_lightning.utilities import rank_zero_info

from pairscore.artifact import ArtifactError
from pairscore.features import resolve
from pairscore.specs import DataError
from training.data import PairDataModule
from training.model import PairModule
from training.pretrained import Pretrained
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

    def parse_arguments(self, parser: LightningArgumentParser, args: Any) -> None:
        argv = sys.argv[1:] if args is None else args
        self.given = given_keys(argv, "model") | (given_keys(argv, "data") & {"features"})  # flags, not the recipe
        super().parse_arguments(parser, args)

    def before_instantiate_classes(self) -> None:
        adopt_architecture(self.config, self.given)


def given_keys(argv: list[str], group: str) -> set[str]:
    """The `--GROUP.KEY` names set on the command line (`--model.head=mlp` or `--model.head mlp`)."""
    prefix = f"--{group}."
    return {arg[len(prefix) :].split("=")[0] for arg in argv if isinstance(arg, str) and arg.startswith(prefix)}


def adopt_architecture(config: Any, given: set[str]) -> None:
    """With model.init_from, set the model's shape (and, for the same task, its head and pair features) to the
    folder's, over the recipe's; DataError, before anything is built, when a flag on the command line asks for
    another shape than the weights have."""
    folder = config.model.init_from
    if not folder:
        return
    try:
        pretrained = Pretrained.load(folder)
    except (ArtifactError, FileNotFoundError) as exc:
        raise DataError(f"model.init_from={folder}: {exc}") from None
    task = getattr(config.data, "task", None)  # a distillation has none: the encoder's shape alone
    wanted = pretrained.architecture(task)
    if pretrained.card.task == task:
        wanted["features"] = pretrained.feature_names
    current = {key: config.model[key] for key in wanted}
    current["features"] = resolve(config.model.features) if "features" in wanted else None
    clash = {k: (v, current[k]) for k, v in wanted.items() if k in given and current[k] != v}
    if clash:
        raise DataError(
            f"model.init_from={folder}: its weights have another shape than the flags ask for (folder, flag): {clash}; "
            "leave those flags out: the run takes the folder's"
        )
    changed = {k: (current[k], v) for k, v in wanted.items() if current[k] != v}
    for key, value in wanted.items():
        if key == "features":  # linked: the data module computes them, the head takes them
            config.data.features = config.model.features = value if value != resolve(True) else True
        else:
            config.model[key] = value
    if changed:
        rank_zero_info(
            f"model.init_from={folder}: the folder's architecture, not the recipe's (recipe, folder): {changed}"
        )


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
    try:
        cli.fit_and_hand_over(cli.config["ckpt_path"])
    except FileNotFoundError as exc:  # model.init_encoder or --ckpt_path names nothing (its run folder is gone)
        print(f"pairscore train: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
