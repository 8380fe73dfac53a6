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

import random
import sys
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.cli import LightningCLI
from pytorch_lightning.utilities import rank_zero_info
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset, Sampler

from pairscore import machine
from training.data import DataError
from training.embeddings import build_embedding
from training.encoder import SentenceEncoder
from training.evaluators import STSEvaluator
from training.teacher import TEACHER, cache_path, training_texts
from training.tokenizer import Kind, build_tokenizer, special_ids, vocabulary


class Distiller(nn.Module):
    """The sentence encoder and a linear map from its vector to the teacher's space."""

    def __init__(self, encoder: SentenceEncoder, teacher_dim: int):
        super().__init__()
        self.encoder = encoder
        self.projection = nn.Linear(encoder.dim, teacher_dim)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.projection(self.encoder(input_ids, lengths))


class TeacherTexts(Dataset):
    def __init__(self, ids: list[list[int]], vectors: np.ndarray):
        self.ids, self.vectors = ids, vectors

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], np.ndarray]:
        return self.ids[i], self.vectors[i]


def collate(items: list[tuple[list[int], np.ndarray]]) -> dict[str, torch.Tensor]:
    ids, vectors = zip(*items)
    lengths = torch.tensor([len(s) for s in ids], dtype=torch.long)
    batch = torch.zeros(len(ids), max(1, int(lengths.max())), dtype=torch.long)
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return {"ids": batch, "lengths": lengths, "target": torch.from_numpy(np.stack(vectors))}


class LengthBatches(Sampler[list[int]]):
    """Shuffled batches of texts of similar length (sorted within chunks of 50 batches); fixed order when not shuffled."""

    def __init__(self, lengths: list[int], batch_size: int, shuffle: bool, seed: int = 0):
        self.lengths, self.batch_size, self.shuffle = lengths, batch_size, shuffle
        self.random = random.Random(seed)

    def __len__(self) -> int:
        return (len(self.lengths) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[list[int]]:
        order = list(range(len(self.lengths)))
        if self.shuffle:
            self.random.shuffle(order)
        chunk = self.batch_size * 50
        batches = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start : start + chunk], key=self.lengths.__getitem__)
            batches += [part[i : i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        if self.shuffle:
            self.random.shuffle(batches)
        return iter(batches)


class TeacherDataModule(pl.LightningDataModule):
    """Training texts and the teacher's vectors (training.teacher's Arrow cache), tokenized for the student."""

    def __init__(
        self,
        teacher: str | None = None,
        data_dir: str | None = None,
        cache_dir: str | None = None,
        tokenizer: Kind = "minilm",
        max_tokens: int = 128,
        batch_size: int = 128,
        val_size: int = 2000,
        sts: str | None = "stsb/validation",
        seed: int = 42,
    ):
        """Where the teacher's vectors come from and how the texts are batched.

        Args:
            teacher: a `datasets` folder with `text` and `embedding` columns (default: training.teacher's cache for data_dir).
            data_dir: data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data).
            cache_dir: cache root of training.teacher (default $PAIRSCORE_CACHE_DIR, else ~/.cache/pairscore).
            tokenizer: minilm | wordpiece | word (a vocabulary trained on the teacher's texts for the last two).
            max_tokens: tokens kept per text.
            batch_size: texts per batch.
            val_size: texts held out (at random) to measure how close the student gets.
            sts: a graded-similarity split whose cosine Spearman is logged each validation (not selected on); null: none.
            seed: the held-out draw.
        """
        super().__init__()
        self.save_hyperparameters()
        self.tokenizer = None
        self.teacher_info: dict[str, Any] = {}

    def _teacher_folder(self) -> Path:
        h = self.hparams
        if h.teacher:
            return Path(h.teacher)
        folder = cache_path(training_texts(h.data_dir), h.cache_dir)
        if not folder.is_dir():
            raise DataError(f"{folder}: the teacher's vectors are not cached; run `python -m training.teacher` first")
        return folder

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is not None:
            return
        import datasets

        h = self.hparams
        folder = self._teacher_folder()
        try:
            table = datasets.load_from_disk(str(folder)).with_format("numpy")
        except (FileNotFoundError, ValueError) as exc:
            raise DataError(f"{folder}: not a teacher cache ({exc})") from exc
        texts, vectors = list(table["text"]), np.asarray(table["embedding"], dtype=np.float32)
        self.teacher_info = {**TEACHER, "texts": len(texts), "cache": str(folder)}
        self.tokenizer = build_tokenizer(texts, max_tokens=h.max_tokens, kind=h.tokenizer)
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        order = np.random.default_rng(h.seed).permutation(len(texts))
        val, train = order[: h.val_size], order[h.val_size :]
        self.train_set = TeacherTexts([ids[i] for i in train], vectors[train])
        self.val_set = TeacherTexts([ids[i] for i in val], vectors[val])
        self.sts = STSEvaluator(h.sts, h.data_dir) if h.sts else None

    def _loader(self, dataset: TeacherTexts, shuffle: bool) -> DataLoader:
        sampler = LengthBatches([len(i) for i in dataset.ids], self.hparams.batch_size, shuffle, self.hparams.seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)


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
            embeddings: learned | glove_frozen | glove_finetuned | minilm | minilm_frozen (MiniLM's token vectors, PCA to embedding_dim).
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
            batch = collate([(i, np.zeros(1, np.float32)) for i in ids[start : start + 256]])
            vectors = self.model.encoder(batch["ids"], batch["lengths"])
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
    prefix = "model.encoder."
    state = {k[len(prefix) :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefix)}
    return {"hparams": checkpoint["hyper_parameters"], "state_dict": state, "pairscore": checkpoint["pairscore"]}


def main(argv: list[str] | None = None) -> int:
    from training.cli import default_loggers

    warnings.filterwarnings("ignore", message="LightningCLI's args parameter")

    class DistillCLI(LightningCLI):
        def instantiate_trainer(self, **kwargs) -> pl.Trainer:
            if self.config_init["trainer"].get("logger") in (None, True):
                kwargs["logger"] = default_loggers(
                    self.config_init["trainer"].get("default_root_dir") or "runs", "distill"
                )
            return super().instantiate_trainer(**kwargs)

    cli = DistillCLI(
        DistillModule,
        TeacherDataModule,
        args=argv,
        run=False,
        seed_everything_default=42,
        save_config_kwargs={"overwrite": True},
        parser_kwargs={"prog": "python -m training.distill"},
    )
    try:
        cli.datamodule.setup("fit")
    except (DataError, FileNotFoundError) as exc:
        print(f"python -m training.distill: {exc}", file=sys.stderr)
        return 2
    checkpoints = cli.trainer.checkpoint_callback
    cli.trainer.fit(cli.model, cli.datamodule)
    if checkpoints is not None and checkpoints.best_model_path:
        print(
            f"best checkpoint: {checkpoints.best_model_path} ({checkpoints.monitor}={float(checkpoints.best_model_score):.4f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
