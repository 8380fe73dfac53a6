"""The tokenizer: raw and pre-tokenized text give the same ids; vocabulary limits; truncation."""

import pytest

pytest.importorskip("torch")

from pairscore.oov import fallback_token, oov_rates  # noqa: E402
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


@pytest.mark.parametrize("kind", ["minilm", "wordpiece"])
def test_subword_tokenizers_keep_unseen_words(kind):
    tokenizer = build_tokenizer(TEXTS * 3, kind=kind, max_size=200 if kind == "wordpiece" else None)
    assert vocabulary(tokenizer)[0] == "[PAD]"
    assert tokenizer.encode("The dog barked.").ids == tokenizer.encode("the dog barked .").ids
    if kind == "minilm":  # MiniLM's own vocabulary: new words become pieces, never [CLS]/[SEP] or the fallback
        tokens = tokenizer.encode("Zyxelbrook barked 3,417 times").tokens
        assert fallback_token(tokenizer) == "[UNK]" and "[UNK]" not in tokens and "[CLS]" not in tokens
        assert tokenizer.token_to_id("[UNK]") == 100
        assert oov_rates(tokenizer, ["Zyxelbrook barked", "the cat"]) == {"token_rate": 0.0, "text_rate": 0.0}
    else:
        assert len(tokenizer.encode("dogs barked").ids) >= 2
