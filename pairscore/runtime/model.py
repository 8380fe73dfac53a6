"""Run an exported model folder with onnxruntime and `tokenizers` only.

The same code serves HTTP requests, the batch scorer and `pairscore evaluate`, so
all three give the same numbers. Never imports torch.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

from pairscore import artifact, tasks
from pairscore.card import Card, Features, read
from pairscore.features import PairFeatures
from pairscore.padding import pad
from pairscore.runtime import chunks
from pairscore.settings import settings

DEFAULT_CHUNK = 64  # texts per encoder call at most: bigger calls gain nothing and spill the L2 cache at 64 tokens


Call = tuple[np.ndarray, dict[str, np.ndarray]]  # one encoder call: the rows it encodes, and their padded inputs


_HELPERS: dict[int, ThreadPoolExecutor] = {}


def helper_threads(count: int) -> ThreadPoolExecutor:
    """The `count` threads that help a model's calling thread with its encoder calls, shared by every model of the
    process: each thread's malloc arena keeps what onnxruntime freed in it. After five 1,000-answer /rank calls, the
    3 served models held 55 MB more with 2 threads of their own each than on one thread, and 35 MB more with the
    calling thread and one shared helper."""
    if count not in _HELPERS:
        _HELPERS[count] = ThreadPoolExecutor(count, f"pairscore-encoder-{count}")
    return _HELPERS[count]


def default_threads() -> int:
    """Encoder calls run at once: PAIRSCORE_ORT_THREADS, else every core up to 4."""
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


def _pair_features(model_dir: Path, described: Features | None) -> PairFeatures | None:
    """The card's `features` statistics file, checked against the names the card gives for the head's input columns."""
    if not described:
        return None
    path = model_dir / described.file
    try:
        features = PairFeatures.load(path)
    except (OSError, ValueError, KeyError) as exc:
        raise artifact.ArtifactError(f"{path}: pair features do not load ({exc})") from exc
    if features.names != described.names:
        raise artifact.ArtifactError(f"{path}: features {features.names} differ from card.json's {described.names}")
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
        card: Card | None = None,
    ):
        """card: the folder's card, already read (its files hashed: pairscore.card.read) or, while export measures
        the folder before writing it, built; read here when None."""
        self.model_dir = Path(model_dir)
        self.card: Card = card if card is not None else read(self.model_dir)
        self.task: str = self.card.task
        self.behaviour: tasks.Task = tasks.get(self.task)  # how its head's output is read, rendered and measured
        self.labels: list[str] = list(self.card.labels)
        self.threshold: float | None = self.card.threshold
        self.quantization: str = self.card.quantization or "none"  # what is served: pairscore.runtime.loading sets it
        self.decision_threshold: float = (
            tasks.DEFAULT_THRESHOLD if self.threshold is None else float(self.threshold)
        )  # a probability at or above it is a yes
        graphs = self.card.graphs
        tok_path = self.model_dir / graphs.tokenizer
        try:
            self.tokenizer = Tokenizer.from_file(str(tok_path))
        except Exception as exc:  # tokenizers raises a bare Exception for bad files
            raise artifact.ArtifactError(f"{tok_path}: tokenizer does not load ({exc})") from exc
        self.tokenizer.no_padding()
        self.max_tokens: int = self.card.max_tokens
        self.tokenizer.enable_truncation(self.max_tokens)
        # Every onnxruntime call runs on one thread, and a request's encoder chunks run `threads` at a time: 64 texts
        # of 16 tokens went 1.3x faster as two one-thread calls at once than as one call on two threads, and a
        # 1-text call 1.4x faster on one thread, with no second thread to wake (benchmarks/roofline.py's graph table).
        self.threads: int = threads or default_threads()
        self._pool = helper_threads(self.threads - 1) if self.threads > 1 else None
        self.encoder_file = encoder_file or graphs.encoder
        self._encoder = open_session(
            self.model_dir / self.encoder_file, 1, artifact.ENCODER_INPUTS, artifact.ENCODER_OUTPUT
        )
        self.output_name = self.behaviour.output
        self.features: PairFeatures | None = _pair_features(self.model_dir, self.card.features)
        head_inputs = artifact.HEAD_INPUTS + ((artifact.HEAD_FEATURES,) if self.features else ())
        self._head = open_session(self.model_dir / graphs.head, 1, head_inputs, self.output_name)
        self.dim: int = self.card.dim

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text; the fast batch call skips the character offsets nothing here reads (same ids)."""
        return [enc.ids for enc in self.tokenizer.encode_batch_fast(list(texts))]

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens the encoder reads per text, after truncation at max_tokens (what OpenAI's `usage` counts)."""
        return [len(ids) for ids in self.token_ids(texts)]

    def encode_ids(self, ids: Sequence[Sequence[int]], chunk: int = DEFAULT_CHUNK) -> np.ndarray:
        """Sentence vectors for tokenized texts, in input order.

        Texts run in length buckets of at most `chunk` (pairscore.runtime.chunks), each padded to its longest,
        which the padding-invariant encoder allows without changing any vector; the buckets run on `threads`
        threads at once.
        """
        calls, threaded = self.encoder_calls(ids, chunk)
        return self.run_encoder(calls, len(ids), threaded)

    def encoder_calls(self, ids: Sequence[Sequence[int]], chunk: int = DEFAULT_CHUNK) -> tuple[list[Call], bool]:
        """The encoder calls for tokenized texts, (rows, padded inputs) each, and whether they are worth threads."""
        lengths = [len(seq) for seq in ids]
        buckets = chunks.plan(lengths, chunk, self.threads)
        threaded = self._pool is not None and chunks.worth_threads(lengths, buckets)
        return [(rows, encoder_inputs([ids[i] for i in rows])) for rows in buckets], threaded

    def run_encoder(self, calls: Sequence[Call], n: int, threaded: bool) -> np.ndarray:
        """Vectors [n, dim] from the encoder graph alone over prepared calls, on the thread pool when `threaded`
        (benchmarks/roofline.py times this as the graph alone)."""
        out = np.empty((n, self.dim), dtype=np.float32)

        def run(call: Call) -> None:
            out[call[0]] = self._encoder.run([artifact.ENCODER_OUTPUT], call[1])[0]

        if not threaded or self._pool is None:
            for call in calls:
                run(call)
            return out
        todo, taking = iter(calls), threading.Lock()

        def drain() -> None:  # the calling thread and the helpers take the next call until none is left
            while True:
                with taking:
                    call = next(todo, None)
                if call is None:
                    return
                run(call)

        helping = [self._pool.submit(drain) for _ in range(self.threads - 1)]
        drain()
        for helper in helping:
            helper.result()  # re-raises a helper's error here
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
                f"{self.model_dir}: the head takes pair features {self.card.features}, "
                f"got {'none' if features is None else 'some'}"
            )
        if len(u) == 0:
            return self.behaviour.empty_output()
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
        return self.behaviour.results(outputs, self.decision_threshold, self.labels)

    def rank(self, question: str, answers: Sequence[str]) -> np.ndarray:
        """Scores of answers to one question.

        The question is encoded (and analysed for features) once, not once per answer.
        """
        vectors = self.encode([question, *answers])
        u = np.repeat(vectors[:1], len(answers), axis=0)
        return self.head(u, vectors[1:], self.pair_features([question] * len(answers), answers))
