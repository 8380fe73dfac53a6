"""What BentoML's /docs.json cannot say about the OpenAI routes: their errors' shape and GET /v1/models.

BentoML declares one error schema for every API (`{"error": string, "detail": string}`) and documents no mounted
Starlette app; the OpenAI routes answer errors as `{"error": {"message", "type", "param", "code"}}` and serve
/v1/models from a mounted app. `document` adds both to the spec BentoML generated, so the served schema is the
truth clients and schemathesis (tests/service/test_schemathesis.py) check answers against.
"""

from __future__ import annotations

from typing import Any

from service.dialects.openai import Model

ERROR = "OpenAIError"
MODEL = "OpenAIModel"
MODEL_LIST = "OpenAIModelList"
_NULLABLE_STRING = {"type": "string", "nullable": True}
SCHEMAS: dict[str, Any] = {
    ERROR: {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["message", "type", "param", "code"],
                "properties": {
                    "message": {"type": "string"},
                    "type": {"type": "string"},
                    "param": _NULLABLE_STRING,
                    "code": _NULLABLE_STRING,
                },
            }
        },
    },
    MODEL: Model.model_json_schema(),
    MODEL_LIST: {
        "type": "object",
        "required": ["object", "data"],
        "properties": {
            "object": {"type": "string", "enum": ["list"]},
            "data": {"type": "array", "items": {"$ref": f"#/components/schemas/{MODEL}"}},
        },
    },
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


def _get(operation: str, description: str, answer: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    responses = {"200": _json(answer, "Successful Response")}
    if parameters:
        responses["404"] = _json(ERROR, "Not Found")
    return {
        "get": {"operationId": operation, "description": description, "parameters": parameters, "responses": responses}
    }


def document(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with the OpenAI routes' error responses in OpenAI's shape and GET /v1/models, /v1/models/{model}."""
    spec.setdefault("components", {}).setdefault("schemas", {}).update(SCHEMAS)
    for operation in spec.get("paths", {}).get("/v1/embeddings", {}).values():
        for status, response in operation.get("responses", {}).items():
            if status != "200":
                response["content"] = _json(ERROR, response.get("description", ""))["content"]
    model = {"name": "model", "in": "path", "required": True, "schema": {"type": "string"}}
    spec["paths"]["/v1/models"] = _get("openai_models", "The served encoders, one per task", MODEL_LIST, [])
    spec["paths"]["/v1/models/{model}"] = _get("openai_model", "One served encoder", MODEL, [model])
    return spec
