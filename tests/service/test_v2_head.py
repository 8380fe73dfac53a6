"""Train -> export -> serve with the v2 head switches on (pair features, calibration): the real server over HTTP
answers what PairModel computes in-process, a batch answers what single requests do, and the batch scorer agrees."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from helpers import post
from pairscore.runtime.model import PairModel
from server_process import serving

PAIRS = [
    ("Yucaipa sold Dominick's in 1998 for $2.5 billion.", "yucaipa sold dominick 's for $ 2.5 billion in 1998 ."),
    ("The man eats food.", "Nobody is eating."),
    ("", "an empty text"),
]
QUESTION = "When was the Eiffel Tower built?"
ANSWERS = ["The Eiffel Tower was built in 1889 .", "Paris is in France.", "", "it was built for the 1889 world 's fair"]


@pytest.fixture(scope="module")
def v2_client(tiny_v2_models: Path, tmp_path_factory: pytest.TempPathFactory):
    with serving(tiny_v2_models, tmp_path_factory.mktemp("serve_v2")) as http:
        yield http


def test_served_ranking_uses_the_pair_features(v2_client, tiny_v2_models):
    model = PairModel(tiny_v2_models / "ranking")
    assert model.card.features.names and (tiny_v2_models / "ranking" / model.card.features.file).is_file()
    out = post(v2_client, "/rank", {"question": QUESTION, "answers": ANSWERS})
    expected = model.rank(QUESTION, ANSWERS)
    assert {item["index"]: round(item["score"], 5) for item in out} == {
        i: round(float(s), 5) for i, s in enumerate(expected)
    }
    vectors = model.encode([QUESTION, *ANSWERS])
    without = model._head.run(
        None,
        {
            "u": np.repeat(vectors[:1], len(ANSWERS), 0),
            "v": vectors[1:],
            "features": np.zeros((len(ANSWERS), len(model.features.names)), np.float32),
        },
    )[0]
    assert not np.allclose(without, expected), "the features input changes nothing"


def test_served_paraphrase_is_calibrated_and_batch_independent(v2_client, tiny_v2_models):
    model = PairModel(tiny_v2_models / "paraphrase")
    assert model.card.temperature > 0 and model.card.calibration
    body = {"pairs": [{"text_a": a, "text_b": b} for a, b in PAIRS]}
    together = [item["probability"] for item in post(v2_client, "/paraphrase", body)]
    alone = [post(v2_client, "/paraphrase", {"pairs": [pair]})[0]["probability"] for pair in body["pairs"]]
    expected = model.score_pairs([a for a, _ in PAIRS], [b for _, b in PAIRS])
    assert np.abs(np.array(together) - expected).max() <= 1e-5 and np.abs(np.array(alone) - expected).max() <= 1e-5


def test_batch_scorer_and_evaluate_run_the_features(tiny_v2_models, tmp_path):
    rows = [
        {"question": QUESTION, "answer": answer, "question_id": 1, "label": int("1889" in answer)} for answer in ANSWERS
    ]
    source, out = tmp_path / "qa.jsonl", tmp_path / "out.jsonl"
    source.write_text("".join(json.dumps(row) + "\n" for row in rows))
    score = [
        sys.executable,
        "-m",
        "pairscore.cli",
        "score",
        "--model",
        str(tiny_v2_models / "ranking"),
        "--input",
        str(source),
        "--output",
        str(out),
        "--chunk",
        "3",
        "--no-progress",
    ]
    done = subprocess.run(score, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    scores = [json.loads(line)["score"] for line in out.read_text().splitlines()]
    assert np.abs(np.array(scores) - PairModel(tiny_v2_models / "ranking").rank(QUESTION, ANSWERS)).max() <= 1e-5
    done = subprocess.run(
        [sys.executable, "-m", "pairscore.cli", "evaluate", str(tiny_v2_models / "ranking"), "--data", str(source)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["rows"] == len(ANSWERS)
