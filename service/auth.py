"""Optional API keys: who may call the service once it is reachable beyond a private network.

With PAIRSCORE_API_KEYS (comma-separated) or PAIRSCORE_API_KEYS_FILE (a file with one key per line,
the way a Kubernetes Secret is mounted) set, every request needs `Authorization: Bearer KEY` with
one of the keys, or gets a JSON 401 in the service's error envelope. Neither set: nothing changes.
The probes and the scrape (/livez, /readyz, /metrics) stay open, so orchestrators and Prometheus
need no key. Keys are read once at start-up and never written anywhere (not in /info, not in a log).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from pairscore.settings import Settings, env_name
from service.errors import error_bytes

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

ENV_KEYS_FILE = env_name("api_keys_file")
OPEN_PATHS = frozenset({"/livez", "/readyz", "/metrics"})  # health probes and the Prometheus scrape


def api_keys(config: Settings) -> tuple[str, ...]:
    """The accepted keys, from both variables; a keys file that cannot be read or holds no key stops start-up.

    Failing on a named file that is missing or empty (rather than serving without keys) keeps a
    typo or an unmounted Secret from opening the service to everyone.
    """
    keys = [key.strip() for key in config.api_keys.split(",")]
    path = config.api_keys_file
    if path:
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise ValueError(f"{ENV_KEYS_FILE}={path}: cannot read the API keys file ({exc.strerror})") from None
        from_file = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        if not from_file:
            raise ValueError(f"{ENV_KEYS_FILE}={path}: the file holds no API key (one key per line)")
        keys += from_file
    return tuple(key for key in keys if key)


class ApiKeyGuard:
    """ASGI middleware: a request outside OPEN_PATHS without a valid bearer key gets 401 (no key configured: a no-op).

    Keys are compared as SHA-256 digests with hmac.compare_digest, against every key without
    stopping at a match, so the time taken says nothing about a key's content or length.
    """

    def __init__(self, app: ASGIApp, keys: tuple[str, ...]) -> None:
        self.app = app
        self.digests = [_digest(key.encode()) for key in keys]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.digests or scope["type"] != "http" or scope["path"] in OPEN_PATHS or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        body = error_bytes(
            401, f"send a valid API key as `Authorization: Bearer KEY` ({env_name('api_keys')} lists the keys)"
        )
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b'Bearer realm="pairscore"'),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _allowed(self, scope: Scope) -> bool:
        header = next((v for k, v in scope.get("headers", []) if k.lower() == b"authorization"), b"")
        scheme, _, token = header.partition(b" ")
        if scheme.lower() != b"bearer" or not token.strip():
            return False
        offered = _digest(token.strip())
        valid = False
        for digest in self.digests:
            valid |= hmac.compare_digest(offered, digest)
        return valid


def _digest(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()
