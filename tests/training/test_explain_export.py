"""The max-pool `winners` output (artifact format v2).

The exported argmax is numpy's max pool over the encoder's states.
"""

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")

from helpers import FIXTURE_DATA, TASKS  # noqa: E402
from pairscore import artifact, card  # noqa: E402
from training.export import graphs, parity  # noqa: E402
from training.model import PairModule  # noqa: E402
from training.tokenizer import build_tokenizer  # noqa: E402


def snli_texts() -> list[str]:
    rows = [json.loads(line) for line in (FIXTURE_DATA / "snli" / "validation.jsonl").read_text().splitlines()]
    return [text for row in rows for text in (row["premise"], row["hypothesis"])]


@pytest.mark.parametrize("bidirectional,layers", [(True, 1), (False, 2)])
def test_winners_are_numpy_max_pool_argmax_over_the_states_on_a_real_padded_batch(tmp_path, bidirectional, layers):
    texts = snli_texts()
    tokenizer = build_tokenizer(texts)
    torch.manual_seed(0)
    model = PairModule(
        "entailment",
        vocab_size=tokenizer.get_vocab_size(),
        embedding_dim=8,
        hidden_size=12,
        layers=layers,
        bidirectional=bidirectional,
        pooling="max",
        head_hidden=6,
    ).eval()
    graphs.export_graphs(model, tmp_path)
    graphs.check_symbolic(tmp_path / artifact.ENCODER_FILE)
    session = ort.InferenceSession(str(tmp_path / artifact.ENCODER_FILE))
    assert [o.name for o in session.get_outputs()] == [artifact.ENCODER_OUTPUT, artifact.ENCODER_WINNERS]
    assert all(o.shape[0] == "batch" for o in session.get_outputs())

    ids = [enc.ids for enc in tokenizer.encode_batch(texts[:40])] + [[]]  # mixed lengths and an empty text
    lengths = np.array([len(seq) for seq in ids])
    batch = np.zeros((len(ids), lengths.max() + 3), dtype=np.int64)  # extra padding past the longest
    for row, seq in enumerate(ids):
        batch[row, : len(seq)] = seq
    vectors, winners = session.run(None, {"input_ids": batch, "lengths": lengths})
    assert winners.dtype == np.int64 and winners.shape == vectors.shape

    with torch.no_grad():
        states, _, _ = model.encoder.states(torch.from_numpy(batch), torch.from_numpy(lengths))
    states = states.numpy()
    for row, n in enumerate(np.maximum(lengths, 1)):  # an empty text is one [PAD] token
        real = states[row, :n]  # numpy max pool over the real tokens only
        assert (winners[row] < n).all(), "padding won a dim"
        np.testing.assert_allclose(real.max(axis=0), vectors[row], atol=1e-5)
        np.testing.assert_allclose(real[winners[row], np.arange(real.shape[1])], real.max(axis=0), atol=1e-5)
        assert (winners[row] == real.argmax(axis=0)).mean() >= 0.99  # only float near-ties may pick another token


@pytest.mark.parametrize("pooling", ["mean", "last"])
def test_only_max_pooling_exports_winners(tmp_path, pooling):
    model = PairModule(
        "paraphrase", vocab_size=20, embedding_dim=4, hidden_size=4, pooling=pooling, head_hidden=4
    ).eval()
    graphs.export_graphs(model, tmp_path)
    outputs = [o.name for o in ort.InferenceSession(str(tmp_path / artifact.ENCODER_FILE)).get_outputs()]
    assert outputs == [artifact.ENCODER_OUTPUT]
    with pytest.raises(ValueError, match="max pooling"):
        model.encoder.forward_with_winners(torch.ones(1, 2, dtype=torch.long), torch.tensor([2]))


@pytest.mark.parametrize("task", TASKS)
def test_exported_model_folders_carry_winners_and_check_them(tiny_models, task):
    written = card.read(tiny_models / task)
    assert written.explain == artifact.ENCODER_WINNERS
    assert written.parity.winners <= parity.PARITY_TOLERANCE
    encoders = {
        getattr(written.graphs, role)
        for role in ("encoder", "encoder_fp32", "encoder_int8")
        if getattr(written.graphs, role)
    }
    for name in encoders:
        session = ort.InferenceSession(str(tiny_models / task / name))
        assert [o.name for o in session.get_outputs()] == [artifact.ENCODER_OUTPUT, artifact.ENCODER_WINNERS]


def test_numpy_lstm_reproduces_the_exported_encoder_and_its_winners(tiny_models):
    from training.studies.inside_lstm import REPRODUCTION_TOLERANCE, NumpyLSTM, check_against_graph

    texts = snli_texts()[:30] + ["", "a dog . a dog ."]
    check = check_against_graph(NumpyLSTM(tiny_models / "entailment"), tiny_models / "entailment", texts)
    assert check["max_abs_diff"] <= REPRODUCTION_TOLERANCE
    assert check["winners_agree"] >= 0.99
