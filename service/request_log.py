"""A client's mistake is logged as one line, not as a server failure.

BentoML logs every exception an API raises as `[ERROR] Exception on /path` with the
traceback, whether it was a server fault or a client's bad request answered 400 or 413
(`log_exception` in bentoml._internal.server.http_app). A log where every typo in a
request reads like a crash hides the real crashes. So the records of client errors are
dropped there (server errors keep their traceback), and ClientErrorLog logs every 4xx the
service answers, whoever answered it (BentoML, Starlette's router, RequestGuard), as one
INFO line on the `pairscore.requests` logger: `400 POST /entailment: pairs[0].hypothesis:
Field required`.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bentoml.exceptions import BentoMLException
from pydantic import ValidationError

from service.middleware import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("pairscore.requests")
BENTOML_LOGGER = "bentoml._internal.server.http_app"  # the logger log_exception writes to
MAX_DETAIL = 300  # characters of an error's detail kept in its log line


def is_client_error(exc: BaseException | None) -> bool:
    """Whether BentoML answers this exception with a 4xx: a body that failed validation, or a 4xx BentoMLException."""
    if isinstance(exc, ValidationError):
        return True  # BentoML answers every ValidationError from parsing the body with 400
    return isinstance(exc, BentoMLException) and 400 <= int(exc.error_code) < 500


class DropClientErrorTracebacks(logging.Filter):
    """Drops BentoML's `Exception on …` record when the exception is a client error (ClientErrorLog logs it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not (str(record.msg).startswith("Exception on") and is_client_error(exc))


def quiet_client_errors() -> None:
    """Install the filter (once) and let the one-line INFO records through BentoML's WARNING root."""
    bentoml_logger = logging.getLogger(BENTOML_LOGGER)
    if not any(isinstance(f, DropClientErrorTracebacks) for f in bentoml_logger.filters):
        bentoml_logger.addFilter(DropClientErrorTracebacks())
    logger.setLevel(logging.INFO)


class ClientErrorLog:
    """ASGI middleware: one INFO line per 4xx response, with the error envelope's detail."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 0
        body: list[bytes] = []

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and 400 <= status < 500:
                body.append(message.get("body", b""))
                if not message.get("more_body", False):
                    logger.info("%d %s %s: %s", status, scope["method"], scope["path"], _detail(b"".join(body)))
            await send(message)

        await self.app(scope, receive, watch)


def _detail(body: bytes) -> str:
    try:
        data: Any = json.loads(body)
    except ValueError:
        data = body.decode("utf-8", "replace")
    detail = data.get("detail", data) if isinstance(data, dict) else data
    text = detail if isinstance(detail, str) else json.dumps(detail)
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "…"
