"""The shipped models in models/: they load, validate, answer sensibly, and keep their carded quality."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from helpers import MODELS, ROOT, TASKS
from pairscore import artifact, tasks
from pairscore.card import read
from pairscore.runtime.model import PairModel
from pairscore.specs import parse_spec, resolve_data_dir

QUALITY_DROP = 0.01  # a metric may fall at most this far below its card


@pytest.fixture(scope="module", params=TASKS)
def shipped(request: pytest.FixtureRequest) -> PairModel:
    return PairModel(MODELS / request.param)


def test_shipped_models_validate(shipped: PairModel) -> None:
    card = read(shipped.model_dir)  # sha256 of every file
    assert card.task == shipped.model_dir.name
    assert card.reproduce.startswith("python -m training.release")
    assert card.format_version == artifact.FORMAT_VERSION  # with the weights a user fine-tunes from
    assert all(d["licence"] for d in card.data)


def test_models_budget() -> None:
    size = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert size < 60 * 2**20, f"models/ holds {size / 2**20:.1f} MB, over the 60 MB budget"


def test_obvious_entailment() -> None:
    model = PairModel(MODELS / "entailment")
    probabilities = model.score_pairs(
        ["A man is playing a guitar on stage.", "Two dogs are running through a field."],
        ["A man is playing a guitar.", "Two cats are sleeping on a couch."],
    )
    assert [model.labels[i] for i in probabilities.argmax(axis=1)] == ["entailment", "contradiction"]


def test_paraphrase_beats_unrelated() -> None:
    model = PairModel(MODELS / "paraphrase")
    probability = model.score_pairs(
        ["the president signed the new climate bill today", "the president signed the new climate bill today"],
        ["today the president signed the new bill on climate", "my cat likes to sleep in the sun"],
    )
    assert probability[0] > probability[1] + 0.2


def test_right_answer_ranks_first() -> None:
    model = PairModel(MODELS / "ranking")
    scores = model.rank(
        "how are glacier caves formed ?",
        [
            "a glacier cave is a cave formed within the ice of a glacier by melting water",
            "the stock market closed higher on friday",
        ],
    )
    assert scores[0] > scores[1]


# Words a user sends that no training set of a v1 model had: names, numbers, rare and misspelled words.
# (Emoji are not in MiniLM's WordPiece vocabulary: they still fall back.)
NEW_WORDS = "Zyxelbrook's 3,417 quixotically-reframed Tsiolkovsky theorems, 2026-11-29, naïve café teh"


def test_shipped_tokenizers_keep_new_words() -> None:
    """Open vocabulary: unseen names, numbers, rare and misspelled words never fall back to the card's `oov.token`."""
    for task in TASKS:
        model = PairModel(MODELS / task)
        token = model.card.oov.token
        tokens = model.tokenizer.encode(NEW_WORDS).tokens
        assert token not in tokens, f"{task}: {tokens}"


def _selection_rows(card: dict) -> list[tuple[str, dict]]:
    """(split spec, carded metrics) of every split the card measured: selection (`metrics`) and `reported`."""
    return [*card["metrics"].items(), *card.get("reported", {}).items()]


@pytest.mark.parametrize("task", TASKS)
def test_quality_regression(task: str) -> None:
    """`pairscore evaluate` on every carded split stays within 0.01 of the card.

    The fallback-token rate is the card's.
    """
    data_dir = resolve_data_dir()
    card = json.loads((MODELS / task / "card.json").read_text())
    metric = tasks.TASKS[task].metric
    for spec, carded in _selection_rows(card):
        source, split, selection = parse_spec(spec)
        data = data_dir / source / f"{split}.jsonl"
        if not data.is_file():
            pytest.skip(f"{data} not here: set PAIRSCORE_DATA_DIR to the shared data")
        rows = selection[len(split) :].strip("[]") or ":"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "pairscore.cli",
                "evaluate",
                str(MODELS / task),
                "--data",
                str(data),
                f"--rows={rows}",
            ],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode == 0, done.stderr
        measured = json.loads(done.stdout.strip().splitlines()[-1])
        assert measured[metric] >= carded[metric] - QUALITY_DROP, (
            f"{task} {spec}: {metric} {measured[metric]:.4f} < card {carded[metric]:.4f} - {QUALITY_DROP}"
        )
        assert measured["oov"]["token_rate"] == pytest.approx(card["oov"]["splits"][spec]["token_rate"], abs=1e-9)
        assert measured["oov"]["token_rate"] <= 0.01, f"{task} {spec}: fallback-token rate over 1%"


@pytest.mark.parametrize("task", TASKS)
def test_embed_vectors_keep_their_sts_cosine(task: str) -> None:
    """The plain cosine of two /embed vectors keeps the STS-B Spearman its card states (within 0.01)."""
    pytest.importorskip("torchmetrics", reason="the Spearman of training.evaluators: needs the 'train' extra")
    pytest.importorskip("datasets", reason="loads stsb/validation: needs the 'train' extra")
    from training.evaluators import STS_SPLIT, STSEvaluator

    card = json.loads((MODELS / task / "card.json").read_text())
    if not (resolve_data_dir() / "stsb" / "validation.jsonl").is_file():
        pytest.skip("stsb/validation not here: set PAIRSCORE_DATA_DIR to the shared data")
    assert card["embed_sts"]["split"] == STS_SPLIT
    measured = STSEvaluator(STS_SPLIT)(PairModel(MODELS / task).encode)
    assert measured >= card["embed_sts"]["spearman"] - QUALITY_DROP
