"""The encoder's length buckets (pairscore.runtime.chunks) and the threads that run them: every row once, within the
size limit, and on the SHIPPED models every vector equal to that text encoded alone, bit for bit."""

from __future__ import annotations

import random

import numpy as np
import pytest

from helpers import MODELS
from pairscore.runtime import chunks
from pairscore.runtime.model import PairModel


@pytest.mark.parametrize("n", [0, 1, 2, 7, 64, 65, 300, 1000])
@pytest.mark.parametrize("max_rows", [1, 16, 64])
@pytest.mark.parametrize("workers", [1, 2, 4])
def test_every_row_once_within_the_limit(n: int, max_rows: int, workers: int) -> None:
    lengths = [random.Random(n).choice([1, 3, 8, 12, 20, 40, 128]) for _ in range(n)]
    calls = chunks.plan(lengths, max_rows, workers)
    rows = np.concatenate(calls) if calls else np.array([], dtype=np.int64)
    assert sorted(rows.tolist()) == list(range(n))
    assert all(0 < len(c) <= max_rows for c in calls)


def test_one_pair_is_one_call_and_long_texts_leave_short_ones() -> None:
    assert len(chunks.plan([20, 9], 64, workers=2)) == 1  # a second call would cost more than the padding
    calls = chunks.plan([100] * 4 + [5] * 60, 64)
    assert [sorted({100 if i < 4 else 5 for i in c}) for c in calls] == [[100], [5]]


def test_a_lone_big_chunk_is_halved_for_the_second_worker() -> None:
    assert [len(c) for c in chunks.plan([16] * 40, 64, workers=2)] == [20, 20]
    assert [len(c) for c in chunks.plan([16] * 40, 64, workers=1)] == [40]
    assert [len(c) for c in chunks.plan([16] * 10, 64, workers=2)] == [10]  # too small to be worth a thread


@pytest.fixture(scope="module")
def model() -> PairModel:
    return PairModel(MODELS / "entailment", threads=2)


def test_shipped_encoder_bucketed_and_threaded_equals_alone(model: PairModel) -> None:
    rng = random.Random(0)
    words = "the a man woman dog plays runs in on park street quickly red blue guitar with near under".split()
    texts = [" ".join(rng.choice(words) for _ in range(rng.choice([0, 1, 3, 8, 15, 30, 60, 200]))) for _ in range(300)]
    ids = model.token_ids(texts)
    assert max(len(t) for t in ids) == model.max_tokens  # the 200-word texts are truncated
    together = model.encode_ids(ids)
    alone = np.stack([model.encode_ids([seq])[0] for seq in ids])
    np.testing.assert_array_equal(together, alone)


@pytest.mark.parametrize("copies", [1, 50])
def test_fast_token_ids_equal_the_full_encodings(model: PairModel, copies: int) -> None:
    texts = ["Ünïcödé café, naïve résumé!", "", "x" * 500, "a b " * 300, "中文 and 日本語 mixed", "  spaced   out  "]
    texts = [f"{text} {i}" for i in range(copies) for text in texts]
    assert model.token_ids(texts) == [enc.ids for enc in model.tokenizer.encode_batch(texts)]


def test_work_counts_padded_row_tokens_and_calls() -> None:
    lengths = [10, 4, 4, 30]
    calls = chunks.plan(lengths, 64)
    assert [lengths[c[0]] for c in calls] == sorted((lengths[c[0]] for c in calls), reverse=True)
    padded = sum(len(c) * max(lengths[i] for i in c) for c in calls)
    overheads = sum(chunks.STEP_COST * lengths[c[0]] + chunks.CALL_COST for c in calls)
    assert chunks.work(lengths, calls) == padded + overheads
