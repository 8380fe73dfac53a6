"""Evaluators as classes: each takes any `encode(texts) -> vectors` (torch model or served ONNX graphs)
and returns a metric.

STSEvaluator answers "are the /embed vectors useful on their own?": the Spearman
correlation between the plain cosine of two texts' vectors and the gold similarity
(STS-B), with no regressor on top.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torchmetrics.functional import spearman_corrcoef

from pairscore.schema import detect_columns
from pairscore.specs import load_rows

Encode = Callable[[Sequence[str]], np.ndarray]
STS_SPLIT = "stsb/validation"


class STSEvaluator:
    """Spearman of cos(encode(a), encode(b)) against the gold score, on a split with a numeric `score` column."""

    def __init__(self, spec: str = STS_SPLIT, data_dir: str | Path | None = None):
        rows = load_rows(spec, data_dir)
        columns = detect_columns("paraphrase", rows.column_names)
        self.spec = spec
        self.texts_a, self.texts_b = list(rows[columns.text_a]), list(rows[columns.text_b])
        self.scores = np.asarray(rows["score"], dtype=np.float64)

    def __call__(self, encode: Encode) -> float:
        texts = list(dict.fromkeys(self.texts_a + self.texts_b))
        vectors = np.asarray(encode(texts), dtype=np.float64)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        row = {text: i for i, text in enumerate(texts)}
        cosine = np.einsum("ij,ij->i", vectors[[row[t] for t in self.texts_a]], vectors[[row[t] for t in self.texts_b]])
        return float(spearman_corrcoef(torch.from_numpy(cosine), torch.from_numpy(self.scores)))
