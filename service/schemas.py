"""Request and response bodies of the HTTP API (pydantic; BentoML derives /docs.json from them).

Types, required fields and non-empty lists are checked here (400 on failure). Size
limits are checked here too, right after a list's items validate, but raise
LimitExceeded (413 naming the limit) instead of a validation error: BentoML parses a
request before it joins an adaptive batch, so an over-limit request is refused alone.
The limits still appear in the schema as maxItems / maxLength.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Annotated, Any, Literal

from bentoml.validators import ContentType
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from pairscore.tasks import TASKS
from pairscore.tasks import TaskName as Task
from service.limits import Limits

LIMITS = Limits.from_env()
Text = Field(json_schema_extra={"maxLength": LIMITS.max_chars})
# A fixed media type: BentoML otherwise derives it from the output's JSON schema, rebuilt on every response.
JSON = ContentType("application/json")


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
    label: Literal[TASKS["entailment"].labels]  # type: ignore[valid-type]
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
    encoder: str = Field(description="the encoder file served")
    quantization: str = Field(description="how the served encoder is quantized: none (fp32), weight_only or static")
    architecture: dict[str, Any]
    metrics: dict[str, Any]
    data: list[Any]
    versions: dict[str, Any]
    created: str | None


class Info(BaseModel):
    models: dict[str, ModelInfo]
    limits: dict[str, int | float]


class ExplainedText(BaseModel):
    tokens: list[str] = Field(
        description="the text's tokens as the task model's tokenizer splits it, after truncation at max_tokens"
    )
    offsets: list[tuple[int, int]] = Field(description="each token's [start, end) character span in the text")
    weights: list[float] = Field(
        description="each token's share of the sentence vector: >= 0, summing to 1 (empty text: none)"
    )


class Explanation(BaseModel):
    task: Task
    # A plain object in the schema: BentoML's OpenAPI export keeps only the first member of a union of models.
    result: dict[str, Any] = Field(
        description="exactly what the task's endpoint answers for this pair: an EntailmentResult, a ParaphraseResult, "
        "or for ranking {score} (the score /rank gives this answer)"
    )
    method: Literal["winners", "occlusion"] = Field(
        description="winners: share of the max-pool dims a token wins; occlusion (encoders without winners): "
        "how far the vector moves without the token, normalized"
    )
    text_a: ExplainedText
    text_b: ExplainedText


def items(limit: int, description: str) -> Any:
    """A required non-empty list field, its limit shown in the schema."""
    return Field(min_length=1, description=description, json_schema_extra={"maxItems": limit})


def limited(field: str, limit_name: str, sides: dict[str, Callable[[Any], str]] | None = None) -> AfterValidator:
    """Refuse (413) a list `field` longer than LIMITS.<limit_name>, or any text in it over max_chars.

    `sides` names the text attributes of each item (`{"premise": lambda p: p.premise}`); without
    it the items are the texts. Reuse it for any new endpoint's list fields.
    """

    def check(values: Sequence[Any]) -> Sequence[Any]:
        LIMITS.check_count(field, len(values), limit_name)
        if sides is None:
            LIMITS.check_texts(field, values)
        else:
            for side, text in sides.items():
                LIMITS.check_texts(f"{field}.{side}", [text(item) for item in values])
        return values

    return AfterValidator(check)


def limited_text(field: str) -> AfterValidator:
    """Refuse (413) a single text over max_chars."""

    def check(value: str) -> str:
        LIMITS.check_texts(field, [value])
        return value

    return AfterValidator(check)


EntailmentPairs = Annotated[
    list[EntailmentPair],
    limited("pairs", "max_pairs", {"premise": lambda p: p.premise, "hypothesis": lambda p: p.hypothesis}),
]
ParaphrasePairs = Annotated[
    list[ParaphrasePair],
    limited("pairs", "max_pairs", {"text_a": lambda p: p.text_a, "text_b": lambda p: p.text_b}),
]
Answers = Annotated[list[str], limited("answers", "max_answers")]
Texts = Annotated[list[str], limited("texts", "max_texts")]
Question = Annotated[str, limited_text("question")]
TextA = Annotated[str, limited_text("text_a")]
TextB = Annotated[str, limited_text("text_b")]
