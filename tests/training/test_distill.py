"""Distillation on fixtures with a tiny stand-in teacher (a real sentence-transformers folder, no download): the real
config and code path, the teacher's text-keyed cache, the relational losses, and a continuation from a model folder."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("datasets")

from helpers import CONFIGS, FIXTURE_DATA, tiny_teacher  # noqa: E402
from training import distill  # noqa: E402
from training.distill_losses import graded_loss, relational_loss, similarity_agreement  # noqa: E402
from training.distill_module import load_distilled  # noqa: E402
from training.runs import BEST_FILE, Best  # noqa: E402
from training.teacher import TeacherCache, get_teacher  # noqa: E402
from training.texts import texts_of  # noqa: E402

# The release's text sources at fixture size (the fixtures hold a few dozen rows per source).
FIXTURE_TEXTS = ["snli_cad/train", "sick/train", "snli/validation[:-20]", "twitter_url/train[:-20]", "wiki_qa/train"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_teacher(tmp_path_factory.mktemp("teacher") / "tiny")


def distill_args(tmp_path: Path, teacher: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(CONFIGS / "distill.yaml"),
        f"--data.teacher={teacher}",
        f"--data.texts={FIXTURE_TEXTS}",
        f"--data.cache_dir={tmp_path / 'cache'}",
        f"--data.data_dir={FIXTURE_DATA}",
        "--data.sts=stsb/train",
        "--data.val_size=16",
        "--data.batch_size=16",
        "--model.embedding_dim=16",
        "--model.hidden_size=16",
        f"--trainer.default_root_dir={tmp_path}",
        "--trainer.max_epochs=1",
        "--trainer.enable_progress_bar=false",
        "--trainer.enable_model_summary=false",
        *extra,
    ]


def test_fast_dev_run_with_relational_loss_and_question_batches(tmp_path, teacher):
    extra = ["--trainer.fast_dev_run=true", "--model.relational=kl", '--data.pairs=["wiki_qa/train"]']
    assert distill.main(distill_args(tmp_path, teacher, *extra)) == 0


def test_graded_pairs_train_beside_the_texts(tmp_path, teacher):
    """The STS objective: a second stream of graded pairs (both fixture STS sources, their shared pairs once)."""
    extra = [
        "--trainer.max_steps=3",
        "--trainer.log_every_n_steps=1",
        '--data.similarity=["stsb/train", "sts2012_2016/train"]',
        "--data.sts=null",
    ]
    assert distill.main(distill_args(tmp_path, teacher, *extra)) == 0
    metrics = (next(tmp_path.glob("**/metrics.csv"))).read_text()
    assert "train_similarity" in metrics.splitlines()[0]


def test_the_graded_loss_rewards_cosines_in_the_scores_order():
    generator = torch.Generator().manual_seed(0)
    u, v = torch.randn(2, 6, 8, generator=generator)
    scores = torch.nn.functional.cosine_similarity(u, v)
    assert float(graded_loss(u, v, scores, 20.0)) + 1.0 < float(graded_loss(u, v, -scores, 20.0))


def test_teacher_vectors_are_cached_by_text_and_only_new_texts_are_computed(tmp_path, teacher):
    cache = TeacherCache(get_teacher(str(teacher)), tmp_path)
    first = texts_of(FIXTURE_TEXTS[:2], FIXTURE_DATA)
    assert cache.fill(first, threads=1)["texts"] == len(first)
    more = texts_of(FIXTURE_TEXTS[:3], FIXTURE_DATA)
    again = TeacherCache(get_teacher(str(teacher)), tmp_path)  # a new process reads what the first one wrote
    assert again.fill(more, threads=1)["texts"] == len(more) - len(first)
    assert np.array_equal(again.vectors(first), cache.vectors(first))
    assert np.allclose(np.linalg.norm(again.vectors(more), axis=1), 1.0, atol=1e-5)


def test_relational_losses_are_zero_on_the_teachers_own_similarities():
    teacher = torch.nn.functional.normalize(torch.randn(12, 8), dim=-1)
    for kind in ("mse", "kl"):
        assert float(relational_loss(teacher * 3.0, teacher, kind, 0.05)) == pytest.approx(0.0, abs=1e-6)
        assert float(relational_loss(torch.randn(12, 8), teacher, kind, 0.05)) > 1e-3
    assert float(similarity_agreement(teacher, teacher)) == pytest.approx(1.0)


def test_distilled_encoder_starts_a_task_recipe(tmp_path, teacher, tiny_recipe):
    from training import cli

    assert distill.main(distill_args(tmp_path, teacher)) == 0
    checkpoint = Best.read(tmp_path / "distill" / "version_0" / BEST_FILE).checkpoint
    loaded = load_distilled(checkpoint)
    assert loaded["pairscore"]["teacher"]["texts"] > 0 and loaded["pairscore"]["teacher"]["dim"] == 8
    assert set(loaded["projection"]) == {"projection.weight", "projection.bias"}
    args = tiny_recipe(
        "entailment",
        tmp_path / "task",
        "--data.tokenizer=minilm",
        "--model.embeddings=minilm",
        "--model.embedding_dim=16",
        f"--model.init_encoder={checkpoint}",
    )
    assert cli.main(args) == 0


def test_a_missing_teacher_is_named(tmp_path, teacher, capsys):
    args = distill_args(tmp_path, teacher)
    args[2] = f"--data.teacher={tmp_path / 'nowhere'}"
    assert distill.main(args) == 2
    assert "nowhere" in capsys.readouterr().err
