"""A user's own files: train and fine-tune on them, from a model folder, with their own column names and string
labels; every bad input refused with a clear message before any training starts."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("datasets")

from helpers import CONFIGS, FIXTURE_DATA, MODELS, TINY_SIZES  # noqa: E402
from pairscore import artifact, metrics  # noqa: E402
from pairscore.card import read  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402
from training import cli, export  # noqa: E402
from training.runs import BEST_FILE, Best  # noqa: E402

WORDS = {0: "no", 1: "yes"}


def user_csv(path: Path, rows: list[dict], words: dict[int, str] = WORDS) -> Path:
    """The fixture's paraphrase rows as a user would have them: their own columns, yes/no labels."""
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["left", "right", "same"])
        writer.writeheader()
        for row in rows:
            writer.writerow({"left": row["sentence1"], "right": row["sentence2"], "same": words[row["label"]]})
    return path


def twitter_rows() -> list[dict]:
    return [json.loads(line) for line in (FIXTURE_DATA / "twitter_url" / "train.jsonl").read_text().splitlines()]


def train_args(root: Path, *extra: str) -> list[str]:
    return [
        "--config",
        str(CONFIGS / "paraphrase.yaml"),
        "--data.columns=text_a=left,text_b=right,label=same",
        f"--trainer.default_root_dir={root}",
        *TINY_SIZES,
        *extra,
    ]


def trained(root: Path) -> Path:
    (handed,) = (root / "paraphrase").glob(f"version_*/{BEST_FILE}")
    return Path(Best.read(handed).checkpoint)


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    rows = twitter_rows()
    user_csv(tmp_path / "train.csv", rows[:40])
    user_csv(tmp_path / "val.csv", rows[40:])
    return tmp_path


def test_a_files_only_run_reads_nothing_from_the_data_dir(mine, tmp_path, monkeypatch):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PAIRSCORE_DATA_DIR", str(empty))
    files = [f"--data.train=[{mine / 'train.csv'}]", f"--data.val=[{mine / 'val.csv'}]", "--data.min_freq=1"]
    assert cli.main(train_args(tmp_path / "runs", *files)) == 0  # the recipe's shared calibration slices left out
    card = export.export(trained(tmp_path / "runs"), tmp_path / "model")
    assert {d["source"] for d in card.data} == {"file"} and card.calibration is None
    (train,) = [d for d in card.data if d["role"] == "train"]
    assert train["rows"] == 40 and train["files"] == [
        {"path": str(mine / "train.csv"), "sha256": artifact.sha256_file(mine / "train.csv")}
    ]


def test_fine_tuning_from_a_model_folder_starts_from_exactly_its_model(mine, tmp_path, tiny_v2_models):
    """lr 0: the run changes nothing, so its export serves what the folder serves (weights, table, tokenizer and
    pair features all taken from the folder)."""
    start = tiny_v2_models / "paraphrase"
    files = [f"--data.train=[{mine / 'train.csv'}]", f"--data.val=[{mine / 'val.csv'}]", "--data.calibration=null"]
    args = train_args(tmp_path / "runs", *files, f"--model.init_from={start}", "--model.lr=0", "--data.features=true")
    assert cli.main(args) == 0
    card = export.export(trained(tmp_path / "runs"), tmp_path / "model")
    assert card.init_from["folder"] == str(start)
    assert card.init_from["card_sha256"] == artifact.sha256_file(start / artifact.CARD_FILE)
    before, after = PairModel(start), PairModel(tmp_path / "model")
    texts = [row["sentence1"] for row in twitter_rows()[:30]]
    assert np.abs(after.encode(texts) - before.encode(texts)).max() <= 1e-6
    a, b = texts[:15], texts[15:]
    # the folder's head divides its logits by its calibration temperature; this run fit none (T = 1)
    untempered = metrics.retemper(before.score_pairs(a, b), before.card.temperature)
    assert after.card.calibration is None and np.abs(after.score_pairs(a, b) - untempered).max() <= 1e-5


def refused(tmp_path: Path, capsys, *extra: str) -> str:
    """Run `pairscore train`; assert it stopped before training (exit 2, no run folder) and return its message."""
    assert cli.main(train_args(tmp_path / "runs", *extra)) == 2
    assert not (tmp_path / "runs" / "paraphrase").exists()
    message = capsys.readouterr().err
    assert "Traceback" not in message
    return message


def test_a_missing_file_is_named(mine, tmp_path, capsys):
    message = refused(tmp_path, capsys, f"--data.train=[{mine / 'nope.csv'}]", f"--data.val=[{mine / 'val.csv'}]")
    assert "nope.csv: no such file" in message


def test_columns_that_match_no_schema_list_what_was_found_and_what_is_accepted(mine, tmp_path, capsys):
    args = [f"--data.train=[{mine / 'train.csv'}]", f"--data.val=[{mine / 'val.csv'}]", "--data.columns=null"]
    message = refused(tmp_path, capsys, *args)
    assert "['left', 'right', 'same']" in message and "(sentence1, sentence2)" in message and "text_a=COL" in message


def test_a_label_that_cannot_be_read_names_its_file_and_line(mine, tmp_path, capsys):
    rows = twitter_rows()
    bad = user_csv(tmp_path / "bad.csv", rows[:40], {0: "no", 1: "maybe"})
    first_maybe = 2 + [row["label"] for row in rows[:40]].index(1)  # the header is line 1
    message = refused(tmp_path, capsys, f"--data.train=[{bad}]", f"--data.val=[{mine / 'val.csv'}]")
    assert f"{bad}:{first_maybe}: field 'same': 'maybe' is not one of the paraphrase labels" in message


def test_an_empty_file_is_refused(mine, tmp_path, capsys):
    empty = tmp_path / "empty.csv"
    empty.write_text("left,right,same\n")
    message = refused(tmp_path, capsys, f"--data.train=[{empty}]", f"--data.val=[{mine / 'val.csv'}]")
    assert "empty.csv" in message and "no rows" in message


def test_a_validation_set_too_small_to_select_on_is_refused(mine, tmp_path, capsys):
    args = [f"--data.train=[{mine / 'train.csv'}]", f'--data.val=["{mine / "val.csv"}[:5]"]']
    message = refused(tmp_path, capsys, *args)
    assert "data.val: 5 labelled pairs, too few to select on (at least 20)" in message


def test_ranking_questions_without_a_correct_or_a_wrong_answer_are_counted_dropped_and_reported(tmp_path):
    rows = [json.loads(line) for line in (FIXTURE_DATA / "wiki_qa" / "train.jsonl").read_text().splitlines()]
    rows += [
        {"question_id": "all-wrong", "question": "who?", "answer": "nobody", "label": 0},
        {"question_id": "all-right", "question": "what?", "answer": "this", "label": 1},
        {"question_id": "all-right", "question": "what?", "answer": "that", "label": 1},
    ]
    path = tmp_path / "qa.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    args = [
        "--config",
        str(CONFIGS / "ranking.yaml"),
        f"--data.train=[{path}]",
        f"--data.val=[{path}]",
        f"--trainer.default_root_dir={tmp_path / 'runs'}",
        *TINY_SIZES,
    ]
    assert cli.main(args) == 0
    (handed,) = (tmp_path / "runs" / "ranking").glob(f"version_*/{BEST_FILE}")
    card = export.export(Path(Best.read(handed).checkpoint), tmp_path / "model")
    (train,) = [d for d in card.data if d["role"] == "train"]
    assert train["dropped"] == {"questions": 2, "no_correct_answer": 1, "no_wrong_answer": 1, "rows": 3}
    assert train["rows"] == len(rows) - 3


def test_your_label_words_and_encoding_train_and_a_wrong_encoding_stops_before_training(tmp_path, capsys):
    """A Windows-1252 CSV with a byte-order-mark-free header, `same`/`different` (some with a trailing space)."""
    rows = twitter_rows()
    words = {0: "different ", 1: "Same"}
    for name, part in (("train.csv", rows[:40]), ("val.csv", rows[40:])):
        with open(tmp_path / name, "w", newline="", encoding="cp1252") as handle:
            writer = csv.writer(handle)
            writer.writerow(["left", "right", "same"])
            writer.writerows([r["sentence1"] + " café", r["sentence2"], words[r["label"]]] for r in part)
    files = [f"--data.train=[{tmp_path / 'train.csv'}]", f"--data.val=[{tmp_path / 'val.csv'}]"]
    message = refused(tmp_path, capsys, *files, "--data.labels=same=1,different=0")
    assert f"{tmp_path / 'train.csv'}:2: not UTF-8 (byte 0xe9 at offset" in message and "--data.encoding" in message
    message = refused(tmp_path, capsys, *files, "--data.encoding=cp1252")
    assert "field 'same':" in message and "is not one of the paraphrase labels" in message
    assert "--data.labels" in message and "rows have this label; 1 other unread labels in" in message
    args = train_args(tmp_path / "runs", *files, "--data.encoding=cp1252", "--data.labels=same=1,different=0")
    assert cli.main([*args, "--data.min_freq=1"]) == 0
    card = export.export(trained(tmp_path / "runs"), tmp_path / "model")  # export reads the files as training did
    assert [d["rows"] for d in card.data] == [40, 20]


def test_a_flag_that_asks_for_another_shape_than_the_folder_is_refused_before_anything_starts(tmp_path, capsys):
    """--model.init_from takes the folder's architecture; a flag on the command line that contradicts it (the tiny
    sizes here) is refused, naming each (folder, flag) pair."""
    message = refused(tmp_path, capsys, f"--model.init_from={MODELS / 'paraphrase'}")
    assert "its weights have another shape than the flags ask for (folder, flag)" in message
    shipped = read(MODELS / "paraphrase").config["model"]
    assert f"'hidden_size': ({shipped['hidden_size']}, 16)" in message
    assert f"'head_hidden': ({shipped['head_hidden']}, 16)" in message


def test_a_run_that_fails_before_its_first_checkpoint_leaves_no_version_folder(mine, tmp_path, capsys):
    files = [f"--data.train=[{mine / 'train.csv'}]", f"--data.val=[{mine / 'val.csv'}]", "--data.min_freq=1"]
    args = train_args(tmp_path / "runs", *files)
    assert cli.main([*args, f"--model.init_encoder={tmp_path / 'no-such-run'}"]) == 2
    err = capsys.readouterr().err
    assert "no-such-run: distilled encoder checkpoint not found" in err and "Traceback" not in err
    assert "the run failed before its first checkpoint" in err
    assert not list((tmp_path / "runs" / "paraphrase").glob("version_*"))
    assert cli.main(args) == 0  # the next run is version_0, the folder the docs' export command names
    assert (tmp_path / "runs" / "paraphrase" / "version_0" / BEST_FILE).is_file()
