"""Every command of the README's training sections is run by a test, or says in the README why not.

The train / export / evaluate block runs here as written, on the test fixtures (the training command gets the
fixture data and sizes appended; evaluate reads the fixture's SNLI validation file): safe to copy, it writes only
new folders. The distributed and shipped-model commands are run by the tests COVERED_ELSEWHERE names.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from doc_blocks import blocks, commands, strip_comment
from test_doc_commands import MARKED

from helpers import FIXTURE_DATA, TINY_SIZES
from server_process import REPO

COVERED_ELSEWHERE = {
    "OMP_NUM_THREADS=1 pairscore train --config training/configs/entailment.yaml \\\n"
    "  --trainer.accelerator=cpu --trainer.strategy=ddp --trainer.devices=2": "tests/training/test_ddp.py::"
    "test_ddp_two_cpu_processes_train_export_and_evaluate",
    "pairscore evaluate models/entailment --data ../shared/data/snli/validation.jsonl --rows=-1000:": (
        "tests/test_release_models.py::test_quality_regression"
    ),
    "pairscore evaluate models/paraphrase --data ../shared/data/twitter_url/train.jsonl --rows=-2000:": (
        "tests/test_release_models.py::test_quality_regression"
    ),
    "pairscore evaluate models/ranking    --data ../shared/data/wiki_qa/validation.jsonl": (
        "tests/test_release_models.py::test_quality_regression"
    ),
}
FIXTURE_RUN = [  # what the train command gets on top: the fixtures' data and splits, tiny sizes
    f"--data.data_dir={FIXTURE_DATA}",
    '--data.train=[snli_cad/train, sick/train, "snli/validation[:-30]"]',
    '--data.val=["snli/validation[-20:]"]',
    '--data.calibration=["snli/validation[-30:-20]"]',
    *TINY_SIZES,
]


def training_commands() -> list[tuple[str, str]]:
    """(command, trailing comment) of every command in the README's training sections."""
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Train, export, evaluate") : text.index("## Release models")]
    found = [strip_comment(c) for block in blocks(section) if block.lang == "bash" for c in commands(block)]
    return [(command, comment) for command, comment in found if command]  # a comment line is no command


def test_every_training_command_is_accounted_for():
    runnable = [c for c, _ in training_commands()[:3]]
    assert [c.split()[1] for c in runnable] == ["train", "export", "evaluate"]
    loose = [
        command
        for command, comment in training_commands()[3:]
        if command not in COVERED_ELSEWHERE and not MARKED.search(comment)
    ]
    assert not loose, "README commands that no test runs and no comment marks:\n" + "\n".join(loose)
    for command, where in COVERED_ELSEWHERE.items():
        path, name = where.split("::")
        assert f"def {name}(" in (REPO / path).read_text(), f"{command}: {where} is gone"


def test_train_export_evaluate_as_written(tmp_path: Path):
    pytest.importorskip("torch")
    (tmp_path / "training").symlink_to(REPO / "training")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env |= {"OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    train, export, evaluate = (c for c, _ in training_commands()[:3])
    fixture_snli = str(FIXTURE_DATA / "snli" / "validation.jsonl")
    for command in (f"{train} {' '.join(repr(a) for a in FIXTURE_RUN)}", export, evaluate):
        command = command.replace("../shared/data/snli/validation.jsonl", fixture_snli)
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"{command}\n{done.stderr[-3000:]}"
    assert json.loads(done.stdout.strip().splitlines()[-1])["rows"] == 60
    assert (tmp_path / "artifacts" / "entailment" / "card.json").is_file() and not (tmp_path / "models").exists()
