"""Distillation on fixtures with a tiny stand-in teacher (no download): the real config and code path, fast_dev_run."""

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

from helpers import FIXTURE_DATA, ROOT  # noqa: E402
from training import distill  # noqa: E402
from training.distill_module import load_distilled  # noqa: E402
from training.runs import BEST_FILE, Best  # noqa: E402
from training.teacher import training_texts  # noqa: E402

# The release's TRAINING_SPECS at fixture size (the fixtures hold a few dozen rows per source).
FIXTURE_SPECS = (
    "snli_cad/train",
    "sick/train",
    "snli/validation[:-20]",
    "twitter_url/train[:-20]",
    "mrpc/train",
    "wiki_qa/train",
    "stsb/train",
)


def stand_in_teacher(folder: Path, dim: int = 8) -> Path:
    """The fixtures' training texts with deterministic unit vectors, in the teacher cache's Arrow layout."""
    texts = training_texts(FIXTURE_DATA, FIXTURE_SPECS)
    vectors = np.random.default_rng(0).standard_normal((len(texts), dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    datasets.Dataset.from_dict({"text": texts, "embedding": vectors.tolist()}).save_to_disk(str(folder))
    return folder


def distill_args(tmp_path: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(ROOT / "training" / "configs" / "distill.yaml"),
        f"--data.teacher={stand_in_teacher(tmp_path / 'teacher')}",
        f"--data.data_dir={FIXTURE_DATA}",
        "--data.sts=stsb/train",
        "--data.val_size=16",
        "--data.batch_size=16",
        "--model.teacher_dim=8",
        "--model.embedding_dim=16",
        "--model.hidden_size=16",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        *extra,
    ]


def test_fast_dev_run(tmp_path):
    assert distill.main(distill_args(tmp_path, "--trainer.fast_dev_run=true")) == 0


def test_distilled_encoder_starts_a_task_recipe(tmp_path, tiny_recipe):
    from training import cli

    assert distill.main(distill_args(tmp_path)) == 0
    checkpoint = Best.read(tmp_path / "distill" / "version_0" / BEST_FILE).checkpoint
    loaded = load_distilled(checkpoint)
    assert loaded["pairscore"]["teacher"]["texts"] > 0 and "lstm" in loaded["hparams"]["cell"]
    args = tiny_recipe(
        "entailment",
        tmp_path / "task",
        "--data.tokenizer=minilm",
        "--model.embeddings=minilm",
        "--model.embedding_dim=16",
        f"--model.init_encoder={checkpoint}",
    )
    assert cli.main(args) == 0


def test_a_missing_teacher_cache_is_named(tmp_path, capsys):
    args = distill_args(tmp_path)
    args[2] = f"--data.teacher={tmp_path / 'nowhere'}"
    assert distill.main(args) == 2
    assert "nowhere" in capsys.readouterr().err
