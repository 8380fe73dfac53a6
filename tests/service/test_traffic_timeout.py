"""BentoML's TimeoutMiddleware, upstream and mended (service.bentoml_mends), in isolation on both event loops.

A request's context holds what its outer middleware put there (OpenTelemetry's span); a
marker object in a context variable stands for it. Upstream keeps it alive until the
traffic timeout; the mended middleware lets it go once the response is sent. When the
upstream test fails, BentoML no longer needs mending: delete its mend in service/bentoml_mends.py,
its install() in service/app.py and these tests, and loosen the bentoml pin.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import weakref
from importlib.metadata import version
from pathlib import Path

import pytest
import tomllib
import uvloop
import yaml

from service import bentoml_mends as traffic_timeout

REPO = Path(__file__).resolve().parents[2]
LOOPS = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
SCOPE = {"type": "http", "method": "POST", "path": "/work", "headers": []}
request_marker: contextvars.ContextVar[object] = contextvars.ContextVar("request_marker")


class Marker:
    """Stands for the request's span."""


def app(delay: float = 0.0, fail: bool = False):
    async def endpoint(scope, receive, send):
        await asyncio.sleep(delay)
        if fail:
            raise RuntimeError("the app failed before answering")
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    return endpoint


async def call(middleware) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await middleware(SCOPE, receive, send)
    return sent


def kept_after_response(middleware_cls, loop_name: str) -> bool:
    """Whether the request's context is still alive once the request has been answered."""

    async def main() -> bool:
        middleware = middleware_cls(app(), timeout=600)
        marker = Marker()
        ref = weakref.ref(marker)

        async def request(span: Marker) -> list[dict]:  # a task of its own: its own context, as uvicorn gives it
            request_marker.set(span)
            return await call(middleware)

        sent = await asyncio.ensure_future(request(marker))
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        del marker
        for _ in range(5):  # the loop drops a cancelled timer on its next turns
            await asyncio.sleep(0)
        gc.collect()
        return ref() is not None

    loop = LOOPS[loop_name]()
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


@pytest.mark.parametrize("loop_name", LOOPS)
def test_upstream_still_keeps_each_request_alive_until_its_timeout(loop_name: str):
    assert kept_after_response(traffic_timeout.UPSTREAM_TIMEOUT, loop_name), (
        f"bentoml {version('bentoml')}'s TimeoutMiddleware now lets a request go once it is answered: "
        "the timeout mend in service/bentoml_mends.py is no longer needed (see this file's docstring)"
    )


@pytest.mark.parametrize("loop_name", LOOPS)
def test_mended_middleware_lets_the_request_go(loop_name: str):
    assert not kept_after_response(traffic_timeout.TimeoutMiddleware, loop_name)


@pytest.mark.anyio
async def test_mended_middleware_still_times_out():
    sent = await asyncio.wait_for(call(traffic_timeout.TimeoutMiddleware(app(delay=5), timeout=0.1)), 3)
    assert sent[0]["status"] == 504


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.mark.anyio
async def test_mended_middleware_passes_an_app_error_at_once():
    """Upstream would wait out the whole timeout for a response that never comes."""
    with pytest.raises(RuntimeError, match="failed before answering"):
        await asyncio.wait_for(call(traffic_timeout.TimeoutMiddleware(app(fail=True), timeout=600)), 3)


def test_service_installs_it_on_the_pinned_bentoml():
    from bentoml._internal.server.http import traffic

    import service.app  # noqa: F401  (importing the service installs the mended middleware)

    assert traffic.TimeoutMiddleware is traffic_timeout.TimeoutMiddleware
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    bento = yaml.safe_load((REPO / "bentofile.yaml").read_text())["python"]["packages"]
    pins = [p for p in project + bento if p.startswith("bentoml")]
    assert pins == [f"bentoml=={version('bentoml')}"] * 2, pins  # exactly the version the mending was written for
