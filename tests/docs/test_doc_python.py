"""The docs' Python examples run against a real server on the shipped models and print what the docs show.

pytest-examples runs each ```python block and compares what it prints with its `#>` lines;
`--update-examples` (`make doc-answers`) writes the real output in instead.
"""

from __future__ import annotations

import huggingface_hub.constants
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
    # huggingface_hub refuses every request under HF_HUB_OFFLINE (which `make test` sets), loopback too; the
    # drop-in example's InferenceClient calls only the loopback server.
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    if eval_example.update_examples:
        eval_example.run_print_update(example)
    else:
        eval_example.run_print_check(example)
