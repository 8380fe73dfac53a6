"""Word-level tokenizer built with `tokenizers` from the training texts.

The saved tokenizer.json drives both training and serving: lower-cased, NFKC, and
punctuation split off, so raw text (`dog.`) and pre-tokenized text (`dog .`) give
the same ids.
"""

from __future__ import annotations

from typing import Iterable

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from pairscore.artifact import PAD_TOKEN, UNK_TOKEN

UNLIMITED_VOCAB = 10_000_000


def build_tokenizer(texts: Iterable[str], min_freq: int = 1, max_size: int | None = None, max_tokens: int = 128) -> Tokenizer:
    """Train a WordLevel vocabulary ([PAD]=0, [UNK]=1) keeping words seen at least min_freq times."""
    tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
    tokenizer.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordLevelTrainer(
        vocab_size=max_size or UNLIMITED_VOCAB, min_frequency=min_freq, special_tokens=[PAD_TOKEN, UNK_TOKEN], show_progress=False
    )
    tokenizer.train_from_iterator(texts, trainer)
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def vocabulary(tokenizer: Tokenizer) -> list[str]:
    """Words in id order."""
    vocab = tokenizer.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)
