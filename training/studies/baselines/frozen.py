"""A frozen transformer teacher's sentence vectors + the project's pair head: the transformer baselines.

The encoder is a distillation teacher (training.teacher: `minilm`, all-MiniLM-L6-v2, or `mpnet`,
all-mpnet-base-v2, from their PyPI packages, strictly offline). Its vectors (L2-normalised) of every distinct
text come from the teacher's text-keyed cache (computed once; a later run, or the distillation, reuses them). On
top, the same head as the release models: an MLP with one hidden layer on [u, v, |u-v|, u*v] -> 3-way softmax
(entailment) / one logit (paraphrase, threshold 0.5) / one score trained with a listwise softmax over each
question's candidates (ranking). Trained on the release recipes' data, the best epoch picked on their selection
splits (accuracy / F1 / MAP). Head width, dropout, learning rate, batch size and gradient clipping are read from
the recipes (training/configs/<task>.yaml) unless given as flags; max epochs and patience are this script's (a
head on frozen features needs more epochs than the recipes' end-to-end runs).

    pip install -c constraints.txt -e '.[train,baselines]'          # + '.[mpnet]' for --teacher mpnet
    python -m training.studies.baselines.frozen --teacher minilm    # docs/results/minilm.json
"""

from __future__ import annotations

import argparse
import copy
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from pairscore import tasks
from pairscore.schema import Pair
from pairscore.specs import resolve_data_dir
from training import objectives
from training.baselines import (
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
from training.heads import PairHead
from training.teacher import TEACHERS, TeacherCache, get_teacher, load_model


def predict(task: str, head: PairHead, emb: torch.Tensor, ia: torch.Tensor, ib: torch.Tensor, batch: int = 4096):
    """The served head's output: the task's activation of the logits (class probabilities, a probability) or the raw
    score."""
    head.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, len(ia), batch):
            z = head(emb[ia[s : s + batch]], emb[ib[s : s + batch]])
            outs.append(objectives.activate(tasks.get(task), z))
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
    if not tasks.get(task).grouped:
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
    """The release models' losses (training.objectives): cross-entropy, BCE, listwise softmax over each question's
    candidates."""
    return objectives.loss(tasks.get(task), z, labels, groups)


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


def embed(args, data: dict, cache: TeacherCache, log=print) -> tuple[torch.Tensor, dict[str, int], dict]:
    """The vectors of every distinct text (the teacher's cache, filled first), their rows, and the teacher's
    measured throughput on a fixed benchmark."""
    distinct = list(
        dict.fromkeys(
            text
            for d in data.values()
            for pairs in (d["train"], *d["eval"].values())
            for p in pairs
            for text in (p.text_a, p.text_b)
        )
    )
    first_task = data[args.tasks[0]]
    first = first_task["eval"][first_task["splits"].select[0]]
    bench = list(dict.fromkeys(t for p in first for t in (p.text_a, p.text_b)))[:1000]
    model = load_model(cache.teacher.folder(args.cache_dir), args.threads)
    model.encode(bench[:32], batch_size=args.embed_batch_size)  # warm-up
    t0 = time.perf_counter()
    model.encode(bench, batch_size=args.embed_batch_size)
    throughput = {
        "benchmark_sentences": len(bench),
        "benchmark_sentences_per_s": len(bench) / (time.perf_counter() - t0),
        "benchmark_text": f"first {len(bench)} distinct texts of {first_task['splits'].select[0]}",
        "threads": args.threads,
        "batch_size": args.embed_batch_size,
    }
    log(f"embedding throughput: {throughput['benchmark_sentences_per_s']:.1f} sentences/s ({len(bench)} texts)")
    log(f"{len(distinct)} distinct texts, {len(cache.missing(distinct))} not cached yet ({cache.root})")
    throughput["this_run"] = cache.fill(distinct, args.threads, batch_size=args.embed_batch_size, log=log)
    throughput |= {"distinct_texts": len(distinct), "cache": str(cache.root)}
    return torch.from_numpy(cache.vectors(distinct)), {t: i for i, t in enumerate(distinct)}, throughput


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


def run(args, log=print) -> dict:
    torch.set_num_threads(args.threads)
    cache = TeacherCache(get_teacher(args.teacher), args.cache_dir)
    data = load_data(args)
    emb, row, throughput = embed(args, data, cache, log)
    name = args.teacher if args.teacher in TEACHERS else cache.teacher.key
    results = {
        "model": f"{name}+head",
        "command": command_line(args.argv, "training.studies.baselines.frozen"),
        "data_dir": str(resolve_data_dir(args.data_dir).resolve()),
        "encoder": {**cache.teacher.describe(args.cache_dir), "cache": str(cache.root)},
        "embedding_throughput": throughput,
        "head": {
            "architecture": f"training.heads.PairHead: Linear(4*{emb.shape[1]}, hidden) -> ReLU -> Dropout -> "
            "Linear(hidden, 3|1) on [u, v, |u-v|, u*v]; per-task hyper-parameters under tasks.<task>.head_config",
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
    common_args(p, None)
    p.add_argument("--teacher", default="minilm", help="minilm | mpnet | a sentence-transformers folder")
    p.add_argument("--cache-dir", default=None, help="the teachers cache root (default: training.teacher)")
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


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    args.argv = argv
    t0 = time.perf_counter()
    args.out = args.out or REPO / "docs" / "results" / f"{get_teacher(args.teacher).key}.json"
    results = run(args)
    results["total_seconds"] = time.perf_counter() - t0
    out = write_results(results, args.out)
    print(results["table_markdown"])
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
