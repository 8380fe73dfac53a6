"""One mapping layer from a row's columns to a canonical pair record, for every tool that reads rows.

Used by training (the shared sources and a user's files), by `pairscore evaluate` and by the batch scorer, so a
file in any of the shared schemas, with the HTTP endpoints' field names, or with columns named by
`--columns text_a=COL,text_b=COL[,label=COL][,group=COL]` reads the same everywhere. Labels are read the same
way too: integers, booleans and yes/no words for the two-class tasks, the label names for entailment. No torch.
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
            group = GROUP_COLUMN if task == "ranking" and GROUP_COLUMN in found else None
            return Columns(a, b, LABEL_COLUMN, group)
    raise RowError(f"no {task} text columns in {sorted(found)}: expected {accepted(task)}")


def read_label(task: str, value: Any, column: str = LABEL_COLUMN) -> int | None:
    """A gold label as the task's class id: an integer, a boolean or true/false/yes/no (two-class tasks), or a label
    name (entailment); None when absent or empty. Negative integers are kept: they mean "no gold label"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    labels = tasks.get(task).labels
    if isinstance(value, bool):
        if len(labels) == 2:
            return int(value)
    elif isinstance(value, int | float) and value == int(value):
        if int(value) < len(labels):
            return int(value)
    elif isinstance(value, str):
        word = value.strip().lower()
        if word.lstrip("-").isdigit() and int(word) < len(labels):
            return int(word)
        if word in labels:
            return labels.index(word)
        if len(labels) == 2 and word in TRUE_WORDS | FALSE_WORDS:
            return int(word in TRUE_WORDS)
    names = ", ".join(labels)
    two_class = ", true/false, yes/no" if len(labels) == 2 else ""
    accepted_labels = f"0..{len(labels) - 1}{two_class}, {names}"
    raise RowError(f"field {column!r}: {value!r} is not one of the {task} labels (accepted: {accepted_labels})")


def to_pair(task: str, row: Mapping[str, Any], columns: Columns | None = None) -> Pair:
    """Map one row; raises RowError naming the field when it is missing, not text, or not a label."""
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
    label = read_label(task, row.get(columns.label), columns.label)
    group = None
    if task == "ranking":
        group = row.get(columns.group) if columns.group else None
        group = str(group) if group is not None else texts[0]
    return Pair(texts[0], texts[1], label, group)
