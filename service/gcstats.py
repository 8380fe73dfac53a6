"""The worker's garbage collector on /metrics, gc.freeze() after loading, and a debug view of live objects.

Objects that outlive their request show first as a collector that works harder and
harder: tracked objects climb between full collections, and each full collection
walks them all, a pause every request in flight waits out. So the worker exports
`pairscore_gc_pause_seconds` (one observation per collection, by generation; wall time,
what the requests wait), `pairscore_gc_cpu_seconds` (the same collections' CPU time: on
a busy machine a pause can be long because the thread lost its core) and
`pairscore_gc_tracked_objects` (objects left after the latest full collection: flat
in a healthy server, rising with a leak). All come from a gc.callbacks hook; the
count is taken only after full collections, which walk every object anyway.

`freeze()` moves everything alive once the models are loaded (modules, the tokenizer,
pydantic schemas: about a hundred thousand objects that live as long as the process)
into the collector's permanent generation, so full collections stop walking them.

`debug_app` (mounted only with PAIRSCORE_DEBUG_GC=1: it runs a full collection on
demand) answers POST /debug/gc with the tracked objects after a collection and the
commonest types, for tests and for chasing a leak.
"""

from __future__ import annotations

import gc
import json
import time
from collections import Counter
from typing import Any

# pauses above 20 ms show in a 1-pair request's p99; the buckets keep that boundary
PAUSE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
TOP_TYPES = 40  # types listed by the debug view


class GcMetrics:
    """A gc.callbacks hook feeding the Prometheus families; one per process (install_metrics()).

    Created in the worker (service __init__), after BentoML has set PROMETHEUS_MULTIPROC_DIR.
    """

    def __init__(self) -> None:
        import prometheus_client

        self.pauses = prometheus_client.Histogram(
            "pairscore_gc_pause_seconds",
            "time the worker spent in one garbage collection (every request in flight waits it out)",
            ["generation"],
            buckets=PAUSE_BUCKETS,
        )
        self.cpu = prometheus_client.Histogram(
            "pairscore_gc_cpu_seconds",
            "CPU time of one garbage collection (a pause much longer was the thread waiting for a core)",
            ["generation"],
            buckets=PAUSE_BUCKETS,
        )
        self.tracked = prometheus_client.Gauge(
            "pairscore_gc_tracked_objects",
            "objects the collector tracks after its latest full collection, frozen ones not counted",
            multiprocess_mode="livesum",
        )
        self.frozen = prometheus_client.Gauge(
            "pairscore_gc_frozen_objects",
            "objects gc.freeze() moved to the permanent generation at start-up",
            multiprocess_mode="livesum",
        )
        self._pause = [self.pauses.labels(generation=str(g)) for g in range(3)]
        self._cpu = [self.cpu.labels(generation=str(g)) for g in range(3)]
        self._started = self._started_cpu = 0.0

    def install(self) -> None:
        self.tracked.set(len(gc.get_objects()))
        self.frozen.set(gc.get_freeze_count())
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started, self._started_cpu = time.perf_counter(), time.thread_time()
            return
        generation = info["generation"]
        self._pause[generation].observe(time.perf_counter() - self._started)
        self._cpu[generation].observe(time.thread_time() - self._started_cpu)
        if generation == 2:
            self.tracked.set(len(gc.get_objects()))


_installed: list[GcMetrics] = []


def install_metrics() -> GcMetrics:
    """The process's GcMetrics, hooked into the collector on the first call."""
    if not _installed:
        _installed.append(GcMetrics())
        _installed[0].install()
    return _installed[0]


def freeze() -> int:
    """Collect, then move every object alive into the permanent generation; the number moved."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()


def snapshot() -> dict[str, Any]:
    """After a full collection: objects tracked (frozen ones not counted), frozen, and the commonest types."""
    gc.collect()
    objects = gc.get_objects()
    types = Counter(f"{type(o).__module__}.{type(o).__qualname__}" for o in objects)
    del objects
    return {
        "tracked_objects": sum(types.values()),
        "frozen_objects": gc.get_freeze_count(),
        "types": dict(types.most_common(TOP_TYPES)),
    }


async def debug_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """POST /debug/gc: snapshot() as JSON (anything else under /debug: 404)."""
    if scope["type"] != "http":
        return
    if scope["path"].rstrip("/") not in ("/debug/gc", "/gc") or scope["method"] != "POST":
        body, status = b'{"error": "not_found", "detail": "POST /debug/gc"}', 404
    else:
        body, status = json.dumps(snapshot()).encode(), 200
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
