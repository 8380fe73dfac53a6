"""Split specs -> canonical pairs -> token ids -> length-bucketed batches, for one task's training run.

The pairs come from pairscore.specs (the torch-free spec layer shared with serving-side tools); this module
tokenizes them, fits the pair features on the training texts and hands Lightning its batches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset

from pairscore import tasks
from pairscore.features import PairFeatures, resolve
from pairscore.schema import Pair
from pairscore.specs import SOURCES, DataError, load_pairs, parse_spec
from pairscore.tasks import TaskName
from training.batching import BucketBatchSampler, padded
from training.tokenizer import Kind, build_tokenizer


class EncodedPairs(Dataset):
    """Token ids of both texts, the label, the group (question) index and the pair features of each pair."""

    def __init__(self, pairs: list[Pair], ids: dict[str, list[int]], features: PairFeatures | None = None):
        self.features = features.pairs([p.text_a for p in pairs], [p.text_b for p in pairs]) if features else None
        self.a = [ids[p.text_a] for p in pairs]
        self.b = [ids[p.text_b] for p in pairs]
        self.labels = [p.label for p in pairs]
        group_index: dict[str | None, int] = {}
        self.groups = [
            group_index.setdefault(p.group if p.group is not None else str(i), len(group_index))
            for i, p in enumerate(pairs)
        ]
        self.lengths = [max(len(a), len(b)) for a, b in zip(self.a, self.b)]  # what a pair's batch is padded to
        self.units: list[list[int]] = [[] for _ in group_index]  # pairs that must share a batch
        for i, group in enumerate(self.groups):
            self.units[group].append(i)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[list[int], list[int], int, int, Any]:
        return self.a[i], self.b[i], self.labels[i], self.groups[i], None if self.features is None else self.features[i]


def collate(items: list[tuple[list[int], list[int], int, int, Any]]) -> dict[str, torch.Tensor]:
    a, b, labels, groups, features = zip(*items)
    a_ids, a_len = padded(a)
    b_ids, b_len = padded(b)
    batch = {
        "a_ids": a_ids,
        "a_len": a_len,
        "b_ids": b_ids,
        "b_len": b_len,
        "label": torch.tensor(labels),
        "group": torch.tensor(groups),
    }
    if features[0] is not None:
        batch["features"] = torch.from_numpy(np.stack(features))
    return batch


class PairDataModule(pl.LightningDataModule):
    """Loads and mixes the split specs of one task, builds the tokenizer on the training texts."""

    def __init__(
        self,
        task: TaskName,
        train: list[str],
        val: list[str],
        data_dir: str | None = None,
        hub: bool = False,
        batch_size: int = 64,
        max_tokens: int = 128,
        min_freq: int = 1,
        max_vocab: int | None = None,
        tokenizer: Kind = "word",
        chunk_batches: int = 50,
        num_workers: int = 0,
        features: bool | list[str] = False,
        calibration: list[str] | None = None,
    ):
        """Where the pairs come from and how they are batched.

        Args:
            task: one of pairscore.tasks (entailment | paraphrase | ranking).
            train: split specs mixed for training, e.g. ['snli_cad/train', 'snli/validation[:-1000]'].
            val: split specs for model selection.
            data_dir: local data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data).
            hub: load every spec from its Hugging Face hub id instead of the data folder
                ('hub:snli/train' does it for one spec).
            batch_size: pairs per batch (ranking batches hold whole questions).
            max_tokens: tokens kept per text.
            min_freq: minimum count for a word to enter the vocabulary.
            max_vocab: vocabulary size cap (None: no cap).
            tokenizer: word (the training words, format v1) | minilm (all-MiniLM-L6-v2's WordPiece)
                | wordpiece (trained here).
            chunk_batches: batches per length-sorting chunk.
            num_workers: DataLoader workers.
            features: exact-match pair features for the head (pairscore.features): true = all, or a list of names.
            calibration: split specs held out of training to fit the export's temperature (entailment, paraphrase),
                e.g. ['twitter_url/train[-4000:-2000]']; pairs repeating a training pair are left out of it.
        """
        super().__init__()
        try:
            tasks.get(task)
        except ValueError as exc:
            raise DataError(str(exc)) from None
        for spec in [*train, *val, *(calibration or [])]:
            parse_spec(spec)
        try:
            resolve(features)
        except ValueError as exc:
            raise DataError(f"data.features: {exc}") from exc
        self.save_hyperparameters()
        self.tokenizer = None
        self.pair_features: PairFeatures | None = None
        self.sources: list[dict[str, Any]] = []

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is not None:
            return
        h = self.hparams
        loaded = {}
        for role in ("train", "val", "calibration"):
            loaded[role] = []
            for spec in h[role] or []:
                # question ids repeat across sources (wiki_qa and trec_qa both have "train-1"): a group is per split
                pairs = [
                    p if p.group is None else replace(p, group=f"{spec}|{p.group}")
                    for p in load_pairs(spec, h.task, h.data_dir, h.hub)
                ]
                source = parse_spec(spec)[0]
                info = SOURCES[source]
                self.sources.append(
                    {
                        "source": source,
                        "split": spec,
                        "role": role,
                        "rows": len(pairs),
                        "licence": info.licence,
                        "hub_id": info.hub_id,
                    }
                )
                loaded[role] += pairs
        train_texts = list(dict.fromkeys(t for p in loaded["train"] for t in (p.text_a, p.text_b)))
        self.tokenizer = build_tokenizer(train_texts, h.min_freq, h.max_vocab, h.max_tokens, h.tokenizer)
        if resolve(h.features):
            self.pair_features = PairFeatures.fit(train_texts, h.features)
        texts = list(dict.fromkeys(train_texts + [t for p in loaded["val"] for t in (p.text_a, p.text_b)]))
        ids = {text: enc.ids for text, enc in zip(texts, self.tokenizer.encode_batch(texts))}
        self.train_set = EncodedPairs(loaded["train"], ids, self.pair_features)
        self.val_set = EncodedPairs(loaded["val"], ids, self.pair_features)

    def _loader(self, dataset: EncodedPairs, shuffle: bool) -> DataLoader:
        replicas, rank, seed = 1, 0, None
        if (
            self.trainer is not None and self.trainer.world_size > 1
        ):  # DDP: ranks share one plan, so one seed (rank 0's)
            replicas, rank, seed = (
                self.trainer.world_size,
                self.trainer.global_rank,
                self.trainer.strategy.broadcast(torch.initial_seed()),
            )
        h = self.hparams
        sampler = BucketBatchSampler(
            dataset.units, dataset.lengths, h.batch_size, h.chunk_batches, shuffle, seed, replicas, rank
        )
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=self.hparams.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
