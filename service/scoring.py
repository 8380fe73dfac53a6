"""Run one adaptive batch: the jobs of many concurrent requests, merged per task.

All texts of a task are encoded together (runtime.PairModel.encode: each distinct
text once, length-sorted chunks, padding-invariant encoder), then the head runs once
over all pairs of the task. Every output row depends only on its own pair, so a
request gets the same numbers alone, in a batch, or merged with others.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

import numpy as np

from service.runtime import PairModel
from service.schemas import Job


def run_jobs(models: dict[str, PairModel], jobs: Sequence[Job]) -> list[list[list[float]]]:
    """Per job: head-output rows (pairs, rank) or vectors (embed), in the job's order."""
    results: list[list[list[float]]] = [[] for _ in jobs]
    by_task: dict[str, list[int]] = defaultdict(list)
    for i, job in enumerate(jobs):
        by_task[job.task].append(i)
    for task, members in by_task.items():
        model = models[task]
        texts = [text for i in members for text in (*jobs[i].a, *jobs[i].b)]
        vectors = model.encode(texts)
        u_rows, v_rows, spans, start, offset = [], [], {}, 0, 0
        texts_a: list[str] = []  # the pairs' texts, for the head's pair features (when the card has them)
        texts_b: list[str] = []
        for i in members:
            job = jobs[i]
            a = vectors[start : start + len(job.a)]
            b = vectors[start + len(job.a) : start + len(job.a) + len(job.b)]
            start += len(job.a) + len(job.b)
            if job.op == "embed":
                results[i] = a.tolist()
                continue
            u_rows.append(np.repeat(a, len(b), axis=0) if job.op == "rank" else a)
            v_rows.append(b)
            texts_a += list(job.a) * len(job.b) if job.op == "rank" else list(job.a)
            texts_b += list(job.b)
            spans[i] = (offset, offset + len(b))
            offset += len(b)
        if not spans:
            continue
        out = model.head(np.concatenate(u_rows), np.concatenate(v_rows), model.pair_features(texts_a, texts_b))
        out = out.reshape(len(out), -1)
        for i, (lo, hi) in spans.items():
            results[i] = out[lo:hi].tolist()
    return results
