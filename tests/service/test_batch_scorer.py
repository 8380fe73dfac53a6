"""`pairscore score`: broken rows go to the errors file with their line, every output row carries its input line (the
key that joins it back), a job with rejected rows exits 1 unless allowed, nothing is lost, numbers match the service."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq

from helpers import MODELS
from pairscore.cli import main as pairscore
from pairscore.runtime.model import PairModel

ROWS = [
    '{"premise": "A dog runs in the park.", "hypothesis": "An animal is outside.", "label": 0, "id": "a"}',
    '{"premise": "A dog runs.", "hypothesis": 5, "id": "b"}',
    "not json at all",
    '{"sentence_A": "The man eats food.", "sentence_B": "Nobody is eating.", "label": 2, "id": "c"}',
    "",
    "[1, 2, 3]",
    '{"text": "wrong columns", "id": "d"}',
    '{"premise": "", "hypothesis": "an empty premise", "id": "e"}',
    '{"premise": null, "hypothesis": "x", "id": "f"}',
]


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def score(model, source, out, *flags: str) -> int:
    """`pairscore score` of one file into another, without the progress bar."""
    return pairscore(["score", "--model", str(model), "--input", str(source), "--output", str(out), *flags])


def test_jsonl_with_broken_rows(tiny_models, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(ROWS) + "\n")
    out = tmp_path / "out.jsonl"
    assert score(tiny_models / "entailment", source, out, "--no-progress") == 1  # rows were rejected
    scored = read_jsonl(out)
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [row["id"] for row in scored] == ["a", "c", "e"]  # input order, fields kept
    assert [row["line"] for row in scored] == [1, 4, 8]  # the input line: the key that joins output to input
    assert scored[0]["input_label"] == 0 and scored[0]["premise"] == "A dog runs in the park."
    assert [e["line"] for e in errors] == [2, 3, 6, 7, 9]
    assert errors[0]["row"] == {"premise": "A dog runs.", "hypothesis": 5, "id": "b"}
    assert "hypothesis" in errors[0]["error"] and "JSON" in errors[1]["error"]
    assert len(scored) + len(errors) == sum(1 for line in ROWS if line)  # no row lost
    model = PairModel(tiny_models / "entailment")
    expected = model.score_pairs(
        ["A dog runs in the park.", "The man eats food.", ""],
        ["An animal is outside.", "Nobody is eating.", "an empty premise"],
    )
    for row, probs in zip(scored, expected):
        assert [row["probabilities"][label] for label in model.labels] == [float(p) for p in probs]
        assert row["label"] == model.labels[int(probs.argmax())]
    summary = capsys.readouterr().err
    assert "3 rows scored" in summary and "5 rejected" in summary
    assert "5 rows rejected, more than --max-rejected 0" in summary and "`line` column" in summary
    assert score(tiny_models / "entailment", source, out, "--no-progress", "--max-rejected", "5") == 0
    assert score(tiny_models / "entailment", source, out, "--no-progress", "--max-rejected", "4") == 1


def test_csv_to_parquet_paraphrase_with_errors_file(tiny_models, tmp_path):
    source = tmp_path / "pairs.csv"
    with open(source, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text_a", "text_b", "note"])
        writer.writerow(["a dog runs", "the dog is running", "one"])
        writer.writerow(["a cat", "", "two"])
        writer.writerow(["x", "y", "three", "extra field"])
    out, errors = tmp_path / "scored.parquet", tmp_path / "bad.jsonl"
    args = [
        "score",
        "--model",
        str(tiny_models / "paraphrase"),
        "--input",
        str(source),
        "--output",
        str(out),
        "--errors",
        str(errors),
        "--no-progress",
    ]
    assert pairscore(args) == 1
    table = pq.read_table(out).to_pylist()
    assert [row["note"] for row in table] == ["one", "two"] and [row["line"] for row in table] == [2, 3]
    assert all(isinstance(row["paraphrase"], bool) and 0 <= row["probability"] <= 1 for row in table)
    assert [e["line"] for e in read_jsonl(errors)] == [4]


def test_parquet_ranking_chunking_changes_nothing(tiny_models, tmp_path):
    rows = [
        {"question": f"who plays {i}?", "answer": "a man plays ball " * (i % 4), "question_id": i % 3}
        for i in range(50)
    ]
    source = tmp_path / "qa.parquet"
    pq.write_table(pa.Table.from_pylist(rows), source)
    outputs = []
    for chunk in ("7", "1024"):
        out = tmp_path / f"out-{chunk}.jsonl"
        assert score(tiny_models / "ranking", source, out, "--chunk", chunk, "--no-progress") == 0
        outputs.append(read_jsonl(out))
    assert len(outputs[0]) == 50
    assert all(abs(a["score"] - b["score"]) <= 1e-5 for a, b in zip(*outputs))
    expected = PairModel(tiny_models / "ranking").rank("who plays 5?", [rows[5]["answer"]])[0]
    assert abs(outputs[0][5]["score"] - float(expected)) <= 1e-5


def test_scorer_matches_the_http_service(tiny_models, tmp_path, client):
    pairs = [
        {"premise": "A man sleeps in the house.", "hypothesis": "Someone is asleep."},
        {"premise": "dogs", "hypothesis": "cats"},
    ]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(p) + "\n" for p in pairs))
    out = tmp_path / "out.jsonl"
    assert score(tiny_models / "entailment", source, out, "--no-progress") == 0
    served = client.post("/entailment", json={"pairs": pairs}).json()
    for row, item in zip(read_jsonl(out), served):
        assert row["label"] == item["label"]
        assert all(abs(row["probabilities"][k] - v) <= 1e-5 for k, v in item["probabilities"].items())


def test_bad_model_or_format_exits_2(tiny_models, tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text("{}\n")
    assert score(tmp_path, source, tmp_path / "o.jsonl") == 2
    assert "card.json" in capsys.readouterr().err
    assert score(tiny_models / "entailment", source, tmp_path / "o.txt") == 2
    assert "o.txt" in capsys.readouterr().err


def test_output_joined_to_input_by_line_matches_each_row_scored_alone(tmp_path, capsys):
    """Refused rows in the middle shift nothing: the shipped paraphrase model, a CSV whose 2nd, 5th and 6th data rows
    are refused; the output, joined back to the input by `line`, has each row's answer as scoring it alone gives."""
    model = PairModel(MODELS / "paraphrase")
    rows = [
        ["How old are you?", "What is your age?", "r0"],
        ["a text with no second text"],  # refused: text_b missing
        ["the cat sat on the mat", "a cat is sitting on a mat", "r2"],
        ["stocks fell sharply", "the weather is sunny", "r3"],
        ["one", "two", "r4", "a field too many"],  # refused
        ["another lone text"],  # refused
        ["He plays the guitar.", "A man is playing music.", "r6"],
        ["Where is Paris?", "Paris is in France.", "r7"],
    ]
    source = tmp_path / "pairs.csv"
    with open(source, "w", newline="") as handle:
        csv.writer(handle).writerows([["text_a", "text_b", "id"], *rows])
    by_line = {row[0]: row[1] for row in csv_rows(source)}  # the input, keyed by its file line
    out = tmp_path / "scored.jsonl"
    assert score(MODELS / "paraphrase", source, out, "--no-progress") == 1
    assert "3 rows rejected" in capsys.readouterr().err
    scored, errors = read_jsonl(out), read_jsonl(tmp_path / "scored.jsonl.errors.jsonl")
    assert sorted([r["line"] for r in scored] + [e["line"] for e in errors]) == sorted(by_line)  # none lost
    assert [e["line"] for e in errors] == [3, 6, 7]
    for row in scored:
        given = by_line[row["line"]]
        assert row["id"] == given["id"]
        (alone,) = model.results(model.score_pairs([given["text_a"]], [given["text_b"]]))
        assert row["paraphrase"] == alone["paraphrase"] and abs(row["probability"] - alone["probability"]) <= 1e-6


def csv_rows(path):
    """(file line, row) of a one-line-per-row CSV, as the scorer numbers them (the header is line 1)."""
    with open(path, newline="") as handle:
        return [(line, row) for line, row in enumerate(csv.DictReader(handle), start=2)]


def test_a_slice_of_the_input_keeps_the_file_line_numbers(tiny_models, tmp_path):
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps({"premise": f"p{i}", "hypothesis": f"h{i}"}) + "\n" for i in range(10)))
    out = tmp_path / "out.jsonl"
    assert score(tiny_models / "entailment", f"{source}[-3:]", out, "--no-progress") == 0
    assert [(row["line"], row["premise"]) for row in read_jsonl(out)] == [(8, "p7"), (9, "p8"), (10, "p9")]
    assert score(tiny_models / "entailment", f"{source}[:20%]", out, "--no-progress") == 0
    assert [row["line"] for row in read_jsonl(out)] == [1, 2]


def test_a_file_in_another_encoding_stops_before_anything_is_written(tiny_models, tmp_path, capsys):
    source = tmp_path / "in.tsv"
    lines = ["premise\thypothesis"] + [f"row {i}\tthe same row {i}" for i in range(5)] + ["un café\tune boisson"]
    source.write_bytes("\n".join(lines).encode("cp1252") + b"\n")
    out = tmp_path / "out.csv"
    assert score(tiny_models / "entailment", source, out, "--no-progress") == 2
    offset = len("\n".join(lines[:-1]).encode()) + 1 + len("un caf")
    assert f"{source}:7: not UTF-8 (byte 0xe9 at offset {offset}); pass --encoding" in capsys.readouterr().err
    assert not out.exists() and not (tmp_path / "out.csv.errors.jsonl").exists()
    assert score(tiny_models / "entailment", source, out, "--no-progress", "--encoding", "cp1252") == 0
    with open(out, newline="", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert len(written) == 6 and written[-1]["premise"] == "un café" and written[-1]["line"] == "7"
