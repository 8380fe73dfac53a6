"""Request and response bodies of the HTTP API (pydantic; BentoML derives /docs.json from them).

Types, required fields and non-empty lists are checked here (400 on failure). Size
limits are checked by service.limits instead, so that an over-limit request gets 413
naming the limit; they still appear in the schema as maxItems / maxLength.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.limits import Limits

LIMITS = Limits.from_env()
Task = Literal["entailment", "paraphrase", "ranking"]
Text = Field(json_schema_extra={"maxLength": LIMITS.max_chars})


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EntailmentPair(_Strict):
    premise: str = Text
    hypothesis: str = Text


class ParaphrasePair(_Strict):
    text_a: str = Text
    text_b: str = Text


class Probabilities(BaseModel):
    entailment: float
    neutral: float
    contradiction: float


class EntailmentResult(BaseModel):
    label: Literal["entailment", "neutral", "contradiction"]
    probabilities: Probabilities


class ParaphraseResult(BaseModel):
    paraphrase: bool
    probability: float


class RankedAnswer(BaseModel):
    index: int = Field(description="position of the answer in the request")
    score: float


class ModelInfo(BaseModel):
    task: Task
    labels: list[str]
    threshold: float | None
    dim: int
    max_tokens: int
    encoder: str
    architecture: dict[str, Any]
    metrics: dict[str, Any]
    data: list[Any]
    versions: dict[str, Any]
    created: str | None


class Info(BaseModel):
    models: dict[str, ModelInfo]
    limits: dict[str, int | float]


def items(limit: int, description: str) -> Any:
    """A required non-empty list field, its limit shown in the schema."""
    return Field(min_length=1, description=description, json_schema_extra={"maxItems": limit})


class Job(_Strict):
    """One request's share of an adaptive batch: what PairScore sends the Scorer (limits already checked)."""

    task: Task
    op: Literal["pairs", "rank", "embed"]
    a: list[str] = Field(min_length=1)
    b: list[str] = []

    @model_validator(mode="after")
    def _consistent(self) -> "Job":
        if self.op == "pairs" and len(self.a) != len(self.b):
            raise ValueError("pairs: a and b must have the same length")
        if self.op == "rank" and (len(self.a) != 1 or not self.b):
            raise ValueError("rank: a holds the question, b at least one answer")
        if self.op == "embed" and self.b:
            raise ValueError("embed: b must be empty")
        return self


class JobResult(BaseModel):
    values: list[list[float]] = Field(description="per pair: head outputs; per text (embed): its vector")
