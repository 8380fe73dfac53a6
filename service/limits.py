"""Request limits and serving knobs, read once from the environment.

Every limit has a documented default (docs/service.md) and an env variable; an
over-limit request is refused with 413 naming the field, the limit and the variable
that raises it, while its body is parsed: before it joins an adaptive batch, so it
never fails the requests batched with it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields

from service.errors import LimitExceeded

ENV = {
    "max_pairs": "PAIRSCORE_MAX_PAIRS",
    "max_answers": "PAIRSCORE_MAX_ANSWERS",
    "max_texts": "PAIRSCORE_MAX_TEXTS",
    "max_chars": "PAIRSCORE_MAX_CHARS",
    "max_body_bytes": "PAIRSCORE_MAX_BODY_BYTES",
    "max_in_flight": "PAIRSCORE_MAX_IN_FLIGHT",
    "timeout_s": "PAIRSCORE_TIMEOUT_S",
    "max_batch_pairs": "PAIRSCORE_MAX_BATCH_PAIRS",
    "max_latency_ms": "PAIRSCORE_MAX_LATENCY_MS",
    "cache_entries": "PAIRSCORE_CACHE_ENTRIES",
    "cache_mb": "PAIRSCORE_CACHE_MB",
    "access_log": "PAIRSCORE_ACCESS_LOG",
    "gc_freeze": "PAIRSCORE_GC_FREEZE",
    "debug_gc": "PAIRSCORE_DEBUG_GC",
}
MAY_BE_ZERO = frozenset({"cache_entries", "cache_mb", "access_log", "gc_freeze", "debug_gc"})  # 0 turns the feature off


@dataclass(frozen=True)
class Limits:
    max_pairs: int = 256  # pairs per /entailment or /paraphrase request
    max_answers: int = 1000  # answers per /rank request
    max_texts: int = 256  # texts per /embed request
    max_chars: int = 10_000  # characters per text (tokens past max_tokens are cut anyway)
    max_body_bytes: int = 2 * 1024 * 1024  # request body
    max_in_flight: int = 64  # requests being served at once; more get 503 + Retry-After
    timeout_s: float = 30.0  # a request not answered by then gets 503 + Retry-After
    max_batch_pairs: int = 256  # pairs per adaptive batch (one model call) of /entailment or /paraphrase
    max_latency_ms: int = 10_000  # queueing budget of the adaptive batcher before it sheds load (503)
    cache_entries: int = 20_000  # vectors (and texts) kept per encoder (service.cache); 0 turns the cache off
    cache_mb: float = 32.0  # megabytes of vectors, token ids and texts kept per encoder
    access_log: int = 0  # 1: BentoML's per-request access log (costs ~10% of a 1-pair request's CPU)
    gc_freeze: int = 1  # 1: gc.freeze() once the models are loaded, so full collections skip what lives for good
    debug_gc: int = 0  # 1: POST /debug/gc runs a full collection and lists live objects (tests, leak hunting)

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Limits:
        """The defaults, overridden by the environment; BadSetting names the first bad variable."""
        values: dict[str, float | int] = {}
        for field in fields(cls):
            raw = env.get(ENV[field.name])
            if raw is None or raw == "":
                continue
            kind = float if field.type in ("float", float) else int
            try:
                value = kind(raw)
            except ValueError:
                value = None
            if value is None or not _allowed(field.name, value):
                raise BadSetting(f"{ENV[field.name]}={raw!r} is not accepted: expected {_accepted(field.name, kind)}")
            values[field.name] = value
        return cls(**values)  # type: ignore[arg-type]

    def check_count(self, field: str, count: int, limit_name: str) -> None:
        """Refuse a list longer than the limit `limit_name`."""
        limit = getattr(self, limit_name)
        if count > limit:
            raise LimitExceeded(f"{field}: {count} items, over the limit of {limit} ({ENV[limit_name]})")

    def check_text(self, where: str, text: str) -> None:
        """Refuse a text longer than max_chars; `where` is its field path (`pairs[3].premise`, `question`)."""
        if len(text) > self.max_chars:
            raise LimitExceeded(
                f"{where}: {len(text)} characters, over the limit of {self.max_chars} ({ENV['max_chars']})"
            )


def _allowed(name: str, value: float) -> bool:
    if name == "max_batch_pairs":
        return value >= 2
    return (value >= 0 if name in MAY_BE_ZERO else value > 0) and value != float("inf")


def _accepted(name: str, kind: type) -> str:
    """What `name` accepts, in words, for the start-up message."""
    what = "a number" if kind is float else "a whole number"
    if name == "max_batch_pairs":
        return f"{what}, at least 2"
    return f"{what}, 0 or more (0 turns it off)" if name in MAY_BE_ZERO else f"{what} above 0"


class BadSetting(ValueError):
    """An environment value the service cannot run with; its message is the one line start-up prints."""
