"""Which texts share an encoder call: length buckets, so that padding costs little and calls stay few.

The encoder runs its LSTM over every padded step of every row, so a chunk costs about its row count times its
longest text; one long text in a chunk of short ones multiplies the chunk's cost. A fixed 64-text chunk of
length-sorted SNLI texts ran 2.0x the real tokens. Cutting at every length change instead pays the per-call cost
(about 9 tokens' worth of one row on the 1-layer BiLSTM) and the per-step cost (about one row-token) once more per
chunk. The greedy cut below, from the longest text down, lands within about 5 % of the exact optimum of that cost
model (dynamic programming, too slow to run per request in Python) on SNLI requests of 1-256 pairs and on a
1,000-answer /rank (benchmarks/roofline.py's `chunking` table measures the padded tokens it leaves).

Which texts share a call never changes a vector: the encoder is padding- and batch-independent.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

CALL_COST = 9.0  # the fixed cost of one encoder call, in row-tokens (one row, one step): measured, 1-layer BiLSTM
STEP_COST = 1.0  # the per-step cost of a call, independent of its rows, in row-tokens
MIN_CUT = 1  # never cut between texts whose lengths differ by this many tokens or fewer ...
MIN_CUT_SHARE = 0.2  # ... or by this share of the chunk's longest text or less
MIN_SPLIT_ROWS = 16  # a chunk with fewer rows is not split in two just to give a second thread work
# Below this many row-tokens in all (about 1 ms on one core), the chunks run one after the other on the calling
# thread: handing them to other threads costs more than it saves, and leaves the HTTP thread a core.
MIN_THREADED_WORK = 256


def work(lengths: Sequence[int], calls: Sequence[np.ndarray]) -> float:
    """The cost model's estimate of plan()'s `calls` (each longest first), in row-tokens: rows x longest, plus the
    per-step and per-call costs."""
    return sum((len(rows) + STEP_COST) * lengths[rows[0]] + CALL_COST for rows in calls)


def plan(lengths: Sequence[int], max_rows: int, workers: int = 1) -> list[np.ndarray]:
    """Row indices of each encoder call, longest texts first; every row in exactly one chunk of <= max_rows rows.

    With workers > 1, a request that makes fewer chunks than workers has its largest chunks halved (while they have
    at least MIN_SPLIT_ROWS rows), so that every worker gets one.
    """
    lens = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lens, kind="stable")
    ordered = lens[order].tolist()
    n = len(ordered)
    chunks: list[np.ndarray] = []
    start = 0
    while start < n:
        longest = ordered[start]
        floor = longest - max(MIN_CUT, MIN_CUT_SHARE * longest)
        end = start + 1
        while end < n and end - start < max_rows:
            length = ordered[end]
            # cut when the padding the rest would carry costs more than one more call
            if length < floor and (longest - length) * min(n - end, max_rows) > CALL_COST + STEP_COST * length:
                break
            end += 1
        chunks.append(order[start:end])
        start = end
    while 0 < len(chunks) < workers:
        largest = max(range(len(chunks)), key=lambda k: len(chunks[k]))
        rows = chunks[largest]
        if len(rows) < MIN_SPLIT_ROWS:
            break
        chunks[largest : largest + 1] = [rows[: len(rows) // 2], rows[len(rows) // 2 :]]
    return chunks


def worth_threads(lengths: Sequence[int], calls: Sequence[np.ndarray]) -> bool:
    """Whether plan()'s `calls` are worth handing to other threads: two or more, and MIN_THREADED_WORK in all."""
    return len(calls) > 1 and work(lengths, calls) >= MIN_THREADED_WORK
