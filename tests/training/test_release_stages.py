"""A second training stage (training.release.train_task, the ablation's sequential ranking): ranking trains on every
source, is exported, and a second run continues from that folder on the sources it is selected on; the card names
both stages' data."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("torch")

from helpers import FIXTURE_DATA  # noqa: E402
from training import release, stages  # noqa: E402
from training.export import export  # noqa: E402

TINY: dict = {
    "data": {"data_dir": str(FIXTURE_DATA), "batch_size": 16},
    "model": {"hidden_size": 16, "head_hidden": 16},
    "trainer": {"max_epochs": 1, "enable_progress_bar": False, "enable_model_summary": False},
}


def test_the_second_stage_continues_from_the_first_and_the_card_names_both(tmp_path: Path) -> None:
    recipe = stages.merge(TINY, release.SELQA)
    best = release.train_task("ranking", recipe, release.TARGET_SOURCES, tmp_path, "ranking")
    card = export(
        Path(best.checkpoint), tmp_path / "model", force=True, finish=lambda card, _: release.first_stage(card)
    )
    assert card.init_from["folder"] == str(tmp_path / "first-stage")
    roles = {(d["source"], d["role"]) for d in card.data}
    assert {("selqa", "first stage"), ("wiki_qa", "first stage"), ("wiki_qa", "train")} <= roles
    assert ("selqa", "train") not in roles
    assert card.training["first_stage"]["seconds"] > 0
