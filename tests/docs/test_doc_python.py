"""The docs' Python examples run against a real server on the shipped models and print what the docs show.

pytest-examples runs each ```python block and compares what it prints with its `#>` lines;
`--update-examples` (`make doc-answers`) writes the real output in instead.
"""

from __future__ import annotations

import pytest
from pytest_examples import CodeExample, EvalExample, find_examples

from server_process import REPO

DOCS = [REPO / "README.md", REPO / "docs" / "service.md", REPO / "docs" / "calibration.md"]
PYTHON = list(find_examples(*DOCS))  # the ```python / ```py blocks


def test_the_docs_show_a_python_client():
    assert PYTHON, "no ```python block in the docs"


@pytest.mark.parametrize("example", PYTHON, ids=str)
def test_python_example(example: CodeExample, doc_updates, doc_server, eval_example: EvalExample, monkeypatch):
    monkeypatch.setenv("PAIRSCORE_URL", doc_server.url)
    if eval_example.update_examples:
        eval_example.run_print_update(example)
    else:
        eval_example.run_print_check(example)
