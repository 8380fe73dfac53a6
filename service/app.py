"""The pairscore HTTP service (BentoML 1.4): entailment, paraphrase, answer ranking, embeddings.

One BentoML service, one worker process. /entailment and /paraphrase are batchable
APIs: BentoML's in-process dispatcher (its CorkDispatcher, reached from the HTTP
route through `batch_infer`) merges the `pairs` of concurrent requests into one model
call and hands each request its slice back. A request is parsed and its limits checked
(service.schemas) before it joins a batch, so a bad request is refused alone. /rank,
already one big batch, and /embed call the model directly. Every model call runs in
BentoML's one model thread; answers never depend on the batch (the served encoder is
batch-independent) or on the vector cache (pairscore.runtime.cache). The drop-in routes of
text-embeddings-inference, OpenAI embeddings and Cohere rerank (service.dialects) are APIs of the same
service; TEI's /predict is batchable like /entailment. Every artifact is checked
before the worker starts; a bad one stops the server with the file named. Run:
`bentoml serve` in the repo root, or `pairscore serve`.
"""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Literal

import bentoml
from starlette.staticfiles import StaticFiles

from pairscore.jobs.explain import explain_pair
from pairscore.runtime.cache import CachedPairModel, CacheMetrics
from pairscore.runtime.loading import load_models, readable
from pairscore.runtime.model import PairModel
from pairscore.settings import LIMIT_FIELDS, env_name
from service import bentoml_mends, connections, gcstats
from service.auth import ApiKeyGuard, api_keys
from service.dialects import ROUTES as DIALECT_ROUTES
from service.dialects import cohere, openai, tei
from service.dialects.errors import DialectErrors
from service.image import IMAGE
from service.middleware import RequestGuard
from service.request_log import ClientErrorLog, quiet_client_errors
from service.schemas import (
    JSON,
    LIMITS,
    Answers,
    EntailmentPair,
    EntailmentPairs,
    EntailmentResult,
    Explanation,
    Info,
    ModelInfo,
    ParaphrasePair,
    ParaphrasePairs,
    ParaphraseResult,
    Question,
    RankedAnswer,
    Task,
    TextA,
    TextB,
    Texts,
    items,
    strict_api,
)

# before BentoML builds the worker's app and dispatchers: requests let go once answered, none held back while idle
bentoml_mends.install()
connections.install(LIMITS)  # before BentoML builds the worker's uvicorn: limits on heads and connections
logger = logging.getLogger("pairscore")
SOURCE_ROOT = (
    Path(__file__).resolve().parent.parent
)  # the folder holding service/ and pairscore/ (repo root or Bento src)
# The routes RequestGuard watches (body size, in-flight count, timeout); a new endpoint adds its route here.
PUBLIC_ROUTES = frozenset({"/entailment", "/paraphrase", "/rank", "/embed", "/info", "/explain"}) | DIALECT_ROUTES
UI_DIR = Path(__file__).resolve().parent / "ui"  # the /ui demo page: static files, no build step
BATCHED = {"batchable": True, "max_batch_size": LIMITS.max_batch_pairs, "max_latency_ms": LIMITS.max_latency_ms}
OPENAI_MODELS = openai.models_app()  # GET /v1/models: BentoML's API routes take POST only


@bentoml.service(
    name="pairscore",
    image=IMAGE,
    workers=1,  # one process: the model's encoder threads use the cores (PAIRSCORE_ORT_THREADS)
    threads=1,  # BentoML's model thread: one model call at a time, batched or direct
    # backstop, counted from the request's head: RequestGuard answers 408 (body) or 503 (answer) first
    traffic={"timeout": LIMITS.body_timeout_s + LIMITS.timeout_s + 10},
    logging={"access": {"enabled": bool(LIMITS.access_log)}},
    # BentoML opens an OpenTelemetry span per request even with no exporter set: a fifth of a 1-pair request's worker
    # CPU (benchmarks/breakdown.py). Its own excluded_urls skips them; PAIRSCORE_TRACING=1 keeps them.
    tracing={} if LIMITS.tracing else {"excluded_urls": ".*"},
)
class PairScore:
    @bentoml.on_deployment
    def check_models() -> None:
        """Load and check every artifact once, before the worker starts, in a child process.

        A worker that fails in __init__ is restarted forever by BentoML's process manager;
        failing here instead stops `bentoml serve` with the file named. A child process,
        so that BentoML's supervisor does not keep the loaded models' memory for good.
        """
        code = "import sys; from pairscore.runtime.loading import check_all; sys.exit(check_all())"
        # `python -c` imports from its working directory: the folder holding pairscore/ (repo root or Bento src)
        done = subprocess.run([sys.executable, "-c", code], cwd=SOURCE_ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(
                (done.stdout + done.stderr).strip() or f"pairscore: the model check exited with {done.returncode}"
            )

    def __init__(self) -> None:
        self.models: dict[str, PairModel] = load_models(
            cache_entries=LIMITS.cache_entries, cache_bytes=int(LIMITS.cache_mb * 2**20)
        )
        self._register_cache_metrics()
        OPENAI_MODELS.state.models = openai.model_list(self.models)
        if LIMITS.gc_freeze:
            logger.info("pairscore: %d objects frozen out of the collector's reach", gcstats.freeze())
        gcstats.install_metrics()
        logger.info("pairscore: serving %s", {t: str(m.model_dir / m.encoder_file) for t, m in self.models.items()})

    def _register_cache_metrics(self) -> None:
        """One metrics label per cache: the tasks that share it (same encoder file), e.g. `ranking`."""
        sharing: dict[int, list[str]] = {}
        for task, model in self.models.items():
            if isinstance(model, CachedPairModel):
                sharing.setdefault(id(model.cache), []).append(task)
        for model in self.models.values():
            if isinstance(model, CachedPairModel) and model.cache.metrics is None:
                model.cache.metrics = CacheMetrics("+".join(sharing[id(model.cache)]))
                model.cache.metrics.record(0, 0, len(model.cache), model.cache.bytes)

    @strict_api(**BATCHED)
    def entailment(
        self, pairs: EntailmentPairs = items(LIMITS.max_pairs, "premise/hypothesis pairs")
    ) -> Annotated[list[EntailmentResult], JSON]:
        """Entailment label and class probabilities per pair, in input order."""
        model = self.models["entailment"]
        outputs = model.score_pairs([p.premise for p in pairs], [p.hypothesis for p in pairs])
        return [EntailmentResult(**result) for result in model.results(outputs)]

    @strict_api(**BATCHED)
    def paraphrase(
        self, pairs: ParaphrasePairs = items(LIMITS.max_pairs, "text pairs")
    ) -> Annotated[list[ParaphraseResult], JSON]:
        """Paraphrase probability per pair and the decision at the card's threshold."""
        model = self.models["paraphrase"]
        outputs = model.score_pairs([p.text_a for p in pairs], [p.text_b for p in pairs])
        return [ParaphraseResult(**result) for result in model.results(outputs)]

    @strict_api()
    def rank(
        self,
        question: Question = bentoml.Field(json_schema_extra={"maxLength": LIMITS.max_chars}),
        answers: Answers = items(LIMITS.max_answers, "candidate answers"),
        top_k: int | None = bentoml.Field(default=None, ge=1, description="return only the best top_k answers"),
    ) -> Annotated[list[RankedAnswer], JSON]:
        """Answers by descending relevance to the question (ties keep input order); the question is encoded once."""
        scores = self.models["ranking"].rank(question, answers).tolist()
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [RankedAnswer(index=i, score=scores[i]) for i in order[:top_k]]

    @strict_api(prepare=tei.embed_body)
    def embed(
        self,
        texts: Texts | None = items(LIMITS.max_texts, "texts to embed", required=False),
        task: Task = "entailment",
        inputs: tei.Inputs | None = None,
        normalize: bool = True,
        prompt_name: tei.PromptName = None,
        truncate: bool | None = None,
        truncation_direction: tei.Direction = None,
    ) -> Annotated[list[list[float]], JSON]:
        """Sentence vectors from the task's encoder, one per text. Or text-embeddings-inference's body: `inputs`
        (a text or texts) from PAIRSCORE_TEI_EMBED_TASK's encoder, unit length unless `normalize` is false."""
        if texts is not None:
            return self.models[task].encode(texts).tolist()
        return tei.embed_answer(self.models[LIMITS.tei_embed_task].encode(inputs), normalize)

    @strict_api()
    def rerank(
        self,
        query: tei.Query,
        texts: tei.RerankTexts,
        raw_scores: bool = False,
        return_text: bool = False,
        truncate: bool | None = None,
        truncation_direction: tei.Direction = None,
    ) -> Annotated[list[tei.Rank], JSON]:
        """text-embeddings-inference's rerank: the texts by /rank's score, best first (sigmoid unless raw_scores)."""
        return tei.ranks(self.models["ranking"].rank(query, texts), texts, raw_scores, return_text)

    @strict_api()
    def similarity(
        self, inputs: tei.SimilarityInput, parameters: tei.SimilarityParameters | None = None
    ) -> Annotated[list[float], JSON]:
        """text-embeddings-inference's similarity: cosine of source_sentence with each of sentences, by
        PAIRSCORE_TEI_EMBED_TASK's encoder."""
        vectors = self.models[LIMITS.tei_embed_task].encode([inputs.source_sentence, *inputs.sentences])
        return tei.cosines(vectors[0], vectors[1:])

    @strict_api(prepare=tei.predict_options, documented=tei.PREDICT_DOCUMENTED, **BATCHED)
    def predict(self, inputs: tei.PredictPairs) -> Annotated[tei.Predictions, JSON]:
        """text-embeddings-inference's predict for pairs: PAIRSCORE_TEI_PREDICT_TASK's labels and probabilities,
        best first; batched with concurrent /predict requests as /entailment is."""
        model = self.models[LIMITS.tei_predict_task]
        outputs = model.score_pairs([p.text_a for p in inputs], [p.text_b for p in inputs])
        return tei.predictions(inputs, outputs, model.labels)

    @strict_api(route="/v1/embeddings")
    def openai_embeddings(
        self,
        input: openai.Input,
        model: str,
        encoding_format: Literal["float", "base64"] = "float",
        dimensions: int | None = None,
        user: str | None = None,
    ) -> Annotated[openai.Embeddings, JSON]:
        """OpenAI's embeddings: `model` names a task's encoder (GET /v1/models); vectors of length 1."""
        encoder = openai.encoder(self.models, model)
        openai.check_dimensions(dimensions, encoder.dim, model)
        vectors = encoder.encode(input)
        return openai.embeddings(vectors, model, encoding_format, encoder.token_counts(input))

    @strict_api(route="/v2/rerank")
    def cohere_rerank(
        self,
        model: str,
        query: cohere.Query,
        documents: cohere.Documents,
        top_n: int | None = bentoml.Field(default=None, ge=1),
        return_documents: bool = False,
        max_tokens_per_doc: int | None = None,
        relevant_spans: cohere.RelevantSpans | None = None,
        priority: int | None = None,
    ) -> Annotated[cohere.Reranked, JSON]:
        """Cohere's rerank (v2): the documents by /rank's score, best first, relevance_score its sigmoid."""
        reranker = cohere.reranker(self.models, model)
        cohere.check_options(reranker, max_tokens_per_doc=max_tokens_per_doc, relevant_spans=relevant_spans)
        return cohere.reranked(reranker.rank(query, documents), documents, top_n, return_documents, "2")

    @strict_api(route="/v1/rerank")
    def cohere_rerank_v1(
        self,
        query: cohere.Query,
        documents: cohere.Documents,
        model: str | None = None,
        top_n: int | None = bentoml.Field(default=None, ge=1),
        return_documents: bool = False,
        rank_fields: list[str] | None = None,
        max_chunks_per_doc: int | None = None,
    ) -> Annotated[cohere.Reranked, JSON]:
        """Cohere's rerank (v1): as v2; documents may be objects with a `text`."""
        reranker = cohere.reranker(self.models, model)
        cohere.check_options(reranker, rank_fields=rank_fields)
        return cohere.reranked(reranker.rank(query, documents), documents, top_n, return_documents, "1")

    @strict_api()
    async def info(self) -> Annotated[Info, JSON]:
        """Model cards (labels, threshold, encoder, quantization, architecture, metrics, versions) and active limits."""
        models = {task: model_info(model) for task, model in self.models.items()}
        limits = {env_name(name): getattr(LIMITS, name) for name in LIMIT_FIELDS}
        return Info(models=models, limits=limits)

    @strict_api()
    def explain(self, task: Task, text_a: TextA, text_b: TextB) -> Annotated[Explanation, JSON]:
        """The task endpoint's answer for one pair, and each text's tokens weighted by their share of its vector."""
        if task == "entailment":
            (answer,) = self.entailment.local([EntailmentPair(premise=text_a, hypothesis=text_b)])
        elif task == "paraphrase":
            (answer,) = self.paraphrase.local([ParaphrasePair(text_a=text_a, text_b=text_b)])
        else:
            (answer,) = self.rank.local(question=text_a, answers=[text_b])
        result = answer.model_dump(exclude={"index"})  # a ranked answer's place in a one-answer list says nothing
        return Explanation(**explain_pair(self.models[task], text_a, text_b, result=result))


def model_info(model: PairModel) -> ModelInfo:
    card = model.card
    return ModelInfo(
        task=card.task,
        labels=card.labels,
        threshold=card.threshold,
        dim=card.dim,
        max_tokens=card.max_tokens,
        folder=str(readable(model.model_dir)),
        init_from=card.init_from,
        encoder=model.encoder_file,
        quantization=model.quantization,
        architecture=card.architecture,
        metrics=card.metrics,
        data=card.data,
        versions=card.versions,
        created=card.created,
    )


quiet_client_errors()
PairScore.add_asgi_middleware(DialectErrors)  # outermost: TEI's and OpenAI's error shapes on their routes
PairScore.add_asgi_middleware(ClientErrorLog)  # sees every 4xx in our envelope, RequestGuard's too
PairScore.add_asgi_middleware(RequestGuard, limits=LIMITS, guarded=[PUBLIC_ROUTES])
# Inside RequestGuard: a refused request's body has been read, so its client gets the 401, not a reset connection.
PairScore.add_asgi_middleware(ApiKeyGuard, keys=api_keys(LIMITS))
PairScore.mount_asgi_app(StaticFiles(directory=UI_DIR, html=True), path="/ui", name="ui")
PairScore.mount_asgi_app(OPENAI_MODELS, path="/v1", name="openai_models")
if LIMITS.debug_gc:
    PairScore.mount_asgi_app(gcstats.debug_app, path="/debug", name="debug")
