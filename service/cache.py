"""A bounded LRU of sentence vectors per encoder, keyed by token ids.

A text repeated across requests (an FAQ answer pool ranked for every question, a
premise with many hypotheses) is encoded once. The key is the token ids after
truncation, so texts that tokenize alike share an entry. Serving from it is exact
because the served encoder is batch- and padding-independent (docs/artifact-format.md):
a cached vector is the vector a fresh call would give. Entries and bytes (vector plus
key payload) are both capped; the least recently used entries go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from service.runtime import DEFAULT_CHUNK, PairModel


class VectorCache:
    """LRU of float32 vectors with at most `max_entries` entries and `max_bytes` bytes; 0 turns it off."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.bytes = 0
        self.metrics: Any = None  # a CacheMetrics, once the server has registered them
        self._data: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self.hits = self.misses = self.bytes = 0

    def encode(self, ids: Sequence[Sequence[int]], compute: Callable[[list[Sequence[int]]], np.ndarray]) -> np.ndarray:
        """Vectors for tokenized texts in input order: cached ones looked up, the rest from one `compute` call."""
        if not ids:
            return compute([])
        keys = [np.asarray(seq, dtype=np.int32).tobytes() for seq in ids]
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for i, key in enumerate(keys):
                vector = self._data.get(key)
                if vector is not None:
                    self._data.move_to_end(key)
                    found[i] = vector
        missing = [i for i in range(len(ids)) if i not in found]
        if missing:
            computed = compute([ids[i] for i in missing])
            out = np.empty((len(ids), computed.shape[1]), dtype=computed.dtype)
            out[missing] = computed
            for i, vector in found.items():
                out[i] = vector
        else:
            out = np.stack([found[i] for i in range(len(ids))])
        with self._lock:
            for row, i in enumerate(missing):
                self._put(keys[i], out[i].copy())
            self.hits += len(found)
            self.misses += len(missing)
            if self.metrics is not None:
                self.metrics.record(len(found), len(missing), len(self._data), self.bytes)
        return out

    def _put(self, key: bytes, vector: np.ndarray) -> None:
        size = len(key) + vector.nbytes
        if key in self._data or size > self.max_bytes:
            return
        self._data[key] = vector
        self.bytes += size
        while len(self._data) > self.max_entries or self.bytes > self.max_bytes:
            old_key, old = self._data.popitem(last=False)
            self.bytes -= len(old_key) + old.nbytes


class CacheMetrics:
    """pairscore_cache_{hits,misses}_total and pairscore_cache_{entries,bytes} for one cache, label `encoder`.

    Prometheus metrics in BentoML's multiprocess registry (BentoML 1.4 serves them on /metrics;
    its bentoml.metrics module is a deprecated alias of prometheus_client). Create them in the
    worker (service __init__), after BentoML has set PROMETHEUS_MULTIPROC_DIR.
    """

    _families: dict[str, Any] = {}

    def __init__(self, encoder: str) -> None:
        import prometheus_client

        families = CacheMetrics._families
        if not families:
            families["hits"] = prometheus_client.Counter("pairscore_cache_hits", "texts whose vector came from the cache", ["encoder"])
            families["misses"] = prometheus_client.Counter("pairscore_cache_misses", "texts the encoder had to run for", ["encoder"])
            families["entries"] = prometheus_client.Gauge("pairscore_cache_entries", "vectors in the cache", ["encoder"], multiprocess_mode="livesum")
            families["bytes"] = prometheus_client.Gauge("pairscore_cache_bytes", "bytes of vectors and keys in the cache", ["encoder"], multiprocess_mode="livesum")
        self.hits, self.misses, self.entries, self.bytes = (families[k].labels(encoder=encoder) for k in ("hits", "misses", "entries", "bytes"))

    def record(self, hits: int, misses: int, entries: int, size: int) -> None:
        if hits:
            self.hits.inc(hits)
        if misses:
            self.misses.inc(misses)
        self.entries.set(entries)
        self.bytes.set(size)


class CachedPairModel(PairModel):
    """A PairModel whose encoder calls go through a VectorCache (shared by the tasks that serve the same encoder file)."""

    def __init__(self, model_dir: str | Path, cache: VectorCache, encoder_file: str | None = None, threads: int | None = None) -> None:
        super().__init__(model_dir, threads=threads, encoder_file=encoder_file)
        self.cache = cache

    def encode_ids(self, ids: Sequence[Sequence[int]], chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        if not self.cache.enabled:
            return super().encode_ids(ids, chunk)
        return self.cache.encode(ids, lambda missing: PairModel.encode_ids(self, missing, chunk))
