"""The pairscore HTTP service (BentoML 1.4): entailment, paraphrase, answer ranking, embeddings.

Two BentoML services in one `bentoml serve`: `PairScore`, the public one, validates
each request and turns it into one `Job`; `Scorer`, its dependency (own process,
reached over a local socket, not exposed), holds the models and has the batchable
`run` API, so BentoML's adaptive batcher merges the jobs of concurrent requests into
one model call (service.scoring). Every artifact is checked before any worker
starts; a bad one stops the server with the file named. Run: `bentoml serve` in
the repo root, or `pairscore serve`.
"""

from __future__ import annotations

import logging

import aiohttp
import bentoml
from bentoml.exceptions import BentoMLException

from pairscore.artifact import ArtifactError
from service.errors import Overloaded
from service.limits import ENV
from service.loading import load_models, model_root, read_cards
from service.runtime import DEFAULT_MAX_TOKENS
from service.middleware import RequestGuard
from service.schemas import (
    LIMITS,
    EntailmentPair,
    EntailmentResult,
    Info,
    Job,
    JobResult,
    ModelInfo,
    ParaphrasePair,
    ParaphraseResult,
    Probabilities,
    RankedAnswer,
    Task,
    items,
)
from service.scoring import run_jobs

logger = logging.getLogger("pairscore")
PUBLIC_ROUTES = frozenset({"/entailment", "/paraphrase", "/rank", "/embed", "/info"})


@bentoml.service(
    name="pairscore-scorer",
    workers=1,  # one process: onnxruntime uses the cores (PAIRSCORE_ORT_THREADS)
    traffic={"timeout": LIMITS.timeout_s + 10},
    # BentoML's client to this service replaces its connection session every
    # max_requests calls (default 100) and fails the calls still in flight on the old
    # one ("Cannot write to closing transport", a 500 under concurrency): never replace it.
    runner_connection={"max_requests": 2**62, "max_age": 1e12},
)
class Scorer:
    """Runs the three models; not exposed, PairScore calls it."""

    @bentoml.on_deployment
    def check_models() -> None:
        """Load and check every artifact once in the main process, before any worker starts.

        A worker that fails in __init__ is restarted forever by BentoML's process
        manager; failing here instead stops `bentoml serve` with the file named.
        """
        root = model_root()
        try:
            load_models(root)
        except ArtifactError as exc:
            raise SystemExit(f"pairscore: cannot serve the models in {root}: {exc}") from None

    def __init__(self) -> None:
        self.models = load_models()
        logger.info("pairscore: serving %s", {t: str(m.model_dir) for t, m in self.models.items()})

    @bentoml.api(batchable=True, max_batch_size=LIMITS.max_batch_requests, max_latency_ms=LIMITS.max_latency_ms)
    def run(self, jobs: list[Job]) -> list[JobResult]:
        """One adaptive batch: the jobs of concurrent requests, merged."""
        return [JobResult(values=values) for values in run_jobs(self.models, jobs)]


@bentoml.service(
    name="pairscore",
    workers=1,
    traffic={"timeout": LIMITS.timeout_s + 10},  # backstop; RequestGuard answers 503 first
)
class PairScore:
    scorer = bentoml.depends(Scorer)

    def __init__(self) -> None:
        self.cards = read_cards(model_root())

    async def _run(self, job: Job) -> list[list[float]]:
        try:
            (result,) = await self.scorer.to_async.run([job])
        except BentoMLException as exc:
            if exc.error_code == 503:
                raise Overloaded("the adaptive batcher is shedding load; retry later") from exc
            raise
        except aiohttp.ClientConnectionError as exc:  # the scorer process is (re)starting
            raise Overloaded("the scorer is not reachable right now; retry later") from exc
        return result.values

    @bentoml.api
    async def entailment(
        self, pairs: list[EntailmentPair] = items(LIMITS.max_pairs, "premise/hypothesis pairs")
    ) -> list[EntailmentResult]:
        """Entailment label and class probabilities per pair, in input order."""
        LIMITS.check_count("pairs", len(pairs), "max_pairs")
        LIMITS.check_texts("pairs.premise", [p.premise for p in pairs])
        LIMITS.check_texts("pairs.hypothesis", [p.hypothesis for p in pairs])
        job = Job(task="entailment", op="pairs", a=[p.premise for p in pairs], b=[p.hypothesis for p in pairs])
        labels = self.cards["entailment"]["labels"]
        results = []
        for row in await self._run(job):
            probs = dict(zip(labels, row))
            results.append(EntailmentResult(label=max(probs, key=probs.get), probabilities=Probabilities(**probs)))
        return results

    @bentoml.api
    async def paraphrase(
        self, pairs: list[ParaphrasePair] = items(LIMITS.max_pairs, "text pairs")
    ) -> list[ParaphraseResult]:
        """Paraphrase probability per pair and the decision at the card's threshold."""
        LIMITS.check_count("pairs", len(pairs), "max_pairs")
        LIMITS.check_texts("pairs.text_a", [p.text_a for p in pairs])
        LIMITS.check_texts("pairs.text_b", [p.text_b for p in pairs])
        job = Job(task="paraphrase", op="pairs", a=[p.text_a for p in pairs], b=[p.text_b for p in pairs])
        threshold = self.cards["paraphrase"].get("threshold")
        threshold = 0.5 if threshold is None else threshold
        return [ParaphraseResult(paraphrase=row[0] >= threshold, probability=row[0]) for row in await self._run(job)]

    @bentoml.api
    async def rank(
        self,
        question: str = bentoml.Field(json_schema_extra={"maxLength": LIMITS.max_chars}),
        answers: list[str] = items(LIMITS.max_answers, "candidate answers"),
        top_k: int | None = bentoml.Field(default=None, ge=1, description="return only the best top_k answers"),
    ) -> list[RankedAnswer]:
        """Answers by descending relevance to the question (ties keep input order); the question is encoded once."""
        LIMITS.check_count("answers", len(answers), "max_answers")
        LIMITS.check_texts("question", [question])
        LIMITS.check_texts("answers", answers)
        rows = await self._run(Job(task="ranking", op="rank", a=[question], b=list(answers)))
        order = sorted(range(len(rows)), key=lambda i: -rows[i][0])
        return [RankedAnswer(index=i, score=rows[i][0]) for i in order[:top_k]]

    @bentoml.api
    async def embed(
        self,
        texts: list[str] = items(LIMITS.max_texts, "texts to embed"),
        task: Task = "entailment",
    ) -> list[list[float]]:
        """Sentence vectors from the task's encoder, one per text."""
        LIMITS.check_count("texts", len(texts), "max_texts")
        LIMITS.check_texts("texts", texts)
        return await self._run(Job(task=task, op="embed", a=list(texts)))

    @bentoml.api
    def info(self) -> Info:
        """Served models (cards: labels, threshold, architecture, metrics, versions) and the active limits."""
        models = {task: model_info(card) for task, card in self.cards.items()}
        limits = {ENV[name]: value for name, value in vars(LIMITS).items()}
        return Info(models=models, limits=limits)


def model_info(card: dict) -> ModelInfo:
    return ModelInfo(
        task=card["task"],
        labels=card["labels"],
        threshold=card.get("threshold"),
        dim=card["dim"],
        max_tokens=card.get("max_tokens", DEFAULT_MAX_TOKENS),
        encoder=card["graphs"]["encoder"],
        architecture=card.get("architecture", {}),
        metrics=card.get("metrics", {}),
        data=card.get("data", []),
        versions=card.get("versions", {}),
        created=card.get("created"),
    )


PairScore.add_asgi_middleware(RequestGuard, limits=LIMITS, guarded=[PUBLIC_ROUTES])
