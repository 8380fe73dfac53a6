"""One mapping layer from a row's columns to a canonical pair record, for every tool that reads rows.

Used by training (the shared sources and a user's files), by `pairscore evaluate` and by the batch scorer, so a
file in any of the shared schemas, with the HTTP endpoints' field names, or with columns named by
`--columns text_a=COL,text_b=COL[,label=COL][,group=COL]` reads the same everywhere. Labels are read the same
way too: integers, booleans and yes/no words for the two-class tasks, the label names for entailment, or the user's
own words mapped by `--labels same=1,different=0` (`--data.labels` in training); every spelling is matched after
trimming whitespace, ignoring case. No torch.
"""

from __future__ import annotations

from argparse import ArgumentTypeError
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pairscore import tasks

# (text_a column, text_b column) per schema, tried in order; the columns decide.
SCHEMAS: dict[str, list[tuple[str, str]]] = {
    "entailment": [
        ("premise", "hypothesis"),  # snli, snli_cad, endpoint
        ("sentence_A", "sentence_B"),  # sick
        ("text_a", "text_b"),
    ],
    "paraphrase": [
        ("text_a", "text_b"),  # endpoint
        ("sentence1", "sentence2"),  # twitter_url, mrpc
        ("premise", "hypothesis"),
    ],
    "ranking": [
        ("question", "answer"),  # wiki_qa, trec_qa, endpoint
    ],
}
LABEL_COLUMN = "label"
GROUP_COLUMN = "question_id"  # ranking: the question a candidate answers (else the question text groups them)
COLUMN_KEYS = ("text_a", "text_b", "label", "group")
TRUE_WORDS, FALSE_WORDS = frozenset({"true", "yes", "1"}), frozenset({"false", "no", "0"})


class RowError(ValueError):
    """A row that cannot be turned into a pair; the message names the field."""


class LabelError(RowError):
    """A label no accepted spelling reads; `word` is the label as matched (trimmed, case-folded)."""

    def __init__(self, message: str, word: str):
        super().__init__(message)
        self.word = word


@dataclass(frozen=True)
class Pair:
    text_a: str
    text_b: str
    label: int | None = None  # None when the row carries no gold label; negative: no gold label (SNLI's -1)
    group: str | None = None  # question for ranking (its id column, else the question text)


@dataclass(frozen=True)
class Columns:
    """Which columns of a row hold the two texts, the gold label and (ranking) the question's group."""

    text_a: str
    text_b: str
    label: str = LABEL_COLUMN
    group: str | None = None

    def __str__(self) -> str:
        return ",".join(f"{key}={getattr(self, key)}" for key in COLUMN_KEYS if getattr(self, key) is not None)


def parse_columns(text: str | None) -> Columns | None:
    """'text_a=query,text_b=candidate[,label=y][,group=qid]' -> Columns; None or '' -> None (auto-detect)."""
    if not text:
        return None
    given: dict[str, str] = {}
    for part in text.split(","):
        key, sep, column = (s.strip() for s in part.partition("="))
        if not sep or key not in COLUMN_KEYS or not column or key in given:
            raise ValueError(
                f"columns {text!r}: expected text_a=COL,text_b=COL[,label=COL][,group=COL] (each key once), "
                f"got {part.strip()!r}"
            )
        given[key] = column
    if "text_a" not in given or "text_b" not in given:
        raise ValueError(f"columns {text!r}: text_a=COL and text_b=COL are both needed")
    return Columns(**given)


def columns_arg(value: str) -> Columns | None:
    """argparse type of --columns (the same spelling as `pairscore evaluate --columns` and `--data.columns`)."""
    try:
        return parse_columns(value)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None


def label_word(value: Any) -> str:
    """A label as every spelling is matched: text trimmed and case-folded, an integral number as an integer."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip().casefold()


def label_pairs(text: str) -> list[tuple[str, str]]:
    """'same=1,different=0' -> [('same', '1'), ('different', '0')]; ValueError showing the spelling otherwise."""
    found = []
    for part in text.split(","):
        word, sep, target = (s.strip() for s in part.partition("="))
        if not sep or not word or not target:
            raise ValueError(f"labels {text!r}: expected WORD=LABEL[,WORD=LABEL...], e.g. same=1,different=0")
        if label_word(word) in {label_word(w) for w, _ in found}:
            raise ValueError(f"labels {text!r}: {word!r} is mapped twice (words match ignoring case and spaces)")
        found.append((word, target))
    return found


def parse_labels(text: str | None, task: str) -> dict[str, int] | None:
    """'same=1,different=0' -> {word: class id} for `task`; each word maps to a class id or to one of the task's
    label names (entailment: entailment, neutral, contradiction). None or '' -> None (the built-in spellings)."""
    if not text:
        return None
    mapping: dict[str, int] = {}
    for word, target in label_pairs(text):
        try:
            label = read_label(task, target, "labels")
        except RowError:
            label = -1
        if label is None or label < 0:
            raise ValueError(f"labels {text!r}: {target!r} is not a {task} label ({accepted_labels(task)})")
        mapping[label_word(word)] = label
    return mapping


def labels_arg(value: str) -> str:
    """argparse type of --labels: its spelling checked here, its labels against the task once the model names it."""
    try:
        label_pairs(value)
    except ValueError as exc:
        raise ArgumentTypeError(str(exc)) from None
    return value


def accepted_labels(task: str) -> str:
    """The label spellings `read_label` accepts without a mapping, as a message lists them."""
    labels = tasks.get(task).labels
    two_class = ", true/false, yes/no" if len(labels) == 2 else ""
    return f"0..{len(labels) - 1}{two_class}, {', '.join(labels)}"


def accepted(task: str) -> str:
    """The column mappings `detect_columns` accepts for a task, as a message lists them."""
    schemas = " or ".join(f"({a}, {b})" for a, b in SCHEMAS[task])
    return f"{schemas}, or name them: --columns text_a=COL,text_b=COL[,label=COL][,group=COL]"


def detect_columns(task: str, present: Iterable[str], columns: Columns | None = None) -> Columns:
    """The given mapping checked against the columns present, or the first schema whose two texts are present."""
    found = set(present)
    if columns is not None:
        missing = [c for c in (columns.text_a, columns.text_b) if c not in found]
        if columns.group is not None and columns.group not in found:
            missing.append(columns.group)
        if missing:
            raise RowError(f"columns {missing} named by --columns {columns} are not in the data: found {sorted(found)}")
        return columns
    for a, b in SCHEMAS[task]:
        if a in found and b in found:
            group = GROUP_COLUMN if tasks.get(task).grouped and GROUP_COLUMN in found else None
            return Columns(a, b, LABEL_COLUMN, group)
    raise RowError(f"no {task} text columns in {sorted(found)}: expected {accepted(task)}")


def read_label(
    task: str, value: Any, column: str = LABEL_COLUMN, labels: Mapping[str, int] | None = None
) -> int | None:
    """A gold label as the task's class id: by `labels` (a user's words, parse_labels) when given, else an integer, a
    boolean or true/false/yes/no (two-class tasks), or a label name (entailment); None when absent or empty.
    Negative integers are kept: they mean "no gold label"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    word = label_word(value)
    if labels is not None:
        if word in labels:
            return labels[word]
        raise LabelError(f"field {column!r}: {value!r} is not one of the --labels words ({', '.join(labels)})", word)
    names = tasks.get(task).labels
    if isinstance(value, bool):
        if len(names) == 2:
            return int(value)
    elif isinstance(value, int | float) and float(value).is_integer():
        if int(value) < len(names):
            return int(value)
    elif isinstance(value, str):
        if word.lstrip("-").isdigit() and int(word) < len(names):
            return int(word)
        if word in names:
            return names.index(word)
        if len(names) == 2 and word in TRUE_WORDS | FALSE_WORDS:
            return int(word in TRUE_WORDS)
    raise LabelError(
        f"field {column!r}: {value!r} is not one of the {task} labels (accepted: {accepted_labels(task)}; "
        "map your own words with --labels WORD=LABEL,..., in training --data.labels)",
        word,
    )


def to_pair(
    task: str, row: Mapping[str, Any], columns: Columns | None = None, labels: Mapping[str, int] | None = None
) -> Pair:
    """Map one row; raises RowError naming the field when it is missing, not text, or not a label (LabelError)."""
    if not isinstance(row, Mapping):
        raise RowError(f"row must be an object, got {type(row).__name__}")
    columns = columns or detect_columns(task, row.keys())
    texts = []
    for col in (columns.text_a, columns.text_b):
        value = row.get(col)
        if value is None:
            raise RowError(f"field {col!r} is missing")
        if not isinstance(value, str):
            raise RowError(f"field {col!r} must be a string, got {type(value).__name__}")
        texts.append(value)
    label = read_label(task, row.get(columns.label), columns.label, labels)
    group = None
    if tasks.get(task).grouped:
        group = row.get(columns.group) if columns.group else None
        group = str(group) if group is not None else texts[0]
    return Pair(texts[0], texts[1], label, group)
