"""The encoder's padding invariance, for every cell, direction and pooling."""

import itertools

import pytest

torch = pytest.importorskip("torch")

from training.encoder import SentenceEncoder  # noqa: E402


def random_batch(lengths: list[int], vocab: int = 40) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max(lengths))
    ids = torch.zeros(len(lengths), width, dtype=torch.long)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(2, vocab, (n,))
    return ids, torch.tensor(lengths)


@pytest.mark.parametrize(
    "cell,bidirectional,pooling",
    list(itertools.product(["lstm", "gru", "rnn"], [True, False], ["max", "mean", "last"])),
)
def test_a_vector_is_the_same_alone_or_batched_with_longer_texts(cell, bidirectional, pooling):
    torch.manual_seed(0)
    encoder = SentenceEncoder(torch.nn.Embedding(40, 8, padding_idx=0), cell, 12, 2, bidirectional, pooling, 0.3).eval()
    ids, lengths = random_batch([3, 17, 1, 0, 9])
    with torch.no_grad():
        batched = encoder(ids, lengths)
        alone = torch.cat(
            [encoder(ids[i : i + 1, : max(1, int(n))], lengths[i : i + 1]) for i, n in enumerate(lengths)]
        )
        extra_pads = encoder(torch.nn.functional.pad(ids, (0, 11)), lengths)
    assert (batched - alone).abs().max() <= 1e-6
    assert (batched - extra_pads).abs().max() <= 1e-6


def test_an_empty_text_reads_as_one_pad_token():
    encoder = SentenceEncoder(torch.nn.Embedding(10, 4, padding_idx=0), "gru", 6).eval()
    with torch.no_grad():
        empty = encoder(torch.zeros(1, 1, dtype=torch.long), torch.tensor([0]))
        pad = encoder(torch.zeros(1, 1, dtype=torch.long), torch.tensor([1]))
    assert torch.isfinite(empty).all() and torch.equal(empty, pad)


def test_lstm_forget_gate_bias_starts_at_one():
    encoder = SentenceEncoder(torch.nn.Embedding(10, 4), "lstm", 5, layers=2)
    for rnn in encoder.rnns:
        forget = rnn.bias_ih_l0[5:10] + rnn.bias_hh_l0[5:10]
        assert torch.allclose(forget, torch.ones(5))


@pytest.mark.parametrize(
    "kwargs,message",
    [({"cell": "transformer"}, "cell"), ({"pooling": "attention"}, "pooling"), ({"layers": 0}, "layers")],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(ValueError, match=message):
        SentenceEncoder(torch.nn.Embedding(10, 4), **kwargs)
