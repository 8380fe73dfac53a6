"""`pairscore score`: broken rows go to the errors file with their line, nothing is lost, numbers match the service."""

from __future__ import annotations

import csv
import json

import pyarrow as pa
import pyarrow.parquet as pq

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
    assert score(tiny_models / "entailment", source, out, "--no-progress") == 0
    scored = read_jsonl(out)
    errors = read_jsonl(tmp_path / "out.jsonl.errors.jsonl")
    assert [row["id"] for row in scored] == ["a", "c", "e"]  # input order, fields kept
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
    assert pairscore(args) == 0
    table = pq.read_table(out).to_pylist()
    assert [row["note"] for row in table] == ["one", "two"]
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
