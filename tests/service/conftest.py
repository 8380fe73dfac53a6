"""A real `bentoml serve` of the service on a free loopback port, shared by the session.

The server runs on `tiny_models` (tests/conftest.py) with the small limits of
server_process.TEST_LIMITS, so the limit tests stay cheap.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from server_process import Server, start_server, stop_server


@pytest.fixture(scope="session")
def server(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory):
    srv = start_server(tiny_models, tmp_path_factory.mktemp("serve"))
    yield srv
    stop_server(srv)


@pytest.fixture(scope="session")
def client(server: Server):
    with server.client() as http:
        yield http
