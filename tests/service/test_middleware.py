"""RequestGuard in isolation (no server): overload and slowness give 503 + Retry-After, never a hang."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from pairscore.settings import Settings
from service.middleware import RequestGuard


def make_app(
    delay: float = 0.0, status: int = 200, body: bytes = b'{"ok": true}', content_type: bytes = b"application/json"
):
    async def app(scope, receive, send):
        message = await receive()
        await asyncio.sleep(delay)
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", content_type)]})
        await send({"type": "http.response.body", "body": body or message.get("body", b"")})

    return app


def guarded(app, **limits) -> httpx.AsyncClient:
    guard = RequestGuard(app, limits=Settings.model_validate(limits), guarded=[frozenset({"/work"})])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=guard), base_url="http://test")


@pytest.mark.anyio
async def test_over_max_in_flight_gets_503_with_retry_after():
    async with guarded(make_app(delay=0.3), max_in_flight=2) as client:
        responses = await asyncio.gather(*(client.post("/work", content=b"{}") for _ in range(5)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200, 200, 503, 503, 503]
    refused = next(r for r in responses if r.status_code == 503)
    assert refused.headers["retry-after"] == "1"
    assert refused.json()["error"] == "overloaded"
    assert "PAIRSCORE_MAX_IN_FLIGHT" in refused.json()["detail"]


@pytest.mark.anyio
async def test_slow_request_gets_503_not_a_hang():
    async with guarded(make_app(delay=5), timeout_s=0.2) as client:
        response = await asyncio.wait_for(client.post("/work", content=b"{}"), 3)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "1"
    assert "PAIRSCORE_TIMEOUT_S" in response.json()["detail"]


@pytest.mark.anyio
async def test_streamed_body_over_limit_gets_413():
    async def chunks():
        for _ in range(10):
            yield b"x" * 100

    async with guarded(make_app(), max_body_bytes=500) as client:
        response = await client.post("/work", content=chunks())
    assert response.status_code == 413
    assert "PAIRSCORE_MAX_BODY_BYTES" in response.json()["detail"]


async def stalled():
    yield b'{"pa'
    await asyncio.sleep(30)  # the rest never comes in time
    yield b'irs": []}'


@pytest.mark.anyio
async def test_a_stalled_body_gets_408_and_holds_no_slot():
    """Admission counts a request once its body is in: one in flight allowed, a stalled body does not take it."""
    async with guarded(make_app(delay=0.05), max_in_flight=1, body_timeout_s=0.5) as client:
        stalled_request = asyncio.ensure_future(client.post("/work", content=stalled()))
        await asyncio.sleep(0.1)
        normal = await client.post("/work", content=b"{}")
        refused = await asyncio.wait_for(stalled_request, 3)
    assert normal.status_code == 200
    assert refused.status_code == 408 and refused.headers["connection"] == "close"
    assert refused.json() == {
        "error": "request_timeout",
        "detail": "request body not received within 0.5 s (PAIRSCORE_BODY_TIMEOUT_S)",
    }


@pytest.mark.anyio
async def test_every_path_reads_its_body_in_time():
    async with guarded(make_app(), body_timeout_s=0.3) as client:
        response = await asyncio.wait_for(client.post("/unguarded", content=stalled()), 3)
    assert response.status_code == 408


@pytest.mark.anyio
@pytest.mark.parametrize(
    "status, body, content_type, detail",
    [
        (500, b"Internal Server Error", b"text/plain", "Internal Server Error"),
        (400, b'[{"error": "bad thing"}]', b"application/json", "bad thing"),
        (
            400,
            b'{"error": "x", "detail": [{"loc": ["pairs", 0, "premise"], "msg": "Field required", "type": "missing"}, '
            b'{"loc": [], "msg": "m"}]}',
            b"application/json",
            "pairs[0].premise: Field required; m",
        ),
        (404, b"", b"text/plain", "Not Found"),
    ],
)
async def test_any_error_becomes_the_envelope(status, body, content_type, detail):
    async with guarded(make_app(status=status, body=body, content_type=content_type)) as client:
        response = await client.post("/elsewhere", content=b"")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/json"
    assert response.json()["detail"] == detail
    assert response.json()["error"]


@pytest.fixture
def anyio_backend():
    return "asyncio"
