"""The vector cache: bounded in entries and bytes, exact (cached == computed), and its counters on /metrics."""

from __future__ import annotations

import re

import numpy as np
import pytest

from pairscore.runtime.cache import CachedPairModel, VectorCache
from pairscore.runtime.model import PairModel
from server_process import TEST_LIMITS


def tokenize(texts):
    return [[ord(c) for c in text] for text in texts]


def counting_encoder(dim: int = 8):
    calls: list[int] = []

    def compute(ids):
        calls.append(len(ids))
        return np.array([[int(sum(seq)) + k for k in range(dim)] for seq in ids], dtype=np.float32).reshape(
            len(ids), dim
        )

    return compute, calls


def test_lru_bounded_by_entries_then_bytes():
    compute, calls = counting_encoder()
    cache = VectorCache(max_entries=3, max_bytes=10**6)
    for i in range(10):  # a stream of distinct texts
        cache.encode([f"t{i}"], tokenize, compute)
        assert len(cache) <= 3
    assert len(cache) == 3 and cache.misses == 10 and cache.hits == 0
    cache.encode(["t9", "t7"], tokenize, compute)  # the newest two stay
    assert cache.hits == 2 and len(calls) == 10  # no encoder call
    entry = 2 * 4 + 8 * 4 + 2 + 2 * 4  # vector entry (int32 key + float32 vector) + text entry (text + key)
    small = VectorCache(max_entries=100, max_bytes=5 * entry)
    for i in range(50):
        small.encode([f"{i:02d}"], tokenize, compute)
        assert small.bytes <= 5 * entry
    assert len(small) == 5 and small.bytes == 5 * entry


def test_least_recently_used_goes_first():
    compute, _ = counting_encoder()
    cache = VectorCache(max_entries=2, max_bytes=10**6)
    cache.encode(["a", "b"], tokenize, compute)
    cache.encode(["a"], tokenize, compute)  # a is now the most recent
    cache.encode(["c"], tokenize, compute)  # evicts b
    misses = cache.misses
    cache.encode(["a", "c"], tokenize, compute)
    assert cache.misses == misses
    cache.encode(["b"], tokenize, compute)
    assert cache.misses == misses + 1


def test_texts_that_tokenize_alike_share_a_vector_and_order_is_kept():
    compute, calls = counting_encoder()
    tokenized: list[int] = []

    def lower(texts):
        tokenized.append(len(texts))
        return tokenize([t.lower() for t in texts])

    cache = VectorCache(max_entries=10, max_bytes=10**6)
    first = cache.encode(["Dog", "cat"], lower, compute)
    again = cache.encode(["cat", "dog", "Dog"], lower, compute)  # "dog" tokenizes like "Dog": a vector hit
    assert (
        np.array_equal(first[0], again[1]) and np.array_equal(first[0], again[2]) and np.array_equal(first[1], again[0])
    )
    assert calls == [2] and tokenized == [2, 1]  # only the new text "dog" was tokenized, nothing re-encoded


def test_zero_entries_means_off(tiny_models):
    assert not VectorCache(0, 10**6).enabled
    model = CachedPairModel(tiny_models / "entailment", VectorCache(0, 10**6))
    model.encode(["a dog", "a dog runs"])
    assert len(model.cache) == 0 and model.cache.misses == 0


def test_cached_vectors_equal_fresh_ones(tiny_models):
    plain = PairModel(tiny_models / "ranking")
    cached = CachedPairModel(tiny_models / "ranking", VectorCache(1000, 10**7))
    answers = ["the dog runs in the park", "a cat", "", "who is the man", "the dog runs in the park ."]
    first = cached.rank("where is the dog ?", answers)
    second = cached.rank("where is the dog ?", list(reversed(answers)))[::-1]  # all hits, other batch order
    assert cached.cache.hits >= len(answers)
    expected = plain.rank("where is the dog ?", answers)
    assert np.abs(first - expected).max() <= 1e-6 and np.abs(second - expected).max() <= 1e-6


def metric(text: str, name: str, encoder: str) -> float:
    found = re.search(rf'^{name}\{{encoder="{encoder}"\}} ([0-9.e+]+)$', text, re.MULTILINE)
    assert found, f"{name}{{encoder={encoder!r}}} not on /metrics"
    return float(found.group(1))


def test_metrics_show_the_cache_and_it_stays_bounded(client, tiny_models):
    words = sorted(w for w in PairModel(tiny_models / "paraphrase").tokenizer.get_vocab() if w.isalpha())[:40]
    texts = [f"{a} {b}" for a in words for b in words][:400]  # 400 distinct token sequences: past both test caps
    assert len(texts) == 400
    before = client.get("/metrics").text
    for start in range(0, len(texts), 16):
        assert client.post("/embed", json={"texts": texts[start : start + 16], "task": "paraphrase"}).status_code == 200
    assert client.post("/embed", json={"texts": texts[-5:], "task": "paraphrase"}).status_code == 200  # just seen: hits
    after = client.get("/metrics").text
    assert (
        metric(after, "pairscore_cache_misses_total", "paraphrase")
        - metric(before, "pairscore_cache_misses_total", "paraphrase")
        >= 400
    )
    assert (
        metric(after, "pairscore_cache_hits_total", "paraphrase")
        - metric(before, "pairscore_cache_hits_total", "paraphrase")
        >= 5
    )
    entries = metric(after, "pairscore_cache_entries", "paraphrase")
    size = metric(after, "pairscore_cache_bytes", "paraphrase")
    assert 0 < entries <= int(TEST_LIMITS["PAIRSCORE_CACHE_ENTRIES"])
    assert 0 < size <= float(TEST_LIMITS["PAIRSCORE_CACHE_MB"]) * 2**20


@pytest.mark.parametrize("task", ["entailment", "ranking"])
def test_every_encoder_has_counters(client, task):
    text = client.get("/metrics").text
    for name in (
        "pairscore_cache_hits_total",
        "pairscore_cache_misses_total",
        "pairscore_cache_entries",
        "pairscore_cache_bytes",
    ):
        metric(text, name, task)
