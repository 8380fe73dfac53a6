"""A missing or corrupt artifact stops `bentoml serve` (non-zero exit) with the file named."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from server_process import REPO, free_port, serve_command, serve_env


def serve_expecting_failure(models: Path, tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """`bentoml serve` of the service on `models`, which should stop before it listens (bounded by a timeout)."""
    return subprocess.run(
        serve_command(free_port()),
        env=serve_env(models, tmp_path / "bentoml", **env),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )


def flip_bit(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage, named",
    [
        (lambda root: flip_bit(root / "paraphrase" / "encoder.onnx"), "paraphrase/encoder.onnx"),
        (lambda root: (root / "ranking" / "tokenizer.json").unlink(), "ranking/tokenizer.json"),
    ],
    ids=["bit-flipped encoder", "missing tokenizer"],
)
def test_bad_artifact_stops_startup(tiny_models, tmp_path, damage, named):
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    damage(models)
    result = serve_expecting_failure(models, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert str(models / named) in output, output[-2000:]


def test_a_folder_without_every_task_says_how_to_put_the_shipped_ones_beside_it(tiny_models, tmp_path):
    """Your own paraphrase model alone: the server needs every task, and its one line gives the copy to make."""
    models = tmp_path / "mine"
    shutil.copytree(tiny_models / "paraphrase", models / "paraphrase")
    result = serve_expecting_failure(models, tmp_path)
    assert result.returncode != 0
    assert (
        f"{models}: no entailment or ranking model; the server serves every task from one folder: put the shipped "
        f"ones beside yours: cp -r models/entailment models/ranking {models}/"
    ) in result.stdout + result.stderr


def test_pairscore_serve_runs_the_same_service(tiny_models, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    flip_bit(models / "entailment" / "head.onnx")
    env = serve_env(tmp_path / "elsewhere", tmp_path / "bentoml")  # --models must win over the environment
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pairscore.cli",
            "serve",
            "--models",
            str(models),
            "--host",
            "127.0.0.1",
            "--port",
            str(free_port()),
        ],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert str(models / "entailment" / "head.onnx") in result.stdout + result.stderr


@pytest.mark.parametrize(
    "name, value, accepted",
    [
        ("PAIRSCORE_MAX_PAIRS", "abc", "a whole number above 0"),
        ("PAIRSCORE_TIMEOUT_S", "0", "a number above 0"),
        ("PAIRSCORE_MAX_BATCH_PAIRS", "1", "a whole number, at least 2"),
        ("PAIRSCORE_ORT_THREADS", "two", "a whole number above 0"),
    ],
)
def test_bad_environment_value_stops_startup_with_one_line(tmp_path, name, value, accepted):
    result = serve_expecting_failure(REPO / "models", tmp_path, **{name: value})
    assert result.returncode != 0
    output = (result.stdout + result.stderr).strip()
    assert output == f"pairscore: {name}={value!r} is not accepted: expected {accepted}", output
    if name == "PAIRSCORE_MAX_PAIRS":  # docs/service.md › Limits and knobs quotes this line
        assert output in " ".join((REPO / "docs" / "service.md").read_text().split())


def test_startup_message_is_the_documented_one(tiny_models, tmp_path):
    """docs/service.md › Start it shows the message of a corrupt encoder (hashes cut to `…`): it is the real one."""
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    flip_bit(models / "paraphrase" / "encoder.onnx")
    result = serve_expecting_failure(models, tmp_path)
    doc = (REPO / "docs" / "service.md").read_text()
    shown = next(line for line in doc.splitlines() if line.startswith("pairscore: cannot serve"))
    shown = shown.replace("in models:", f"in {models}:").replace(": models/", f": {models}/")
    pattern = re.escape(shown).replace(re.escape("…"), "[0-9a-f]{64}")
    assert result.returncode == 1
    assert re.fullmatch(pattern, (result.stdout + result.stderr).strip()), result.stdout + result.stderr
