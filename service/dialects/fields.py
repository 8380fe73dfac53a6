"""What the dialects share: a text-or-texts input without token ids, under our limits, and unit-length vectors."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_serializer
from pydantic_core import PydanticCustomError

from service.schemas import LIMITS, limited

NORM_FLOOR = 1e-12  # a zero vector stays zero instead of dividing by zero (torch's F.normalize uses the same)


class Strict(BaseModel):
    """A nested body object: an unknown field is a 400, as in our own bodies."""

    model_config = ConfigDict(extra="forbid")


class OmitsNone(BaseModel):
    """An answer whose optional fields are left out when unset (`text`, `document`): the clients tell "not asked
    for" by the key's absence, and some refuse a null there."""

    @model_serializer(mode="wrap")
    def _without_absent_fields(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


def _no_token_ids(value: Any) -> Any:
    """Token ids (TEI's `[int]`, OpenAI's `[int]` / `[[int]]`) are refused by name: they are another model's ids."""
    if isinstance(value, list) and any(isinstance(item, int) or isinstance(item, list) for item in value):
        raise PydanticCustomError(
            "token_ids",
            "token ids are not accepted: send the texts, which pairscore tokenizes with each model's own "
            "tokenizer (LangChain's OpenAIEmbeddings sends ids unless check_embedding_ctx_length=False)",
        )
    return value


def _as_list(value: str | list[str]) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not value:
        raise PydanticCustomError("too_short", "List should have at least 1 item after validation, not 0")
    return value


def text_inputs(field: str) -> Any:
    """A text or a non-empty list of texts, as a list, within max_texts and max_chars (413 naming `field[i]`)."""
    return Annotated[
        str | list[str],
        BeforeValidator(_no_token_ids),
        AfterValidator(_as_list),
        limited(field, "max_texts"),
        Field(description=f"a text or a list of texts, at most {LIMITS.max_texts}"),
    ]


def unit_length(vectors: np.ndarray) -> np.ndarray:
    """Each row divided by its L2 norm: OpenAI's vectors, and TEI's unless `normalize` is false."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, NORM_FLOOR)


def sigmoid(scores: np.ndarray) -> np.ndarray:
    """A ranking score squashed into (0, 1), order kept: what TEI (raw_scores false) and Cohere answer."""
    return 1.0 / (1.0 + np.exp(-np.asarray(scores, dtype=np.float64)))
