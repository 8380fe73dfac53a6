"""OpenAI embeddings: POST /v1/embeddings, GET /v1/models and /v1/models/{model}.

Field for field as OpenAI's API reference (and the openai SDK's types, which validate the answers): `model` names
one of our encoders, a task (`GET /v1/models` lists them); vectors have length 1, as OpenAI's; `encoding_format`
`base64` (the SDK's default) is the float32 little-endian bytes of each vector. `usage` counts the tokens each model
reads, after truncation at its max_tokens.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Literal

import numpy as np
from bentoml.exceptions import InvalidArgument, NotFound
from pydantic import BaseModel, Field
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from pairscore.runtime.model import PairModel
from service.dialects.fields import text_inputs, unit_length

OWNER = "pairscore"
Input = text_inputs("input")


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str = Field(description="floats, or base64 of float32 little-endian bytes")


class Usage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class Embeddings(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class Model(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int = Field(description="Unix seconds: the model card's creation time (0 when the card has none)")
    owned_by: str = OWNER


def encoder(models: Mapping[str, PairModel], name: str) -> PairModel:
    """The encoder a `model` names; 404 (OpenAI's model_not_found) listing the served names otherwise."""
    if name not in models:
        raise NotFound(f"model: no model {name!r} is served here; the models are {', '.join(models)} (GET /v1/models)")
    return models[name]


def check_dimensions(dimensions: int | None, dim: int, name: str) -> None:
    """`dimensions` may only repeat the model's own: its vectors were not trained to be cut (no Matryoshka)."""
    if dimensions is not None and dimensions != dim:
        raise InvalidArgument(
            f"dimensions: {name} gives {dim}-dimensional vectors and cannot shorten them; leave dimensions out"
        )


def embeddings(
    vectors: np.ndarray, name: str, encoding_format: Literal["float", "base64"], tokens: Sequence[int]
) -> Embeddings:
    unit = unit_length(vectors).astype("<f4")
    if encoding_format == "base64":
        data = [base64.b64encode(row.tobytes()).decode("ascii") for row in unit]
    else:
        data = unit.tolist()
    usage = Usage(prompt_tokens=sum(tokens), total_tokens=sum(tokens))
    return Embeddings(data=[Embedding(index=i, embedding=row) for i, row in enumerate(data)], model=name, usage=usage)


def model_list(models: Mapping[str, PairModel]) -> list[Model]:
    """One entry per served task's encoder, named by the task."""
    return [Model(id=name, created=_unix(model.card.created)) for name, model in models.items()]


def _unix(created: str | None) -> int:
    return int(datetime.fromisoformat(created).timestamp()) if created else 0


async def _list(request: Request) -> JSONResponse:
    return JSONResponse({"object": "list", "data": [m.model_dump() for m in request.app.state.models]})


async def _retrieve(request: Request) -> JSONResponse:
    name = request.path_params["model"]
    found = next((m for m in request.app.state.models if m.id == name), None)
    if found is None:
        served = ", ".join(m.id for m in request.app.state.models)
        raise HTTPException(404, f"model: no model {name!r} is served here; the models are {served}")
    return JSONResponse(found.model_dump())


def models_app() -> Starlette:
    """GET /models and /models/{model}, mounted at /v1 (BentoML's own routes take POST only); the service hands it
    the list once its models are loaded (`state.models`)."""
    app = Starlette(
        routes=[Route("/models", _list, methods=["GET"]), Route("/models/{model}", _retrieve, methods=["GET"])]
    )
    app.state.models = []
    return app
