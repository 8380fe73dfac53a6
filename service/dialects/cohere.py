"""Cohere rerank: POST /v2/rerank and /v1/rerank, answered by the ranking model as /rank.

Field for field as Cohere's API reference and the cohere SDK's request and response types (V2RerankResponse,
RerankResponse). `relevance_score` is /rank's score through a sigmoid: in (0, 1) as Cohere documents it, in the
same order. `model` names the ranking model (`ranking`; GET /v1/models lists the names).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Literal

import numpy as np
from bentoml.exceptions import InvalidArgument, NotFound
from pydantic import AfterValidator, BaseModel, Field

from pairscore.runtime.model import PairModel
from service.dialects.fields import OmitsNone, Strict, sigmoid
from service.limits import check_count, check_text
from service.schemas import LIMITS, limited_text

RERANKER = "ranking"  # the task whose model reranks, as /rank


class Document(Strict):
    """A v1 document object: only its `text` is ranked (and `rank_fields` may name only it)."""

    text: str


def _texts(documents: list[str | Document]) -> list[str]:
    check_count(LIMITS, "documents", len(documents), "max_answers")
    texts = [doc if isinstance(doc, str) else doc.text for doc in documents]
    for i, text in enumerate(texts):
        check_text(LIMITS, f"documents[{i}]", text)
    return texts


Documents = Annotated[
    list[str | Document],
    Field(
        min_length=1,
        description="texts, or objects with a `text`, to rank",
        json_schema_extra={"maxItems": LIMITS.max_answers},
    ),
    AfterValidator(_texts),
]
Query = Annotated[str, limited_text("query"), Field(json_schema_extra={"maxLength": LIMITS.max_chars})]


class RelevantSpans(Strict):
    mode: Literal["enabled", "disabled"]
    threshold: float | None = None
    max_spans: int | None = None


class DocumentText(BaseModel):
    text: str


class Result(OmitsNone):
    index: int = Field(description="position of the document in the request")
    relevance_score: float = Field(description="sigmoid of /rank's score for the document")
    document: DocumentText | None = Field(None, description="the document, with return_documents")


class ApiVersion(BaseModel):
    version: str


class Meta(BaseModel):
    api_version: ApiVersion


class Reranked(BaseModel):
    id: str = Field(description="a new UUID per answer")
    results: list[Result]
    meta: Meta


def reranker(models: dict[str, PairModel], name: str | None) -> PairModel:
    """The ranking model, which `model` must name (v1 may leave it out); 404 otherwise."""
    if name not in (None, RERANKER):
        raise NotFound(f"model: no reranker {name!r} is served here; the reranker is {RERANKER!r}")
    return models[RERANKER]


def check_options(
    model: PairModel,
    max_tokens_per_doc: int | None = None,
    relevant_spans: RelevantSpans | None = None,
    rank_fields: Sequence[str] | None = None,
) -> None:
    """Options that would change an answer the model cannot give are refused, not dropped."""
    if max_tokens_per_doc is not None and max_tokens_per_doc < model.max_tokens:
        raise InvalidArgument(
            f"max_tokens_per_doc: {max_tokens_per_doc} is under the {model.max_tokens} tokens the model reads per "
            "document (card max_tokens), which is all it truncates to; leave it out or raise it"
        )
    if relevant_spans is not None and relevant_spans.mode == "enabled":
        raise InvalidArgument("relevant_spans: the ranking model gives no spans; leave it out or `disabled`")
    if rank_fields is not None and list(rank_fields) != ["text"]:
        raise InvalidArgument("rank_fields: only `text` is ranked (documents are texts or objects with a `text`)")


def reranked(
    scores: np.ndarray, documents: Sequence[str], top_n: int | None, return_documents: bool, version: str
) -> Reranked:
    """Best first (ties keep input order, as /rank), the first top_n."""
    relevance = sigmoid(scores)
    order = sorted(range(len(documents)), key=lambda i: -float(scores[i]))[:top_n]
    results = [
        Result(
            index=i,
            relevance_score=float(relevance[i]),
            document=DocumentText(text=documents[i]) if return_documents else None,
        )
        for i in order
    ]
    return Reranked(id=str(uuid.uuid4()), results=results, meta=Meta(api_version=ApiVersion(version=version)))
