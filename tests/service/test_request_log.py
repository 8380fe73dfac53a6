"""A client error is logged as one INFO line naming status, route and detail; never as an error with a traceback."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid

import pytest
from bentoml.exceptions import BentoMLException, ServiceUnavailable
from pydantic import ValidationError

from service.errors import LimitExceeded
from service.request_log import BENTOML_LOGGER, DropClientErrorTracebacks
from service.schemas import EntailmentPair


def bad_requests(marker: str) -> list[tuple[str, bytes, dict[str, str], int]]:
    """One of each kind of 4xx, each carrying `marker` so its log line can be found."""
    json_type = {"content-type": "application/json"}
    return [
        ("/entailment", json.dumps({"pairs": [{"premise": marker}]}).encode(), json_type, 400),
        (
            "/entailment",
            json.dumps({"pairs": [{"premise": "a", "hypothesis": "b"}], marker: 1}).encode(),
            json_type,
            400,
        ),
        ("/embed", json.dumps({"texts": ["x" * 2001], "task": "entailment"}).encode(), json_type, 413),
        ("/embed", marker.encode(), {"content-type": "text/plain"}, 415),
        (f"/{marker}", b"{}", json_type, 404),
    ]


LINE = re.compile(r"\[INFO\] \[[^\]]*\] (\d{3}) (\w+) (\S+): (.*?)(?: \(trace=[^)]*\))?$")


def test_client_errors_are_one_info_line_each(server, client):
    marker = f"m{uuid.uuid4().hex[:8]}"
    start = server.log.stat().st_size
    for path, body, headers, status in bad_requests(marker):
        assert client.post(path, content=body, headers=headers).status_code == status
    time.sleep(0.5)  # the worker's stdout reaches the log file through BentoML's supervisor
    with open(server.log, "rb") as log:
        log.seek(start)
        lines = log.read().decode().splitlines()
    assert not [line for line in lines if "Traceback" in line or "[ERROR]" in line], "\n".join(lines)
    logged = [found.groups() for found in map(LINE.search, lines) if found]
    assert logged == [
        ("400", "POST", "/entailment", "pairs[0].hypothesis: Field required"),
        ("400", "POST", "/entailment", f"{marker}: Extra inputs are not permitted"),
        ("413", "POST", "/embed", "texts[0]: 2001 characters, over the limit of 2000 (PAIRSCORE_MAX_CHARS)"),
        ("415", "POST", "/embed", "send the body as application/json, not text/plain"),
        ("404", "POST", f"/{marker}", "Not Found"),
    ], "\n".join(lines)


def record_of(exc: BaseException) -> logging.LogRecord:
    """The record BentoML's log_exception makes while `exc` is being handled."""
    try:
        raise exc
    except BaseException:
        return logging.LogRecord(
            BENTOML_LOGGER, logging.ERROR, __file__, 1, "Exception on %s [%s]", ("/x", "POST"), sys.exc_info()
        )


def validation_error() -> ValidationError:
    try:
        EntailmentPair.model_validate({"premise": "a"})
    except ValidationError as exc:
        return exc
    raise AssertionError("validated")


@pytest.mark.parametrize(
    "make, kept",
    [
        (validation_error, False),
        (lambda: LimitExceeded("texts: 300 items"), False),
        (lambda: ServiceUnavailable("busy"), True),
        (lambda: ValueError("a bug"), True),
        (lambda: BentoMLException("internal"), True),
    ],
    ids=["400 validation", "413 limit", "503 overloaded", "500 bug", "500 bentoml"],
)
def test_only_client_errors_lose_their_traceback(make, kept):
    assert DropClientErrorTracebacks().filter(record_of(make())) is kept
