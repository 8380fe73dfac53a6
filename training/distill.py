"""Distillation pre-training: the recurrent encoder learns to reproduce a transformer teacher's sentence vectors.

    python -m training.teacher                                      # once: the teacher's vectors (cached)
    python -m training.distill --config training/configs/distill.yaml
    pairscore train --config training/configs/entailment.yaml --model.init_encoder=BEST.ckpt

Tang et al. 2019 distil BERT into a BiLSTM; here all-MiniLM-L6-v2's sentence vectors
(training.teacher, every training text of every source, no labels) are the target of
the encoder's pooled vector through a linear projection (cosine loss, optionally +MSE).
The encoder then starts every task recipe (PairModule's `init_encoder`), so the small
labelled sets only have to adapt it. The checkpoint keeps the tokenizer: a task must
tokenize the same way to reuse the encoder.
"""

from __future__ import annotations

import sys
import warnings

from pairscore.specs import DataError
from training.cli import adopt_architecture, given_keys
from training.distill_module import DistillModule
from training.runs import RunCLI
from training.teacher_data import TeacherDataModule


class DistillCLI(RunCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.link_arguments("model.init_from", "data.init_from")  # the folder's tokenizer stays

    def parse_arguments(self, parser, args) -> None:
        self.given = given_keys(sys.argv[1:] if args is None else args, "model")  # flags, not the recipe
        super().parse_arguments(parser, args)

    def before_instantiate_classes(self) -> None:
        """A distillation continued from a model folder takes the folder's encoder shape over the recipe's."""
        adopt_architecture(self.config, self.given)

    def log_name(self) -> str:
        return "distill"


def main(argv: list[str] | None = None) -> int:
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")
    try:
        cli = DistillCLI(
            DistillModule,
            TeacherDataModule,
            args=argv,
            run=False,
            seed_everything_default=42,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "python -m training.distill"},
        )
        cli.datamodule.setup("fit")
    except (DataError, FileNotFoundError) as exc:
        print(f"python -m training.distill: {exc}", file=sys.stderr)
        return 2
    cli.fit_and_hand_over()
    return 0


if __name__ == "__main__":
    sys.exit(main())
