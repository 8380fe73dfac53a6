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

The hook only queues what it measured; a thread hands it to prometheus_client every
FLUSH_S. A collection can start at any allocation, also inside prometheus_client while
it holds its (non-reentrant) multiprocess lock, and a hook that observed there waited
for that lock for ever: a worker whose first answers created their metric labels hung
at start-up, its healthcheck timing out (issue 25's compose runs; tests/service/test_gcstats.py).

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
import threading
import time
from collections import Counter, deque
from typing import Any

# pauses above 20 ms show in a 1-pair request's p99; the buckets keep that boundary
PAUSE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
TOP_TYPES = 40  # types listed by the debug view
FLUSH_S = 0.5  # how often the queued measurements reach the Prometheus families


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
        # (generation, wall s, CPU s, objects tracked or None): deque appends and pops take no lock
        self._measured: deque[tuple[int, float, float, int | None]] = deque()

    def install(self) -> None:
        self.tracked.set(len(gc.get_objects()))
        self.frozen.set(gc.get_freeze_count())
        gc.callbacks.append(self._callback)
        threading.Thread(target=self._flush_forever, name="gc-metrics", daemon=True).start()

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        """Measures and queues, nothing more: it may run inside any code, prometheus_client's locked parts too."""
        if phase == "start":
            self._started, self._started_cpu = time.perf_counter(), time.thread_time()
            return
        generation = info["generation"]
        wall, cpu = time.perf_counter() - self._started, time.thread_time() - self._started_cpu
        self._measured.append((generation, wall, cpu, len(gc.get_objects()) if generation == 2 else None))

    def flush(self) -> None:
        """Hand the queued measurements to the Prometheus families."""
        while self._measured:
            generation, wall, cpu, tracked = self._measured.popleft()
            self._pause[generation].observe(wall)
            self._cpu[generation].observe(cpu)
            if tracked is not None:
                self.tracked.set(tracked)

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_S)
            self.flush()


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
