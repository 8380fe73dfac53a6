"""Fast checks of the baselines (training/studies/baselines/ and training/baselines.py) on the tiny fixture data."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("sklearn")
pytest.importorskip("rank_bm25")
pytest.importorskip("datasets")

import yaml  # noqa: E402

from helpers import CONFIGS, TASKS  # noqa: E402
from helpers import FIXTURE_DATA as FIXTURES  # noqa: E402
from pairscore import metrics  # noqa: E402
from pairscore.tasks import TASKS as REGISTRY  # noqa: E402
from training import baselines  # noqa: E402
from training.studies.baselines import lexical  # noqa: E402

# The release recipes with fixture-sized splits (the fixtures hold a few dozen rows per source).
TINY_SPLITS = {
    "entailment": {
        "train": ["snli_cad/train", "sick/train", "snli/validation[:-20]"],
        "val": ["snli/validation[-20:]"],
    },
    "paraphrase": {"train": ["twitter_url/train[:-20]"], "val": ["twitter_url/train[-20:]", "mrpc/train[-10:]"]},
    "ranking": {"train": ["wiki_qa/train"], "val": ["wiki_qa/validation"]},
}


@pytest.fixture
def small(tmp_path) -> list[str]:
    """--recipes pointing at the release recipes with TINY_SPLITS."""
    folder = tmp_path / "recipes"
    folder.mkdir()
    for task in TASKS:
        config = yaml.safe_load((CONFIGS / f"{task}.yaml").read_text())
        config["data"].update(TINY_SPLITS[task])
        (folder / f"{task}.yaml").write_text(yaml.safe_dump(config))
    return ["--recipes", str(folder)]


def _check_results(res: dict, tasks=TASKS) -> None:
    assert set(res["tasks"]) == set(tasks)
    for task, r in res["tasks"].items():
        assert set(r["select_splits"]) == set(TINY_SPLITS[task]["val"]) <= set(r["metrics"])
        assert r["train_seconds"] >= 0 and r["head_params"] > 0
        for m in r["metrics"].values():
            value = m[REGISTRY[task].metric]
            assert 0.0 <= value <= 1.0
    assert res["command"].startswith("python -m training.studies.baselines.")
    assert "| model | task |" in res["table_markdown"]


def test_lexical_on_fixtures(tmp_path, capsys, small):
    out = tmp_path / "lexical.json"
    assert lexical.main(["--data-dir", str(FIXTURES), "--out", str(out), *small]) == 0
    res = json.loads(out.read_text())
    _check_results(res)
    assert res["tasks"]["entailment"]["metrics"]["snli/validation[-20:]"]["n"] == 20
    assert res["tasks"]["entailment"]["metrics"]["sick/validation"]["n"] > 0  # reported, never selected on
    assert res["tasks"]["paraphrase"]["metrics"]["twitter_url/train[-20:]"]["n"] == 20
    assert res["tasks"]["paraphrase"]["metrics"]["mrpc/train[-10:]"]["n"] == 10
    assert res["tasks"]["ranking"]["metrics"]["wiki_qa/validation"]["questions"] >= 1
    assert "| lexical | paraphrase |" in capsys.readouterr().out


def test_splits_are_the_release_recipes():
    for task in TASKS:
        data = yaml.safe_load((CONFIGS / f"{task}.yaml").read_text())["data"]
        sp = baselines.task_splits(task)
        assert list(sp.train) == data["train"] and list(sp.select) == data["val"]
        assert set(sp.report) == set(REGISTRY[task].reported) - set(data["val"])
    pairs = baselines.load_sources(FIXTURES, "paraphrase", ["twitter_url/train[-20:]"])
    last = [json.loads(line) for line in (FIXTURES / "twitter_url" / "train.jsonl").read_text().splitlines()][-20:]
    assert [p.text_a for p in pairs] == [row["sentence1"] for row in last]


def test_f1_threshold_and_tokenize():
    y = np.array([0, 0, 1, 1, 0, 1])
    s = np.array([0.1, 0.2, 0.8, 0.7, 0.75, 0.9])
    t = metrics.best_threshold(y, s)
    assert baselines.binary_metrics(y, s, t)["f1"] == pytest.approx(
        max(baselines.binary_metrics(y, s, c)["f1"] for c in (0.05, 0.15, 0.5, 0.72, 0.78, 0.85, 0.95))
    )
    assert baselines.tokenize("The dog.") == baselines.tokenize("the dog .") == ["the", "dog"]
    assert baselines.tokenize("Don't") == ["do", "n't"]


def test_frozen_teacher_and_head_on_a_stand_in_teacher(tmp_path, small):
    """The frozen-teacher baseline end to end with a tiny sentence-transformers teacher (real loading, encoding and
    text-keyed caching); a second run finds every vector cached."""
    pytest.importorskip("torch")
    from helpers import tiny_teacher
    from training.studies.baselines import frozen

    teacher = tiny_teacher(tmp_path / "teacher")
    out = tmp_path / "frozen.json"
    common_argv = ["--data-dir", str(FIXTURES), "--out", str(out), "--cache-dir", str(tmp_path / "cache")]
    argv = [*common_argv, "--teacher", str(teacher), "--epochs", "3", "--hidden", "16", *small]
    assert frozen.main(argv) == 0
    res = json.loads(out.read_text())
    _check_results(res)
    assert res["tasks"]["entailment"]["head_params"] == 4 * 8 * 16 + 16 + 16 * 3 + 3
    assert res["embedding_throughput"]["this_run"]["texts"] > 0
    assert frozen.main(argv) == 0
    assert json.loads(out.read_text())["embedding_throughput"]["this_run"] == {"texts": 0}
