"""Exact-match pair features: what Siamese vectors blur (the same rare word, name or number in both texts).

The head gets them beside [u, v, |u-v|, u*v]. They are computed from words, not from
the model's token ids (subword pieces or [UNK] would hide exactly these matches), by
a normalizing word splitter that gives the same words for raw (`Dog's 2,500.`) and
pre-tokenized, lower-cased (`dog 's 2500 .`) text: the shared data is partly
lower-cased, so case is not a signal here, and rare words stand in for capitalised
ones. Document frequencies come from the training texts and ship in features.json;
the same code runs at training and serving time (numpy only, no torch).
"""

from __future__ import annotations

import functools
import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

NAMES = (
    "idf_recall_a",  # IDF-weighted share of text_a's words found in text_b
    "idf_recall_b",  # ... and of text_b's words found in text_a
    "bm25",  # BM25 of text_b as the document for text_a as the query, over its maximum (0..1)
    "rare_recall_a",  # share of text_a's rare words (high IDF) found in text_b
    "number_jaccard",  # Jaccard overlap of the numbers in the two texts (0 when neither has one)
    "numbers",  # 1 when either text has a number
    "bigram_jaccard",  # Jaccard overlap of adjacent word pairs
)
MIN_DF = 2  # words seen in fewer training texts are not stored: they get the IDF of df=1
RARE_SHARE = 0.001  # a word is rare when it occurs in at most this share of the training texts
ANALYSED_TEXTS = 4096  # per model: recently analysed texts kept (an FAQ pool of 1,000 answers fits; ~2 KB each)
BM25_K1, BM25_B = 1.2, 0.75

_NUMBER = r"\d+(?:[.,]\d+)*"
_WORD = re.compile(rf"{_NUMBER}|[^\W\d_]+", re.UNICODE)


def words(text: str) -> list[str]:
    """NFKC, lower-cased words and numbers, punctuation dropped; '2,500' -> '2500', "dog's" -> ['dog', 's']."""
    text = unicodedata.normalize("NFKC", text).lower()
    return [w.replace(",", "") if w[0].isdigit() else w for w in _WORD.findall(text)]


def resolve(names: bool | Sequence[str] | None) -> list[str]:
    """The feature names a config asks for.

    true = all, false/None/[] = none, else a subset of NAMES in the given order.
    """
    if names is True:
        return list(NAMES)
    if not names:
        return []
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise ValueError(f"unknown pair feature(s) {unknown}: expected some of {list(NAMES)}")
    return list(names)


class _Text(NamedTuple):
    """What the features need from one text. Only dicts of strings and numbers inside, which the garbage
    collector does not track: the LRU of analysed texts holds thousands, and with Counters and frozensets
    (~100 references a text) every full collection of a serving worker walked them all: pauses over 20 ms
    (benchmarks/wrk_load.py).
    The word sets are dicts used through their keys; a bigram is "word word" (words hold no spaces)."""

    counts: dict[str, int]
    idf: dict[str, float]
    length: int
    idf_sum: float
    rare: dict[str, None]
    numbers: dict[str, None]
    bigrams: dict[str, None]


class PairFeatures:
    """Document frequencies fit on training texts, and the features of text pairs."""

    def __init__(self, names: Sequence[str], documents: int, average_length: float, df: dict[str, int]):
        self.names = resolve(names)
        self.documents, self.average_length, self.df = int(documents), float(average_length), dict(df)
        self.default_idf = self._idf(1)
        self.rare_idf = self._idf(max(1, int(RARE_SHARE * self.documents)))
        self._table = {w: self._idf(c) for w, c in self.df.items()}
        # An answer pool ranked for every question is analysed once, not once per request: analysis is ~80% of the
        # features' cost (30 of 37 ms for 1,000 WikiQA answers). Bounded; a pure function, so cached == fresh.
        self._analysed = functools.lru_cache(maxsize=ANALYSED_TEXTS)(self.analyse)

    def _idf(self, df: int) -> float:
        return math.log(1.0 + (self.documents - df + 0.5) / (df + 0.5))

    def idf(self, word: str) -> float:
        return self._table.get(word, self.default_idf)

    @classmethod
    def fit(cls, texts: Iterable[str], names: bool | Sequence[str] = True) -> PairFeatures:
        """Each distinct text is one document; words in fewer than MIN_DF documents are left out of the file."""
        df: Counter = Counter()
        documents, total = 0, 0
        for text in dict.fromkeys(texts):
            tokens = words(text)
            documents += 1
            total += len(tokens)
            df.update(set(tokens))
        kept = {w: c for w, c in sorted(df.items(), key=lambda item: (-item[1], item[0])) if c >= MIN_DF}
        return cls(resolve(names), documents, round(total / max(1, documents), 4), kept)

    def to_json(self) -> str:
        return json.dumps(
            {
                "names": self.names,
                "documents": self.documents,
                "average_length": self.average_length,
                "min_df": MIN_DF,
                "df": self.df,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )

    @classmethod
    def from_json(cls, text: str) -> PairFeatures:
        data = json.loads(text)
        return cls(data["names"], data["documents"], data["average_length"], data["df"])

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> PairFeatures:
        return cls.from_json(Path(path).read_text(encoding="utf-8"))

    def analyse(self, text: str) -> _Text:
        """What the features need from one text; a question ranked against 1,000 answers is analysed once."""
        tokens = words(text)
        counts: dict[str, int] = {}  # a Counter (or a dict copied from one) would be tracked
        for token in tokens:
            counts[token] = counts.get(token, 0) + 1
        idf = {w: self._table.get(w, self.default_idf) for w in counts}
        numbers = dict.fromkeys(w for w in counts if w[0].isdigit())
        return _Text(
            counts=counts,
            idf=idf,
            length=len(tokens),
            idf_sum=sum(idf.values()),
            rare=dict.fromkeys(w for w, value in idf.items() if value >= self.rare_idf and w not in numbers),
            numbers=numbers,
            bigrams=dict.fromkeys(f"{x} {y}" for x, y in zip(tokens, tokens[1:])),
        )

    def _pair(self, a: _Text, b: _Text) -> list[float]:
        shared = a.counts.keys() & b.counts.keys()
        shared_idf = sum(a.idf[w] for w in shared)
        norm = BM25_K1 * (1 - BM25_B + BM25_B * b.length / self.average_length) if self.average_length else BM25_K1
        bm25 = sum(a.idf[w] * b.counts[w] * (BM25_K1 + 1) / (b.counts[w] + norm) for w in shared)
        values = {
            "idf_recall_a": shared_idf / a.idf_sum if a.idf_sum else 0.0,
            "idf_recall_b": shared_idf / b.idf_sum if b.idf_sum else 0.0,
            "bm25": bm25 / ((BM25_K1 + 1) * a.idf_sum) if a.idf_sum else 0.0,
            "rare_recall_a": len(a.rare.keys() & b.counts.keys()) / len(a.rare) if a.rare else 0.0,
            "number_jaccard": _jaccard(a.numbers, b.numbers),
            "numbers": float(bool(a.numbers or b.numbers)),
            "bigram_jaccard": _jaccard(a.bigrams, b.bigrams),
        }
        return [values[name] for name in self.names]

    def pairs(self, texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
        """float32 [n, len(names)] for the pairs (texts_a[i], texts_b[i]).

        A text seen recently is not analysed again.
        """
        get = self._analysed
        rows = [self._pair(get(a), get(b)) for a, b in zip(texts_a, texts_b)]
        return np.asarray(rows, dtype=np.float32).reshape(len(rows), len(self.names))


def _jaccard(a: dict, b: dict) -> float:
    shared = len(a.keys() & b.keys())
    union = len(a) + len(b) - shared
    return shared / union if union else 0.0
