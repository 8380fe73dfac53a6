"""`python -m training.studies.inside_lstm`: docs/inside-the-lstm.md, what the shipped entailment LSTM's cells do.

The LSTM is re-run in numpy from the weights in encoder.onnx's initializers (checked
against onnxruntime's embeddings, and against the graph's `winners` output when the
folder has one), which exposes what the graph does not output: every gate and cell
state at every step. From those states: max-pool win maps (InferSent's word
importance), gate and cell heatmaps (Karpathy et al. 2015), and a measured table over
snli/validation of which tokens win the sentence vector's dimensions. Works on
version-1 and version-2 model folders.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

from pairscore import artifact, tasks  # noqa: E402
from pairscore.card import read  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402
from pairscore.schema import Pair  # noqa: E402
from pairscore.specs import load_pairs  # noqa: E402

GATES = ("input", "forget", "output")
# Closed-class English words (determiners, pronouns, prepositions, conjunctions, auxiliaries, particles).
FUNCTION_WORDS = frozenset(
    """a an the this that these those some any each every all both either neither no another other such what which whose
    i me my mine we us our you your he him his she her it its they them their one ones someone something somebody anyone
    anything nobody nothing everyone everything who whom whoever there here
    in on at by for from to of with without into onto upon over under above below across along around through between
    among behind beside besides beyond near off out up down about against before after during since until till toward
    towards via per inside outside within throughout like unlike than as
    and or but nor so yet if because while although though whether unless whereas
    be am is are was were been being have has had having do does did doing will would shall should can could may might
    must ought not n't never also just very too only even still then""".split()
)
NEGATIONS = frozenset({"no", "not", "never", "nobody", "nothing", "none", "nowhere", "neither", "nor", "without"})
EXAMPLE_PAIRS = 4
GATE_SENTENCES = (
    "A man is not playing the guitar , he is sleeping on the couch .",
    "Two dogs run through the snow while a child watches from the porch .",
    "The woman in the red dress is singing , and the crowd is dancing .",
)
REPRODUCTION_TOLERANCE = 1e-5
SELECTION = "snli/validation[-1000:]"  # the held-out selection split of the entailment recipe


def category(token: str) -> str:
    if token == artifact.UNK_TOKEN:
        return "unknown ([UNK])"
    if not any(ch.isalnum() for ch in token):
        return "punctuation"
    return "function word" if token in FUNCTION_WORDS else "content word"


@dataclass
class Trace:
    """One text through the numpy encoder.

    Last-layer states [T, dim] and, per LSTM (layer, direction), gates and cell state [T, H].
    """

    tokens: list[str]
    states: np.ndarray
    gates: dict[tuple[int, str], dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def winners(self) -> np.ndarray:
        return self.states.argmax(axis=0)


class NumpyLSTM:
    """The encoder graph's embedding + stacked (Bi)LSTM + max pool in float64 numpy, from encoder.onnx's initializers.

    ONNX LSTM weights: W [1, 4H, in], R [1, 4H, H], B [1, 8H] with gates ordered i, o, f, c.
    """

    def __init__(self, model_dir: Path):
        arch = read(model_dir).architecture
        if arch["cell"] != "lstm":
            raise SystemExit(f"{model_dir}: a {arch['cell']} encoder; this script reads LSTM gates")
        self.directions = 2 if arch["bidirectional"] else 1
        graph = onnx.load(str(model_dir / artifact.ENCODER_FILE)).graph
        weights = {init.name: numpy_helper.to_array(init).astype(np.float64) for init in graph.initializer}
        self.embedding = next(
            weights[n.input[0]] for n in graph.node if n.op_type == "Gather" and n.input[1] == "input_ids"
        )
        self.cells = [
            (weights[n.input[1]][0], weights[n.input[2]][0], weights[n.input[3]][0])
            for n in graph.node
            if n.op_type == "LSTM"
        ]
        if len(self.cells) != arch["layers"] * self.directions:
            raise SystemExit(
                f"{model_dir}: {len(self.cells)} LSTM nodes, "
                f"card says {arch['layers']} layers x {self.directions} directions"
            )
        self.hidden = self.cells[0][1].shape[1]

    def _run(self, x: np.ndarray, cell: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        W, R, B = self.cells[cell]
        H = self.hidden
        pre = x @ W.T + B[: 4 * H] + B[4 * H :]
        h, c = np.zeros(H), np.zeros(H)
        out = {"h": [], "input": [], "forget": [], "output": [], "cell": []}
        sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
        for t in range(len(x)):
            z = pre[t] + R @ h
            i, o, f, g = sigmoid(z[:H]), sigmoid(z[H : 2 * H]), sigmoid(z[2 * H : 3 * H]), np.tanh(z[3 * H :])
            c = f * c + i * g
            h = o * np.tanh(c)
            for name, value in (("h", h), ("input", i), ("forget", f), ("output", o), ("cell", c)):
                out[name].append(value)
        return np.stack(out.pop("h")), {k: np.stack(v) for k, v in out.items()}

    def trace(self, ids: Sequence[int], tokens: Sequence[str]) -> Trace:
        ids = list(ids) or [0]  # an empty text is one [PAD] token
        x = self.embedding[ids]
        result = Trace(list(tokens), x)
        for layer in range(len(self.cells) // self.directions):
            forward, gates = self._run(x, layer * self.directions)
            result.gates[(layer, "forward")] = gates
            outputs = [forward]
            if self.directions == 2:
                backward, gates = self._run(x[::-1], layer * self.directions + 1)
                result.gates[(layer, "backward")] = {k: v[::-1] for k, v in gates.items()}
                outputs.append(backward[::-1])
            x = np.concatenate(outputs, axis=1)
        result.states = x
        return result


def check_against_graph(lstm: NumpyLSTM, model_dir: Path, texts: list[str]) -> dict[str, Any]:
    """Max abs difference numpy vs onnxruntime (fp32 encoder.onnx), and winners agreement when the graph has them."""
    graph = PairModel(model_dir, encoder_file=artifact.ENCODER_FILE)
    ids = graph.token_ids(texts)
    traces = [lstm.trace(seq, []) for seq in ids]
    ours = np.stack([t.states.max(axis=0) for t in traces])
    check: dict[str, Any] = {"texts": len(texts), "max_abs_diff": float(np.abs(ours - graph.encode_ids(ids)).max())}
    if graph.has_winners:
        theirs = graph.winners(ids)
        check["winners_agree"] = float(np.mean([(t.winners == w).mean() for t, w in zip(traces, theirs)]))
    return check


def win_map_figure(
    pairs: list[tuple[tuple[list[str], np.ndarray], tuple[list[str], np.ndarray], str]], dim: int, path: Path
) -> None:
    fig, axes = plt.subplots(len(pairs), 2, figsize=(13, 2.3 * len(pairs)), squeeze=False)
    for row, (premise, hypothesis, label) in enumerate(pairs):
        for col, ((tokens, won), role) in enumerate(((premise, "premise"), (hypothesis, f"hypothesis ({label})"))):
            ax = axes[row, col]
            shares = np.bincount(won, minlength=len(tokens))[: len(tokens)] / dim
            ax.bar(range(len(shares)), shares, color=plt.cm.Reds(0.3 + 0.7 * shares / max(shares.max(), 1e-9)))
            ax.set_xticks(range(len(shares)), tokens, rotation=45, ha="right", fontsize=8)
            ax.set_ylabel("share of dims", fontsize=8)
            ax.set_title(role, fontsize=9, loc="left")
    fig.suptitle("Max-pool win maps: the share of the sentence vector's dimensions each token wins", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def gates_figure(trace: Trace, path: Path, units: int = 32) -> None:
    """Forward and backward LSTM (first layer): input/forget/output gates and cell state for the most active units."""
    directions = [d for d in ("forward", "backward") if (0, d) in trace.gates]
    fig, axes = plt.subplots(
        len(directions),
        5,
        figsize=(17, 3.6 * len(directions)),
        squeeze=False,
        gridspec_kw={"width_ratios": [1, 1, 1, 1, 0.9]},
    )
    for row, direction in enumerate(directions):
        gates = trace.gates[(0, direction)]
        chosen = np.argsort(-gates["cell"].std(axis=0))[:units]  # units whose cell state changes most
        for col, name in enumerate((*GATES, "cell")):
            ax = axes[row, col]
            data = gates[name][:, chosen].T
            image = ax.imshow(
                data,
                aspect="auto",
                cmap="RdBu_r" if name == "cell" else "viridis",
                vmin=-np.abs(data).max() if name == "cell" else 0,
                vmax=np.abs(data).max() if name == "cell" else 1,
            )
            ax.set_xticks(range(len(trace.tokens)), trace.tokens, rotation=60, ha="right", fontsize=7)
            ax.set_yticks([])
            ax.set_title(f"{direction} {name}{' gate' if name != 'cell' else ' state'}", fontsize=9)
            fig.colorbar(image, ax=ax, fraction=0.04)
        ax = axes[row, 4]
        forget = gates["forget"].mean(axis=1)
        ax.plot(forget, marker="o", label="forget (mean over units)")
        ax.plot(gates["input"].mean(axis=1), marker="s", label="input (mean)")
        ax.set_xticks(range(len(trace.tokens)), trace.tokens, rotation=60, ha="right", fontsize=7)
        ax.set_ylim(0, 1)
        closes = int(forget.argmin())
        ax.annotate(
            "forget gate closes most",
            (closes, forget[closes]),
            xytext=(0, -28),
            textcoords="offset points",
            ha="center",
            fontsize=7,
            arrowprops={"arrowstyle": "->"},
        )
        ax.legend(fontsize=7, loc="center right")
        ax.set_title(f"{direction}: mean gate per token", fontsize=9)
    fig.suptitle(
        f"\u201c{' '.join(trace.tokens)}\u201d ({units} units with the most varying cell state; "
        "forward reads left to right, backward right to left)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def reproduction_check(lstm: NumpyLSTM, model_dir: Path, texts: list[str]) -> dict[str, Any]:
    """check_against_graph on a sample of the texts; stops when the numpy LSTM is not this graph's LSTM."""
    check = check_against_graph(lstm, model_dir, texts[:: max(1, len(texts) // 500)])
    if check["max_abs_diff"] > REPRODUCTION_TOLERANCE:
        raise SystemExit(
            f"{model_dir}: the numpy LSTM differs from onnxruntime by {check['max_abs_diff']:.1e}; "
            "not this graph's LSTM layout?"
        )
    return check


@dataclass
class Tally:
    """Dimensions won and forward forget gates, by token and by kind of token, over a set of texts."""

    # per text: its tokens and the position of the token that wins each dimension
    winners: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)
    tokens_by_cat: Counter[str] = field(default_factory=Counter)
    wins_by_cat: Counter[str] = field(default_factory=Counter)
    wins_by_token: Counter[str] = field(default_factory=Counter)
    count_by_token: Counter[str] = field(default_factory=Counter)
    forget_by_token: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    forget_by_cat: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    total_dims: int = 0

    @property
    def n_tokens(self) -> int:
        return sum(self.tokens_by_cat.values())

    def relative_wins(self, cat: str) -> float:
        """A kind of token's share of the dimensions won over its share of the tokens."""
        return (self.wins_by_cat[cat] / self.total_dims) / max(self.tokens_by_cat[cat] / self.n_tokens, 1e-9)


def tally(lstm: NumpyLSTM, texts: list[str], encodings: dict[str, Any]) -> Tally:
    counts = Tally()
    for text in texts:
        enc = encodings[text]
        trace = lstm.trace(enc.ids, enc.tokens)
        counts.winners[text] = (list(enc.tokens), trace.winners)
        if not enc.ids:
            continue
        wins = np.bincount(trace.winners, minlength=len(enc.tokens))
        counts.total_dims += trace.states.shape[1]
        forward = trace.gates[(0, "forward")]["forget"].mean(axis=1)
        for token, won, forget in zip(enc.tokens, wins, forward):
            cat = category(token)
            counts.tokens_by_cat[cat] += 1
            counts.wins_by_cat[cat] += won
            counts.wins_by_token[token] += won
            counts.count_by_token[token] += 1
            counts.forget_by_token[token].append(float(forget))
            counts.forget_by_cat[cat].append(float(forget))
    return counts


def draw_figures(
    lstm: NumpyLSTM,
    served: PairModel,
    winners: dict[str, tuple[list[str], np.ndarray]],
    selection: list[Pair],
    labels: Sequence[str],
    figures: Path,
) -> None:
    figures.mkdir(parents=True, exist_ok=True)
    # SNLI lists 3 hypotheses per premise: vary which
    examples = [selection[3 * k + k % 3] for k in range(EXAMPLE_PAIRS)]
    win_map_figure(
        [(winners[p.text_a], winners[p.text_b], labels[p.label]) for p in examples],
        served.dim,
        figures / "win_maps.png",
    )
    for k, sentence in enumerate(GATE_SENTENCES):
        enc = served.tokenizer.encode(sentence)
        gates_figure(lstm.trace(enc.ids, enc.tokens), figures / f"gates_{k + 1}.png")


Cells = dict[tuple[str, str], list[tuple[float, float, bool, float]]]


def error_cells(
    served: PairModel,
    selection: list[Pair],
    encodings: dict[str, Any],
    winners: dict[str, tuple[list[str], np.ndarray]],
    labels: Sequence[str],
) -> Cells:
    """What separates the errors on the held-out selection split, by (gold, predicted) label.

    Per hypothesis: the share of its tokens the premise has, the dims those win, whether it has a negation word,
    and the dims the negation words win.
    """
    probabilities = served.score_pairs([p.text_a for p in selection], [p.text_b for p in selection])
    predicted = probabilities.argmax(axis=1)
    cells: Cells = defaultdict(list)
    for pair, guess in zip(selection, predicted):
        premise = set(encodings[pair.text_a].tokens)
        tokens, won = winners[pair.text_b]
        if not tokens:
            continue
        wins = np.bincount(won, minlength=len(tokens))[: len(tokens)] / served.dim
        shared = np.array([t in premise for t in tokens])
        negation = np.array([t in NEGATIONS for t in tokens])
        cells[(labels[pair.label], labels[guess])].append(
            (float(shared.mean()), float(wins[shared].sum()), bool(negation.any()), float(wins[negation].sum()))
        )
    return cells


def intro_lines(model_dir: Path, lstm: NumpyLSTM, served: PairModel, check: dict[str, Any]) -> list[str]:
    return [
        "# Inside the LSTM: what the shipped entailment encoder keeps",
        "",
        f"Produced by `python -m training.studies.inside_lstm` from `{model_dir.as_posix()}` "
        f"({served.card.architecture['cell']}, "
        f"{'bidirectional' if lstm.directions == 2 else 'unidirectional'}, hidden {lstm.hidden}, max pooling, "
        f"vector dim {served.dim}) on the snli/validation data in the data dir.",
        "",
        "The encoder graph outputs only the pooled vector (and, from format version 2, the max-pool winners), so the",
        "script re-runs the LSTM in numpy from the weights in `encoder.onnx`'s initializers to see every gate and",
        f"cell state. Check: on {check['texts']} snli/validation texts the numpy vectors differ from onnxruntime's "
        f"`embeddings` by at most {check['max_abs_diff']:.1e}"
        + (
            f", and pick the same winning token as the graph's `winners` output for {pct(check['winners_agree'])} "
            "of the dimensions."
            if "winners_agree" in check
            else " (this folder has no `winners` output: the win maps below come from the numpy states)."
        ),
        "The figures and tables use the fp32 `encoder.onnx`"
        + (
            ", the graph the service serves: these are the winners `/explain` reports."
            if served.encoder_file == artifact.ENCODER_FILE
            else f"; the service serves `{served.encoder_file}`, whose `/explain` winners can differ from these "
            "on near-ties."
        ),
        "",
        "## Max-pool win maps",
        "",
        "Each dimension of the sentence vector is the maximum of that dimension over the tokens' states, "
        "so exactly one",
        "token wins it. The bars are each token's share of the dimensions (what `/explain` returns as "
        "weights), for four",
        f"pairs of `{SELECTION}` (held out from training; four premises, one of their three hypotheses each):",
        "",
        "![win maps](inside-the-lstm/win_maps.png)",
        "",
    ]


def token_lines(counts: Tally, texts: int, pairs: int, trained_on: list[str], dim: int) -> list[str]:
    lines = [
        "## Which tokens win, over snli/validation",
        "",
        f"All {texts:,} distinct texts of snli/validation ({pairs:,} pairs; the model's training data includes "
        + (
            ", ".join(f"`{s}`" for s in trained_on) + ", so this mostly describes the encoder on text it learned from)."
            if trained_on
            else "none of them)."
        ),
        "Function words are a closed-class list in",
        "`training/studies/inside_lstm.py`; punctuation is a token with no letter or digit.",
        "",
        "| tokens | share of tokens | share of dims won | dims won per token, relative to average |",
        "|---|---|---|---|",
    ]
    for cat in ("content word", "function word", "punctuation", "unknown ([UNK])"):
        if counts.tokens_by_cat[cat]:
            token_share = counts.tokens_by_cat[cat] / counts.n_tokens
            win_share = counts.wins_by_cat[cat] / counts.total_dims
            lines.append(f"| {cat} | {pct(token_share)} | {pct(win_share)} | {win_share / token_share:.2f}x |")
    lines += [
        "",
        "The 20 tokens that win the most dimensions in all:",
        "",
        "| token | kind | occurrences | share of all dims won | dims won per occurrence |",
        "|---|---|---|---|---|",
    ]
    for token, won in counts.wins_by_token.most_common(20):
        occurrences = counts.count_by_token[token]
        lines.append(
            f"| `{token}` | {category(token)} | {occurrences:,} | {pct(won / counts.total_dims)} | "
            f"{won / occurrences:.1f} of {dim} |"
        )
    content_x, function_x = counts.relative_wins("content word"), counts.relative_wins("function word")
    punct_x = counts.relative_wins("punctuation")
    return lines + [
        "",
        f"Read off: a content word wins {content_x:.2f}x its share of dimensions and a function word "
        f"{function_x:.2f}x, so the",
        f"max pool keeps mostly {'content' if content_x > function_x else 'function'} words. "
        f"Punctuation wins {punct_x:.2f}x its share:"
        + (
            " the final `.` is where both directions have read the whole sentence, and it wins many dimensions as a "
            "summary slot."
            if punct_x > 1
            else " it is mostly ignored."
        ),
        "",
    ]


def gate_lines(counts: Tally) -> list[str]:
    lines = [
        "## Gates and cell state over time",
        "",
        "Input, forget and output gates and the cell state of the first layer, per token (columns) for "
        "the 32 units whose",
        "cell state varies most (rows), forward direction on top, backward below; the right panel is the "
        "mean gate over all",
        "units. A forget gate near 1 keeps the cell's memory, a dip means the unit lets go of what it "
        "held before that token.",
        "",
    ]
    for k in range(len(GATE_SENTENCES)):
        lines += [f"![gates {k + 1}](inside-the-lstm/gates_{k + 1}.png)", ""]
    frequent = {t: float(np.mean(v)) for t, v in counts.forget_by_token.items() if len(v) >= 50}
    order = sorted(frequent, key=frequent.get)
    lines += [
        "Where the forward forget gate opens and closes, over snli/validation (mean over units of the "
        "forget gate at the",
        "token, tokens seen at least 50 times):",
        "",
        "| closes most (forgets) | mean forget | stays open most (keeps) | mean forget |",
        "|---|---|---|---|",
    ]
    for low, high in zip(order[:10], order[::-1][:10]):
        lines.append(f"| `{low}` | {frequent[low]:.3f} | `{high}` | {frequent[high]:.3f} |")
    mean_forget = {cat: float(np.mean(v)) for cat, v in counts.forget_by_cat.items()}
    content_f = mean_forget.get("content word", float("nan"))
    function_f = mean_forget.get("function word", float("nan"))
    return lines + [
        "",
        f"Mean forward forget gate by kind of token: content words {content_f:.3f}, function words {function_f:.3f}, "
        f"punctuation {mean_forget.get('punctuation', float('nan')):.3f}. "
        + (
            "The cells let go of what they held when a content word arrives (a new person, object or action takes the "
            "memory) and carry their memory through function words and punctuation."
            if content_f < function_f
            else "Content words do not close the forget gate more than function words do."
        ),
    ]


def cell_row(cells: Cells, cell: tuple[str, str]) -> str:
    """One (gold, predicted) row of the error table."""
    values = cells.get(cell, [])
    if not values:
        return f"| {cell[0]} | {cell[1]} | 0 | | | | |"
    shared, shared_wins, has_neg, neg_wins = (np.array(v, dtype=float) for v in zip(*values))
    negated = neg_wins[has_neg.astype(bool)]
    return (
        f"| {cell[0]} | {cell[1]} | {len(values)} | {pct(shared.mean())} | {pct(shared_wins.mean())} | "
        f"{pct(has_neg.mean())} | {pct(negated.mean()) if len(negated) else '–'} |"
    )


SHOWN_CELLS = (
    ("entailment", "entailment"),
    ("neutral", "neutral"),
    ("contradiction", "contradiction"),
    ("neutral", "entailment"),
    ("contradiction", "entailment"),
    ("contradiction", "neutral"),
    ("neutral", "contradiction"),
)


def cell_mean(cells: Cells, cell: tuple[str, str], column: int) -> float:
    """The mean of one column of a (gold, predicted) cell; 0 for an empty cell."""
    return np.mean([v[column] for v in cells.get(cell, [(0, 0, 0, 0)])])


def error_lines(cells: Cells) -> list[str]:
    neutral_ok = cell_mean(cells, ("neutral", "neutral"), 1)
    neutral_err = cell_mean(cells, ("neutral", "entailment"), 1)
    contra_neg_ok = cell_mean(cells, ("contradiction", "contradiction"), 2)
    contra_neg_err = cell_mean(cells, ("contradiction", "entailment"), 2)
    return [
        "",
        "## What it means for the entailment errors",
        "",
        f"docs/experiments.md's confusion matrix (`{SELECTION}`) shows the model's main errors: neutral "
        "and contradiction",
        "pairs called entailment. The same split through the served model, by gold and predicted label: "
        "the share of the",
        "hypothesis's tokens that also occur in the premise, the share of the hypothesis vector's "
        "dimensions those shared",
        "tokens win, the share of hypotheses with a negation word, and the dimensions the negation words "
        "win where present.",
        "",
        "| gold | predicted | pairs | hypothesis tokens in premise | dims won by them | has a negation "
        "| dims won by negation |",
        "|---|---|---|---|---|---|---|",
        *[cell_row(cells, cell) for cell in SHOWN_CELLS],
        "",
        f"Neutral hypotheses called entailment get {pct(neutral_err)} of their dimensions from words the premise also "
        f"has, against {pct(neutral_ok)} for neutral pairs the model gets right: "
        + (
            "the vector of such a hypothesis is mostly the premise's own content, and the head, which compares the two "
            "vectors dimension by dimension, reads that as entailment; the new detail that makes the pair neutral wins "
            "few dimensions."
            if neutral_err > neutral_ok
            else "lexical overlap does not explain these errors on this split."
        )
        + f" Contradictions called entailment carry a negation word in {pct(contra_neg_err)} of cases "
        f"(vs {pct(contra_neg_ok)} of the contradictions it gets right): "
        + (
            "so these errors are mostly not negations the encoder dropped but contradictions of content (another "
            "person, place or action) hidden among overlapping words."
            if contra_neg_err < contra_neg_ok
            else "a negation word that wins only a few dimensions is outvoted by the overlapping content words."
        )
        + " Training data whose neutral and contradiction hypotheses overlap the premise heavily (the full SNLI train "
        "split, counterfactual pairs) is what would move these dimensions.",
        "",
    ]


def analyse(model_dir: Path, data_dir: str | None, out: Path) -> str:
    """docs/inside-the-lstm.md's text; writes its figures under OUT/inside-the-lstm/."""
    lstm = NumpyLSTM(model_dir)
    served = PairModel(model_dir)
    trained_on = [d["split"] for d in served.card.data if d.get("role") == "train" and d.get("source") == "snli"]
    pairs = load_pairs("snli/validation", "entailment", data_dir)
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    encodings = dict(zip(texts, served.tokenizer.encode_batch(texts)))
    check = reproduction_check(lstm, model_dir, texts)
    counts = tally(lstm, texts, encodings)
    labels = tasks.TASKS["entailment"].labels
    selection = load_pairs(SELECTION, "entailment", data_dir)
    draw_figures(lstm, served, counts.winners, selection, labels, out / "inside-the-lstm")
    cells = error_cells(served, selection, encodings, counts.winners, labels)
    lines = [
        *intro_lines(model_dir, lstm, served, check),
        *token_lines(counts, len(texts), len(pairs), trained_on, served.dim),
        *gate_lines(counts),
        *error_lines(cells),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.studies.inside_lstm", description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=Path("models/entailment"), help="an LSTM entailment model folder")
    parser.add_argument(
        "--data_dir", help="data folder with snli/validation (default: PAIRSCORE_DATA_DIR or ../shared/data)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("docs"), help="writes OUT/inside-the-lstm.md and OUT/inside-the-lstm/*.png"
    )
    args = parser.parse_args(argv)
    text = analyse(args.model, args.data_dir, args.out)
    (args.out / "inside-the-lstm.md").write_text(text)
    print(f"wrote {args.out / 'inside-the-lstm.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
