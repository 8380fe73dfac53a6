"""The comparison behind the docs' answer check can fail: numbers past the shown decimals, keys, prefixes."""

from __future__ import annotations

import pytest
from doc_blocks import Block, commands, differences, layout, parse, render


@pytest.mark.parametrize(
    "shown, real, agrees",
    [
        ("[0.974]", [0.97449], True),
        ("[0.974]", [0.9752], False),  # 1.2e-3 off at 3 decimals
        ("[0.0393]", [0.03931], True),
        ("[0.0393]", [0.0401], False),  # 8e-4 off at 4 decimals: within 1e-3, not within what is shown
        ("[0.3]", [0.3009], True),  # one decimal shown still means 1e-3 at most
        ("[0.3]", [0.32], False),
        ("[1]", [2], False),
        ('{"index": 1, "score": 0.145}', {"index": 1, "score": -0.482}, False),
        ('{"index": 1}', {"index": 1, "score": 0.1}, False),  # a key left out without …
        ('{"index": 1, …}', {"index": 1, "score": 0.1}, True),
        ('{"index": 1, "rank": 2, …}', {"index": 1}, False),
        ("[[0.145, 0.072, …]]", [[0.1446, 0.0719, 0.5, 0.1]], True),
        ("[[0.145, 0.072, …]]", [[0.1446]], False),
        ("[[0.145, 0.072]]", [[0.1446, 0.0719, 0.5]], False),  # a cut list without …
        ('{"paraphrase": false}', {"paraphrase": True}, False),
        ('{"threshold": null}', {"threshold": 0.5}, False),
        ('{"task": "entailment"}', {"task": "ranking"}, False),
    ],
)
def test_differences(shown, real, agrees):
    assert (differences(parse(shown), real) == []) is agrees


def test_ellipsis_in_strings_is_text():
    assert parse('["a…", …]') == ["a…", "…"]


@pytest.mark.parametrize(
    "shown",
    [
        '[{"label": "entailment", "probabilities": {"entailment": 0.0, "neutral": 0.0}}]',
        '{\n  "models": {\n    "a": {"dim": 1, …},\n    …\n  },\n  "limits": {"X": 1, …}\n}',
        "[[0.0, 0.0, …]]",
    ],
)
def test_rendered_answers_agree_and_keep_the_shape(shown):
    real = {
        0: [{"label": "entailment", "probabilities": {"entailment": 0.97412, "neutral": 0.02588}}],
        1: {"models": {"a": {"dim": 256, "task": "a"}, "b": {}}, "limits": {"X": 256, "Y": 2.5}},
        2: [[0.14464, -0.07197, 0.3, 0.4]],
    }[0 if shown.startswith("[{") else 1 if shown.startswith("{") else 2]
    text = render(real, parse(shown), layout(shown))
    assert differences(parse(text), real) == []
    assert layout(text) == layout(shown) and text.count("…") == shown.count("…")


def test_commands_join_continued_and_quoted_lines():
    block = Block("bash", "a \\\n  b\ncurl -d '{\n  \"x\": 1}'\n\nc |\n  d\n", 0, 0)
    assert commands(block) == ["a \\\n  b", "curl -d '{\n  \"x\": 1}'", "c |\n  d"]
