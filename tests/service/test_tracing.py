"""BentoML's OpenTelemetry span per request is skipped by default (a fifth of a 1-pair request's worker CPU with no
exporter to send it to, benchmarks/breakdown.py) and kept with PAIRSCORE_TRACING=1. The span shows from outside as
BentoML's X-BentoML-Request-ID response header (the span's id)."""

from __future__ import annotations

from pathlib import Path

import httpx

from server_process import serving

BODY = {"pairs": [{"premise": "A man plays a guitar.", "hypothesis": "A person makes music."}]}
SPAN_HEADER = "x-bentoml-request-id"


def test_no_span_by_default(client: httpx.Client) -> None:
    response = client.post("/entailment", json=BODY)
    assert response.status_code == 200, response.text
    assert SPAN_HEADER not in response.headers


def test_tracing_on_keeps_the_span(tiny_models: Path, tmp_path: Path) -> None:
    with serving(tiny_models, tmp_path, PAIRSCORE_TRACING="1") as http:
        response = http.post("/entailment", json=BODY)
        assert response.status_code == 200, response.text
        assert SPAN_HEADER in response.headers
