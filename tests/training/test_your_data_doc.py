"""docs/your-data.md, every command as written, in order: a user's CSV (their own column names and label words, a
byte-order mark) -> fine-tune the shipped paraphrase model -> export -> evaluate; a ranking CSV of their own ->
fine-tune the shipped ranking model (whose head is not its recipe's) -> export -> evaluate; distil on the user's
texts -> fine-tune -> export; serve the folder -> the server answers with the new models and /info names their
folders; a Bento with them builds (offline)."""

from __future__ import annotations

import csv
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("datasets")

from helpers import MODELS, ROOT, shared_data_or_skip  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402
from server_process import wait_ready  # noqa: E402

DOC = ROOT / "docs" / "your-data.md"
# The doc's commands run in a checkout: the large folders are linked; what the Bento is built from is copied, since
# `bentoml build` refuses files that lie outside its folder (as the links would).
LINKED = ("training", "models")
COPIED = ("service", "pairscore", "bentofile.yaml")


def commands(doc: Path) -> list[str]:
    """The commands of the doc's bash blocks, continuation lines joined."""
    found = []
    for block in re.findall(r"```bash\n(.*?)```", doc.read_text(), re.S):
        found += [c.strip() for c in block.replace("\\\n", " ").splitlines() if c.strip()]
    return found


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A working folder that looks like a checkout, with my_pairs.csv and my_texts.txt made from shared MRPC rows and
    my_qa.csv from shared WikiQA rows, written as a spreadsheet saves a CSV (UTF-8 with a byte-order mark), in the
    user's own words."""
    data_dir = shared_data_or_skip("mrpc/train", "wiki_qa/train")
    data = data_dir / "mrpc" / "train.jsonl"
    for name in LINKED:
        (tmp_path / name).symlink_to(ROOT / name)
    for name in COPIED:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(ROOT / name, tmp_path / name)
    rows = [json.loads(line) for line in data.read_text().splitlines()]
    words = {0: ["different", "Different "], 1: ["same", "Same "]}  # matched trimmed, ignoring case
    with open(tmp_path / "my_pairs.csv", "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["left", "right", "same"])
        writer.writerows([r["sentence1"], r["sentence2"], words[r["label"]][i % 2]] for i, r in enumerate(rows[:300]))
    (tmp_path / "my_texts.txt").write_text("\n".join(r["sentence1"] for r in rows[300:600]) + "\n")
    qa = [json.loads(line) for line in (data_dir / "wiki_qa" / "train.jsonl").read_text().splitlines()[:800]]
    with open(tmp_path / "my_qa.csv", "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(["qid", "query", "passage", "verdict"])
        writer.writerows(
            [r["question_id"], r["question"], r["answer"], "relevant" if r["label"] else "irrelevant"] for r in qa
        )
    return tmp_path


def test_every_command_of_the_doc_runs_and_serves_the_new_model(checkout, tmp_path):
    env = {**os.environ, "BENTOML_HOME": str(tmp_path / "bentoml"), "BENTOML_DO_NOT_TRACK": "true"}
    env |= {"PIP_NO_INDEX": "1", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    bin_dir = Path(sys.executable).parent
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    server, answers, evaluated = None, [], {}
    try:
        for command in commands(DOC):
            if command.endswith("&"):  # the server, started in the background
                server = subprocess.Popen(shlex.split(command[:-1]), cwd=checkout, env=env, start_new_session=True)
                port = re.search(r"--port (\d+)", command)[1]
                wait_ready(f"http://127.0.0.1:{port}", server)
                continue
            done = subprocess.run(command, shell=True, cwd=checkout, env=env, capture_output=True, text=True)
            assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
            if command.startswith("curl"):
                answers.append(json.loads(done.stdout))
            if command.startswith("pairscore evaluate"):
                evaluated[shlex.split(command)[2]] = (json.loads(done.stdout.splitlines()[-1]), done.stderr)
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(30)
    answer, info = answers
    mine, shipped = PairModel(checkout / "artifacts" / "mine" / "paraphrase"), PairModel(MODELS / "paraphrase")
    pair = (["the company said its profit rose"], ["profit rose, the company said"])
    assert answer[0]["probability"] == pytest.approx(float(mine.score_pairs(*pair)[0]), abs=1e-6)
    assert not np.allclose(mine.score_pairs(*pair), shipped.score_pairs(*pair), atol=1e-4)  # it did learn
    card = mine.card
    assert card.init_from["folder"] == "models/paraphrase" and {d["source"] for d in card.data} == {"file"}
    assert evaluated["artifacts/mine/paraphrase"][0]["rows"] == 100  # every label word read: none refused
    # the ranking recipe says an mlp head, the shipped ranking model has a cosine one: the run took the folder's
    ranking = PairModel(checkout / "artifacts" / "mine" / "ranking").card
    assert ranking.init_from["folder"] == "models/ranking" and ranking.config["model"]["head"] == "cosine"
    measured, said = evaluated["artifacts/mine/ranking"]
    dropped = measured["dropped"]
    assert dropped["questions"] == dropped["no_correct_answer"] + dropped["no_wrong_answer"] > 0
    assert f"{dropped['questions']} questions ({dropped['rows']} rows) left out of map/mrr" in said
    for task, folder, started in [
        ("paraphrase", "artifacts/mine/paraphrase", "models/paraphrase"),
        ("ranking", "artifacts/mine/ranking", "models/ranking"),
        ("entailment", "artifacts/mine/entailment", None),
    ]:
        served = info["models"][task]
        assert (checkout / served["folder"]).resolve() == (checkout / folder).resolve()
        assert (served["init_from"] or {}).get("folder") == started
    distilled = PairModel(checkout / "artifacts" / "mine-distilled" / "paraphrase").card
    assert distilled.teacher["sources"] == ["my_texts.txt", "my_pairs.csv#left,right"]
    assert list((tmp_path / "bentoml" / "bentos" / "pairscore").iterdir())
