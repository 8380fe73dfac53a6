"""Benchmark-only prototype (not served in production): /entailment and /rank with in-process batching.

service.app hands every request's Job to a second BentoML service (Scorer: its own process, reached
through BentoML's client over a local socket, with BentoML's adaptive batcher): the Job is serialized,
passes BentoML's server middleware (OpenTelemetry, metrics, access log) a second time, and the result
comes back the same way. This prototype keeps everything else (same models, same
service.scoring.run_jobs, same RequestGuard, same response schemas) and replaces that hop by an
in-process micro-batcher: jobs queue on an asyncio queue, one task drains whatever is queued (up to
max_batch_requests) and runs run_jobs in a thread. Used by
`http_load.py --service benchmarks.proto_direct:PairScoreDirect` to measure what the hop costs.
"""

from __future__ import annotations

import asyncio

import bentoml

from service.loading import load_models
from service.middleware import RequestGuard
from service.schemas import LIMITS, EntailmentPair, EntailmentResult, Job, Probabilities, RankedAnswer, items
from service.scoring import run_jobs


class MicroBatcher:
    """Merge the jobs that are waiting into one run_jobs call; never waits for more to arrive."""

    def __init__(self, models, max_jobs: int) -> None:
        self.models, self.max_jobs = models, max_jobs
        self.queue: asyncio.Queue | None = None
        self.task: asyncio.Task | None = None

    async def submit(self, job: Job) -> list[list[float]]:
        if self.queue is None:
            self.queue = asyncio.Queue()
            self.task = asyncio.create_task(self._drain())
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((job, future))
        return await future

    async def _drain(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while not self.queue.empty() and len(batch) < self.max_jobs:
                batch.append(self.queue.get_nowait())
            try:
                results = await asyncio.to_thread(run_jobs, self.models, [job for job, _ in batch])
                for (_, future), values in zip(batch, results):
                    if not future.done():
                        future.set_result(values)
            except Exception as exc:  # noqa: BLE001 - handed to every waiting request
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)


@bentoml.service(name="pairscore-direct", workers=1, traffic={"timeout": LIMITS.timeout_s + 10})
class PairScoreDirect:
    def __init__(self) -> None:
        self.models = load_models()
        self.batcher = MicroBatcher(self.models, LIMITS.max_batch_requests)

    @bentoml.api
    async def entailment(self, pairs: list[EntailmentPair] = items(LIMITS.max_pairs, "premise/hypothesis pairs")) -> list[EntailmentResult]:
        LIMITS.check_count("pairs", len(pairs), "max_pairs")
        LIMITS.check_texts("pairs.premise", [p.premise for p in pairs])
        LIMITS.check_texts("pairs.hypothesis", [p.hypothesis for p in pairs])
        job = Job(task="entailment", op="pairs", a=[p.premise for p in pairs], b=[p.hypothesis for p in pairs])
        labels = self.models["entailment"].labels
        results = []
        for row in await self.batcher.submit(job):
            probs = dict(zip(labels, row))
            results.append(EntailmentResult(label=max(probs, key=probs.get), probabilities=Probabilities(**probs)))
        return results

    @bentoml.api
    async def rank(
        self,
        question: str = bentoml.Field(json_schema_extra={"maxLength": LIMITS.max_chars}),
        answers: list[str] = items(LIMITS.max_answers, "candidate answers"),
        top_k: int | None = bentoml.Field(default=None, ge=1),
    ) -> list[RankedAnswer]:
        LIMITS.check_count("answers", len(answers), "max_answers")
        rows = await self.batcher.submit(Job(task="ranking", op="rank", a=[question], b=list(answers)))
        order = sorted(range(len(rows)), key=lambda i: -rows[i][0])
        return [RankedAnswer(index=i, score=rows[i][0]) for i in order[:top_k]]


PairScoreDirect.add_asgi_middleware(RequestGuard, limits=LIMITS, guarded=[frozenset({"/entailment", "/rank"})])

# BentoML 1.4 derives each response's media type from the output model's JSON schema on every
# response (IOMixin.mime_type -> model_json_schema, ~9% of a 1-pair request's CPU); a fixed media
# type skips that. PAIRSCORE_PROTO_SCHEMA=1 keeps BentoML's default, to measure the difference.
import os  # noqa: E402

if os.environ.get("PAIRSCORE_PROTO_SCHEMA") != "1":
    for _name in ("entailment", "rank"):
        PairScoreDirect.apis[_name].output_spec.media_type = "application/json"
