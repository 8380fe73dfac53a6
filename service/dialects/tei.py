"""Hugging Face text-embeddings-inference (TEI): /embed with an `inputs` body, /rerank, /similarity, /predict.

Bodies and answers follow TEI's OpenAPI (docs/openapi.json of text-embeddings-inference 1.7): the same field
names, defaults and answer shapes, so clients written for TEI read them (tests/service/test_dialect_clients.py
drives huggingface_hub's InferenceClient, on which LangChain's HuggingFaceEndpointEmbeddings is built). Where TEI
serves one model, these pick ours by setting:
PAIRSCORE_TEI_EMBED_TASK (the encoder of /embed and /similarity), PAIRSCORE_TEI_PREDICT_TASK (the head of
/predict); /rerank is the ranking model, as /rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    Field,
    RootModel,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

from pairscore import tasks
from service.dialects.fields import OmitsNone, Strict, sigmoid, text_inputs, unit_length
from service.limits import check_count, check_text
from service.schemas import LIMITS, limited, limited_text

EMBED_OPTIONS = ("normalize", "prompt_name", "truncate", "truncation_direction")  # TEI's, beside `inputs`
NATIVE_EMBED = ("texts", "task")  # pairscore's /embed body
PREDICT_OPTIONS = ("raw_scores", "truncate", "truncation_direction", "parameters")


def _right_only(value: str | None) -> str | None:
    if value is not None and value.lower() != "right":
        raise PydanticCustomError(
            "truncation_direction",
            "only `right` is served: each model reads a text's first max_tokens tokens (/info shows max_tokens)",
        )
    return value


def _no_prompt(value: str | None) -> str | None:
    if value is not None:
        raise PydanticCustomError(
            "prompt_name", "the served encoders have no prompts (sentence-transformers' `prompts`): leave it out"
        )
    return value


Inputs = text_inputs("inputs")
Direction = Annotated[str | None, AfterValidator(_right_only), Field(description="`right` (or left out) only")]
PromptName = Annotated[str | None, AfterValidator(_no_prompt), Field(description="null only: no prompts")]


def embed_body(data: Any) -> Any:
    """/embed speaks two bodies: ours, `{"texts", "task"}`, and TEI's, `{"inputs", "normalize", ...}`.

    Exactly one of `texts` and `inputs`, and each body only its own fields, so neither of them loosens: a typo or
    a field of the other body is a 400, as before.
    """
    if not isinstance(data, dict):
        return data
    if (data.get("texts") is None) == (data.get("inputs") is None):
        raise PydanticCustomError(
            "texts_or_inputs",
            "send exactly one of `texts` (pairscore's body, with `task`) and `inputs` (text-embeddings-inference's, "
            "with normalize, prompt_name, truncate, truncation_direction)",
        )
    native = data.get("texts") is not None
    foreign = [key for key in (EMBED_OPTIONS + ("inputs",) if native else NATIVE_EMBED) if key in data]
    if foreign:
        raise PydanticCustomError(
            "mixed_body",
            "{fields}: not with `{field}`: a body is pairscore's {texts, task} or text-embeddings-inference's "
            "{inputs, normalize, prompt_name, truncate, truncation_direction}",
            {"fields": ", ".join(foreign), "field": "texts" if native else "inputs"},
        )
    return data


def embed_answer(vectors: np.ndarray, normalize: bool) -> list[list[float]]:
    return (unit_length(vectors) if normalize else vectors).tolist()


class Rank(OmitsNone):
    index: int = Field(description="position of the text in the request")
    score: float = Field(description="sigmoid of /rank's score, or /rank's score itself with raw_scores")
    text: str | None = Field(None, description="the text, with return_text")


# /rank's limits (PAIRSCORE_MAX_ANSWERS, PAIRSCORE_MAX_CHARS), under TEI's names
RerankTexts = Annotated[
    list[str],
    limited("texts", "max_answers"),
    Field(min_length=1, description="texts to rank", json_schema_extra={"maxItems": LIMITS.max_answers}),
]
Query = Annotated[str, limited_text("query"), Field(json_schema_extra={"maxLength": LIMITS.max_chars})]


def ranks(scores: np.ndarray, texts: Sequence[str], raw_scores: bool, return_text: bool) -> list[Rank]:
    """Best first (ties keep input order, as /rank)."""
    shown = np.asarray(scores, dtype=np.float64) if raw_scores else sigmoid(scores)
    order = sorted(range(len(texts)), key=lambda i: -float(scores[i]))
    return [Rank(index=i, score=float(shown[i]), text=texts[i] if return_text else None) for i in order]


class SimilarityInput(Strict):
    source_sentence: Annotated[str, limited_text("inputs.source_sentence")]
    sentences: Annotated[
        list[str],
        limited("inputs.sentences", "max_texts"),
        Field(min_length=1, json_schema_extra={"maxItems": LIMITS.max_texts}),
    ]


class SimilarityParameters(Strict):
    prompt_name: PromptName = None
    truncate: bool | None = None
    truncation_direction: Direction = None


def cosines(source: np.ndarray, others: np.ndarray) -> list[float]:
    """Cosine similarity of `source` with each row of `others`, in float64."""
    return (unit_length(others.astype(np.float64)) @ unit_length(source[None].astype(np.float64))[0]).tolist()


class TextPair(BaseModel):
    """One pair of /predict's `inputs`; `single` when the request sent one pair, not a list of them."""

    text_a: str
    text_b: str
    single: bool = False


def _pairs(value: Any) -> list[TextPair]:
    """TEI's PredictInput, for pair heads: `[a, b]` (one pair) or `[[a, b], ...]`; a lone text cannot be scored."""
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, str) for v in value)):
        single = [value] if isinstance(value, str) else value
        if len(single) != 2:
            raise PydanticCustomError(
                "pair",
                "send a pair [text_a, text_b] or a list of pairs: the served heads score pairs, not {count} text(s)",
                {"count": len(single)},
            )
        return [TextPair(text_a=single[0], text_b=single[1], single=True)]
    if not isinstance(value, list) or not value:
        raise PydanticCustomError("pairs", "send a pair [text_a, text_b] or a non-empty list of pairs")
    pairs = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(text, str) for text in pair)):
            raise PydanticCustomError(
                "pair", "[{i}]: each item is a pair of two texts [text_a, text_b] (the heads score pairs)", {"i": i}
            )
        pairs.append(TextPair(text_a=pair[0], text_b=pair[1]))
    return pairs


def _pairs_within_limits(pairs: list[TextPair]) -> list[TextPair]:
    check_count(LIMITS, "inputs", len(pairs), "max_pairs")
    for i, pair in enumerate(pairs):
        check_text(LIMITS, f"inputs[{i}][0]", pair.text_a)
        check_text(LIMITS, f"inputs[{i}][1]", pair.text_b)
    return pairs


_PAIR_SCHEMA = {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
PredictPairs = Annotated[
    list[TextPair],
    BeforeValidator(_pairs),
    AfterValidator(_pairs_within_limits),
    WithJsonSchema(
        {
            "description": f"a pair [text_a, text_b], or a list of at most {LIMITS.max_pairs} pairs",
            "anyOf": [
                _PAIR_SCHEMA,
                {"type": "array", "items": _PAIR_SCHEMA, "minItems": 1, "maxItems": LIMITS.max_pairs},
            ],
        }
    ),
]


class ClassificationParameters(Strict):
    """What huggingface_hub's text_classification sends beside `inputs` (TEI itself reads neither)."""

    function_to_apply: Literal["sigmoid", "softmax", "none"] | None = None
    top_k: int | None = None


class PredictOptions(Strict):
    raw_scores: bool = False
    truncate: bool | None = None
    truncation_direction: Direction = None
    parameters: ClassificationParameters | None = None


def _inlined(schema: dict[str, Any]) -> dict[str, Any]:
    """A model's JSON schema with its `$defs` written in place (BentoML's components do not hold them)."""
    defs = schema.pop("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return walk(defs[node["$ref"].rsplit("/", 1)[-1]])
            return {key: walk(value) for key, value in node.items()}
        return [walk(item) for item in node] if isinstance(node, list) else node

    return walk(schema)


PREDICT_DOCUMENTED = _inlined(PredictOptions.model_json_schema())["properties"]  # /docs.json: /predict's options


def predict_options(data: Any) -> Any:
    """/predict's options beside `inputs`, checked and taken out: the batched method takes `inputs` alone. An
    option asking for another answer than the head's probabilities of every label is refused, not dropped."""
    if not isinstance(data, dict):
        return data
    options = PredictOptions.model_validate({key: data[key] for key in PREDICT_OPTIONS if key in data})
    activation = tasks.get(LIMITS.tei_predict_task).activation
    parameters = options.parameters or ClassificationParameters()
    if options.raw_scores or parameters.function_to_apply not in (None, activation):
        raise PydanticCustomError(
            "raw_scores",
            "raw_scores, parameters.function_to_apply: the head gives {activation} probabilities, not logits: "
            "leave them out (or false, {activation})",
            {"activation": activation},
        )
    if parameters.top_k is not None:
        raise PydanticCustomError("top_k", "parameters.top_k: every label comes back, best first: leave it out")
    return {key: value for key, value in data.items() if key not in PREDICT_OPTIONS}


class Prediction(BaseModel):
    score: float
    label: str


class PairPredictions(BaseModel):
    """One pair's predictions, best first, and whether its request sent a single pair (answered unnested)."""

    single: bool
    predictions: list[Prediction]


def predictions(pairs: Sequence[TextPair], outputs: np.ndarray, labels: Sequence[str]) -> list[PairPredictions]:
    """Per pair, every label with its probability, best first (TEI's order); a one-probability head (paraphrase)
    gives its positive label p and the other 1 - p."""
    outputs = np.asarray(outputs, dtype=np.float64)
    rows = outputs if outputs.ndim == 2 else np.stack([1.0 - outputs, outputs], axis=1)
    answers = []
    for pair, row in zip(pairs, rows):
        ranked = sorted(zip(labels, row.tolist()), key=lambda item: -item[1])
        answers.append(
            PairPredictions(single=pair.single, predictions=[Prediction(score=p, label=label) for label, p in ranked])
        )
    return answers


class Predictions(RootModel[list[Prediction] | list[list[Prediction]]]):
    """/predict's answer: one pair's predictions for `[a, b]`, a list of them for `[[a, b], ...]`, as TEI."""

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if isinstance(value, list) and value and isinstance(value[0], PairPredictions):
            if value[0].single:
                return value[0].predictions
            return [item.predictions for item in value]
        return value
