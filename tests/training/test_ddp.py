"""Lightning DDP: the bucketed batches are shared across ranks without overlap or loss, and a
2-process CPU DDP run of `pairscore train` selects one best checkpoint on every rank, with
metrics over all ranks' batches, and exports a model that evaluates."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="training extra")

from helpers import FIXTURE_DATA, ROOT  # noqa: E402
from pairscore.schema import Pair  # noqa: E402
from pairscore.specs import DataError  # noqa: E402
from training.batching import BucketBatchSampler  # noqa: E402
from training.data import EncodedPairs  # noqa: E402
from training.runs import BEST_FILE, Best  # noqa: E402


def encoded(pairs: int, questions: int = 0) -> EncodedPairs:
    """Pairs of varied lengths; with questions, pair i belongs to question i % questions."""
    items = [Pair(f"a {i}", f"b {i}", i % 2, f"q{i % questions}" if questions else None) for i in range(pairs)]
    ids = {text: [1] * (1 + 7 * i % 9) for i, p in enumerate(items) for text in (p.text_a, p.text_b)}
    return EncodedPairs(items, ids)


@pytest.mark.parametrize("replicas", [2, 3])
@pytest.mark.parametrize(
    ("pairs", "questions", "shuffle"), [(103, 0, True), (103, 0, False), (97, 13, True), (5, 0, True)]
)
def test_ddp_ranks_share_every_pair_once_in_as_many_batches(replicas, pairs, questions, shuffle):
    dataset = encoded(pairs, questions)
    ranks = [
        BucketBatchSampler(dataset.units, dataset.lengths, 8, 2, shuffle, seed=7, num_replicas=replicas, rank=r)
        for r in range(replicas)
    ]
    for _ in range(2):  # each epoch re-plans; the ranks stay in step
        batches = [list(sampler) for sampler in ranks]
        assert len({len(b) for b in batches}) == 1 and all(len(sampler) == len(b) for sampler, b in zip(ranks, batches))
        seen = [i for rank in batches for batch in rank for i in batch]
        assert sorted(seen) == list(range(pairs))  # no overlap, no loss
        for batch in (batch for rank in batches for batch in rank):
            groups = {dataset.groups[i] for i in batch}
            assert all(set(dataset.units[g]) <= set(batch) for g in groups)  # a question's candidates stay together


def test_one_process_batches_are_unchanged_by_the_distributed_split():
    dataset = encoded(50, 7)
    single = BucketBatchSampler(dataset.units, dataset.lengths, 8, 2, True, seed=3)
    assert list(BucketBatchSampler(dataset.units, dataset.lengths, 8, 2, True, seed=3, num_replicas=1, rank=0)) == list(
        single
    )


def test_fewer_units_than_ranks_is_refused():
    with pytest.raises(DataError, match="3 batch units"):
        dataset = encoded(6, 3)
        BucketBatchSampler(dataset.units, dataset.lengths, 8, 2, num_replicas=4, rank=0)


def pairscore(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "pairscore.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
    )


def test_ddp_two_cpu_processes_train_export_and_evaluate(tiny_recipe, tmp_path):
    ddp = ["--trainer.accelerator=cpu", "--trainer.strategy=ddp", "--trainer.devices=2"]
    done = pairscore("train", *tiny_recipe("entailment", tmp_path / "runs"), *ddp)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Starting with 2 processes" in done.stderr + done.stdout
    best = re.findall(r"best checkpoint: (\S+) \(val_accuracy=([0-9.]+)\)", done.stdout)
    assert len(best) == 2 and best[0] == best[1], done.stdout  # every rank selected the same checkpoint
    (handed,) = (tmp_path / "runs" / "entailment").glob(f"version_*/{BEST_FILE}")  # rank 0 wrote it, once
    checkpoint, val_accuracy = Path(Best.read(handed).checkpoint), Best.read(handed).score
    assert (str(checkpoint), val_accuracy) == (best[0][0], pytest.approx(float(best[0][1]), abs=1e-4))
    saved = torch.load(checkpoint, map_location="cpu", weights_only=False)["pairscore"]
    train_rows = sum(source["rows"] for source in saved["data"] if source["role"] == "train")
    assert (
        saved["training"]["processes"] == 2 and saved["training"]["examples"] == train_rows
    )  # one epoch: every pair once
    assert pairscore("export", str(checkpoint), "--out", str(tmp_path / "model")).returncode == 0
    # The validation split is the last 20 rows of snli/validation: evaluated in one process, the
    # exported model scores what DDP reported, so the logged metric covered both ranks' batches.
    evaluated = pairscore(
        "evaluate", str(tmp_path / "model"), "--data", str(FIXTURE_DATA / "snli" / "validation.jsonl"), "--rows=-20:"
    )
    assert evaluated.returncode == 0, evaluated.stderr
    metrics = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert metrics["rows"] == 20 and abs(metrics["accuracy"] - val_accuracy) <= 1e-4
