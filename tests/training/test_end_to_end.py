"""Each task: train a few steps on the fixtures with the release recipe -> export -> `pairscore evaluate`."""

import json
import subprocess
import sys

import pytest

from pairscore import artifact
from pairscore.card import read
from pairscore.tasks import TASKS as TASKS_BY_NAME

onnx = pytest.importorskip("onnx", reason="training extra")

from helpers import FIXTURE_DATA  # noqa: E402

EVAL_DATA = {
    "entailment": FIXTURE_DATA / "sick" / "validation.jsonl",
    "paraphrase": FIXTURE_DATA / "mrpc" / "train.jsonl",
    "ranking": FIXTURE_DATA / "trec_qa" / "validation.jsonl",
}
KEYS = {
    "entailment": {"accuracy", "per_class", "confusion", "rows"},
    "paraphrase": {"f1", "precision", "recall", "accuracy", "rows"},
    "ranking": {"map", "mrr", "questions", "rows"},
}
CARD_KEYS = {
    "format_version",
    "task",
    "labels",
    "threshold",
    "dim",
    "max_tokens",
    "graphs",
    "architecture",
    "data",
    "config",
    "metrics",
    "versions",
    "created",
    "files",
}


def pairscore(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pairscore.cli", *args], capture_output=True, text=True, timeout=120)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("task", list(EVAL_DATA))
def test_evaluate_prints_the_task_metrics_as_json(tiny_models, task):
    done = pairscore("evaluate", str(tiny_models / task), "--data", str(EVAL_DATA[task]))
    assert done.returncode == 0, done.stderr
    result = last_json(done.stdout)
    assert KEYS[task] <= set(result) and result["rows"] > 0
    if task == "ranking":
        assert result["questions"] == 2
    int8 = pairscore(
        "evaluate", str(tiny_models / task), "--data", str(EVAL_DATA[task]), "--encoder", artifact.ENCODER_INT8_FILE
    )
    assert int8.returncode == 0 and KEYS[task] <= set(last_json(int8.stdout))


@pytest.mark.parametrize("task", list(EVAL_DATA))
def test_card_describes_the_model(tiny_models, task):
    card = read(tiny_models / task)
    assert CARD_KEYS <= set(json.loads(card.to_json()))
    assert card.labels == list(TASKS_BY_NAME[task].labels)
    assert (card.threshold == 0.5) if task == "paraphrase" else card.threshold is None
    assert card.graphs.encoder == artifact.ENCODER_FILE and card.graphs.encoder_int8 == artifact.ENCODER_INT8_FILE
    assert card.architecture["parameters"] > 0 and card.architecture["cell"] == "lstm"
    assert all({"source", "split", "rows", "licence"} <= set(d) and d["rows"] > 0 for d in card.data)
    assert all(KEYS[task] <= set(m) for m in card.metrics.values())
    assert max(card.parity.encoder, card.parity.head) <= 1e-5
    for name in (artifact.ENCODER_FILE, artifact.ENCODER_INT8_FILE):
        for graph_input in onnx.load(str(tiny_models / task / name)).graph.input:
            assert all(dim.dim_param for dim in graph_input.type.tensor_type.shape.dim)


def test_evaluate_reads_csv_and_parquet_in_another_schema(tiny_models, tmp_path):
    pa = pytest.importorskip("pyarrow")
    import csv

    import pyarrow.parquet as pq

    rows = [json.loads(line) for line in (FIXTURE_DATA / "sick" / "validation.jsonl").read_text().splitlines()]
    with open(tmp_path / "sick.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "sick.parquet")
    results = []
    for path in (EVAL_DATA["entailment"], tmp_path / "sick.csv", tmp_path / "sick.parquet"):
        done = pairscore("evaluate", str(tiny_models / "entailment"), "--data", str(path))
        assert done.returncode == 0, done.stderr
        results.append({k: v for k, v in last_json(done.stdout).items() if k != "data"})
    assert results[0] == results[1] == results[2]


def test_evaluate_does_not_import_torch(tiny_models):
    code = (
        "import sys; from pairscore.cli import main; "
        f"rc = main(['evaluate', {str(tiny_models / 'ranking')!r}, '--data', {str(EVAL_DATA['ranking'])!r}]); "
        "assert rc == 0; assert not {'torch', 'datasets', 'pytorch_lightning'} & set(sys.modules), 'torch imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_evaluate_names_a_bad_line(tiny_models, tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"premise": "a dog", "hypothesis": "an animal", "label": 0}\n{"premise": "a cat"}\n')
    done = pairscore("evaluate", str(tiny_models / "entailment"), "--data", str(path))
    assert done.returncode != 0 and f"{path}:2" in done.stderr and "hypothesis" in done.stderr
