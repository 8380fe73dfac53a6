"""`pairscore score --ray` on a real local Ray (2 CPUs), shipped models, fixture rows.

Every input row ends up scored or rejected, with the local scorer's columns, answers
(<= 1e-6) and error lines, whatever the input: one JSONL file, a folder as a URI, a glob.
Parts come in no order: each output row carries its input `line` (and `file`), and a job
with rejected rows exits 1 unless --max-rejected allows them, as locally.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pairscore.cli import main as pairscore
from pairscore.runtime.model import PairModel

ray = pytest.importorskip("ray", reason="needs the 'ray' extra")

from helpers import MODELS, ROOT  # noqa: E402

DATA = ROOT / "tests" / "fixtures" / "data"
BROKEN = ["not json at all", '{"premise": "a cat"}', "[1, 2, 3]", "", '{"premise": 3, "hypothesis": "a number"}']
SCORES = {"label", "probabilities", "paraphrase", "probability", "score"}


@pytest.fixture(scope="module", autouse=True)
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def fixture_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def score(*args: str) -> int:
    return pairscore(["score", "--no-progress", *args])


def read_errors(paths: list[Path]) -> list[dict]:
    return [json.loads(line) for path in paths for line in path.read_text().splitlines()]


def ray_output(out: Path) -> tuple[pa.Table, list[dict]]:
    return pq.read_table(out, ignore_prefixes=["errors"]), read_errors(sorted((out / "errors").glob("*.jsonl")))


def assert_same_answers(got: list[dict], expected: list[dict], key: str) -> None:
    got, expected = sorted(got, key=lambda r: r[key]), sorted(expected, key=lambda r: r[key])
    assert [r[key] for r in got] == [r[key] for r in expected]
    for a, b in zip(got, expected):
        ignored = SCORES | {"file"}  # Ray names the file of each row of several files; the local scorer reads one
        assert {k: v for k, v in a.items() if k not in ignored} == {k: v for k, v in b.items() if k not in ignored}
        for field in SCORES & set(b):
            if isinstance(b[field], dict):
                assert a[field].keys() == b[field].keys() and all(
                    abs(a[field][k] - b[field][k]) <= 1e-6 for k in b[field]
                )
            elif isinstance(b[field], float):
                assert abs(a[field] - b[field]) <= 1e-6
            else:
                assert a[field] == b[field]


def test_jsonl_file_matches_the_local_scorer_row_for_row(tmp_path, capsys):
    lines = [json.dumps({**row, "n": i}) for i, row in enumerate(fixture_rows(DATA / "snli" / "validation.jsonl"))]
    for i, bad in enumerate(BROKEN):
        lines.insert(7 * i + 3, bad)
    source = tmp_path / "pairs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    model = str(MODELS / "entailment")
    local = ["--model", model, "--input", str(source), "--output", str(tmp_path / "local.parquet"), "--chunk", "16"]
    assert score(*local, "--max-rejected", "4") == 0
    capsys.readouterr()
    assert (
        score("--model", model, "--input", str(source), "--output", str(tmp_path / "out"), "--chunk", "16", "--ray")
        == 1  # 4 rows rejected, none allowed
    )
    table, errors = ray_output(tmp_path / "out")
    local = pq.read_table(tmp_path / "local.parquet")
    assert table.schema == local.schema  # same columns, same types
    assert_same_answers(table.to_pylist(), local.to_pylist(), "n")
    local_errors = read_errors([tmp_path / "local.parquet.errors.jsonl"])
    assert sorted(errors, key=lambda e: e["line"]) == local_errors and [e["line"] for e in local_errors] == [
        4,
        11,
        18,
        32,
    ]
    assert table.num_rows + len(errors) == sum(1 for line in lines if line.strip())  # nothing lost
    err = capsys.readouterr().err
    assert f"{table.num_rows} rows scored -> {tmp_path / 'out'}, 4 rejected" in err
    assert "4 rows rejected, more than --max-rejected 0" in err
    by_line = {i + 1: line for i, line in enumerate(lines)}  # the key joins each output row back to its input line
    assert all(json.loads(by_line[row["line"]])["n"] == row["n"] for row in table.to_pylist())


def test_joined_back_by_line_each_row_has_the_answer_it_gets_alone(tmp_path):
    """Parts are written in no order, refused rows sit in the middle: joined to the input by `line`, every output
    row holds the answer of its own input pair scored alone."""
    rows = fixture_rows(DATA / "twitter_url" / "train.jsonl")[:30]
    lines = [json.dumps(r) for r in rows]
    for at in (5, 11, 12, 20):
        lines[at] = json.dumps({"sentence1": "a text alone"})
    source = tmp_path / "pairs.jsonl"
    source.write_text("\n".join(lines) + "\n")
    out = tmp_path / "out"
    args = ["--model", str(MODELS / "paraphrase"), "--input", str(source), "--output", str(out), "--chunk", "4"]
    assert score(*args, "--ray", "--max-rejected", "4") == 0
    table, errors = ray_output(out)
    assert sorted(e["line"] for e in errors) == [6, 12, 13, 21]
    model = PairModel(MODELS / "paraphrase")
    for row in table.to_pylist():
        given = json.loads(lines[row["line"] - 1])
        assert row["sentence1"] == given["sentence1"]
        (alone,) = model.results(model.score_pairs([given["sentence1"]], [given["sentence2"]]))
        assert row["paraphrase"] == alone["paraphrase"] and abs(row["probability"] - alone["probability"]) <= 1e-6
    assert table.num_rows + len(errors) == len(lines)


def test_a_file_that_does_not_decode_stops_the_job_and_leaves_no_parts(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    rows = fixture_rows(DATA / "snli" / "validation.jsonl")[:20]
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw = '{"premise": "un café", "hypothesis": "x"}\n'.encode("cp1252")
    (folder / "b.jsonl").write_bytes(raw)
    out = tmp_path / "out"
    args = ["--model", str(MODELS / "entailment"), "--input", str(folder), "--output", str(out), "--ray"]
    assert score(*args) == 2
    assert f"{folder / 'b.jsonl'}:1: not UTF-8 (byte 0xe9 at offset {raw.index(0xE9)})" in capsys.readouterr().err
    assert not [p for p in out.rglob("*") if p.is_file()]
    assert score(*args, "--encoding", "cp1252") == 0
    table, errors = ray_output(out)
    assert table.num_rows == 21 and errors == [] and "un café" in table["premise"].to_pylist()
    assert set(table["file"].to_pylist()) == {str(folder / "a.jsonl"), str(folder / "b.jsonl")}


def test_folder_uri_of_jsonl_and_parquet_names_the_file_of_each_error(tmp_path):
    rows = fixture_rows(DATA / "mrpc" / "train.jsonl")
    folder = tmp_path / "in"
    (folder / "more").mkdir(parents=True)
    (folder / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows[:8]) + '{"sentence1": "only one"}\n')
    pq.write_table(pa.Table.from_pylist(rows[8:]), folder / "more" / "b.parquet")
    (folder / "_SUCCESS").write_text("")  # not a data file: left alone
    out = tmp_path / "out"
    assert (
        score(
            "--model",
            str(MODELS / "paraphrase"),
            "--input",
            folder.as_uri(),
            "--output",
            out.as_uri(),
            "--ray",
            "--chunk",
            "4",
            "--max-rejected",
            "1",
        )
        == 0
    )
    table, errors = ray_output(out)
    assert errors == [
        {"file": str(folder / "a.jsonl"), "line": 9, "error": errors[0]["error"], "row": {"sentence1": "only one"}}
    ]
    assert {(r["file"], r["line"]) for r in table.to_pylist()} == {
        *((str(folder / "a.jsonl"), n) for n in range(1, 9)),
        *((str(folder / "more" / "b.parquet"), n) for n in range(1, len(rows) - 7)),
    }
    assert "sentence2" in errors[0]["error"]
    assert table.num_rows == len(rows)
    local = []
    for name in ("a.jsonl", "more/b.parquet"):
        assert (
            score(
                "--model",
                str(MODELS / "paraphrase"),
                "--input",
                str(folder / name),
                "--output",
                str(tmp_path / "local.jsonl"),
                "--max-rejected",
                "1",
            )
            == 0
        )
        local += fixture_rows(tmp_path / "local.jsonl")
    assert_same_answers(table.to_pylist(), local, "idx")


def test_glob_of_csv_files_ranking(tmp_path):
    rows = fixture_rows(DATA / "wiki_qa" / "validation.jsonl")
    for part, start in (("q1.csv", 0), ("q2.csv", 15), ("skip.jsonl", 30)):
        with open(tmp_path / part, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(dict(r, label=str(i)) for i, r in enumerate(rows[start : start + 15], start))
    assert (
        score(
            "--model",
            str(MODELS / "ranking"),
            "--input",
            str(tmp_path / "q*.csv"),
            "--output",
            str(tmp_path / "out"),
            "--ray",
        )
        == 0
    )
    table, errors = ray_output(tmp_path / "out")
    assert errors == [] and table.num_rows == 30
    assert table.schema.field("question_id").type == pa.string() and table.schema.field("score").type == pa.float64()
    local = []
    for part in ("q1.csv", "q2.csv"):
        assert (
            score(
                "--model",
                str(MODELS / "ranking"),
                "--input",
                str(tmp_path / part),
                "--output",
                str(tmp_path / "local.jsonl"),
            )
            == 0
        )
        local += fixture_rows(tmp_path / "local.jsonl")
    assert_same_answers(table.to_pylist(), local, "label")


def test_unusable_model_input_or_output_exits_2_naming_it(tmp_path, capsys):
    source = tmp_path / "in.jsonl"
    source.write_text('{"premise": "a", "hypothesis": "b"}\n')
    model = str(MODELS / "entailment")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "part-0.parquet").write_text("from an earlier run")
    cases = [
        (["--model", str(tmp_path), "--input", str(source), "--output", str(tmp_path / "o")], "card.json"),
        (["--model", model, "--input", str(tmp_path / "none*.jsonl"), "--output", str(tmp_path / "o")], "none*.jsonl"),
        (
            ["--model", model, "--input", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o")],
            "missing.jsonl",
        ),
        (["--model", model, "--input", str(source), "--output", str(tmp_path / "full")], "not an empty folder"),
        (["--model", model, "--input", str(source), "--output", str(tmp_path / "o"), "--errors", "e.jsonl"], "errors/"),
        (["--model", model, "--input", f"{source}[-1:]", "--output", str(tmp_path / "o")], "a slice is for one local"),
    ]
    for args, named in cases:
        assert score(*args, "--ray") == 2
        assert named in capsys.readouterr().err


def test_serving_side_never_imports_ray(tmp_path):
    import tomllib
    import yaml

    base = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bento = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    assert not [p for p in base + bento if p.lower().startswith("ray")]  # the serving install and the image go without
    source = tmp_path / "in.jsonl"
    source.write_text('{"premise": "a", "hypothesis": "b"}\n')
    code = (
        "import sys; from pairscore.cli import main; import pairscore.jobs.score_ray; "
        f"assert main(['score', '--model', {str(MODELS / 'entailment')!r}, '--input', {str(source)!r}, "
        f"'--output', {str(tmp_path / 'o.jsonl')!r}, '--no-progress']) == 0; "
        "assert 'ray' not in sys.modules, 'ray imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_without_the_ray_extra_the_flag_names_it(tmp_path):
    code = (
        "import sys; sys.modules['ray'] = None; from pairscore.cli import main; "  # as if ray were not installed
        f"sys.exit(main(['score', '--model', {str(MODELS / 'entailment')!r}, "
        "'--input', 'x.jsonl', '--output', 'out', '--ray']))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 2 and "'ray' extra" in done.stderr and "pip install" in done.stderr
