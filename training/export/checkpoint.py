"""What export reads from a `pairscore train` checkpoint: the model, its hyperparameters, the run's record
(training.run_record) and the labelled pairs of the splits it used."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from pairscore import io
from pairscore.features import PairFeatures
from pairscore.schema import Pair, parse_columns, parse_labels
from pairscore.specs import DataError, load_pairs
from training.export.errors import ExportError
from training.model import PairModule
from training.run_record import RunRecord


def hyperparameters(checkpoint: dict[str, Any], key: str) -> dict[str, Any]:
    """Saved init arguments, without LightningCLI's private entries (`_instantiator`, ...)."""
    return {name: value for name, value in checkpoint[key].items() if not name.startswith("_")}


def load_checkpoint(path: Path) -> tuple[PairModule, dict[str, Any]]:
    """The model (eval mode) and the raw checkpoint (tokenizer, data, hyperparameters)."""
    if not path.is_file():
        raise ExportError(f"{path}: checkpoint not found")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if RunRecord.of(checkpoint) is None or "datamodule_hyper_parameters" not in checkpoint:
        raise ExportError(f"{path}: not a checkpoint written by `pairscore train`")
    model = PairModule(**hyperparameters(checkpoint, "hyper_parameters"))
    model.load_state_dict(checkpoint["state_dict"])
    model.on_load_checkpoint(checkpoint)
    return model.eval(), checkpoint


@dataclass
class Checkpoint:
    """What export reads from a `pairscore train` checkpoint."""

    path: Path
    model: PairModule  # eval mode; its token table rounded as the folder will store it
    hp: dict[str, Any]  # the model's init arguments
    data_hp: dict[str, Any]  # the datamodule's
    record: RunRecord  # tokenizer, features, data, teacher, recipe, training

    @property
    def task(self) -> str:
        return self.hp["task"]

    @property
    def features(self) -> PairFeatures | None:
        return PairFeatures.from_json(self.record.features) if self.record.features else None

    def specs(self, role: str) -> list[str]:
        """The specs the run used in a role (train, val, calibration), as its datamodule recorded them."""
        return [entry["split"] for entry in self.record.data if entry["role"] == role]

    def pairs(self, role: str, data_dir: str | None = None, spec: str | None = None) -> list[Pair]:
        """The labelled pairs of a role's specs (or of one spec), read as in training (data.columns, data.labels,
        data.encoding, data.delimiter)."""
        h, columns = self.data_hp, parse_columns(self.data_hp.get("columns"))
        text, labels = io.text_format(h.get("encoding"), h.get("delimiter")), parse_labels(h.get("labels"), self.task)
        where = data_dir or h["data_dir"]
        return [
            p
            for s in ([spec] if spec else self.specs(role))
            for p in load_pairs(s, self.task, where, h["hub"], columns, text, labels)
        ]

    def selection(self, data_dir: str | None = None) -> dict[str, list[Pair]]:
        """The validation specs' pairs, per spec: the card's metrics and the parity texts come from them."""
        try:
            return {spec: self.pairs("val", data_dir, spec) for spec in self.specs("val")}
        except (DataError, FileNotFoundError) as exc:
            raise ExportError(f"validation data for the card's metrics and the parity check: {exc}") from exc


def read_checkpoint(path: Path, table_dtype: str) -> Checkpoint:
    model, checkpoint = load_checkpoint(path)
    if table_dtype == "float16":  # the model served, and so measured, is the one with the rounded table
        model.encoder.embedding.weight.data = model.encoder.embedding.weight.data.half().float()
    hp, data_hp = (hyperparameters(checkpoint, key) for key in ("hyper_parameters", "datamodule_hyper_parameters"))
    return Checkpoint(path, model, hp, data_hp, RunRecord.of(checkpoint))
