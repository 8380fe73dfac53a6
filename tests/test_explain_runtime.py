"""pairscore.jobs.explain and `pairscore explain` on real exported models.

Uses the tiny fixtures, and the shipped models when they have winners.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html import unescape
from pathlib import Path

import numpy as np
import pytest

from helpers import MODELS as SHIPPED
from helpers import ROOT, TASKS
from pairscore import artifact, card
from pairscore.jobs.explain import explain_pair, task_result, token_weights
from pairscore.runtime.model import PairModel

PAIRS = {
    "entailment": ("A man is playing a guitar on stage.", "A man is playing music."),
    "paraphrase": ("The cat sat on the mat.", "A cat was sitting on the mat."),
    "ranking": ("Who wrote Hamlet?", "Hamlet is a tragedy written by William Shakespeare."),
}


def check_weights(model: PairModel, text: str, side: dict) -> None:
    encoding = model.tokenizer.encode(text)  # the served tokenizer truncates at the card's max_tokens
    assert side["tokens"] == encoding.tokens
    assert [tuple(span) for span in side["offsets"]] == encoding.offsets
    weights = np.array(side["weights"])
    assert len(weights) == len(side["tokens"])
    if len(weights):
        assert (weights >= 0).all() and abs(weights.sum() - 1) <= 1e-9


@pytest.mark.parametrize("task", list(PAIRS))
def test_tiny_models_explain_by_winners(tiny_models, task):
    model = PairModel(tiny_models / task)
    a, b = PAIRS[task]
    answer = explain_pair(model, a, b)
    assert answer["task"] == task and answer["method"] == "winners"
    check_weights(model, a, answer["text_a"])
    check_weights(model, b, answer["text_b"])
    # the weights are the share of dims each token wins: dims * weight is a whole number of dims
    dims = np.array(answer["text_a"]["weights"]) * model.dim
    assert np.allclose(dims, np.round(dims)) and round(dims.sum()) == model.dim


@pytest.mark.parametrize("task", list(PAIRS))
def test_result_is_what_the_task_scoring_gives(tiny_models, task):
    model = PairModel(tiny_models / task)
    a, b = PAIRS[task]
    result = explain_pair(model, a, b)["result"]
    if task == "ranking":
        assert abs(result["score"] - float(model.rank(a, [b, "an unrelated answer ."])[0])) <= 1e-6
    else:
        row = model.score_pairs([a, "another text ."], [b, "and one more ."])[0]
        got = list(result["probabilities"].values()) if task == "entailment" else [result["probability"]]
        assert np.abs(np.array(got) - np.atleast_1d(row)).max() <= 1e-6


def test_each_occurrence_of_a_repeated_word_has_its_own_weight(tiny_models):
    model = PairModel(tiny_models / "entailment")
    (side,) = token_weights(model, ["the dog saw the dog and the dog ."])
    positions = [i for i, t in enumerate(side.tokens) if t == "dog"]
    assert len(positions) == 3 and len(side.weights) == len(side.tokens)
    assert abs(sum(side.weights) - 1) <= 1e-9


def test_truncation_and_empty_text(tiny_models):
    model = PairModel(tiny_models / "paraphrase")
    long_text = " ".join(f"w{i}" for i in range(model.max_tokens + 40))
    long_side, empty = token_weights(model, [long_text, ""])
    assert len(long_side.tokens) == len(long_side.weights) == model.max_tokens
    assert abs(sum(long_side.weights) - 1) <= 1e-9
    assert empty.tokens == empty.weights == []


@pytest.fixture(scope="module")
def mean_pooled(tiny_models: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny entailment folder with a mean-pooling encoder (no winners output) in its place."""
    torch = pytest.importorskip("torch")
    from training.export import graphs
    from training.model import PairModule

    folder = tmp_path_factory.mktemp("mean") / "entailment"
    folder.mkdir()
    source = PairModel(tiny_models / "entailment")
    shutil.copy(tiny_models / "entailment" / artifact.TOKENIZER_FILE, folder)
    torch.manual_seed(0)
    arch = source.card.architecture
    module = PairModule(
        "entailment",
        vocab_size=source.tokenizer.get_vocab_size(),
        embedding_dim=arch["embedding_dim"],
        hidden_size=arch["hidden_size"],
        pooling="mean",
        head_hidden=8,
        embeddings="learned",
    ).eval()
    graphs.export_graphs(module, folder)
    written = source.card.model_copy(
        update={
            "graphs": card.Graphs(
                encoder=artifact.ENCODER_FILE, head=artifact.HEAD_FILE, tokenizer=artifact.TOKENIZER_FILE
            ),
            "explain": None,
            "features": None,
        }
    )  # this head takes no pair features, whatever the recipe's data.features
    card.write(folder, written)
    return folder


def test_without_winners_occlusion_explains(mean_pooled):
    model = PairModel(mean_pooled)
    assert not model.has_winners
    text = "a man is playing a guitar ."
    answer = explain_pair(model, text, "a dog .")
    assert answer["method"] == "occlusion"
    check_weights(model, text, answer["text_a"])
    # the heaviest token is the one whose removal moves the vector most (computed here from the texts)
    tokens = answer["text_a"]["tokens"]
    full = model.encode([text])[0]
    moves = [np.abs(model.encode([" ".join(tokens[:i] + tokens[i + 1 :])])[0] - full).sum() for i in range(len(tokens))]
    assert int(np.argmax(answer["text_a"]["weights"])) == int(np.argmax(moves))


def run_cli(*args: str) -> subprocess.CompletedProcess:
    code = (
        "import sys; from pairscore.cli import main; rc = main(sys.argv[1:]); "
        "assert not {'torch', 'datasets', 'pytorch_lightning'} & set(sys.modules), 'torch imported'; sys.exit(rc)"
    )
    return subprocess.run(
        [sys.executable, "-c", code, "explain", *args], capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def test_cli_prints_the_table_and_writes_a_self_contained_page(tiny_models, tmp_path):
    page = tmp_path / "explain.html"
    a, b = "Two dogs run in the snow .", "Two <animals> are outside & cold ."
    done = run_cli("--model", str(tiny_models / "entailment"), "--a", a, "--b", b, "--html", str(page))
    assert done.returncode == 0, done.stderr
    model = PairModel(tiny_models / "entailment")
    expected = task_result(model, a, b)
    assert f"result: {{'label': '{expected['label']}'" in done.stdout
    for token in model.tokenizer.encode(b).tokens:
        assert re.search(rf"^  {re.escape(token)}\s+\d\.\d{{3}}", done.stdout, re.M), token
    html = page.read_text()
    assert "<script" not in html and "http" not in html.split("</title>")[1]  # nothing to fetch
    assert "<animals" not in html and "&lt;" in html and "&amp;" in html  # escaped
    weights = [float(w) for w in re.findall(r'data-weight="([0-9.]+)"', html)]
    assert len(weights) == len(model.tokenizer.encode(a).tokens) + len(model.tokenizer.encode(b).tokens)
    shown = json.loads(unescape(re.search(r'<pre id="result">(.*?)</pre>', html, re.S).group(1)))
    assert shown["label"] == expected["label"]
    assert max(abs(shown["probabilities"][k] - v) for k, v in expected["probabilities"].items()) <= 1e-6


def test_cli_json_and_a_bad_model_folder(tiny_models, tmp_path):
    done = run_cli("--model", str(tiny_models / "ranking"), "--a", "who ?", "--b", "me .", "--json")
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["result"]) == {"score"}
    bad = run_cli("--model", str(tmp_path), "--a", "x", "--b", "y")
    assert bad.returncode == 1 and "card.json" in bad.stderr


@pytest.mark.parametrize("task", TASKS)
def test_shipped_models_explain_by_winners(task):
    model = PairModel(SHIPPED / task)
    assert model.has_winners, f"models/{task}: the encoder has no winners output"
    a, b = PAIRS[task]
    answer = explain_pair(model, a, b)
    assert answer["method"] == "winners"
    check_weights(model, a, answer["text_a"])
    check_weights(model, b, answer["text_b"])
