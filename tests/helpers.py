"""What several test files need: where things are, a checked POST, BentoML's batch counters, the shared data.

tests/conftest.py puts this folder on sys.path (pytest's rootdir conftest), so any test imports it as `helpers`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pairscore import tasks

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_DATA = ROOT / "tests" / "fixtures" / "data"
MODELS = ROOT / "models"  # the shipped models
CONFIGS = ROOT / "training" / "configs"
TASKS = tasks.NAMES
# Fixture-sized model and run settings on top of a release recipe: trains in seconds.
TINY_SIZES = [
    "--data.batch_size=16",
    "--model.hidden_size=16",
    "--model.head_hidden=16",
    "--trainer.max_epochs=1",
    "--trainer.log_every_n_steps=1",
    "--trainer.enable_progress_bar=false",
    "--trainer.enable_model_summary=false",
]


def post(client, path: str, body: dict):
    """POST JSON, assert 200, return the decoded answer."""
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    return response.json()


def merged_batches(metrics: str, method: str = "entailment") -> tuple[float, float]:
    """(adaptive batches run, of which merged more than one request) for a batchable API, from /metrics text."""

    def value(pattern: str) -> float:
        found = re.search(pattern + rf'\{{[^}}]*method_name="{method}"[^}}]*\}} ([0-9.e+]+)', metrics)
        return float(found.group(1)) if found else 0.0

    count = value("bentoml_service_adaptive_batch_size_count")
    return count, count - value(r'bentoml_service_adaptive_batch_size_bucket\{le="1.0",')


def shared_data_or_skip(*specs: str) -> Path:
    """The data folder the release recipes read (PAIRSCORE_DATA_DIR, else ../shared/data), or skip the test naming
    the first split file missing from it."""
    from pairscore.specs import parse_spec, resolve_data_dir

    data_dir = resolve_data_dir()
    for spec in specs:
        source, split, _ = parse_spec(spec)
        if not (data_dir / source / f"{split}.jsonl").is_file():
            pytest.skip(f"{data_dir / source / split}.jsonl is not here: set PAIRSCORE_DATA_DIR to the shared data")
    return data_dir


def tiny_teacher(folder: Path, dim: int = 8) -> Path:
    """A real sentence-transformers folder, tiny and random (a 1-layer BERT on MiniLM's vocabulary): a stand-in
    teacher that loads and encodes like the real ones, offline, in a second."""
    if (folder / "modules.json").is_file():
        return folder
    import shutil

    from sentence_transformers import SentenceTransformer, models
    from transformers import BertConfig, BertModel

    from training.tokenizer import minilm_tokenizer_path

    bert = folder / "bert"
    config = BertConfig(hidden_size=dim, num_hidden_layers=1, num_attention_heads=2, intermediate_size=2 * dim)
    BertModel(config).save_pretrained(bert)
    source = minilm_tokenizer_path().parent
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        if (source / name).is_file():
            shutil.copy(source / name, bert / name)
    transformer = models.Transformer(str(bert), max_seq_length=64)
    SentenceTransformer(modules=[transformer, models.Pooling(dim)], device="cpu").save(str(folder))
    shutil.rmtree(bert)
    return folder
