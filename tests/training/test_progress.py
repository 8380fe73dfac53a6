"""A run keeps progress.json beside its logs (training.progress), and training.stages reads a stage's progress from
it: no progress bar is read out of a log."""

import time

import pytest

pytest.importorskip("torch")

from helpers import TASKS  # noqa: E402
from training import cli, stages  # noqa: E402
from training.progress import PROGRESS_FILE, Progress  # noqa: E402
from training.runs import BEST_FILE  # noqa: E402


def test_a_run_writes_its_progress_and_a_stage_reads_it(tmp_path, tiny_recipe):
    started = time.time()
    assert cli.main(tiny_recipe("paraphrase", tmp_path, "--trainer.max_epochs=2")) == 0
    (written,) = (tmp_path / "paraphrase").glob(f"version_*/{PROGRESS_FILE}")
    assert (written.parent / BEST_FILE).is_file()  # beside the run's hand-over
    progress = stages.progress_of(tmp_path, started)
    assert progress == Progress.read(written)
    assert (progress.epoch, progress.epochs) == (2, 2) and progress.batch == progress.batches > 0
    assert progress.seconds > 0 and progress.seconds_left() == 0.0  # the last epoch's batches are all done
    line = stages.progress_line("tiny", progress)
    assert line == f"tiny: epoch 2/2, batch {progress.batches}/{progress.batches}, about 0 min left"
    assert stages.progress_of(tmp_path, time.time() + 60) is None  # a stage reads only what its own run wrote


def test_time_left_counts_the_rest_of_the_epoch_and_the_epochs_after_it():
    halfway = Progress(epoch=1, epochs=3, batch=10, batches=20, seconds=30.0)
    rest_of_epoch = 30.0 / 10 * (20 - 10)  # this epoch's rate so far
    assert halfway.seconds_left() == rest_of_epoch + 2 * (30.0 + rest_of_epoch)
    assert Progress(epoch=1, epochs=None, batch=10, batches=20, seconds=30.0).seconds_left() is None
    assert stages.progress_line("s", Progress(1, None, 3, None, 1.0)) == "s: epoch 1, batch 3/?"


def test_a_stage_runs_the_recipes_training_ships():
    assert {path.stem for path in stages.CONFIGS.glob("*.yaml")} >= {"distill", *TASKS}
