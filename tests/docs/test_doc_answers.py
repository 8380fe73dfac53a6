"""Every example answer in the docs is what the shipped models answer (numbers within the decimals shown, 1e-3 at most).

Each ```bash block followed by a ```json block is run as a user would run it (curl against a real
server on models/ with the default limits; other commands in the repo root), and its output is
compared with the JSON shown. A new model fails this until the docs are regenerated:
`make doc-answers` writes the real answers in (and pytest-examples the Python examples' output).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from doc_blocks import Example, differences, examples, layout, parse, render

from server_process import REPO

DOCS = [REPO / "README.md", REPO / "docs" / "service.md", REPO / "docs" / "calibration.md"]
EXAMPLES = [example for path in DOCS for example in examples(path)]


def run(command: str, url: str) -> subprocess.CompletedProcess:
    """The doc's command in bash, in the repo root, with this venv's commands first and the test server's address."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    command = command.replace("localhost:3000", url.removeprefix("http://"))
    return subprocess.run(["bash", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)


def test_the_docs_show_example_answers():
    assert len(EXAMPLES) >= 9, [e.id for e in EXAMPLES]


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.id for e in EXAMPLES])
def test_example_answer(example: Example, doc_server, doc_updates, updating):
    done = run(example.command.text, doc_server.url)
    assert done.returncode == 0, f"{example.id} exited {done.returncode}:\n{done.stderr[-2000:]}"
    real = json.loads(done.stdout)
    shown = parse(example.answer.text)
    problems = differences(shown, real)
    if problems and updating:
        text = example.path.read_text()
        old = text[example.command.start : example.answer.end]
        new = old[: example.answer.start - example.command.start] + render(real, shown, layout(example.answer.text))
        doc_updates.add(example.path, old, new + "\n")
        return
    assert not problems, (
        f"{example.path.relative_to(REPO)}: the answer shown for `{example.command.text.strip()}` "
        f"is not what the shipped models answer ({'; '.join(problems[:5])}); "
        "regenerate the docs' answers with `make doc-answers`"
    )


# The splits whose ECE the temperature raised, and the model whose temperature raised it on its own fit slice, as
# the paragraph after the figures in docs/calibration.md names them.
RAISED_IN_PROSE = {"snli/validation[-1000:]", "twitter_url/train[-2000:]"}
RAISED_ON_FIT_SLICE_IN_PROSE: set[str] = set()


def test_calibration_prose_names_the_splits_the_temperature_made_worse():
    raised, raised_on_fit = set(), set()
    for task in ("entailment", "paraphrase"):
        calibration = json.loads((REPO / "models" / task / "card.json").read_text())["calibration"]
        raised |= {s for s, ece in calibration["splits"].items() if ece["ece_after"] > ece["ece_before"]}
        if calibration["fit_on"]["ece_after"] > calibration["fit_on"]["ece_before"]:
            raised_on_fit.add(task)
    prose = (REPO / "docs" / "calibration.md").read_text()
    assert all(f"`{split}`" in prose for split in RAISED_IN_PROSE)
    assert all(f"{task} temperature raised it even on the slice" in prose for task in RAISED_ON_FIT_SLICE_IN_PROSE)
    assert (raised, raised_on_fit) == (RAISED_IN_PROSE, RAISED_ON_FIT_SLICE_IN_PROSE), (
        f"the temperature raised ECE on {sorted(raised)}, and on the fit slice of {sorted(raised_on_fit)}: update "
        "the paragraph in docs/calibration.md and RAISED_IN_PROSE / RAISED_ON_FIT_SLICE_IN_PROSE here"
    )


def test_client_error_log_line_is_as_documented(doc_server):
    """docs/service.md › Errors quotes the log line of a request over a limit: the server writes exactly that."""
    text = (REPO / "docs" / "service.md").read_text()
    quoted = " ".join(re.search(r"as one INFO line \(`([^`]+)`\)", text).group(1).split())
    with doc_server.client() as client:
        assert client.post("/embed", json={"texts": ["a"] * 300}).status_code == 413
    time.sleep(0.5)  # the worker's stdout reaches the log through BentoML's supervisor
    lines = [line for line in doc_server.log.read_text().splitlines() if quoted in line]
    assert lines and all("[INFO]" in line for line in lines), quoted
