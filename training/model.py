"""The LightningModule: a Siamese encoder and a pair head, with the task's loss and metrics."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from tokenizers import Tokenizer

from pairscore import machine, tasks
from pairscore.artifact import TOKENIZER_FILE
from pairscore.features import resolve
from pairscore.tasks import TaskName
from training import objectives
from training.distill_module import load_distilled
from training.embeddings import build_embedding
from training.encoder import SentenceEncoder
from training.heads import CosineHead, PairHead, build_head
from training.pretrained import PROJECTION, Pretrained
from training.run_record import RunRecord
from training.tokenizer import special_ids, vocabulary


class PairModule(pl.LightningModule):
    """Siamese recurrent pair model for one task.

    The vocabulary comes from the datamodule's tokenizer at setup (vocab_size is then
    stored in the hyperparameters, so a checkpoint rebuilds the same shapes).
    """

    # Over 60 lines for its docstring: LightningCLI reads each argument's --help from the Args section.
    def __init__(
        self,
        task: TaskName = "entailment",
        vocab_size: int | None = None,
        embeddings: Literal[
            "learned", "glove_frozen", "glove_finetuned", "minilm", "minilm_frozen"
        ] = "glove_finetuned",
        embedding_dim: int = 50,
        cell: Literal["lstm", "gru", "rnn"] = "lstm",
        hidden_size: int = 256,
        layers: int = 1,
        bidirectional: bool = True,
        pooling: Literal["max", "mean", "last"] = "max",
        dropout: float = 0.1,
        head: Literal["mlp", "cosine"] = "mlp",
        head_hidden: int = 256,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        features: bool | list[str] = False,
        init_encoder: str | None = None,
        init_from: str | None = None,
        freeze_encoder: bool = False,
    ):
        """Architecture and optimisation of the pair model.

        Args:
            task: entailment | paraphrase | ranking (linked from data.task).
            vocab_size: set from the tokenizer; only given when loading a checkpoint.
            embeddings: learned | glove_frozen | glove_finetuned | minilm | minilm_frozen
                (MiniLM's token vectors by PCA; minilm tokenizer).
            embedding_dim: 50 for GloVe.
            cell: lstm | gru | rnn.
            hidden_size: recurrent state size per direction.
            layers: stacked recurrent layers.
            bidirectional: add a backward direction.
            pooling: max | mean | last.
            dropout: on embeddings, between layers and in the head.
            head: mlp (over [u, v, |u-v|, u*v] and the pair features) | cosine (scale * cos(u, v) + features . w;
                paraphrase and ranking).
            head_hidden: hidden size of the head's MLP.
            lr: AdamW learning rate.
            weight_decay: AdamW weight decay.
            features: the exact-match pair features the head takes (linked from data.features).
            init_encoder: a `python -m training.distill` checkpoint (or its run's folder or best.json) whose encoder
                (same shape, same tokenizer) starts this one; with init_from, it replaces the folder's encoder.
            init_from: a model folder (format 3, e.g. models/paraphrase) whose weights start this one: encoder
                and head for the same task, the encoder for another; its tokenizer and pair features are kept.
            freeze_encoder: keep the encoder as loaded (only the head trains): one encoder, one vector space
                for every task.
        """
        super().__init__()
        self.save_hyperparameters()
        self.encoder: SentenceEncoder | None = None
        self.head: PairHead | CosineHead | None = None
        self.embedding_coverage: float | None = None
        self.teacher: dict[str, Any] | None = None  # the distillation teacher and run, when init_encoder is given
        self.started_from: dict[str, Any] | None = None  # the model folder init_from names
        self.projection: dict[str, torch.Tensor] = {}  # the distilled encoder's map into the teacher's space
        self.recipe: dict[str, Any] | None = None  # the full training config, set by `pairscore train`
        self.training_totals: dict[str, float] = {"seconds": 0.0, "examples": 0, "epochs": 0}
        self._clock: tuple[float, int] | None = None  # (epoch start, examples seen) while an epoch runs
        if vocab_size is not None:
            self._build(["[PAD]", "[UNK]"] + [f"#{i}" for i in range(vocab_size - 2)], "learned")
        self.val_metrics = objectives.validation_metrics(tasks.get(task))

    def _build(self, vocab: list[str], embeddings: str, special: set[int] | None = None) -> None:
        h = self.hparams
        embedding, self.embedding_coverage = build_embedding(vocab, embeddings, h.embedding_dim, special)
        self.encoder = SentenceEncoder(
            embedding, h.cell, h.hidden_size, h.layers, h.bidirectional, h.pooling, h.dropout
        )
        self.head = build_head(h.head, h.task, self.encoder.dim, h.head_hidden, h.dropout, len(resolve(h.features)))

    def setup(self, stage: str) -> None:
        if self.encoder is None:
            tokenizer = self.trainer.datamodule.tokenizer
            vocab = vocabulary(tokenizer)
            self._build(vocab, self.hparams.embeddings, special_ids(tokenizer))
            self.hparams.vocab_size = len(vocab)
            if self.embedding_coverage:
                rank_zero_info(
                    f"{self.hparams.embeddings} covers {100 * self.embedding_coverage:.1f}% of the {len(vocab)} tokens"
                )
            if self.hparams.init_from:
                self._load_pretrained(self.hparams.init_from)
            if self.hparams.init_encoder:  # after init_from: a folder's head with an encoder distilled further
                self._load_encoder(self.hparams.init_encoder, tokenizer)
            if self.hparams.freeze_encoder:
                self.encoder.requires_grad_(False)

    def _load_encoder(self, path: str, tokenizer: Any) -> None:
        """Start from a distilled encoder; its shape and tokenizer must be this recipe's."""
        distilled = load_distilled(path)
        shape = ("embedding_dim", "cell", "hidden_size", "layers", "bidirectional", "pooling")
        differ = {
            k: (distilled["hparams"].get(k), self.hparams[k])
            for k in shape
            if distilled["hparams"].get(k) != self.hparams[k]
        }
        if differ:
            raise ValueError(f"model.init_encoder={path}: encoder differs from this recipe (distilled, here): {differ}")
        if Tokenizer.from_str(distilled["pairscore"]["tokenizer"]).get_vocab() != tokenizer.get_vocab():
            raise ValueError(
                f"model.init_encoder={path}: its tokenizer differs from "
                f"data.tokenizer={self.trainer.datamodule.hparams.tokenizer}"
            )
        self.encoder.load_state_dict(distilled["state_dict"])
        self.projection = distilled["projection"]
        self.teacher = {
            **distilled["pairscore"]["teacher"],
            "checkpoint": str(path),
            "distillation": distilled["pairscore"].get("training"),
        }
        rank_zero_info(f"encoder initialised from {path}")

    def _load_pretrained(self, folder: str) -> None:
        """Start from a model folder's weights: its architecture must be this recipe's (the tokenizer is the folder's,
        through the datamodule); encoder and head for the same task, the encoder alone for another."""
        pretrained = Pretrained.load(folder)
        same_task = pretrained.card.task == self.hparams.task
        shape = pretrained.architecture(self.hparams.task)  # `pairscore train` adopts these before building
        differ = {k: (v, self.hparams[k]) for k, v in shape.items() if v != self.hparams[k]}
        served_features = pretrained.feature_names
        if same_task and served_features != resolve(self.hparams.features):
            differ["features"] = (served_features, resolve(self.hparams.features))
        if differ:
            raise ValueError(f"model.init_from={folder}: the model differs from this recipe (folder, here): {differ}")
        state = pretrained.state_dict()
        self.projection = {k: v for k, v in state.items() if k.startswith(PROJECTION)}
        model_state = {k: v for k, v in state.items() if not k.startswith(PROJECTION)}
        if not same_task:
            model_state = {k: v for k, v in model_state.items() if k.startswith("encoder.")}
        missing, unexpected = self.load_state_dict(model_state, strict=False)
        missing = [k for k in missing if same_task or k.startswith("encoder.")]
        if missing or unexpected:
            raise ValueError(f"model.init_from={folder}: weights missing {missing}, unexpected {unexpected}")
        self.started_from = pretrained.describe()
        self.teacher = pretrained.card.teacher
        rank_zero_info(f"{'model' if same_task else 'encoder'} initialised from {folder}")

    def forward(
        self,
        a_ids: torch.Tensor,
        a_len: torch.Tensor,
        b_ids: torch.Tensor,
        b_len: torch.Tensor,
        features: torch.Tensor | None = None,
    ) -> torch.Tensor:
        return self.head(self.encoder(a_ids, a_len), self.encoder(b_ids, b_len), features)

    def _loss(self, logits: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return objectives.loss(tasks.get(self.hparams.task), logits, batch["label"], batch.get("group"))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss = self._loss(
            self(batch["a_ids"], batch["a_len"], batch["b_ids"], batch["b_len"], batch.get("features")), batch
        )
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["label"]))
        return loss

    def on_train_epoch_start(self) -> None:
        self._clock = (time.perf_counter(), 0)

    def on_train_epoch_end(self) -> None:
        """Close the epoch into the running totals that the checkpoint (and so the model card) keeps."""
        self.training_totals = self._training_so_far()
        self._clock = None

    def on_train_batch_end(self, outputs: Any, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Log training speed in examples (pairs) per second since the epoch started."""
        start, seen = self._clock
        self._clock = (start, seen + len(batch["label"]))
        self.log("train_examples_per_s", self._clock[1] / (time.perf_counter() - start), prog_bar=True)

    def _training_so_far(self) -> dict[str, float]:
        """Totals including the running epoch: the best checkpoint is saved after validation, before the epoch ends."""
        totals = {key: self.training_totals[key] for key in ("seconds", "examples", "epochs")}
        if self._clock is not None:
            start, seen = self._clock
            if (
                self._trainer is not None and self._trainer.world_size > 1
            ):  # DDP: every rank's share (all ranks come here together)
                seen = int(self._trainer.strategy.reduce(torch.tensor(float(seen)), reduce_op="sum"))
            totals["seconds"] += time.perf_counter() - start
            totals["examples"] += seen
            totals["epochs"] += 1
        totals["examples_per_second"] = totals["examples"] / totals["seconds"] if totals["seconds"] else None
        return totals

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        logits = self(batch["a_ids"], batch["a_len"], batch["b_ids"], batch["b_len"], batch.get("features"))
        labels = batch["label"]
        self.log("val_loss", self._loss(logits, batch), batch_size=len(labels), sync_dist=True)
        objectives.update_validation(self.val_metrics, tasks.get(self.hparams.task), logits, labels, batch.get("group"))

    def on_validation_epoch_end(self) -> None:
        values = self.val_metrics.compute()
        self.val_metrics.reset()
        for name, value in values.items():
            if value.ndim:  # per-class F1
                for label, v in zip(tasks.TASKS[self.hparams.task].labels, value):
                    self.log(f"val_{name}_{label}", v, sync_dist=True)
            else:  # compute() gathered every rank's batches: the same value on each rank (sync_dist's mean keeps it)
                self.log(f"val_{name}", value, prog_bar=True, sync_dist=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        params = [p for p in self.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)

    def on_fit_start(self) -> None:
        """Save the tokenizer next to the checkpoints (export reads the copy inside each checkpoint)."""
        checkpoints = self.trainer.checkpoint_callback
        if checkpoints is not None and checkpoints.dirpath and self.trainer.is_global_zero:
            Path(checkpoints.dirpath).mkdir(parents=True, exist_ok=True)
            self.trainer.datamodule.tokenizer.save(str(Path(checkpoints.dirpath) / TOKENIZER_FILE))

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Keep what export needs beside the weights: the tokenizer, the data used, where the weights started."""
        datamodule = self.trainer.datamodule
        RunRecord(
            tokenizer=datamodule.tokenizer.to_str(),
            features=datamodule.pair_features.to_json() if datamodule.pair_features else None,
            max_tokens=datamodule.max_tokens,
            data=datamodule.sources,
            embedding_coverage=self.embedding_coverage,
            teacher=self.teacher,
            started_from=self.started_from,
            projection=self.projection,
            recipe=self.recipe,
            training={
                **self._training_so_far(),
                "hardware": machine.describe(),
                "threads": torch.get_num_threads(),
                "processes": self.trainer.world_size,
            },
        ).save(checkpoint)

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        record = RunRecord.of(checkpoint) or RunRecord()
        self.embedding_coverage, self.teacher = record.embedding_coverage, record.teacher
        self.started_from, self.projection = record.started_from, record.projection
        self.training_totals = {
            key: record.training.get(key, 0) for key in ("seconds", "examples", "epochs")
        }  # a resumed run keeps counting
