"""`make bench` on a clone without the training runs says how to fill the torch eager column, not just that it can't."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_missing_checkpoint_says_what_to_run():
    checkpoint = json.loads((REPO / "models" / "entailment" / "card.json").read_text())["checkpoint"]
    if (REPO / checkpoint).is_file():
        pytest.skip(f"this checkout has the release's training run ({checkpoint}): the torch column can be filled")
    code = (
        "from pathlib import Path; from benchmarks.engines import torch_engine; "
        "engine, why = torch_engine(Path('models/entailment'), 1); assert engine is None; print(why)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    why = done.stdout.strip()
    assert f"checkpoint {REPO / checkpoint} is not in this checkout" in why
    assert "python -m training.release --models runs/release-models" in why
    assert "make bench BENCH_ARGS='--models runs/release-models'" in why
