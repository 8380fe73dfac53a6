"""The distillation data: every training text and its teacher vector (training.teacher's cache), tokenized.

No labels: the student learns from what the teacher makes of each text, so any text counts, including a
user's own unlabelled ones.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import datasets
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from pairscore.specs import DataError
from training.batching import BucketBatchSampler, padded
from training.evaluators import STSEvaluator
from training.teacher import TEACHER, cache_path, training_texts
from training.tokenizer import Kind, build_tokenizer


class TeacherTexts(Dataset):
    def __init__(self, ids: list[list[int]], vectors: np.ndarray):
        self.ids, self.vectors = ids, vectors

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], np.ndarray]:
        return self.ids[i], self.vectors[i]


def collate(items: list[tuple[list[int], np.ndarray]]) -> dict[str, torch.Tensor]:
    ids, vectors = zip(*items)
    batch, lengths = padded(ids)
    return {"ids": batch, "lengths": lengths, "target": torch.from_numpy(np.stack(vectors))}


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
            teacher: a `datasets` folder with `text` and `embedding` columns
                (default: training.teacher's cache for data_dir).
            data_dir: data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data).
            cache_dir: cache root of training.teacher (default $PAIRSCORE_CACHE_DIR, else ~/.cache/pairscore).
            tokenizer: minilm | wordpiece | word (a vocabulary trained on the teacher's texts for the last two).
            max_tokens: tokens kept per text.
            batch_size: texts per batch.
            val_size: texts held out (at random) to measure how close the student gets.
            sts: a graded-similarity split whose cosine Spearman is logged each validation (not selected on);
                null: none.
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
        units = [[i] for i in range(len(dataset))]
        lengths = [len(i) for i in dataset.ids]
        sampler = BucketBatchSampler(units, lengths, self.hparams.batch_size, shuffle=shuffle, seed=self.hparams.seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
