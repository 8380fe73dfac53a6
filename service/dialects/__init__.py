"""Drop-in dialects: the routes of text-embeddings-inference (TEI), OpenAI embeddings and Cohere rerank.

Clients and frameworks written for those servers (huggingface_hub, LangChain, LlamaIndex, the openai and cohere
SDKs) call pairscore unchanged but for the base URL. Each module holds one dialect's bodies (pydantic, field for
field as its API reference) and turns our models' outputs into its answers; service/app.py holds the routes, on
the same service, model thread, batching, vector cache, limits, API keys and status codes as ours.
errors.py gives an error the shape the dialect's clients parse. docs/service.md ("Drop-in APIs") lists what each
field does here.
"""

from __future__ import annotations

from pairscore.tasks import NAMES

TEI_ROUTES = frozenset({"/rerank", "/similarity", "/predict"})  # and /embed with an `inputs` body
OPENAI_ROUTES = frozenset({"/v1/embeddings", "/v1/models", *(f"/v1/models/{name}" for name in NAMES)})
COHERE_ROUTES = frozenset({"/v1/rerank", "/v2/rerank"})
ROUTES = TEI_ROUTES | OPENAI_ROUTES | COHERE_ROUTES
