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
from pytorch_lightning.utilities import rank_zero_info
from torch.utils.data import DataLoader, Dataset

from pairscore import io, tasks
from pairscore.features import PairFeatures, resolve
from pairscore.schema import Pair, parse_columns, parse_labels
from pairscore.specs import DataError, clean_questions, describe, is_file, load_pairs
from pairscore.specs import check as check_spec
from pairscore.tasks import TaskName
from training.batching import BucketBatchSampler, padded
from training.pretrained import Pretrained
from training.tokenizer import Kind, build_tokenizer

ROLES = ("train", "val", "calibration")
MIN_VALIDATION = 20  # labelled pairs: fewer select a checkpoint on noise


def check_validation(pairs: list[Pair], task: str, least: int) -> None:
    """DataError, before any training, for a validation set a checkpoint cannot be selected on."""
    labels = {p.label for p in pairs}
    fix = "add validation data, e.g. hold out the end of a file with a slice: --data.val='[\"my.csv[-500:]\"]'"
    if len(pairs) < least:
        raise DataError(f"data.val: {len(pairs)} labelled pairs, too few to select on (at least {least}): {fix}")
    if not tasks.get(task).grouped and len(labels) < 2:
        raise DataError(f"data.val: every pair has label {labels.pop()}: nothing to select on: {fix}")


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
    """Loads and mixes the split specs of one task, builds the tokenizer on the training texts (or takes the one of
    the model folder the run starts from), and refuses data it cannot train or select on before training starts."""

    # Over 60 lines for its docstring: LightningCLI reads each argument's --help from the Args section.
    def __init__(
        self,
        task: TaskName,
        train: list[str],
        val: list[str],
        data_dir: str | None = None,
        hub: bool = False,
        columns: str | None = None,
        labels: str | None = None,
        encoding: str = io.DEFAULT_ENCODING,
        delimiter: str | None = None,
        batch_size: int = 64,
        max_tokens: int = 128,
        min_freq: int = 1,
        max_vocab: int | None = None,
        tokenizer: Kind = "word",
        chunk_batches: int = 50,
        num_workers: int = 0,
        features: bool | list[str] = False,
        calibration: list[str] | None = None,
        min_val: int = MIN_VALIDATION,
        init_from: str | None = None,
    ):
        """Where the pairs come from and how they are batched.

        Args:
            task: one of pairscore.tasks (entailment | paraphrase | ranking).
            train: data specs mixed for training: shared sources (['snli_cad/train', 'snli/validation[:-1000]'])
                or files, folders, globs, URIs of JSONL/CSV/Parquet (['my_pairs.csv[:-500]']).
            val: data specs for model selection (['my_pairs.csv[-500:]']).
            data_dir: local data folder of the shared sources (default $PAIRSCORE_DATA_DIR, else ../shared/data).
            hub: load every shared source from its Hugging Face hub id instead of the data folder
                ('hub:snli/train' does it for one spec).
            columns: which columns of the files hold what: text_a=COL,text_b=COL[,label=COL][,group=COL]
                (default: detected from the shared schemas; `pairscore score` and `evaluate` take the same).
            labels: your files' label words: WORD=LABEL,... e.g. same=1,different=0 (entailment: to the label
                names, yes=entailment,...); default: integers, true/false, yes/no, the label names.
            encoding: text encoding of the JSONL/CSV files (default utf-8; a byte it cannot read stops the run).
            delimiter: CSV delimiter: , tab ; | (default: tab for .tsv, else tab when the header has tabs and
                no commas, else a comma).
            batch_size: pairs per batch (ranking batches hold whole questions).
            max_tokens: tokens kept per text.
            min_freq: minimum count for a word to enter the vocabulary.
            max_vocab: vocabulary size cap (None: no cap).
            tokenizer: word (the training words, format v1) | minilm (all-MiniLM-L6-v2's WordPiece)
                | wordpiece (trained here).
            chunk_batches: batches per length-sorting chunk.
            num_workers: DataLoader workers.
            features: exact-match pair features for the head (pairscore.features): true = all, or a list of names.
            calibration: data specs held out of training to fit the export's temperature (entailment, paraphrase),
                e.g. ['twitter_url/train[-4000:-2000]']; pairs repeating a training pair are left out of it.
                A run that trains on files only ignores shared-source specs here (a recipe's own slices).
            min_val: fewest labelled validation pairs (of clean questions, for ranking) a run selects on.
            init_from: set from model.init_from: the model folder whose tokenizer and pair features the run keeps.
        """
        super().__init__()
        try:
            tasks.get(task)
            self.columns = parse_columns(columns)
            self.labels = parse_labels(labels, task)
            self.text = io.text_format(encoding, delimiter)
        except ValueError as exc:
            raise DataError(f"data: {exc}") from None
        for spec in [*train, *val, *(calibration or [])]:
            check_spec(spec)
        try:
            resolve(features)
        except ValueError as exc:
            raise DataError(f"data.features: {exc}") from exc
        self.save_hyperparameters()
        self.tokenizer = None
        self.pair_features: PairFeatures | None = None
        self.sources: list[dict[str, Any]] = []
        self.max_tokens = max_tokens

    def _specs(self, role: str) -> list[str]:
        """A role's specs; a run on files only takes no shared-source calibration slice from the recipe."""
        h, specs = self.hparams, list(self.hparams[role] or [])
        if role == "calibration" and all(is_file(s) for s in h.train):
            shared = [s for s in specs if not is_file(s)]
            if shared:
                rank_zero_info(f"data.calibration: {shared} left out: this run trains on files only")
            specs = [s for s in specs if is_file(s)]
        return specs

    def _load(self, role: str, spec: str) -> list[Pair]:
        """One spec's pairs, recorded for the card; ranking keeps only questions with a correct and a wrong answer."""
        h = self.hparams
        pairs = load_pairs(spec, h.task, h.data_dir, h.hub, self.columns, self.text, self.labels)
        # question ids repeat across sources (wiki_qa and trec_qa both have "train-1"): a group is per split
        pairs = [p if p.group is None else replace(p, group=f"{spec}|{p.group}") for p in pairs]
        entry = {"split": spec, "role": role, **describe(spec)}
        if tasks.get(h.task).grouped:
            pairs, entry["dropped"] = clean_questions(pairs)
            if entry["dropped"]["questions"]:
                rank_zero_info(f"{spec}: {entry['dropped']}: dropped (no signal to rank on)")
            if not pairs:
                raise DataError(f"{spec}: no question has both a correct and a wrong answer")
        self.sources.append({**entry, "rows": len(pairs)})
        return pairs

    def setup(self, stage: str | None = None) -> None:
        if self.tokenizer is not None:
            return
        h = self.hparams
        loaded = {role: [p for spec in self._specs(role) for p in self._load(role, spec)] for role in ROLES}
        check_validation(loaded["val"], h.task, h.min_val)
        train_texts = list(dict.fromkeys(t for p in loaded["train"] for t in (p.text_a, p.text_b)))
        if h.init_from:
            pretrained = Pretrained.load(h.init_from)
            self.tokenizer, self.pair_features = pretrained.tokenizer, pretrained.features
            self.max_tokens = pretrained.card.max_tokens
            if resolve(h.features) != (self.pair_features.names if self.pair_features else []):
                raise DataError(
                    f"data.features={h.features}: {h.init_from}'s head takes "
                    f"{self.pair_features.names if self.pair_features else 'no'} pair features"
                )
        else:
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
