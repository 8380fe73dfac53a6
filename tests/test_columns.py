"""One column mapping everywhere: `--columns` means the same in `pairscore score` and `pairscore evaluate` (training's
`--data.columns`: tests/training/test_your_data.py), labels in every accepted spelling, ranking groups by column or
by question text. Torch-free: runs on the serving install, against the shipped models."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from helpers import MODELS
from pairscore.cli import main as pairscore
from pairscore.runtime.model import PairModel
from pairscore.schema import RowError, parse_columns, read_label
from pairscore.specs import DataError, load_pairs

PAIRS = [  # (left, right, same): a user's paraphrase rows, their own column names and yes/no labels
    ("the president signed the climate bill today", "today the president signed the bill on climate", "yes"),
    ("the president signed the climate bill today", "my cat likes to sleep in the sun", "no"),
    ("a man is playing a guitar on stage", "a man plays the guitar on a stage", "Yes"),
    ("stocks fell sharply on monday", "the weather will be sunny tomorrow", "NO"),
]


def write_csv(path: Path, header: list[str], rows: list[tuple]) -> Path:
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


@pytest.mark.parametrize(
    "task, value, expected",
    [
        ("paraphrase", 1, 1),
        ("paraphrase", "0", 0),
        ("paraphrase", True, 1),
        ("paraphrase", "false", 0),
        ("paraphrase", " Yes ", 1),
        ("ranking", "no", 0),
        ("entailment", "contradiction", 2),
        ("entailment", "Neutral", 1),
        ("entailment", 0, 0),
        ("entailment", -1, -1),  # SNLI's "no gold label": kept, then left out of the labelled pairs
        ("entailment", "", None),
        ("entailment", None, None),
    ],
)
def test_every_accepted_label_spelling(task, value, expected):
    assert read_label(task, value) == expected


@pytest.mark.parametrize(
    "task, value",
    [("entailment", "yes"), ("entailment", True), ("entailment", 3), ("paraphrase", "maybe"), ("ranking", 2.5)],
)
def test_an_unreadable_label_names_the_field_and_what_is_accepted(task, value):
    with pytest.raises(RowError, match=r"field 'verdict'.*accepted: 0\.\."):
        read_label(task, value, column="verdict")


@pytest.mark.parametrize("text", ["text_a=q", "text_a=q,text_b=c,colour=x", "text_a=q,text_b=c,text_a=d", "q,c"])
def test_a_bad_mapping_says_the_spelling(text):
    with pytest.raises(ValueError, match=r"text_a=COL"):
        parse_columns(text)


def test_ranking_groups_come_from_the_group_column_else_from_the_question(tmp_path):
    rows = [("q1", "how tall is it ?", "very tall", "true"), ("q2", "how tall is it ?", "not at all", "false")]
    path = write_csv(tmp_path / "qa.csv", ["qid", "query", "candidate", "relevant"], rows)
    by_column = load_pairs(
        str(path), "ranking", columns=parse_columns("text_a=query,text_b=candidate,label=relevant,group=qid")
    )
    by_text = load_pairs(str(path), "ranking", columns=parse_columns("text_a=query,text_b=candidate,label=relevant"))
    assert [p.group for p in by_column] == ["q1", "q2"]
    assert [p.group for p in by_text] == ["how tall is it ?"] * 2
    assert [p.label for p in by_text] == [1, 0]


def test_a_mapped_column_missing_from_the_file_is_named(tmp_path):
    path = write_csv(tmp_path / "mine.csv", ["left", "right", "same"], PAIRS)
    with pytest.raises(DataError, match=r"\['rigth'\].*found \['left', 'right', 'same'\]"):
        load_pairs(str(path), "paraphrase", columns=parse_columns("text_a=left,text_b=rigth"))


def test_score_and_evaluate_read_the_same_columns_as_the_service(tmp_path, capsys):
    model = PairModel(MODELS / "paraphrase")
    source = write_csv(tmp_path / "mine.csv", ["left", "right", "same"], PAIRS)
    out = tmp_path / "scored.jsonl"
    args = ["--model", str(model.model_dir), "--input", str(source), "--output", str(out), "--no-progress"]
    assert pairscore(["score", *args, "--columns", "text_a=left,text_b=right"]) == 0
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    expected = model.score_pairs([p[0] for p in PAIRS], [p[1] for p in PAIRS])
    assert len(scored) == len(PAIRS)
    assert [row["left"] for row in scored] == [p[0] for p in PAIRS]  # the user's columns are kept, in order
    assert [row["probability"] for row in scored] == pytest.approx(expected.tolist(), abs=1e-6)

    capsys.readouterr()
    columns = ["--columns", "text_a=left,text_b=right,label=same"]
    assert pairscore(["evaluate", str(model.model_dir), "--data", str(source), *columns]) == 0
    measured = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert measured["rows"] == len(PAIRS)
    predicted = (expected >= model.threshold).astype(int).tolist()
    assert measured["accuracy"] == pytest.approx(sum(p == g for p, g in zip(predicted, [1, 0, 1, 0])) / len(PAIRS))
