"""One mapping layer from every supported column schema to a canonical pair record.

Used by training (rows from `datasets`), by `pairscore evaluate` and by the batch
scorer (rows from JSONL/CSV/Parquet), so a file in any of the shared schemas or
with the HTTP endpoints' field names works everywhere. No torch here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# (text_a column, text_b column, label column) per schema, tried in order; the columns decide.
SCHEMAS: dict[str, list[tuple[str, str, str]]] = {
    "entailment": [
        ("premise", "hypothesis", "label"),  # snli, snli_cad, endpoint
        ("sentence_A", "sentence_B", "label"),  # sick
        ("text_a", "text_b", "label"),
    ],
    "paraphrase": [
        ("text_a", "text_b", "label"),  # endpoint
        ("sentence1", "sentence2", "label"),  # twitter_url, mrpc
        ("premise", "hypothesis", "label"),
    ],
    "ranking": [
        ("question", "answer", "label"),  # wiki_qa, trec_qa, endpoint
    ],
}
GROUP_COLUMN = "question_id"


class RowError(ValueError):
    """A row that cannot be turned into a pair; the message names the field."""


@dataclass(frozen=True)
class Pair:
    text_a: str
    text_b: str
    label: int | None = None  # None when the row carries no gold label
    group: str | None = None  # question id for ranking (the question text when absent)


def detect_columns(task: str, columns: list[str] | set[str]) -> tuple[str, str, str]:
    """Pick the schema whose two text columns are present."""
    present = set(columns)
    for schema in SCHEMAS[task]:
        if schema[0] in present and schema[1] in present:
            return schema
    wanted = " or ".join(f"({a}, {b})" for a, b, _ in SCHEMAS[task])
    raise RowError(f"no {task} text columns: expected {wanted}, got {sorted(present)}")


def to_pair(task: str, row: Mapping[str, Any], columns: tuple[str, str, str] | None = None) -> Pair:
    """Map one row; raises RowError naming the field when it is missing or not text."""
    if not isinstance(row, Mapping):
        raise RowError(f"row must be an object, got {type(row).__name__}")
    col_a, col_b, col_label = columns or detect_columns(task, row.keys())
    texts = []
    for col in (col_a, col_b):
        value = row.get(col)
        if value is None:
            raise RowError(f"field {col!r} is missing")
        if not isinstance(value, str):
            raise RowError(f"field {col!r} must be a string, got {type(value).__name__}")
        texts.append(value)
    label = row.get(col_label)
    if isinstance(label, str):  # CSV values arrive as text
        label = label.strip()
        label = None if label == "" else int(label) if label.lstrip("-").isdigit() else label
    if label is not None:
        if isinstance(label, bool) or not isinstance(label, (int, float)) or label != int(label):
            raise RowError(f"field {col_label!r} must be an integer label, got {label!r}")
        label = int(label)
    group = None
    if task == "ranking":
        group = row.get(GROUP_COLUMN)
        group = str(group) if group is not None else texts[0]
    return Pair(texts[0], texts[1], label, group)
