"""Shared fixtures: tiny models trained on tests/fixtures/data with the release recipes and exported for real."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from helpers import CONFIGS, FIXTURE_DATA, ROOT, TASKS, TINY_SIZES

sys.path.insert(0, str(ROOT / "tests" / "service"))  # server_process, the real `bentoml serve`, for every test

# Fixture-sized splits in place of the release ones (the fixtures hold a few dozen rows per source), calibration
# slices included: a release recipe's (e.g. twitter_url/train[-3000:-2000]) would be empty here.
TINY_SPLITS = {
    "entailment": [
        '--data.train=[snli_cad/train, sick/train, "snli/validation[:-30]"]',
        '--data.val=["snli/validation[-20:]"]',
        '--data.calibration=["snli/validation[-30:-20]"]',
    ],
    "paraphrase": [
        '--data.train=["twitter_url/train[:-30]"]',
        '--data.val=["twitter_url/train[-20:]"]',
        "--data.min_freq=1",
        '--data.calibration=["twitter_url/train[-30:-20]"]',
    ],
    "ranking": [],
}


def tiny_train_args(task: str, root: Path, *extra: str) -> list[str]:
    """`pairscore train` arguments: the release recipe, fixture data and splits, tiny sizes, output under root."""
    return [
        "--config",
        str(CONFIGS / f"{task}.yaml"),
        f"--data.data_dir={FIXTURE_DATA}",
        f"--trainer.default_root_dir={root}",
        *TINY_SPLITS[task],
        *TINY_SIZES,
        *extra,
    ]


def best_checkpoint(root: Path, task: str) -> Path:
    """The checkpoint the latest run of `task` under root handed over in its best.json."""
    from training.runs import BEST_FILE, Best

    found = sorted((root / task).glob(f"version_*/{BEST_FILE}"), key=lambda p: int(p.parent.name.split("_")[1]))
    assert found, f"no {BEST_FILE} under {root / task}"
    return Path(Best.read(found[-1]).checkpoint)


def train_and_export(runs: Path, models: Path, train_extra=lambda task: [], export_extra=lambda task: []) -> Path:
    """Train every task on the fixtures (tiny_train_args + train_extra(task)) and export it with an int8 encoder too."""
    from training import cli, export

    for task in TASKS:
        assert cli.main([*tiny_train_args(task, runs), *train_extra(task)]) == 0
        assert (
            export.main([str(best_checkpoint(runs, task)), "--out", str(models / task), "--int8", *export_extra(task)])
            == 0
        )
    return models


@pytest.fixture(scope="session")
def tiny_recipe():
    """tiny_train_args, for tests that train themselves."""
    return tiny_train_args


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with entailment/, paraphrase/ and ranking/ model folders (fp32 and int8 encoders)."""
    pytest.importorskip("torch", reason="tiny_models trains models: needs the 'train' extra")
    return train_and_export(tmp_path_factory.mktemp("runs"), tmp_path_factory.mktemp("models"))


# The v2 head/data switches on fixture data: exact-match pair features for every task, a calibration slice held
# out of training for entailment and paraphrase, and paraphrase trained and selected on Twitter URL and MRPC.
V2_SPLITS = {
    "entailment": [
        '--data.train=[snli_cad/train, "sick/train[:-10]", "snli/validation[:-20]"]',
        '--data.val=["snli/validation[-20:]"]',
        '--data.calibration=["sick/train[-10:]"]',
    ],
    "paraphrase": [
        '--data.train=["twitter_url/train[:-30]", "mrpc/train[:-8]"]',
        '--data.val=["twitter_url/train[-20:]", "mrpc/train[-8:]"]',
        '--data.calibration=["twitter_url/train[-30:-20]"]',
        "--data.min_freq=1",
    ],
    "ranking": [],
}


@pytest.fixture(scope="session")
def tiny_v2_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Like tiny_models, with data.features=true and calibration slices (V2_SPLITS).

    The paraphrase threshold is tuned.
    """
    pytest.importorskip("torch", reason="tiny_v2_models trains models: needs the 'train' extra")
    return train_and_export(
        tmp_path_factory.mktemp("runs_v2"),
        tmp_path_factory.mktemp("models_v2"),
        train_extra=lambda task: [*V2_SPLITS[task], "--data.features=true"],
        export_extra=lambda task: ["--tune-threshold"] if task == "paraphrase" else [],
    )
