"""pairscore.settings: the one place PAIRSCORE_* variables are read, and docs/service.md's table of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from pairscore.settings import BadSetting, read, table

DOC = Path(__file__).resolve().parent.parent / "docs" / "service.md"


def test_the_docs_table_is_the_settings():
    assert table() in DOC.read_text()  # after a change to the settings: python -m pairscore.settings


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("PAIRSCORE_MAX_PAIRS", "abc", "a whole number above 0"),
        ("PAIRSCORE_MAX_PAIRS", "1.5", "a whole number above 0"),
        ("PAIRSCORE_CACHE_MB", "-1", "a number, 0 or more (0 turns it off)"),
        ("PAIRSCORE_MAX_BATCH_PAIRS", "1", "a whole number, at least 2"),
        ("PAIRSCORE_TIMEOUT_S", "inf", "a number above 0"),
        ("PAIRSCORE_ORT_THREADS", "0", "a whole number above 0"),
        ("PAIRSCORE_TEI_PREDICT_TASK", "ranking", "one of entailment, paraphrase"),  # a bare score has no labels
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(variable, value, expected):
    with pytest.raises(BadSetting) as caught:
        read({variable: value})
    assert str(caught.value) == f"{variable}={value!r} is not accepted: expected {expected}"


def test_empty_means_the_default():
    assert read({"PAIRSCORE_MAX_PAIRS": ""}).max_pairs == 256
    assert read({"PAIRSCORE_ORT_THREADS": "3"}).threads == 3
