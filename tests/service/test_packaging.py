"""Packaging: serving code never imports the training stack; the Bento builds offline.

The compose and k8s files are tested in tests/test_deploy.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import TASKS

REPO = Path(__file__).resolve().parents[2]
TRAINING_STACK = ("torch", "lightning", "pytorch_lightning", "lightning_fabric", "datasets", "torchmetrics")


def test_service_never_imports_the_training_stack():
    code = (
        "import sys, service.app, pairscore.jobs.score, service.serve, pairscore.jobs.evaluate; "
        f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {TRAINING_STACK!r}); "
        "print(','.join(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"service imports {result.stdout.strip()}"


def test_bento_builds_offline_with_models_and_pins(tiny_models, tmp_path):
    project = tmp_path / "project"
    project.mkdir()
    for name in ("service", "pairscore"):
        shutil.copytree(REPO / name, project / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "bentofile.yaml", project)
    shutil.copytree(tiny_models, project / "models")
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "home"), "BENTOML_DO_NOT_TRACK": "true", "PIP_NO_INDEX": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "bentoml", "build", "--output", "tag"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    (bento,) = [p for p in (tmp_path / "home" / "bentos" / "pairscore").iterdir() if p.name != "latest"]
    for task in TASKS:
        assert (bento / "src" / "models" / task / "card.json").is_file()
    served = {path.relative_to(REPO).as_posix() for path in (REPO / "service").rglob("*.py")}
    assert served <= {path.relative_to(bento / "src").as_posix() for path in (bento / "src").rglob("*.py")}
    requirements = (bento / "env" / "python" / "requirements.txt").read_text()
    assert "bentoml==" in requirements and "onnxruntime==" in requirements and "torch" not in requirements
