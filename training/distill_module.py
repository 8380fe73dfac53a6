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

from pairscore import machine
from training.batching import padded
from training.distill_losses import graded_loss, relational_loss, similarity_agreement, vector_loss
from training.distiller import Distiller
from training.embeddings import build_embedding
from training.encoder import SentenceEncoder
from training.pretrained import PROJECTION, Pretrained
from training.runs import checkpoint_of
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
        teacher_dim: int | None = None,
        loss: Literal["cosine", "mse", "cosine+mse"] = "cosine",
        vector_weight: float = 1.0,
        relational: Literal["none", "mse", "kl"] = "none",
        relational_weight: float = 1.0,
        temperature: float = 0.05,
        similarity_weight: float = 1.0,
        similarity_scale: float = 20.0,
        lr: float = 2e-3,
        init_from: str | None = None,
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
            teacher_dim: the teacher's vector size: set from the teacher; only given when loading a checkpoint.
            loss: the vector loss: 1 - cosine to the teacher's vector, MSE (teacher vectors are unit length), or both.
            vector_weight: the vector loss's weight (0: relational only).
            relational: match the teacher's in-batch cosine similarities: none | mse | kl (softmax rows).
            relational_weight: the relational loss's weight.
            temperature: the softmax temperature of the kl relational loss.
            similarity_weight: the weight of the graded-pair loss (CoSENT on the served vectors' cosine), when the
                data has graded pairs (data.similarity).
            similarity_scale: CoSENT's scale (inverse temperature) on the cosine.
            lr: AdamW learning rate.
            init_from: a model folder (format 3) whose encoder (and distillation projection, when its teacher's
                size fits) starts the student; its tokenizer is kept (data.init_from is linked to it).
        """
        super().__init__()
        self.save_hyperparameters()
        self.model: Distiller | None = None
        self.started_from: dict[str, Any] | None = None
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
            datamodule = self.trainer.datamodule
            vocab = vocabulary(datamodule.tokenizer)
            self.hparams.vocab_size, self.hparams.teacher_dim = len(vocab), datamodule.teacher_dim
            self._build(vocab, self.hparams.embeddings, special_ids(datamodule.tokenizer))
            rank_zero_info(
                f"{self.hparams.embeddings} vectors cover {100 * self.embedding_coverage:.1f}% of {len(vocab)} tokens"
            )
            if self.hparams.init_from:
                self._load_pretrained(self.hparams.init_from)

    def _load_pretrained(self, folder: str) -> None:
        """The folder's encoder (same shape), and its distillation projection when it maps into this teacher's size."""
        pretrained = Pretrained.load(folder)
        config, h = pretrained.model_config, self.hparams
        shape = ("embedding_dim", "cell", "hidden_size", "layers", "bidirectional", "pooling", "embeddings")
        differ = {k: (config.get(k), h[k]) for k in shape if config.get(k) != h[k]}
        if differ:
            raise ValueError(f"model.init_from={folder}: the encoder differs from this recipe (folder, here): {differ}")
        state = pretrained.state_dict()
        self.model.encoder.load_state_dict(
            {k.removeprefix("encoder."): v for k, v in state.items() if k.startswith("encoder.")}
        )
        projection = {k.removeprefix(PROJECTION): v for k, v in state.items() if k.startswith(PROJECTION)}
        if projection and projection["weight"].shape == self.model.projection.weight.shape:
            self.model.projection.load_state_dict(projection)
        else:
            rank_zero_info(f"{folder}: no projection into a {h.teacher_dim}-d teacher space: a new one is learned")
        self.started_from = pretrained.describe()

    def _loss(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        h = self.hparams
        vectors, projected = self.model(batch["ids"], batch["lengths"])
        vector, cosine = vector_loss(projected, batch["target"], h.loss)
        out = {"loss": h.vector_weight * vector, "cosine": cosine}
        if h.relational != "none":
            out["relational"] = relational_loss(vectors, batch["target"], h.relational, h.temperature)
            out["loss"] = out["loss"] + h.relational_weight * out["relational"]
        if not self.training:
            out["similarity_spearman"] = similarity_agreement(vectors, batch["target"])
        return out

    def training_step(self, batch: dict[str, Any], batch_idx: int) -> torch.Tensor:
        """A batch of texts; with graded pairs in the data, a batch of each (data.similarity)."""
        texts, graded = (batch["texts"], batch["graded"]) if "graded" in batch else (batch, None)
        loss = self._loss(texts)["loss"]
        if graded is not None:
            u = self.model.encoder(graded["ids_a"], graded["lengths_a"])
            v = self.model.encoder(graded["ids_b"], graded["lengths_b"])
            similarity = graded_loss(u, v, graded["score"], self.hparams.similarity_scale)
            self.log("train_similarity", similarity, batch_size=len(graded["score"]))
            loss = loss + self.hparams.similarity_weight * similarity
        self.log("train_loss", loss, prog_bar=True, batch_size=len(texts["ids"]))
        self.training_totals["texts"] += len(texts["ids"])
        return loss

    def on_train_epoch_start(self) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self) -> None:
        self.training_totals["seconds"] += time.perf_counter() - self._start
        self._start = None

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """val_cosine (selected on by default) and val_similarity_spearman: the order of the in-batch similarities."""
        for name, value in self._loss(batch).items():
            self.log(f"val_{name}", value, prog_bar=name == "cosine", batch_size=len(batch["ids"]))

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
            "started_from": self.started_from,
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
        self.started_from = checkpoint.get("pairscore", {}).get("started_from")


def load_distilled(path: str | Path) -> dict[str, Any]:
    """A distillation checkpoint's encoder: {"hparams", "state_dict" (encoder.* keys, prefix removed), "pairscore"}."""
    path = checkpoint_of(path)
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
