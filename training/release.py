"""Train, export and document the release models in models/: the command each model card names.

    python -m training.release [entailment paraphrase ranking] [--models models]

For each task: `pairscore train` with its recipe, `pairscore export --int8` of the best
checkpoint, serve the int8 encoder when it costs at most --max-int8-drop on the
selection metric, add the reported (non-selection) splits to the card, and render
models/README.md from the cards.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from pairscore import artifact
from service.evaluate import calibration_errors, evaluate
from service.runtime import PairModel
from training.data import load_pairs
from training.export import export

TASKS = ("entailment", "paraphrase", "ranking")
SELECTION_METRIC = {"entailment": "accuracy", "paraphrase": "f1", "ranking": "map"}
# Splits reported in the card besides the selection splits (never used to select anything; one the recipe
# already selects on, like MRPC once paraphrase trains on it, is in the card's metrics instead).
REPORTED = {"entailment": ["sick/validation"], "paraphrase": ["mrpc/train[-400:]"], "ranking": ["trec_qa/validation"]}
MAX_INT8_DROP = 0.005  # 0.5 points


def train(task: str, runs: Path, overrides: list[str]) -> Path:
    """Run the recipe; the log goes to runs/<task>.log; returns the best checkpoint."""
    runs.mkdir(parents=True, exist_ok=True)
    log = runs / f"{task}.log"
    command = [sys.executable, "-m", "pairscore.cli", "train", "--config", f"training/configs/{task}.yaml",
               f"--trainer.default_root_dir={runs}", *overrides]
    with open(log, "w") as handle:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=handle, text=True)
        handle.write(done.stdout)
    match = re.search(r"best checkpoint: (\S+)", done.stdout)
    if done.returncode or not match:
        raise SystemExit(f"training {task} failed (exit {done.returncode}): see {log}")
    return Path(match[1])


def finish_card(task: str, out: Path, card: dict[str, Any], max_int8_drop: float, command: str) -> dict[str, Any]:
    """Pick the served encoder, add the reported splits, the int8 cost and the reproducing command."""
    selection = next(iter(card["metrics"]))
    metric = SELECTION_METRIC[task]
    fp32, int8 = card["metrics"][selection][metric], card["metrics_int8"][selection][metric]
    serve_int8 = fp32 - int8 <= max_int8_drop
    if serve_int8:
        card["graphs"]["encoder"] = artifact.ENCODER_INT8_FILE
    card["int8"] = {"split": selection, "metric": metric, "fp32": fp32, "int8": int8, "difference": int8 - fp32,
                    "max_drop": max_int8_drop, "served": serve_int8}
    served = PairModel(out, encoder_file=card["graphs"]["encoder"])
    data_dir = card["config"]["data"].get("data_dir")
    reported = {spec: load_pairs(spec, task, data_dir) for spec in REPORTED[task] if spec not in card["metrics"]}
    card["reported"] = {spec: evaluate(served, pairs, card["threshold"]) for spec, pairs in reported.items()}
    if card.get("calibration"):
        card["calibration"]["splits"].update({spec: calibration_errors(served, pairs) for spec, pairs in reported.items()})
    card["reproduce"] = command
    artifact.write_card(out, card)
    return artifact.read_card(out)


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def render_readme(models: Path) -> str:
    """models/README.md: one table row per model, from the cards alone."""
    lines = ["# Release models", "",
             "Rendered from each folder's `card.json` by `python -m training.release --readme-only`; "
             "every figure was measured by the command in its card's `reproduce` "
             "(`pairscore evaluate` on the exported graphs, onnxruntime).", "",
             "| task | architecture | parameters | selection split | metric (served) | int8 − fp32 | served encoder | also reported | trained | licences |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for task in TASKS:
        path = models / task
        if not (path / artifact.CARD_FILE).is_file():
            continue
        card = artifact.read_card(path)
        arch = card["architecture"]
        int8 = card["int8"]
        served = int8["int8"] if int8["served"] else int8["fp32"]
        shape = (f"{'Bi' if arch['bidirectional'] else ''}{arch['cell'].upper()} {arch['layers']}×{arch['hidden_size']}, "
                 f"{arch['pooling']} pooling, {arch['embeddings']} {arch['embedding_dim']}d")
        reported = "; ".join(f"`{spec}` {int8['metric']} {fmt(values[int8['metric']])}" for spec, values in card["reported"].items())
        training = card.get("training") or {}
        trained = f"{training.get('seconds', 0) / 60:.0f} min, {training.get('epochs')} epochs, {training.get('hardware', '?')}"
        licences = "; ".join(sorted({f"{d['source']}: {d['licence']}" for d in card["data"]}))
        lines.append(f"| {task} | {shape} | {arch['parameters']:,} | `{int8['split']}` | {int8['metric']} {fmt(served)} | "
                     f"{int8['difference']:+.4f} | `{card['graphs']['encoder']}` | {reported} | {trained} | {licences} |")
    lines += ["", "Reproduce a model: the `reproduce` command in its card (e.g. `python -m training.release entailment`).",
              "", "**Licences.** SICK and Twitter URL are CC BY-NC-SA 3.0 (non-commercial); MRPC, WikiQA and TrecQA are "
              "research-use only. A model trained on them inherits those terms: the entailment model (SICK) and the "
              "paraphrase model (Twitter URL) are for non-commercial use, the ranking model (WikiQA) for research use.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tasks", nargs="*", default=list(TASKS), help=f"any of {', '.join(TASKS)} (default: all)")
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--runs", type=Path, default=Path("runs/release"))
    parser.add_argument("--max-int8-drop", type=float, default=MAX_INT8_DROP)
    parser.add_argument("--readme-only", action="store_true", help="only render models/README.md from the cards")
    args, overrides = parser.parse_known_args(argv)
    unknown = set(args.tasks) - set(TASKS)
    if unknown:
        parser.error(f"unknown task(s) {sorted(unknown)}: expected {', '.join(TASKS)}")
    if not args.readme_only:
        for task in args.tasks:
            checkpoint = train(task, args.runs, overrides)
            out = args.models / task
            card = export(checkpoint, out, int8=True, tune_threshold=task == "paraphrase")
            command = " ".join(["python -m training.release", task, *overrides])
            card = finish_card(task, out, card, args.max_int8_drop, command)
            print(f"{task}: {card['int8']} reported {card['reported']}")
    (args.models / "README.md").write_text(render_readme(args.models))
    print((args.models / "README.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
