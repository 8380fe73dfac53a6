"""The `pairscore` dispatcher: training commands name the extra to install on a serving-only install."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
