"""Property-based fuzzing of the served OpenAPI schema: no 5xx, no response that breaks the schema.

Drives schemathesis' Hypothesis strategies directly (its pytest plugin does not
run under this pytest), positive and negative cases for every operation.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
EXAMPLES = 20  # per operation and mode: keeps the whole run well under a minute


@pytest.fixture(scope="module")
def operations(server):
    schema = schemathesis.openapi.from_url(f"{server.url}/docs.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["positive", "negative"])
def test_api_never_fails_on_any_input(server, operations, mode):
    api_paths = {op.path for op in operations}
    assert {"/entailment", "/paraphrase", "/rank", "/embed", "/info"} <= api_paths
    for operation in operations:
        if mode is GenerationMode.NEGATIVE and operation.method.upper() == "GET":
            continue  # the probes take no input, so there is nothing invalid to send

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case):
            case.call_and_validate(base_url=server.url, checks=CHECKS, timeout=30)

        fuzz()
