"""Which tokens a sentence vector comes from: /explain and `pairscore explain`.

Max pooling takes every dimension of the sentence vector from exactly one token's
state, so the share of dimensions a token wins is a faithful, exact measure of what
the encoder kept (InferSent's word importance, Conneau et al. 2017). It costs one
encoder run that also asks for the graph's `winners` output (artifact format v2).

An encoder without that output (mean or last pooling, or a version-1 folder) is
explained by gradient-free occlusion instead: a token's weight is how far the vector
moves (L1) when that one token is left out, normalized to sum to 1. `method` says
which of the two an answer used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from pairscore.artifact import ArtifactError
from pairscore.jobs.explain_page import render_page
from pairscore.runtime.model import PairModel

Method = Literal["winners", "occlusion"]


@dataclass
class TokenWeights:
    """One text: its tokens after truncation, their character spans in the text, and their weights (>= 0, sum 1).

    A text with no tokens (empty) has empty lists: the encoder reads it as one [PAD].
    """

    tokens: list[str]
    offsets: list[tuple[int, int]]
    weights: list[float]


def method_of(model: PairModel) -> Method:
    return "winners" if model.has_winners else "occlusion"


def winner_shares(winners: np.ndarray, length: int) -> np.ndarray:
    """Each of `length` tokens' share of the dims it wins (winners: one position per dim)."""
    return np.bincount(winners, minlength=length)[:length] / winners.size


def occlusion_shares(model: PairModel, ids: Sequence[int]) -> np.ndarray:
    """Each token's L1 move of the vector when it is left out, normalized; all equal if nothing moves."""
    variants = [list(ids)] + [list(ids[:i]) + list(ids[i + 1 :]) for i in range(len(ids))]
    vectors = model.encode_ids(variants)
    moves = np.abs(vectors[1:] - vectors[0]).sum(axis=1).astype(np.float64)
    total = moves.sum()
    return moves / total if total > 0 else np.full(len(ids), 1.0 / len(ids))


def token_weights(model: PairModel, texts: Sequence[str]) -> list[TokenWeights]:
    """Per text, its tokens (as the served tokenizer splits and truncates it) and their weights."""
    encodings = model.tokenizer.encode_batch(list(texts))
    ids = [enc.ids for enc in encodings]
    if model.has_winners:
        winners = model.winners(ids)
        shares = [winner_shares(winners[row], len(seq)) for row, seq in enumerate(ids)]
    else:
        shares = [occlusion_shares(model, seq) if seq else np.zeros(0) for seq in ids]
    return [
        TokenWeights(list(enc.tokens), [tuple(span) for span in enc.offsets], [float(w) for w in share])
        for enc, share in zip(encodings, shares)
    ]


def task_result(model: PairModel, text_a: str, text_b: str) -> dict[str, Any]:
    """What the task's endpoint answers for this one pair (for the CLI; the server calls its endpoints)."""
    return next(model.results(model.score_pairs([text_a], [text_b])))


def explain_pair(model: PairModel, text_a: str, text_b: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
    """The /explain answer: task, result (computed here unless given), method, and both texts' tokens and weights."""
    a, b = token_weights(model, [text_a, text_b])
    return {
        "task": model.task,
        "result": task_result(model, text_a, text_b) if result is None else result,
        "method": method_of(model),
        "text_a": asdict(a),
        "text_b": asdict(b),
    }


def table(answer: dict[str, Any]) -> str:
    """The answer as text: the result, then one `token  weight` line per token of each text."""
    lines = [f"task: {answer['task']}  result: {answer['result']}  method: {answer['method']}"]
    for side in ("text_a", "text_b"):
        lines += ["", f"{side}:", f"  {'token':<20} {'weight':>7}"]
        for token, weight in zip(answer[side]["tokens"], answer[side]["weights"]):
            lines.append(f"  {token:<20} {weight:7.3f} {'#' * round(40 * weight)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="pairscore explain", description="Score one pair and show which tokens each sentence vector comes from."
    )
    parser.add_argument("--model", type=Path, required=True, help="a model folder, e.g. models/entailment")
    parser.add_argument("--a", required=True, help="first text (premise, text_a, or the question for ranking)")
    parser.add_argument("--b", required=True, help="second text (hypothesis, text_b, or the answer for ranking)")
    parser.add_argument("--html", type=Path, help="also write a self-contained HTML page here")
    parser.add_argument("--json", action="store_true", help="print the /explain JSON instead of the table")
    args = parser.parse_args(argv)
    try:
        model = PairModel(args.model)
    except ArtifactError as exc:
        print(f"pairscore explain: {exc}", file=sys.stderr)
        return 1
    answer = explain_pair(model, args.a, args.b)
    if args.json:
        print(json.dumps(answer))
    else:
        print(table(answer))
    if args.html:
        args.html.write_text(render_page(answer, args.a, args.b), encoding="utf-8")
        print(f"wrote {args.html}", file=sys.stderr)
    return 0
