"""Every command the service docs show in a ```bash block is run by a test, or says in the doc why not.

A command is accounted for when it is (1) an example whose answer test_doc_answers.py checks,
(2) run here as written (a port or a folder that cannot exist here swapped for a real one),
(3) run as written by another test named in COVERED_ELSEWHERE, or (4) marked in the doc with a
trailing comment: `# long job: about N min …` or `# needs …: not run by the tests`.
A new command in these docs fails test_every_command_is_accounted_for until one of them holds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import blocks, commands, examples, strip_comment

from server_process import REPO, free_port, wait_ready

FIXTURE_DATA = REPO / "tests" / "fixtures" / "data"
MARKED = re.compile(r"(long job: about \d+(\.\d+)? (s|min|h)\b|needs .+: not run by the tests)")
COVERED_ELSEWHERE = {
    "bentoml build": "tests/service/test_packaging.py::test_bento_builds_offline_with_models_and_pins",
    "curl -s localhost:3000/info -X POST": "tests/service/test_api_keys.py::"
    "test_a_request_without_a_valid_key_gets_a_json_401",
    'curl -s localhost:3000/info -X POST -H "Authorization: Bearer $PAIRSCORE_API_KEY"': "tests/service/"
    "test_api_keys.py::test_every_key_from_the_environment_and_the_file_is_accepted",
}


def readme_service_section() -> str:
    text = (REPO / "README.md").read_text()
    return text[text.index("## Use the service") : text.index("## Data")]


def doc_commands() -> list[tuple[str, str, str]]:
    """(doc, command, trailing comment) for every command in the service docs' ```bash blocks."""
    sources = {
        "docs/service.md": (REPO / "docs" / "service.md").read_text(),
        "docs/calibration.md": (REPO / "docs" / "calibration.md").read_text(),
        "README.md › Use the service": readme_service_section(),
    }
    found = []
    for name, text in sources.items():
        for block in blocks(text):
            if block.lang == "bash":
                found += [(name, *strip_comment(command)) for command in commands(block)]
    return found


def answered() -> set[str]:
    paths = [REPO / "README.md", REPO / "docs" / "service.md", REPO / "docs" / "calibration.md"]
    return {command for path in paths for e in examples(path) for command in commands(e.command)}


def venv_env(**extra: str) -> dict[str, str]:
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return {**os.environ, "PATH": path, "BENTOML_DO_NOT_TRACK": "true", "PAIRSCORE_ORT_THREADS": "1", **extra}


def serve_until_ready(command: str, tmp_path: Path) -> None:
    """Start a serve command from the docs on a free loopback port, wait for /readyz, stop it."""
    port = free_port()
    command = command.replace("/srv/models", str(REPO / "models")).replace("--port 8080", f"--port {port}")
    env = venv_env(BENTOML_PORT=str(port), BENTOML_HOST="127.0.0.1", BENTOML_HOME=str(tmp_path / "bentoml"))
    log = tmp_path / "serve.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["bash", "-c", f"exec {command}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_ready(f"http://127.0.0.1:{port}", process, log)
    finally:
        os.killpg(process.pid, 15)
        process.wait(30)


def score_a_file(command: str, tmp_path: Path) -> None:
    """Run a `pairscore score` command from the docs in a folder with models/ and a pairs.jsonl (one bad row): it
    scores the rest, each row under its input line, and exits 1 for the rejected one."""
    (tmp_path / "models").symlink_to(REPO / "models")
    rows = (FIXTURE_DATA / "snli" / "validation.jsonl").read_text().splitlines()[:20]
    (tmp_path / "pairs.jsonl").write_text("\n".join([*rows, '{"premise": "no hypothesis"}']) + "\n")
    done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=venv_env(), capture_output=True, text=True)
    assert done.returncode == 1 and "1 rows rejected, more than --max-rejected 0" in done.stderr, done.stderr[-2000:]
    output = tmp_path / command.split("--output ")[1].split()[0]
    errors = tmp_path / (
        command.split("--errors ")[1].split()[0] if "--errors" in command else f"{output}.errors.jsonl"
    )
    if output.suffix == ".parquet":
        import pyarrow.parquet as pq

        scored = pq.read_table(output).to_pylist()
    else:
        scored = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(scored) == 20 and all(row["label"] in ("entailment", "neutral", "contradiction") for row in scored)
    assert [row["line"] for row in scored] == list(range(1, 21))
    assert [json.loads(line)["line"] for line in errors.read_text().splitlines()] == [21]


def draw_reliability(command: str, tmp_path: Path) -> None:
    """The reliability diagrams of the shipped models, drawn into tmp_path instead of over docs/reliability.png."""
    from pairscore.specs import DataError, load_pairs

    try:
        load_pairs("snli/validation[:1]", "entailment")
    except DataError as exc:
        pytest.skip(f"the shared data is not here ({exc}): set PAIRSCORE_DATA_DIR")
    out = tmp_path / "reliability.png"
    done = subprocess.run(
        ["bash", "-c", f"{command} --out {out}"], cwd=REPO, env=venv_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


RUNS = {
    "python -m training.studies.reliability": draw_reliability,
    "pairscore serve": serve_until_ready,
    "pairscore serve --models /srv/models --port 8080 --host 127.0.0.1": serve_until_ready,
    "bentoml serve": serve_until_ready,
    "pairscore score --model models/entailment --input pairs.jsonl --output scored.parquet --errors bad.jsonl "
    "--chunk 1024": score_a_file,
    "pairscore score --model models/entailment --input pairs.jsonl --output scored.jsonl": score_a_file,
}


def test_every_command_is_accounted_for():
    checked = answered()
    loose = [
        f"{doc}: {command}"
        for doc, command, comment in doc_commands()
        if command not in checked
        and command not in RUNS
        and command not in COVERED_ELSEWHERE
        and not MARKED.search(comment)
    ]
    assert not loose, "commands in the docs that no test runs and no comment marks as a long job:\n" + "\n".join(loose)


@pytest.mark.parametrize("command", sorted(COVERED_ELSEWHERE))
def test_commands_covered_elsewhere_are(command):
    path, name = COVERED_ELSEWHERE[command].split("::")
    assert f"def {name}(" in (REPO / path).read_text(), f"{command}: {COVERED_ELSEWHERE[command]} is gone"


@pytest.mark.parametrize("command", sorted({c for _, c, _ in doc_commands() if c in RUNS}))
def test_doc_command_runs(command, tmp_path):
    RUNS[command](command, tmp_path)


def test_no_runner_is_left_without_its_command():
    """A runner whose command left the docs is dead code: the doc changed and the test no longer runs it."""
    shown = {command for _, command, _ in doc_commands()}
    assert set(RUNS) <= shown, sorted(set(RUNS) - shown)
