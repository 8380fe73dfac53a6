"""Card `oov`: the share of fallback tokens the served tokenizer gives on every split a card reports, and the
open-vocabulary target (<= 1% of tokens on every selection split) on the SHIPPED tokenizers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from helpers import MODELS, TASKS, shared_data_or_skip
from pairscore import artifact
from pairscore.card import read
from pairscore.oov import fallback_token, oov_rates
from pairscore.runtime.model import PairModel

MAX_TOKEN_RATE = 0.01
# an Egyptian hieroglyph: a word no training text has, and a character no WordPiece vocabulary here has
UNKNOWN = "\U00013000"


@pytest.mark.parametrize("task", TASKS)
def test_shipped_tokenizers_keep_fallback_tokens_under_1_percent(task):
    model = PairModel(MODELS / task)
    pytest.importorskip("datasets", reason="loads the selection splits: needs the 'train' extra")
    from pairscore.specs import load_pairs

    data_dir = shared_data_or_skip(*model.card.metrics)
    for spec in model.card.metrics:
        pairs = load_pairs(spec, task, data_dir)
        rates = oov_rates(model.tokenizer, [t for p in pairs for t in (p.text_a, p.text_b)])
        assert rates == pytest.approx(model.card.oov.splits[spec], abs=1e-9), (
            f"{task} {spec}: card differs from the tokenizer"
        )
        assert rates["token_rate"] <= MAX_TOKEN_RATE, (
            f"{task} {spec}: {rates['token_rate']:.2%} of tokens are {model.card.oov.token}"
        )


def test_cards_report_oov_on_every_split(tiny_v2_models):
    for task in TASKS:
        card = read(tiny_v2_models / task)
        assert card.oov.token == artifact.UNK_TOKEN
        assert set(card.oov.splits) == set(card.metrics)
        assert all(0 <= r["token_rate"] <= r["text_rate"] <= 1 for r in card.oov.splits.values())


def test_rates_count_fallback_tokens_of_distinct_texts(tiny_v2_models):
    model = PairModel(tiny_v2_models / "ranking")
    assert fallback_token(model.tokenizer) == artifact.UNK_TOKEN
    known = [w for w in model.tokenizer.get_vocab() if w.isalpha()][:3]
    texts = [" ".join(known), f"{known[0]} {UNKNOWN}", f"{known[0]} {UNKNOWN}"]  # the repeat counts once
    assert oov_rates(model.tokenizer, texts) == {"token_rate": pytest.approx(1 / 5), "text_rate": pytest.approx(1 / 2)}


def test_evaluate_prints_the_oov_rates(tiny_v2_models, tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text(
        json.dumps({"question": f"who {UNKNOWN} ?", "answer": f"the {UNKNOWN}", "question_id": 1, "label": 1}) + "\n"
    )
    done = subprocess.run(
        [sys.executable, "-m", "pairscore.cli", "evaluate", str(tiny_v2_models / "ranking"), "--data", str(data)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1])["oov"]["text_rate"] == 1.0
