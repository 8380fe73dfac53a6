"""Session fixtures of the container tests (marker `container`, run by .ci/run): a Docker engine, the base
images, the image built from this checkout as docs/deploy.md builds it, real pairs, and a report of the
figures the tests measured (printed at the end; written as JSON where PAIRSCORE_DEPLOY_REPORT names a file).
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest
from docker_env import DOC_BUILD, DOC_CONTAINERIZE, FIGURES, IMAGE, REPO, buildkit_env, docker, image_mb

from pairscore.specs import DataError, load_pairs

PAIRS = 200
DATA = {
    "entailment": f"snli/validation[:{PAIRS}]",
    "paraphrase": f"twitter_url/train[:{PAIRS}]",
    "ranking": f"wiki_qa/validation[:{PAIRS}]",
}


@pytest.fixture(scope="session")
def engine() -> None:
    done = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"no Docker engine answers (.ci/run starts dockerd): {done.stderr.strip()}")
    FIGURES["docker_server"] = done.stdout.strip()


@pytest.fixture(scope="session")
def base_images(engine) -> None:
    """The base images under the names the product files use: present, pulled, or stand-ins (deploy/offline-images)."""
    started = time.monotonic()
    done = subprocess.run([str(REPO / "deploy" / "offline-images" / "build.sh")], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    FIGURES["base_images"] = {"seconds": round(time.monotonic() - started, 1), "log": done.stdout.strip().splitlines()}


@pytest.fixture(scope="session")
def image(base_images, tmp_path_factory) -> str:
    """`bentoml build` and `bentoml containerize` in the repo root, timed; the image stays (its layers: the cache)."""
    env = {
        **os.environ,
        "BENTOML_HOME": str(tmp_path_factory.mktemp("bentoml")),
        "BENTOML_DO_NOT_TRACK": "true",
        **buildkit_env(),
    }
    bentoml = [sys.executable, "-m", "bentoml"]
    times = {}
    for step, command in (("build", DOC_BUILD), ("containerize", DOC_CONTAINERIZE)):
        started = time.monotonic()
        done = subprocess.run(
            [*bentoml, *shlex.split(command)[1:]], cwd=REPO, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{command}:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        times[step] = round(time.monotonic() - started, 1)
    FIGURES["image"] = {
        "build_s": times["build"],
        "containerize_s": times["containerize"],
        "size_mb": round(image_mb(IMAGE)),
        "base": docker("image", "inspect", "-f", "{{index .RepoTags 0}}", "python:3.11-slim").strip(),
        "base_size_mb": round(image_mb("python:3.11-slim")),
        "buildkit": buildkit_env().get("DOCKER_BUILDKIT", "1") != "0",
    }
    return IMAGE


@pytest.fixture(scope="session")
def api_key() -> str:
    """The key the containers and the stack run with (PAIRSCORE_API_KEYS); every test request carries it."""
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def pairs() -> dict[str, list[tuple[str, str]]]:
    """Real pairs of every task (the shared data, PAIRSCORE_DATA_DIR)."""
    try:
        return {task: [(p.text_a, p.text_b) for p in load_pairs(spec, task)][:PAIRS] for task, spec in DATA.items()}
    except DataError as exc:
        pytest.fail(f"the shared data is not here ({exc}): set PAIRSCORE_DATA_DIR")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not FIGURES:
        return
    terminalreporter.section("container figures (tests/container)")
    for name, value in FIGURES.items():
        terminalreporter.write_line(f"{name}: {json.dumps(value)}")
    report = os.environ.get("PAIRSCORE_DEPLOY_REPORT")
    if report:
        measured = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        Path(report).write_text(json.dumps({"measured": measured, **FIGURES}, indent=2) + "\n")
