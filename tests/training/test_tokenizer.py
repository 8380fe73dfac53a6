"""The tokenizer: raw and pre-tokenized text give the same ids; vocabulary limits; truncation."""

import pytest

pytest.importorskip("torch")

from training.tokenizer import build_tokenizer, vocabulary  # noqa: E402

TEXTS = ["The dog barked.", "A dog , a cat and a bird !", "Dogs don't bark at cats?", "the cat sat"]


def test_raw_and_pretokenized_text_give_the_same_ids():
    tokenizer = build_tokenizer(TEXTS)
    for raw, pre in [("The dog barked.", "the dog barked ."), ("A dog,a cat!", "a dog , a cat !"), ("DOG.", "dog .")]:
        assert tokenizer.encode(raw).ids == tokenizer.encode(pre).ids


def test_special_tokens_and_unknown_words():
    tokenizer = build_tokenizer(TEXTS)
    assert vocabulary(tokenizer)[:2] == ["[PAD]", "[UNK]"]
    assert tokenizer.encode("zebra dog").ids[0] == 1


def test_min_freq_and_max_size():
    assert set(vocabulary(build_tokenizer(TEXTS, min_freq=2))[2:]) == {"a", "the", "dog", "cat"}
    assert len(vocabulary(build_tokenizer(TEXTS, max_size=6))) == 6


def test_truncation_at_max_tokens():
    assert len(build_tokenizer(TEXTS, max_tokens=3).encode("the dog barked at the cat").ids) == 3
