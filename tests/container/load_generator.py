"""A closed-loop HTTP load for the container tests: N clients, each posting its next request when the last is answered.

Every request is accounted for: an answer other than 200, a timeout or a broken connection counts as
a failure, with its kind, so a test can say exactly what a replica's death cost.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)  # seconds, every request, answered or not
    outcomes: Counter = field(default_factory=Counter)  # "200", "502", "ReadTimeout", ...
    wall_s: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.outcomes.values())

    @property
    def failed(self) -> int:
        return self.requests - self.outcomes["200"]

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "failed": self.failed,
            "outcomes": dict(self.outcomes),
            "p50_ms": round(self.percentile(0.50) * 1000, 1),
            "p99_ms": round(self.percentile(0.99) * 1000, 1),
            "max_ms": round(max(self.latencies, default=float("nan")) * 1000, 1),
            "requests_per_s": round(self.requests / self.wall_s, 1) if self.wall_s else None,
        }


class Load(threading.Thread):
    """Runs the load in its own thread (its own event loop) until stop() or `duration_s`."""

    def __init__(
        self,
        url: str,
        path: str,
        bodies: list[dict],
        clients: int = 8,
        duration_s: float = 20.0,
        timeout_s: float = 30.0,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(daemon=True)
        self.url, self.path, self.bodies = url, path, bodies
        self.clients, self.duration_s, self.timeout_s = clients, duration_s, timeout_s
        self.headers = headers or {}
        self.result = LoadResult()
        self._halt = threading.Event()

    def stop(self) -> LoadResult:
        self._halt.set()
        self.join()
        return self.result

    def run(self) -> None:
        asyncio.run(self._run())

    async def _run(self) -> None:
        started = time.monotonic()
        deadline = started + self.duration_s
        limits = httpx.Limits(max_connections=self.clients, max_keepalive_connections=self.clients)
        async with httpx.AsyncClient(
            base_url=self.url, timeout=self.timeout_s, limits=limits, headers=self.headers
        ) as client:
            await asyncio.gather(*(self._client(client, i, deadline) for i in range(self.clients)))
        self.result.wall_s = time.monotonic() - started

    async def _client(self, client: httpx.AsyncClient, index: int, deadline: float) -> None:
        i = index
        while time.monotonic() < deadline and not self._halt.is_set():
            body = self.bodies[i % len(self.bodies)]
            i += self.clients
            t0 = time.monotonic()
            try:
                response = await client.post(self.path, json=body)
                outcome = str(response.status_code)
            except httpx.HTTPError as exc:
                outcome = type(exc).__name__
            self.result.latencies.append(time.monotonic() - t0)
            self.result.outcomes[outcome] += 1
