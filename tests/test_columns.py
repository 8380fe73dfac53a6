"""One column mapping everywhere: `--columns` means the same in `pairscore score` and `pairscore evaluate` (training's
`--data.columns`: tests/training/test_your_data.py), labels in every accepted spelling, ranking groups by column or
by question text. Torch-free: runs on the serving install, against the shipped models."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import MODELS
from pairscore.cli import main as pairscore
from pairscore.runtime.model import PairModel
from pairscore.schema import RowError, parse_columns, parse_labels, read_label
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


@pytest.mark.parametrize(
    "task, mapping, value, expected",
    [
        ("paraphrase", "same=1,different=0", "same", 1),
        ("paraphrase", "same=1,different=0", "Same ", 1),  # trimmed and case-folded, as every spelling is
        ("paraphrase", "same=paraphrase,different=not_paraphrase", " DIFFERENT", 0),
        ("ranking", "good=correct,bad=wrong", "good", 1),
        ("ranking", "1=0,0=1", 1, 0),  # a mapping is the whole vocabulary: it may even swap the integers
        ("entailment", "yes=entailment,maybe=neutral,no=contradiction", "Maybe", 1),
        ("entailment", "follows=0,contradicts=2,unrelated=1", "contradicts", 2),
    ],
)
def test_your_own_label_words_map_to_the_task_labels(task, mapping, value, expected):
    assert read_label(task, value, labels=parse_labels(mapping, task)) == expected


@pytest.mark.parametrize(
    "task, mapping, message",
    [
        ("paraphrase", "same=1,different", "expected WORD=LABEL"),
        ("paraphrase", "same=1,Same =0", "'Same' is mapped twice"),
        ("paraphrase", "same=2", "'2' is not a paraphrase label"),
        ("entailment", "yes=true", "'true' is not a entailment label"),
        ("entailment", "gone=-1", "'-1' is not a entailment label"),
    ],
)
def test_a_bad_label_mapping_says_what_is_wrong(task, mapping, message):
    with pytest.raises(ValueError, match=message):
        parse_labels(mapping, task)


def test_an_unmapped_label_stops_the_load_at_its_first_line_with_a_count_of_rows_like_it(tmp_path):
    rows = [(f"left {i}", f"right {i}", ["same", "different", "unsure", " Unsure", "n/a"][i % 5]) for i in range(20)]
    path = write_csv(tmp_path / "mine.csv", ["left", "right", "verdict"], rows)
    columns = parse_columns("text_a=left,text_b=right,label=verdict")
    with pytest.raises(DataError) as raised:
        load_pairs(str(path), "paraphrase", columns=columns, labels=parse_labels("same=1,different=0", "paraphrase"))
    assert str(raised.value) == (
        f"{path}:4: field 'verdict': 'unsure' is not one of the --labels words (same, different): 8 rows have this "
        "label; 1 other unread labels in 4 rows"
    )
    with pytest.raises(DataError, match=r"mine.csv:2: field 'verdict': 'same' is not one of the paraphrase labels"):
        load_pairs(str(path), "paraphrase", columns=columns)  # without --labels: the built-in spellings only
    mapping = parse_labels("same=1,different=0,unsure=0,n/a=0", "paraphrase")
    assert [p.label for p in load_pairs(str(path), "paraphrase", columns=columns, labels=mapping)] == [
        1 if i % 5 == 0 else 0 for i in range(20)
    ]


def test_evaluate_reads_your_labels_your_encoding_and_a_slice_on_the_serving_install(tmp_path):
    """The README's string labels, a Windows-1252 TSV with a BOM-less header, `my.tsv[-3:]`: `pairscore evaluate`
    with neither torch nor `datasets` importable, as on `pip install -e .`."""
    model = PairModel(MODELS / "paraphrase")
    rows = [
        (a.replace("guitar", "café guitar"), b, "Same" if w.lower() == "yes" else "different ") for a, b, w in PAIRS
    ]
    path = tmp_path / "mine.tsv"
    path.write_bytes(("left\tright\tverdict\n" + "".join(f"{a}\t{b}\t{w}\n" for a, b, w in rows)).encode("cp1252"))
    flags = ["--columns", "text_a=left,text_b=right,label=verdict", "--labels", "same=1,different=0"]
    code = (
        "import sys; sys.modules['torch'] = sys.modules['datasets'] = None; from pairscore.cli import main; "
        "sys.exit(main(sys.argv[1:]))"
    )
    run = [sys.executable, "-c", code, "evaluate", str(model.model_dir), "--data"]
    done = subprocess.run([*run, f"{path}[-3:]", *flags], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and f"{path}:4: not UTF-8 (byte 0xe9 at offset" in done.stderr
    done = subprocess.run(
        [*run, f"{path}[-3:]", *flags, "--encoding", "cp1252"], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    expected = model.score_pairs([r[0] for r in rows[-3:]], [r[1] for r in rows[-3:]]) >= model.threshold
    gold = [0, 1, 0]
    assert measured["rows"] == 3
    assert measured["accuracy"] == pytest.approx(sum(int(p) == g for p, g in zip(expected, gold)) / 3)


def test_evaluate_names_the_ranking_questions_it_leaves_out(tmp_path, capsys):
    """Questions with no correct or no wrong answer have nothing to rank: `pairscore evaluate` counts them, says why,
    and names them; MAP and MRR are over the others (the shipped ranking model)."""
    rows = [
        ("q1", "who wrote hamlet ?", "shakespeare wrote hamlet", "yes"),
        ("q1", "who wrote hamlet ?", "paris is in france", "no"),
        ("q2", "where is paris ?", "the sky is blue", "no"),
        ("q2", "where is paris ?", "hamlet is a play", "no"),
        ("q3", "what is water ?", "water is a liquid", "yes"),
        ("q4", "how tall is it ?", "it is very tall", "no"),
    ]
    path = write_csv(tmp_path / "qa.csv", ["qid", "question", "answer", "label"], rows)
    columns = ["--columns", "text_a=question,text_b=answer,label=label,group=qid"]
    assert pairscore(["evaluate", str(MODELS / "ranking"), "--data", str(path), *columns]) == 0
    out, err = capsys.readouterr()
    measured = json.loads(out.strip().splitlines()[-1])
    assert measured["questions"] == 1 and measured["rows"] == 6
    assert measured["dropped"] == {
        "questions": 3,
        "no_correct_answer": 2,
        "no_wrong_answer": 1,
        "rows": 4,
        "groups": ["q2", "q3", "q4"],
    }
    assert "3 questions (4 rows) left out of map/mrr: 2 with no correct answer, 1 with no wrong answer" in err
