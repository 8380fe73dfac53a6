"""The ablation's targets table (docs/experiments.md): judged on the mean of the release's two seeds; met only when
that mean beats the baseline by more than their spread, reaches a floor, or stays within the spread of the models
shipped before."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from training.ablation import PREVIOUS_NAME, RELEASE_COLUMN, RELEASE_RECIPE, SEEDS, STS_SPLIT, target_lines  # noqa: E402

SNLI = ("entailment", "snli/validation[-1000:]", "accuracy")
WIKI = ("ranking", "wiki_qa/validation", "map")


def column(snli: float, wiki: float, sts: float) -> dict:
    return {
        "metrics": {"entailment": {SNLI[1]: {"accuracy": snli}}, "ranking": {WIKI[1]: {"map": wiki}}},
        "encoder": {"entailment": {STS_SPLIT: sts}},
    }


def rows(release: dict, second: dict, baseline: float, previous: float = 0.70) -> dict[str, str]:
    columns = {
        PREVIOUS_NAME: column(previous, 0.70, 0.80),
        RELEASE_COLUMN: release,
        f"{RELEASE_RECIPE[0]} (seed {SEEDS[1]})": second,
    }
    baselines = {"minilm+head": {(SNLI[0], SNLI[1]): {"accuracy": baseline}}}
    cells = [[c.strip() for c in line.strip("| ").split(" | ")] for line in target_lines(columns, baselines)]
    return {row[0]: row[-1] for row in cells if len(row) == 4}


BEATS = f"`{SNLI[1]}` accuracy: beats minilm+head by more than the seed spread"
KEPT = f"`{SNLI[1]}` accuracy: no lower than v3 by more than the seed spread"
FLOOR = f"`{WIKI[1]}` map"
STS = f"/embed (entailment encoder), `{STS_SPLIT}` cosine Spearman"


def test_a_margin_within_the_seed_spread_is_a_miss():
    assert rows(column(0.76, 0.8, 0.86), column(0.74, 0.8, 0.86), baseline=0.72)[BEATS] == "yes"  # .03 > .02
    assert rows(column(0.76, 0.8, 0.86), column(0.70, 0.8, 0.86), baseline=0.72)[BEATS] == "**no**"  # .01 < .06


def test_floors_are_judged_on_the_mean_of_the_seeds():
    met = rows(column(0.76, 0.79, 0.86), column(0.76, 0.77, 0.84), baseline=0.72)
    assert (met[FLOOR], met[STS]) == ("yes", "yes")  # means .78 and .85
    missed = rows(column(0.76, 0.79, 0.86), column(0.76, 0.76, 0.83), baseline=0.72)
    assert (missed[FLOOR], missed[STS]) == ("**no**", "**no**")


def test_a_drop_from_the_models_before_is_allowed_within_the_seed_spread():
    assert rows(column(0.74, 0.8, 0.86), column(0.70, 0.8, 0.86), baseline=0.6, previous=0.73)[KEPT] == "yes"
    assert rows(column(0.71, 0.8, 0.86), column(0.70, 0.8, 0.86), baseline=0.6, previous=0.73)[KEPT] == "**no**"
