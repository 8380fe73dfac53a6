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

import bentoml
from bentoml.validators import ContentType
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from pairscore.tasks import TASKS
from pairscore.tasks import TaskName as Task
from service.limits import check_count, check_text, load

LIMITS = load()  # read when the service is imported: BentoML's decorator needs some values at class definition
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
    folder: str = Field(description="the model folder served, relative to the server's working directory if inside it")
    init_from: dict[str, Any] | None = Field(
        description="the model folder its training started from (folder, card sha256), as its card says; null: none"
    )
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


def strict_api(
    prepare: Callable[[Any], Any] | None = None, documented: dict[str, Any] | None = None, **options: Any
) -> Callable[[Callable[..., Any]], Any]:
    """`@bentoml.api(**options)` whose request body refuses unknown top-level fields (400 naming the field).

    BentoML builds an API's input model from the method's signature with pydantic's default
    extra="ignore", so a client's typo (`"top-k"`) would pass silently. This is the model
    BentoML builds (IODescriptor.from_input, the same call @bentoml.api makes), with
    extra="forbid" like the nested models; it keeps BentoML's name for it, so /docs.json
    keeps its component names. `prepare` sees the decoded body first (a pydantic before-validator):
    the rules between fields of a route two dialects share, or a dialect's options that are checked there
    and are not arguments of the method (a batchable method takes exactly one); `documented` gives those options'
    JSON schemas, so /docs.json shows them.
    """

    def decorate(func: Callable[..., Any]) -> Any:
        generated = bentoml.IODescriptor.from_input(func, skip_self=True)
        config = ConfigDict(extra="forbid")
        if documented:
            config["json_schema_extra"] = lambda schema: schema["properties"].update(documented)
        namespace: dict[str, Any] = {"model_config": config, "__module__": func.__module__}
        if prepare is not None:
            namespace["_prepare"] = model_validator(mode="before")(lambda cls, data: prepare(data))
        strict = type(generated.__name__, (generated,), namespace)
        return bentoml.api(input_spec=strict, **options)(func)

    return decorate


def items(limit: int, description: str, required: bool = True) -> Any:
    """A non-empty list field, its limit shown in the schema; not `required`: it may be left out (None)."""
    default: Any = ... if required else None
    return Field(default, min_length=1, description=description, json_schema_extra={"maxItems": limit})


def limited(field: str, limit_name: str, sides: Sequence[str] = ()) -> AfterValidator:
    """Refuse (413) a list `field` longer than LIMITS.<limit_name>, or any text in it over max_chars.

    `sides` names the text attributes of each item (`("premise", "hypothesis")`); without it
    the items are the texts. A text is named by its field path, as a 400 names a field:
    `pairs[3].premise`, `texts[0]`. Reuse it for any new endpoint's list fields.
    """

    def check(values: Sequence[Any]) -> Sequence[Any]:
        check_count(LIMITS, field, len(values), limit_name)
        for i, item in enumerate(values):
            if sides:
                for side in sides:
                    check_text(LIMITS, f"{field}[{i}].{side}", getattr(item, side))
            else:
                check_text(LIMITS, f"{field}[{i}]", item)
        return values

    return AfterValidator(check)


def limited_text(field: str) -> AfterValidator:
    """Refuse (413) a single text over max_chars, named `field`."""

    def check(value: str) -> str:
        check_text(LIMITS, field, value)
        return value

    return AfterValidator(check)


EntailmentPairs = Annotated[
    list[EntailmentPair],
    limited("pairs", "max_pairs", ("premise", "hypothesis")),
]
ParaphrasePairs = Annotated[
    list[ParaphrasePair],
    limited("pairs", "max_pairs", ("text_a", "text_b")),
]
Answers = Annotated[list[str], limited("answers", "max_answers")]
Texts = Annotated[list[str], limited("texts", "max_texts")]
Question = Annotated[str, limited_text("question")]
TextA = Annotated[str, limited_text("text_a")]
TextB = Annotated[str, limited_text("text_b")]
