"""A bounded LRU of sentence vectors per encoder, keyed by token ids.

A text repeated across requests (an FAQ answer pool ranked for every question, a
premise with many hypotheses) is encoded once. Vectors are keyed by the token ids after
truncation, so texts that tokenize alike share one; a second LRU maps a text to its
ids, so a repeated text is not even re-tokenized (tokenizing costs more than the
lookup: ~40 µs per WikiQA answer). Serving from it is exact because the served encoder
is batch- and padding-independent (docs/artifact-format.md): a cached vector is the
vector a fresh call would give. Entries (per table) and bytes (vectors, keys, texts)
are capped; the least recently used entries go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pairscore.runtime.model import DEFAULT_CHUNK, PairModel


class VectorCache:
    """LRU of float32 vectors by token ids (and of token ids by text), at most `max_entries` of each and `max_bytes`
    bytes in all (vectors, keys, texts); 0 turns it off."""

    def __init__(self, max_entries: int, max_bytes: int) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self.bytes = 0
        self.metrics: Any = None  # a CacheMetrics, once the server has registered them
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()  # token ids (int32 bytes) -> vector
        self._keys: OrderedDict[str, bytes] = (
            OrderedDict()
        )  # text -> token ids: a repeated text is not even re-tokenized
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._vectors)

    def clear(self) -> None:
        with self._lock:
            self._vectors.clear()
            self._keys.clear()
            self.hits = self.misses = self.bytes = 0

    def encode(
        self,
        texts: Sequence[str],
        tokenize: Callable[[list[str]], list[list[int]]],
        compute: Callable[[list[np.ndarray]], np.ndarray],
    ) -> np.ndarray:
        """Vectors for texts in input order: cached ones looked up; the rest tokenized and encoded in one call each."""
        if not texts:
            return compute([])
        with self._lock:
            keys: list[bytes | None] = [self._touch(self._keys, text) for text in texts]
        unknown = [i for i, key in enumerate(keys) if key is None]
        if unknown:
            for i, ids in zip(unknown, tokenize([texts[i] for i in unknown])):
                keys[i] = np.asarray(ids, dtype=np.int32).tobytes()
        with self._lock:
            found = {i: vector for i, key in enumerate(keys) if (vector := self._touch(self._vectors, key)) is not None}
        missing = [i for i in range(len(texts)) if i not in found]
        if missing:
            computed = compute([np.frombuffer(keys[i], dtype=np.int32) for i in missing])  # type: ignore[arg-type]
            out = np.empty((len(texts), computed.shape[1]), dtype=computed.dtype)
            out[missing] = computed
            for i, vector in found.items():
                out[i] = vector
        else:
            out = np.stack([found[i] for i in range(len(texts))])
        with self._lock:
            for i in unknown:
                self._put_key(texts[i], keys[i])  # type: ignore[arg-type]
            for i in missing:
                self._put_vector(keys[i], out[i].copy())  # type: ignore[arg-type]
            self._shrink()
            self.hits += len(found)
            self.misses += len(missing)
            if self.metrics is not None:
                self.metrics.record(len(found), len(missing), len(self._vectors), self.bytes)
        return out

    def token_counts(self, texts: Sequence[str], tokenize: Callable[[list[str]], list[list[int]]]) -> list[int]:
        """Token counts per text: from the ids the cache keeps for a text it has seen, else tokenized."""
        with self._lock:
            keys = [self._keys.get(text) for text in texts]
        unknown = [i for i, key in enumerate(keys) if key is None]
        counts = [len(key) // 4 if key is not None else 0 for key in keys]  # int32 ids
        for i, ids in zip(unknown, tokenize([texts[i] for i in unknown]) if unknown else []):
            counts[i] = len(ids)
        return counts

    @staticmethod
    def _touch(table: OrderedDict, key: Any) -> Any:
        value = table.get(key)
        if value is not None:
            table.move_to_end(key)
        return value

    def _put_key(self, text: str, key: bytes) -> None:
        if text not in self._keys:
            self._keys[text] = key
            self.bytes += len(text) + len(key)

    def _put_vector(self, key: bytes, vector: np.ndarray) -> None:
        if key not in self._vectors:
            self._vectors[key] = vector
            self.bytes += len(key) + vector.nbytes

    def _shrink(self) -> None:
        """Evict least recently used entries until both tables and the bytes are within the caps."""
        while len(self._vectors) > self.max_entries:
            self._drop_vector()
        while len(self._keys) > self.max_entries:
            self._drop_key()
        while self.bytes > self.max_bytes and (self._vectors or self._keys):
            if self._vectors:
                self._drop_vector()
            if self._keys and self.bytes > self.max_bytes:
                self._drop_key()

    def _drop_vector(self) -> None:
        key, vector = self._vectors.popitem(last=False)
        self.bytes -= len(key) + vector.nbytes

    def _drop_key(self) -> None:
        text, key = self._keys.popitem(last=False)
        self.bytes -= len(text) + len(key)


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
            families["hits"] = prometheus_client.Counter(
                "pairscore_cache_hits", "texts whose vector came from the cache", ["encoder"]
            )
            families["misses"] = prometheus_client.Counter(
                "pairscore_cache_misses", "texts the encoder had to run for", ["encoder"]
            )
            families["entries"] = prometheus_client.Gauge(
                "pairscore_cache_entries", "vectors in the cache", ["encoder"], multiprocess_mode="livesum"
            )
            families["bytes"] = prometheus_client.Gauge(
                "pairscore_cache_bytes",
                "bytes of vectors and keys in the cache",
                ["encoder"],
                multiprocess_mode="livesum",
            )
        self.hits, self.misses, self.entries, self.bytes = (
            families[k].labels(encoder=encoder) for k in ("hits", "misses", "entries", "bytes")
        )

    def record(self, hits: int, misses: int, entries: int, size: int) -> None:
        if hits:
            self.hits.inc(hits)
        if misses:
            self.misses.inc(misses)
        self.entries.set(entries)
        self.bytes.set(size)


class CachedPairModel(PairModel):
    """A PairModel whose encoder calls go through a VectorCache.

    The cache is shared by the tasks that serve the same encoder file.
    """

    def __init__(
        self,
        model_dir: str | Path,
        cache: VectorCache,
        encoder_file: str | None = None,
        threads: int | None = None,
        card: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(model_dir, threads=threads, encoder_file=encoder_file, card=card)
        self.cache = cache

    def encode(self, texts: Sequence[str], chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Sentence vectors; each distinct text is looked up, and encoded only when the cache lacks it."""
        if not self.cache.enabled:
            return super().encode(texts, chunk)
        unique = list(dict.fromkeys(texts))
        vectors = self.cache.encode(unique, self.token_ids, lambda ids: self.encode_ids(ids, chunk))
        index = {text: row for row, text in enumerate(unique)}
        return vectors[[index[t] for t in texts]] if texts else vectors

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """As PairModel's; a text the cache has seen is not tokenized again."""
        if not self.cache.enabled:
            return super().token_counts(texts)
        return self.cache.token_counts(texts, self.token_ids)
