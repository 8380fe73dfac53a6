"""Datasets by name -> canonical pairs -> token ids -> length-bucketed batches.

Every source loads in its hub schema, from a local data directory
(`datasets.load_dataset("json", ...)`) or, when asked, from its hub id, and goes
through pairscore.schema, the one mapping layer shared with serving.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from pairscore.features import PairFeatures, resolve
from pairscore.schema import Pair, RowError, detect_columns, to_pair
from training.tokenizer import build_tokenizer

DATA_DIR_ENV = "PAIRSCORE_DATA_DIR"
DEFAULT_DATA_DIR = Path("../shared/data")


@dataclass(frozen=True)
class Source:
    task: str
    licence: str
    hub_id: str | None = None
    hub_config: str | None = None


SOURCES = {
    "snli": Source("entailment", "CC BY-SA 4.0", "stanfordnlp/snli"),
    "snli_cad": Source("entailment", "Apache-2.0 (text CC BY-SA 4.0)"),
    "multi_nli": Source("entailment", "OANC (free use); fiction parts CC BY(-SA) 3.0", "nyu-mll/multi_nli"),  # hub only
    "sick": Source("entailment", "CC BY-NC-SA 3.0 (non-commercial)", "sick"),
    "twitter_url": Source("paraphrase", "CC BY-NC-SA 3.0 + Twitter terms (non-commercial)"),
    "mrpc": Source("paraphrase", "Microsoft Research licence (research use)", "nyu-mll/glue", "mrpc"),
    "wiki_qa": Source("ranking", "Microsoft Research Data License (research use)", "microsoft/wiki_qa"),
    "trec_qa": Source("ranking", "research use"),
    "stsb": Source("paraphrase", "scores CC BY-SA 4.0", "sentence-transformers/stsb"),  # graded: no binary labels
}
SPEC = re.compile(r"^(?P<hub>hub:)?(?P<source>\w+)/(?P<split>\w+)(?P<slice>\[[-0-9:%]*\])?$")


class DataError(ValueError):
    """A split spec or data file that cannot be used; the message names it."""


def resolve_data_dir(data_dir: str | Path | None = None) -> Path:
    """The flag if given, else $PAIRSCORE_DATA_DIR, else ../shared/data (relative to the working directory)."""
    return Path(data_dir or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def parse_spec(spec: str) -> tuple[str, str, str]:
    """'snli/validation[:-1000]' -> ('snli', 'validation', 'validation[:-1000]'); a 'hub:' prefix loads that spec from the hub."""
    match = SPEC.match(spec.strip())
    if not match:
        raise DataError(
            f"split spec {spec!r}: expected [hub:]SOURCE/SPLIT[SLICE], e.g. 'snli/validation[:-1000]' or 'hub:snli/train'"
        )
    if match["source"] not in SOURCES:
        raise DataError(f"split spec {spec!r}: unknown source {match['source']!r}, expected one of {sorted(SOURCES)}")
    return match["source"], match["split"], match["split"] + (match["slice"] or "")


def load_rows(spec: str, data_dir: str | Path | None = None, hub: bool = False) -> Any:
    """The rows of one split spec as a `datasets.Dataset`, in the source's hub schema."""
    import datasets

    source, split, selection = parse_spec(spec)
    if hub or spec.strip().startswith("hub:"):
        info = SOURCES[source]
        if info.hub_id is None:
            raise DataError(f"split spec {spec!r}: {source} has no hub counterpart; load it from a data directory")
        return datasets.load_dataset(info.hub_id, info.hub_config, split=selection)
    path = resolve_data_dir(data_dir) / source / f"{split}.jsonl"
    if not path.is_file():
        raise DataError(
            f"{path}: data file for {spec!r} not found (set --data.data_dir or ${DATA_DIR_ENV}, or --data.hub=true to use the hub)"
        )
    return datasets.load_dataset("json", data_files={split: str(path)}, split=selection)


def load_pairs(spec: str, task: str, data_dir: str | Path | None = None, hub: bool = False) -> list[Pair]:
    """Canonical pairs of one split spec; rows without a gold label (None, SNLI's -1) are dropped."""
    source = parse_spec(spec)[0]
    if SOURCES[source].task != task:
        raise DataError(f"split spec {spec!r}: {source} is a {SOURCES[source].task} source, not {task}")
    rows = load_rows(spec, data_dir, hub)
    try:
        columns = detect_columns(task, rows.column_names)
        pairs = [to_pair(task, row, columns) for row in rows]
    except RowError as exc:
        raise DataError(f"split spec {spec!r}: {exc}") from exc
    pairs = [pair for pair in pairs if pair.label is not None and pair.label >= 0]
    if not pairs:
        raise DataError(f"split spec {spec!r}: no labelled rows")
    return pairs


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
        self.units: list[list[int]] = [[] for _ in group_index]  # pairs that must share a batch
        for i, group in enumerate(self.groups):
            self.units[group].append(i)

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[list[int], list[int], int, int, Any]:
        return self.a[i], self.b[i], self.labels[i], self.groups[i], None if self.features is None else self.features[i]


def _pad(sequences: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = torch.tensor([len(s) for s in sequences], dtype=torch.long)
    ids = torch.zeros(len(sequences), max(1, int(lengths.max())), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
    return ids, lengths


def collate(items: list[tuple[list[int], list[int], int, int, Any]]) -> dict[str, torch.Tensor]:
    a, b, labels, groups, features = zip(*items)
    a_ids, a_len = _pad(list(a))
    b_ids, b_len = _pad(list(b))
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


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of whole units (a pair, or all of a question's candidates) of similar length.

    Units are shuffled, sorted by length within chunks of `chunk_batches` batches, packed
    into batches of up to `batch_size` pairs, and the batches shuffled: little padding,
    still random. Without shuffling the order is fixed (validation).

    Distributed (DDP): every rank plans the same batches (same seed) and takes every
    `num_replicas`-th one. The largest batches are first split in two (at unit bounds)
    until the count divides evenly, so each rank runs as many steps as the others and
    no pair is seen twice or left out.
    """

    def __init__(
        self,
        dataset: EncodedPairs,
        batch_size: int,
        chunk_batches: int = 50,
        shuffle: bool = True,
        seed: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        self.units = dataset.units
        self.lengths = [max(max(len(dataset.a[i]), len(dataset.b[i])) for i in unit) for unit in self.units]
        self.batch_size, self.chunk = batch_size, batch_size * chunk_batches
        self.shuffle = shuffle
        self.random = random.Random(torch.initial_seed() if seed is None else seed)
        if len(self.units) < num_replicas:
            raise DataError(
                f"{len(self.units)} batch units (pairs or questions) cannot be shared by {num_replicas} processes"
            )
        self.num_replicas, self.rank = num_replicas, rank
        self._next: list[list[int]] | None = None

    def _plan(self) -> list[list[int]]:
        order = list(range(len(self.units)))
        if self.shuffle:
            self.random.shuffle(order)
        batches, batch, size = [], [], 0  # batches of unit indices
        for start in range(0, len(order), self.chunk):
            for unit in sorted(order[start : start + self.chunk], key=self.lengths.__getitem__):
                if batch and size + len(self.units[unit]) > self.batch_size:
                    batches.append(batch)
                    batch, size = [], 0
                batch.append(unit)
                size += len(self.units[unit])
        if batch:
            batches.append(batch)
        while len(batches) % self.num_replicas:
            largest = max(range(len(batches)), key=lambda i: len(batches[i]))
            if len(batches[largest]) < 2:  # all single units: fold the last batch into another
                last = batches.pop()
                batches[-1].extend(last)
                continue
            unit_batch = batches.pop(largest)
            batches[largest:largest] = [unit_batch[: len(unit_batch) // 2], unit_batch[len(unit_batch) // 2 :]]
        if self.shuffle:
            self.random.shuffle(batches)
        return [
            [pair for unit in batch for pair in self.units[unit]] for batch in batches[self.rank :: self.num_replicas]
        ]

    def __len__(self) -> int:
        if self._next is None:
            self._next = self._plan()
        return len(self._next)

    def __iter__(self) -> Iterator[list[int]]:
        batches, self._next = (self._next if self._next is not None else self._plan()), None
        return iter(batches)


class PairDataModule(pl.LightningDataModule):
    """Loads and mixes the split specs of one task, builds the tokenizer on the training texts."""

    def __init__(
        self,
        task: Literal["entailment", "paraphrase", "ranking"],
        train: list[str],
        val: list[str],
        data_dir: str | None = None,
        hub: bool = False,
        batch_size: int = 64,
        max_tokens: int = 128,
        min_freq: int = 1,
        max_vocab: int | None = None,
        tokenizer: Literal["word", "minilm", "wordpiece"] = "word",
        chunk_batches: int = 50,
        num_workers: int = 0,
        features: bool | list[str] = False,
        calibration: list[str] | None = None,
    ):
        """Where the pairs come from and how they are batched.

        Args:
            task: entailment | paraphrase | ranking.
            train: split specs mixed for training, e.g. ['snli_cad/train', 'snli/validation[:-1000]'].
            val: split specs for model selection.
            data_dir: local data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data).
            hub: load every spec from its Hugging Face hub id instead of the data folder ('hub:snli/train' does it for one spec).
            batch_size: pairs per batch (ranking batches hold whole questions).
            max_tokens: tokens kept per text.
            min_freq: minimum count for a word to enter the vocabulary.
            max_vocab: vocabulary size cap (None: no cap).
            tokenizer: word (the training words, format v1) | minilm (all-MiniLM-L6-v2's WordPiece) | wordpiece (trained here).
            chunk_batches: batches per length-sorting chunk.
            num_workers: DataLoader workers.
            features: exact-match pair features for the head (pairscore.features): true = all, or a list of names.
            calibration: split specs held out of training to fit the export's temperature (entailment, paraphrase),
                e.g. ['twitter_url/train[-4000:-2000]']; pairs repeating a training pair are left out of it.
        """
        super().__init__()
        if task not in ("entailment", "paraphrase", "ranking"):
            raise DataError(f"task must be entailment, paraphrase or ranking, got {task!r}")
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
        sampler = BucketBatchSampler(
            dataset, self.hparams.batch_size, self.hparams.chunk_batches, shuffle, seed, replicas, rank
        )
        return DataLoader(dataset, batch_sampler=sampler, collate_fn=collate, num_workers=self.hparams.num_workers)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_set, shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.val_set, shuffle=False)
