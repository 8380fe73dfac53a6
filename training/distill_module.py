"""The distillation LightningModule, and the reader of the checkpoints it writes.

The checkpoint keeps the tokenizer and the teacher beside the weights: a task recipe that starts from the
encoder (PairModule's init_encoder) must tokenize the same way, and its card names the teacher.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_info
from torch.nn import functional as F

from pairscore import machine
from training.batching import padded
from training.distiller import Distiller
from training.embeddings import build_embedding
from training.encoder import SentenceEncoder
from training.tokenizer import special_ids, vocabulary


class DistillModule(pl.LightningModule):
    """Trains a Distiller; the checkpoint's `encoder.*` weights (and tokenizer) start the task recipes."""

    def __init__(
        self,
        vocab_size: int | None = None,
        embeddings: Literal["learned", "glove_frozen", "glove_finetuned", "minilm", "minilm_frozen"] = "minilm",
        embedding_dim: int = 128,
        cell: Literal["lstm", "gru", "rnn"] = "lstm",
        hidden_size: int = 256,
        layers: int = 1,
        bidirectional: bool = True,
        pooling: Literal["max", "mean", "last"] = "max",
        dropout: float = 0.0,
        teacher_dim: int = 384,
        loss: Literal["cosine", "mse", "cosine+mse"] = "cosine",
        lr: float = 2e-3,
    ):
        """The student encoder (same arguments as PairModule's) and the distillation loss.

        Args:
            vocab_size: set from the tokenizer; only given when loading a checkpoint.
            embeddings: learned | glove_frozen | glove_finetuned | minilm | minilm_frozen
                (MiniLM's token vectors, PCA to embedding_dim).
            embedding_dim: input vector size.
            cell: lstm | gru | rnn.
            hidden_size: recurrent state size per direction.
            layers: stacked recurrent layers.
            bidirectional: add a backward direction.
            pooling: max | mean | last.
            dropout: on embeddings and between layers.
            teacher_dim: the teacher's vector size (384 for all-MiniLM-L6-v2).
            loss: 1 - cosine to the teacher's vector, MSE (teacher vectors are unit length), or both.
            lr: AdamW learning rate.
        """
        super().__init__()
        self.save_hyperparameters()
        self.model: Distiller | None = None
        if vocab_size is not None:
            self._build(["[PAD]"] + [f"#{i}" for i in range(vocab_size - 1)], "learned", set())
        self.training_totals = {"seconds": 0.0, "texts": 0}
        self._start: float | None = None

    def _build(self, vocab: list[str], embeddings: str, special: set[int]) -> None:
        h = self.hparams
        embedding, self.embedding_coverage = build_embedding(vocab, embeddings, h.embedding_dim, special)
        encoder = SentenceEncoder(embedding, h.cell, h.hidden_size, h.layers, h.bidirectional, h.pooling, h.dropout)
        self.model = Distiller(encoder, h.teacher_dim)

    def setup(self, stage: str) -> None:
        if self.model is None:
            tokenizer = self.trainer.datamodule.tokenizer
            vocab = vocabulary(tokenizer)
            self._build(vocab, self.hparams.embeddings, special_ids(tokenizer))
            self.hparams.vocab_size = len(vocab)
            rank_zero_info(
                f"{self.hparams.embeddings} vectors cover {100 * self.embedding_coverage:.1f}% of {len(vocab)} tokens"
            )

    def _loss(self, predicted: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cosine = F.cosine_similarity(predicted, target, dim=-1).mean()
        loss = {"cosine": 1 - cosine, "mse": F.mse_loss(predicted, target) * self.hparams.teacher_dim}.get(
            self.hparams.loss
        )
        if loss is None:
            loss = 1 - cosine + F.mse_loss(predicted, target) * self.hparams.teacher_dim
        return loss, cosine

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, cosine = self._loss(self.model(batch["ids"], batch["lengths"]), batch["target"])
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["ids"]))
        self.training_totals["texts"] += len(batch["ids"])
        return loss

    def on_train_epoch_start(self) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        self.training_totals["seconds"] += time.perf_counter() - self._start
        self._start = None

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        loss, cosine = self._loss(self.model(batch["ids"], batch["lengths"]), batch["target"])
        self.log("val_loss", loss, batch_size=len(batch["ids"]))
        self.log("val_cosine", cosine, prog_bar=True, batch_size=len(batch["ids"]))

    def on_validation_epoch_end(self) -> None:
        datamodule = self.trainer.datamodule
        if getattr(datamodule, "sts", None) is None or self.trainer.sanity_checking:
            return
        for name, encode in (("sts_spearman_projected", self.encode_projected), ("sts_spearman", self.encode)):
            self.log(f"val_{name}", datamodule.sts(encode), prog_bar=name == "sts_spearman")

    @torch.no_grad()
    def encode(self, texts: list[str], projected: bool = False) -> np.ndarray:
        """Pooled (or projected) vectors of raw texts, in input order."""
        tokenizer = self.trainer.datamodule.tokenizer
        was_training = self.training
        self.eval()
        ids = [e.ids for e in tokenizer.encode_batch(list(texts))]
        out = []
        for start in range(0, len(ids), 256):
            vectors = self.model.encoder(*padded(ids[start : start + 256]))
            out.append((self.model.projection(vectors) if projected else vectors).numpy())
        self.train(was_training)
        return np.concatenate(out)

    def encode_projected(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts, projected=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.AdamW([p for p in self.parameters() if p.requires_grad], lr=self.hparams.lr)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """What a task recipe needs to reuse the encoder: its tokenizer, and the teacher for the card."""
        datamodule = self.trainer.datamodule
        running = time.perf_counter() - self._start if self._start is not None else 0.0
        checkpoint["pairscore"] = {
            "tokenizer": datamodule.tokenizer.to_str(),
            "max_tokens": datamodule.hparams.max_tokens,
            "teacher": datamodule.teacher_info,
            "training": {
                "seconds": self.training_totals["seconds"] + running,
                "texts": self.training_totals["texts"],
                "hardware": machine.describe(),
                "threads": torch.get_num_threads(),
            },
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        totals = checkpoint.get("pairscore", {}).get("training", {})
        self.training_totals = {"seconds": totals.get("seconds", 0.0), "texts": totals.get("texts", 0)}


def load_distilled(path: str | Path) -> dict[str, Any]:
    """A distillation checkpoint's encoder: {"hparams", "state_dict" (encoder.* keys, prefix removed), "pairscore"}."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: distilled encoder checkpoint not found")
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    if "pairscore" not in checkpoint or "teacher" not in checkpoint["pairscore"]:
        raise ValueError(f"{path}: not a checkpoint written by `python -m training.distill`")
    state = checkpoint["state_dict"]
    encoder = {k.removeprefix("model.encoder."): v for k, v in state.items() if k.startswith("model.encoder.")}
    projection = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.projection.")}
    return {
        "hparams": checkpoint["hyper_parameters"],
        "state_dict": encoder,
        "projection": projection,
        "pairscore": checkpoint["pairscore"],
    }
