"""The distillation data: texts and their teacher vectors (training.teacher's cache), tokenized for the student.

No labels: the student learns from what the teacher makes of each text, so any text counts, including a
user's own unlabelled ones (training.texts). A batch is a set of texts whose pairwise similarities a relational
loss can match; `pairs` keeps a question and its candidate answers in one batch, so that the similarities the
student learns are the ones /rank compares.

Distillation alone teaches /embed's similarity only as far as the student can copy the teacher, and a 128-unit
BiLSTM copies it to a cosine of ~0.6. `similarity` adds what graded human judgements say directly: STS pairs
with their scores, a second stream of batches beside the texts (each training step takes one batch of each), for
the model's similarity loss (DistillModule.similarity_weight).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import CombinedLoader, rank_zero_info
from torch.utils.data import DataLoader, Dataset

from pairscore.schema import detect_columns
from pairscore.specs import DataError, describe, load_pairs, load_rows
from training.batching import BucketBatchSampler, padded
from training.evaluators import STSEvaluator
from training.pretrained import Pretrained
from training.teacher import TeacherCache, get_teacher, shown
from training.texts import RELEASE, is_shared, texts_of
from training.tokenizer import Kind, build_tokenizer


class TeacherTexts(Dataset):
    """Token ids and teacher vectors of texts, and the units (text indices) that must share a batch."""

    def __init__(self, ids: list[list[int]], vectors: np.ndarray, units: list[list[int]]):
        self.ids, self.vectors, self.units = ids, vectors, units

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[list[int], np.ndarray]:
        return self.ids[i], self.vectors[i]


def collate(items: list[tuple[list[int], np.ndarray]]) -> dict[str, torch.Tensor]:
    ids, vectors = zip(*items)
    batch, lengths = padded(ids)
    return {"ids": batch, "lengths": lengths, "target": torch.from_numpy(np.stack(vectors))}


class GradedPairs(Dataset):
    """Token ids of both texts of each graded pair, and its score in [0, 1]."""

    def __init__(self, ids_a: list[list[int]], ids_b: list[list[int]], scores: list[float]):
        self.ids_a, self.ids_b, self.scores = ids_a, ids_b, scores

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, i: int) -> tuple[list[int], list[int], float]:
        return self.ids_a[i], self.ids_b[i], self.scores[i]


def collate_graded(items: list[tuple[list[int], list[int], float]]) -> dict[str, torch.Tensor]:
    ids_a, ids_b, scores = zip(*items)
    (a, a_lengths), (b, b_lengths) = padded(ids_a), padded(ids_b)
    return {"ids_a": a, "lengths_a": a_lengths, "ids_b": b, "lengths_b": b_lengths, "score": torch.tensor(scores)}


def graded_pairs(specs: list[str], data_dir: str | None) -> list[tuple[str, str, float]]:
    """(text, text, score) of graded-similarity splits (a `score` column), each unordered pair once: the first
    split that has it gives its score (sts2012_2016 repeats 4,196 of stsb/train's pairs)."""
    seen: dict[frozenset[str], tuple[str, str, float]] = {}
    for spec in specs:
        rows = load_rows(spec, data_dir)
        if "score" not in rows.column_names:
            raise DataError(f"data.similarity: {spec} has no 'score' column (a graded-similarity split is needed)")
        columns = detect_columns("paraphrase", rows.column_names)
        for a, b, score in zip(rows[columns.text_a], rows[columns.text_b], rows["score"]):
            seen.setdefault(frozenset((a, b)), (a, b, float(score)))
    return list(seen.values())


def question_units(pair_specs: list[str], texts: list[str], data_dir: str | None) -> list[list[int]]:
    """Each question of the ranking specs with its candidate answers (indices into texts), every text in one unit
    at most; the texts no question claims are units of one."""
    row = {text: i for i, text in enumerate(texts)}
    claimed: set[int] = set()
    units = []
    for spec in pair_specs:
        questions: dict[str, list[str]] = {}
        for pair in load_pairs(spec, "ranking", data_dir):
            questions.setdefault(pair.text_a, []).append(pair.text_b)
        for question, answers in questions.items():
            unit = [row[t] for t in dict.fromkeys([question, *answers]) if t in row and row[t] not in claimed]
            claimed.update(unit)
            if len(unit) > 1:
                units.append(unit)
            else:
                claimed.difference_update(unit)
    return units + [[i] for i in range(len(texts)) if i not in claimed]


class TeacherDataModule(pl.LightningDataModule):
    """The texts of the text sources with the teacher's vectors, computed for any text the cache lacks."""

    def __init__(
        self,
        teacher: str = "minilm",
        texts: list[str] | None = None,
        pairs: list[str] | None = None,
        similarity: list[str] | None = None,
        similarity_batch_size: int = 32,
        data_dir: str | None = None,
        cache_dir: str | None = None,
        tokenizer: Kind = "minilm",
        max_tokens: int = 128,
        batch_size: int = 128,
        val_size: int = 2000,
        sts: str | None = "stsb/validation",
        seed: int = 42,
        init_from: str | None = None,
    ):
        """Where the texts and the teacher's vectors come from and how the texts are batched.

        Args:
            teacher: minilm | mpnet | a sentence-transformers folder (training.teacher).
            texts: text sources (training.texts): `release` (default), shared split specs, .txt files (one text per
                line), data files (JSONL/CSV/Parquet, globs, URIs; FILE#COL,COL names the text columns).
            pairs: ranking split specs whose questions share a batch with their candidate answers.
            similarity: graded-similarity split specs (a `score` column in [0, 1], e.g. stsb/train,
                sts2012_2016/train) whose pairs train the served vectors' cosine directly; their texts should be
                among `texts` too, so that they are distilled as well.
            similarity_batch_size: graded pairs per batch of the similarity stream.
            data_dir: the shared data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data).
            cache_dir: the teachers' cache root (default $PAIRSCORE_CACHE_DIR, else ~/.cache/pairscore).
            tokenizer: minilm | wordpiece | word (a vocabulary trained on the texts for the last two).
            max_tokens: tokens kept per text.
            batch_size: texts per batch.
            val_size: texts held out (at random, whole questions with `pairs`) to measure how close the student
                gets; at most a tenth of them.
            sts: a graded-similarity split whose cosine Spearman is logged each validation (not selected on);
                null: none. A run on files only skips a shared split here.
            seed: the held-out draw.
            init_from: set from model.init_from: the model folder whose tokenizer the student keeps.
        """
        super().__init__()
        self.save_hyperparameters()
        self.tokenizer = None
        self.teacher_info: dict[str, Any] = {}
        self.teacher_dim: int | None = None

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """The teacher's vectors of the texts; the missing ones are computed (and cached) first."""
        h = self.hparams
        cache = TeacherCache(get_teacher(h.teacher), h.cache_dir)
        stats = cache.fill(texts, torch.get_num_threads(), log=rank_zero_info)
        self.teacher_info = {
            **cache.teacher.describe(h.cache_dir),
            "texts": len(texts),
            "sources": list(h.texts or [RELEASE]),
            "cache": shown(cache.root),  # a card names no home folder of the machine that trained it
            **({"computed": stats} if stats["texts"] else {}),
        }
        return cache.vectors(texts)

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is not None:
            return
        h = self.hparams
        sources = list(h.texts or [RELEASE])
        texts = texts_of(sources, h.data_dir)
        vectors = self._vectors(texts)
        self.teacher_dim = vectors.shape[1]
        if h.init_from:
            self.tokenizer = Pretrained.load(h.init_from).tokenizer
        else:
            self.tokenizer = build_tokenizer(texts, max_tokens=h.max_tokens, kind=h.tokenizer)
        ids = [e.ids for e in self.tokenizer.encode_batch(texts)]
        units = question_units(list(h.pairs or []), texts, h.data_dir)
        order = np.random.default_rng(h.seed).permutation(len(units))
        val = set(order[: max(1, min(h.val_size, len(units) // 10)) if h.val_size else 0].tolist())
        self.train_set = self._subset(ids, vectors, [u for i, u in enumerate(units) if i not in val])
        self.val_set = self._subset(ids, vectors, [u for i, u in enumerate(units) if i in val])
        self.sts = self._sts(sources)
        graded = graded_pairs(list(h.similarity or []), h.data_dir)
        self.graded_set = None
        if graded:
            a, b, scores = zip(*graded)
            encoded = [[e.ids for e in self.tokenizer.encode_batch(list(side))] for side in (a, b)]
            self.graded_set = GradedPairs(*encoded, list(scores))
            # A card names the data its encoder learned from, and its licence: these pairs' scores are labels.
            self.teacher_info["graded"] = {
                "splits": [describe(spec) | {"split": spec} for spec in h.similarity],
                "pairs": len(graded),
            }
            rank_zero_info(f"data.similarity: {len(graded)} graded pairs from {', '.join(h.similarity)}")

    @staticmethod
    def _subset(ids: list[list[int]], vectors: np.ndarray, units: list[list[int]]) -> TeacherTexts:
        members = [i for unit in units for i in unit]
        position = {text: k for k, text in enumerate(members)}
        return TeacherTexts([ids[i] for i in members], vectors[members], [[position[i] for i in u] for u in units])

    def _sts(self, sources: list[str]) -> STSEvaluator | None:
        """The STS check, unless the run reads no shared data (a user's texts only) and the split is a shared one."""
        h = self.hparams
        if not h.sts:
            return None
        if not any(is_shared(s) for s in sources):
            rank_zero_info(f"data.sts={h.sts} left out: this run distils on files only")
            return None
        try:
            return STSEvaluator(h.sts, h.data_dir)
        except DataError as exc:
            raise DataError(f"data.sts: {exc}") from None

    def _loader(self, dataset: TeacherTexts, shuffle: bool) -> DataLoader:
        lengths = [len(i) for i in dataset.ids]
        h = self.hparams
        sampler = BucketBatchSampler(dataset.units, lengths, h.batch_size, shuffle=shuffle, seed=h.seed)
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate)

    def train_dataloader(self) -> DataLoader | CombinedLoader:
        texts = self._loader(self.train_set, shuffle=True)
        if self.graded_set is None:
            return texts
        graded = DataLoader(
            self.graded_set,
            batch_size=self.hparams.similarity_batch_size,
            shuffle=True,
            collate_fn=collate_graded,
            generator=torch.Generator().manual_seed(self.hparams.seed),
        )
        # An epoch is one pass over the texts; the graded pairs cycle beside them.
        return CombinedLoader({"texts": texts, "graded": graded}, mode="max_size_cycle")

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
