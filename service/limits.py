"""The request limits as the HTTP layer applies them: 413 naming the field, the limit and the variable that raises it.

The values live in pairscore.settings (one place, documented defaults); a limit is checked while a body is parsed,
before it joins an adaptive batch, so an over-limit request never fails the requests batched with it.
"""

from __future__ import annotations

from pairscore.settings import BadSetting, Settings, env_name, read
from service.errors import LimitExceeded

__all__ = ["BadSetting", "Settings", "check_count", "check_text", "load"]


def load() -> Settings:
    """The service's settings; a bad value stops start-up with its one line, not a traceback."""
    try:
        return read()
    except BadSetting as exc:
        raise SystemExit(f"pairscore: {exc}") from None


def check_count(limits: Settings, field: str, count: int, limit_name: str) -> None:
    """Refuse a list longer than the limit `limit_name`."""
    limit = getattr(limits, limit_name)
    if count > limit:
        raise LimitExceeded(f"{field}: {count} items, over the limit of {limit} ({env_name(limit_name)})")


def check_text(limits: Settings, where: str, text: str) -> None:
    """Refuse a text longer than max_chars; `where` is its field path (`pairs[3].premise`, `question`)."""
    if len(text) > limits.max_chars:
        raise LimitExceeded(
            f"{where}: {len(text)} characters, over the limit of {limits.max_chars} ({env_name('max_chars')})"
        )
