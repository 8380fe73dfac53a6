"""Run an exported model folder with onnxruntime and `tokenizers` only.

The same code serves HTTP requests, the batch scorer and `pairscore evaluate`, so
all three give the same numbers. Never imports torch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from pairscore import artifact, tasks
from pairscore.features import PairFeatures
from pairscore.padding import pad
from pairscore.settings import settings

DEFAULT_CHUNK = 64  # texts per encoder call: sorted by length, so padding stays small
DEFAULT_MAX_TOKENS = 128  # for a card without max_tokens


def default_threads() -> int:
    """onnxruntime intra-op threads: PAIRSCORE_ORT_THREADS, else every core up to 4."""
    return settings().threads


def open_session(path: Path, threads: int, inputs: Sequence[str], output: str) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Idle intra-op threads sleep instead of spin-waiting after each run: on 2 cores shared with
    # the HTTP workers, spinning cost ~4x the CPU of a 1-pair request (benchmarks/results.md).
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.enable_cpu_mem_arena = False  # the arena keeps its peak (a 1,000-answer /rank) for good: ~55 MB RSS
    try:
        session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors for bad graphs
        raise artifact.ArtifactError(f"{path}: onnxruntime cannot load it ({exc})") from exc
    got_in = [i.name for i in session.get_inputs()]
    got_out = [o.name for o in session.get_outputs()]
    if got_in != list(inputs) or output not in got_out:
        raise artifact.ArtifactError(
            f"{path}: graph has inputs {got_in} and outputs {got_out}, "
            f"expected inputs {list(inputs)} and output {output!r}"
        )
    return session


def _pair_features(model_dir: Path, described: dict[str, Any] | None) -> PairFeatures | None:
    """The card's `features` statistics file, checked against the names the card gives for the head's input columns."""
    if not described:
        return None
    path = model_dir / described["file"]
    try:
        features = PairFeatures.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise artifact.ArtifactError(f"{path}: pair features do not load ({exc})") from exc
    if features.names != list(described["names"]):
        raise artifact.ArtifactError(f"{path}: features {features.names} differ from card.json's {described['names']}")
    return features


def encoder_inputs(ids: Sequence[Sequence[int]]) -> dict[str, np.ndarray]:
    """The encoder graph's inputs for tokenized texts: ids right-padded with 0 to the longest, and the lengths."""
    return dict(zip(artifact.ENCODER_INPUTS, pad(ids)))


class PairModel:
    """One task's artifact: tokenizer, sentence encoder and pair head."""

    def __init__(
        self,
        model_dir: str | Path,
        threads: int | None = None,
        encoder_file: str | None = None,
        card: dict[str, Any] | None = None,
    ):
        """card: the folder's card as artifact.read_card already returned it (its files hashed); read here when None."""
        self.model_dir = Path(model_dir)
        self.card: dict[str, Any] = card if card is not None else artifact.read_card(self.model_dir)
        self.task: str = self.card["task"]
        self.labels: list[str] = list(self.card["labels"])
        self.threshold: float | None = self.card.get("threshold")
        self.quantization: str = self.card.get(
            "quantization", "none"
        )  # what is served: pairscore.runtime.loading sets it
        self.decision_threshold: float = (
            0.5 if self.threshold is None else float(self.threshold)
        )  # paraphrase: at or above = yes
        graphs = self.card["graphs"]
        tok_path = self.model_dir / graphs["tokenizer"]
        try:
            self.tokenizer = Tokenizer.from_file(str(tok_path))
        except Exception as exc:  # tokenizers raises a bare Exception for bad files
            raise artifact.ArtifactError(f"{tok_path}: tokenizer does not load ({exc})") from exc
        self.tokenizer.no_padding()
        self.max_tokens: int = int(self.card.get("max_tokens", DEFAULT_MAX_TOKENS))
        self.tokenizer.enable_truncation(self.max_tokens)
        threads = threads or default_threads()
        self.encoder_file = encoder_file or graphs["encoder"]
        self._encoder = open_session(
            self.model_dir / self.encoder_file, threads, artifact.ENCODER_INPUTS, artifact.ENCODER_OUTPUT
        )
        self.output_name = tasks.get(self.task).output
        self.features: PairFeatures | None = _pair_features(self.model_dir, self.card.get("features"))
        head_inputs = artifact.HEAD_INPUTS + ((artifact.HEAD_FEATURES,) if self.features else ())
        self._head = open_session(self.model_dir / graphs["head"], threads, head_inputs, self.output_name)
        self.dim: int = int(self.card["dim"])

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [enc.ids for enc in self.tokenizer.encode_batch(list(texts))]

    def encode_ids(self, ids: Sequence[Sequence[int]], chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Sentence vectors for tokenized texts, in input order.

        Texts are sorted by length and run in chunks padded to the chunk's longest, which
        the padding-invariant encoder allows without changing any vector.
        """
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), chunk):
            members = order[start : start + chunk]
            out[members] = self._encoder.run([artifact.ENCODER_OUTPUT], encoder_inputs([ids[i] for i in members]))[0]
        return out

    @property
    def has_winners(self) -> bool:
        """Whether the served encoder has the max-pool `winners` output (artifact format v2, max pooling)."""
        return artifact.ENCODER_WINNERS in {output.name for output in self._encoder.get_outputs()}

    def winners(self, ids: Sequence[Sequence[int]]) -> np.ndarray:
        """Max-pool winners [len(ids), dim] from one padded batch: the position of the token that gives each dim
        of each text's vector. Only /explain asks for them; the plain encoding path asks for `embeddings` only."""
        return self._encoder.run([artifact.ENCODER_WINNERS], encoder_inputs(ids))[0]

    def encode(self, texts: Sequence[str], chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Sentence vectors; each distinct text is encoded once."""
        unique = list(dict.fromkeys(texts))
        vectors = self.encode_ids(self.token_ids(unique), chunk)
        index = {text: row for row, text in enumerate(unique)}
        return vectors[[index[t] for t in texts]] if texts else vectors

    def pair_features(self, texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray | None:
        """The head's exact-match features for text pairs (card `features`), or None when the head takes none."""
        return self.features.pairs(texts_a, texts_b) if self.features else None

    def head(self, u: np.ndarray, v: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """Head output for pairs of vectors (+ their pair features when the card has `features`):
        probabilities [n, labels] or probability/score [n]."""
        if (features is None) != (self.features is None):
            raise ValueError(
                f"{self.model_dir}: the head takes pair features {self.card.get('features')}, "
                f"got {'none' if features is None else 'some'}"
            )
        if len(u) == 0:
            shape = (0, len(self.labels)) if self.task == "entailment" else (0,)
            return np.zeros(shape, dtype=np.float32)
        inputs = {"u": u.astype(np.float32), "v": v.astype(np.float32)}
        if features is not None:
            inputs[artifact.HEAD_FEATURES] = features.astype(np.float32)
        return self._head.run([self.output_name], inputs)[0]

    def score_pairs(self, texts_a: Sequence[str], texts_b: Sequence[str]) -> np.ndarray:
        """Head output for text pairs; a text repeated across pairs is encoded once."""
        vectors = self.encode(list(texts_a) + list(texts_b))
        return self.head(vectors[: len(texts_a)], vectors[len(texts_a) :], self.pair_features(texts_a, texts_b))

    def results(self, outputs: Any) -> Iterator[dict[str, Any]]:
        """Answer fields per head-output row, named as the HTTP endpoints, the batch scorer and /explain name them."""
        for row in outputs:
            if self.task == "entailment":
                probs = {label: float(p) for label, p in zip(self.labels, row)}
                yield {"label": max(probs, key=probs.get), "probabilities": probs}
            elif self.task == "paraphrase":
                yield {"paraphrase": bool(row >= self.decision_threshold), "probability": float(row)}
            else:
                yield {"score": float(row)}

    def rank(self, question: str, answers: Sequence[str]) -> np.ndarray:
        """Scores of answers to one question.

        The question is encoded (and analysed for features) once, not once per answer.
        """
        vectors = self.encode([question, *answers])
        u = np.repeat(vectors[:1], len(answers), axis=0)
        return self.head(u, vectors[1:], self.pair_features([question] * len(answers), answers))
