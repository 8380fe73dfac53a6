"""Token ids -> padded tensors, and length-bucketed batches: one way of batching for every training loop.

Sorting by length within shuffled chunks keeps padding (wasted recurrent steps) small while batches stay
random; the encoder is padding-invariant, so the bucketing never changes a vector.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import torch
from torch.utils.data import Sampler

from pairscore.padding import pad
from pairscore.specs import DataError


def padded(ids: Sequence[Sequence[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """pairscore.padding.pad as tensors: the encoder's (input_ids, lengths)."""
    batch, lengths = pad(ids)
    return torch.from_numpy(batch), torch.from_numpy(lengths)


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of whole units (a text, a pair, or all of a question's candidates) of similar length.

    Units are shuffled, sorted by length within chunks of `chunk_batches` batches, packed
    into batches of up to `batch_size` items, and the batches shuffled: little padding,
    still random. Without shuffling the order is fixed (validation). A unit's length is
    its longest item's.

    Distributed (DDP): every rank plans the same batches (same seed) and takes every
    `num_replicas`-th one. The largest batches are first split in two (at unit bounds)
    until the count divides evenly, so each rank runs as many steps as the others and
    no pair is seen twice or left out.
    """

    def __init__(
        self,
        units: list[list[int]],
        lengths: list[int],
        batch_size: int,
        chunk_batches: int = 50,
        shuffle: bool = True,
        seed: int | None = None,
        num_replicas: int = 1,
        rank: int = 0,
    ):
        """units: item indices that must share a batch; lengths: tokens per item (the longest text of a pair)."""
        self.units = units
        self.lengths = [max(lengths[i] for i in unit) for unit in units]
        self.batch_size, self.chunk = batch_size, batch_size * chunk_batches
        self.shuffle = shuffle
        self.random = random.Random(torch.initial_seed() if seed is None else seed)
        if len(self.units) < num_replicas:
            raise DataError(
                f"{len(self.units)} batch units (texts, pairs or questions) "
                f"cannot be shared by {num_replicas} processes"
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
            [item for unit in batch for item in self.units[unit]] for batch in batches[self.rank :: self.num_replicas]
        ]

    def __len__(self) -> int:
        if self._next is None:
            self._next = self._plan()
        return len(self._next)

    def __iter__(self) -> Iterator[list[int]]:
        batches, self._next = (self._next if self._next is not None else self._plan()), None
        return iter(batches)
