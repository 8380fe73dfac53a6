"""The `pairscore` dispatcher: training commands name the extra to install on a serving-only install."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from helpers import ROOT

# Runs the real dispatcher in a fresh interpreter where torch cannot be imported, as on `pip install .`.
WITHOUT_TORCH = "import sys; sys.modules['torch'] = None; from pairscore.cli import main; sys.exit(main(sys.argv[1:]))"


@pytest.mark.parametrize("command", ["train", "export"])
def test_training_commands_name_the_missing_extra(command: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, command, "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2
    assert f"pairscore {command}: needs the 'train' extra" in done.stderr
    assert "pip install -c constraints.txt -e '.[train]'" in done.stderr


def test_serving_commands_run_without_torch() -> None:
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, "evaluate", "--help"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "--data" in done.stdout


def test_unknown_command_lists_the_commands() -> None:
    done = subprocess.run([sys.executable, "-m", "pairscore.cli", "fly"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "unknown command 'fly'" in done.stderr and "evaluate" in done.stderr


def every_training_script() -> list[str]:
    """Every module under training/ that runs as `python -m` (it has a `__main__` block)."""
    return sorted(
        ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for path in (ROOT / "training").rglob("*.py")
        if 'if __name__ == "__main__":' in path.read_text()
    )


@pytest.mark.parametrize("script", every_training_script())
def test_every_training_script_names_the_missing_extra_in_one_line(script: str, tmp_path) -> None:
    """The real `python -m training.…` on an interpreter where torch and `datasets` cannot be imported (as on the
    serving install): one line naming the extra, no traceback."""
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['torch'] = sys.modules['datasets'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", script, "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT, env=env
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        "python -m training: needs the 'train' extra (torch is not installed): "
        "pip install -c constraints.txt -e '.[train]'"
    ]


def test_the_baselines_scripts_name_their_own_extra(tmp_path) -> None:
    (tmp_path / "sitecustomize.py").write_text("import sys\nsys.modules['sklearn'] = None\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-m", "training.studies.baselines.lexical", "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
    )
    assert done.returncode == 2 and done.stderr.splitlines() == [
        "python -m training.studies.baselines: needs the 'baselines' extra (sklearn is not installed): "
        "pip install -c constraints.txt -e '.[baselines]'"
    ]
