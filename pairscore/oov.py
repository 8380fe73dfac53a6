"""Fallback-token rates: how much of a text a tokenizer could not represent (card `oov`; the target is <= 1%).

One definition for the card (export), `pairscore evaluate`, the ablation's vocabulary table and the tests.
Needs `tokenizers` only, so it runs on the serving install.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from tokenizers import Tokenizer


def fallback_token(tokenizer: Tokenizer) -> str | None:
    """The token unknown text falls back to: the model's unk token (word level, WordPiece, BPE) or Unigram's
    unk piece; None for a tokenizer without one (byte-level BPE)."""
    spec = json.loads(tokenizer.to_str())["model"]
    if spec.get("unk_token"):
        return spec["unk_token"]
    if spec.get("unk_id") is not None:
        return spec["vocab"][spec["unk_id"]][0]
    return None


def oov_rates(tokenizer: Tokenizer, texts: Iterable[str]) -> dict[str, float]:
    """Share of the tokens (after the tokenizer's truncation) that are the fallback token, and share of texts with
    at least one; each distinct text counted once (a question is not counted once per candidate answer)."""
    token = fallback_token(tokenizer)
    unknown = tokenizer.token_to_id(token) if token else None
    ids = [e.ids for e in tokenizer.encode_batch(list(dict.fromkeys(texts)))]
    hits = [sum(1 for i in seq if i == unknown) for seq in ids]
    tokens = sum(len(seq) for seq in ids)
    return {
        "token_rate": sum(hits) / tokens if tokens else 0.0,
        "text_rate": sum(h > 0 for h in hits) / len(ids) if ids else 0.0,
    }
