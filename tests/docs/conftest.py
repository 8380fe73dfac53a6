"""A real server on the SHIPPED models (models/) with the documented default limits, for the docs' examples.

`--update-examples` (pytest-examples' option, which also rewrites the docs' Python output) makes
the answer tests write the real answers into the docs instead of failing: `make doc-answers`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pairscore.settings import LIMIT_FIELDS, Settings, env_name
from server_process import REPO, start_server, stop_server

SHIPPED = REPO / "models"
# The limits a user's server has (server_process.TEST_LIMITS shrinks them): /info shows them.
DOCUMENTED_LIMITS = {env_name(name): str(Settings.model_fields[name].default) for name in LIMIT_FIELDS}


@pytest.fixture(scope="session")
def doc_server(tmp_path_factory: pytest.TempPathFactory):
    server = start_server(SHIPPED, tmp_path_factory.mktemp("doc_server"), **DOCUMENTED_LIMITS)
    yield server
    stop_server(server)


class DocUpdates:
    """Answers to write back into the docs, applied when the session ends (after pytest-examples' own edits)."""

    def __init__(self) -> None:
        self.edits: list[tuple[Path, str, str]] = []

    def add(self, path: Path, old: str, new: str) -> None:
        self.edits.append((path, old, new))

    def apply(self) -> list[str]:
        done = []
        for path, old, new in self.edits:
            text = path.read_text()
            if text.count(old) != 1:
                raise RuntimeError(f"{path}: the example to update is no longer there once:\n{old}")
            path.write_text(text.replace(old, new))
            done.append(f"docs: rewrote the answer of `{old.splitlines()[0]}` in {path.relative_to(REPO)}")
        return done


UPDATED: list[str] = []  # what the session rewrote, for the terminal summary


@pytest.fixture(scope="session")
def doc_updates():
    updates = DocUpdates()
    yield updates
    UPDATED.extend(updates.apply())


def pytest_terminal_summary(terminalreporter) -> None:
    for line in UPDATED:
        terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def updating(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("update_examples"))
