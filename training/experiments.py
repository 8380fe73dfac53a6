"""The lecture's claims, measured here: NLI encoder variants, release models and baselines in one table.

    python -m training.experiments [--epochs 4] [--skip-grid]

Trains each NLI variant with the release recipe plus one override (same data, same
epochs), exports it, and reads the metrics the exporter measured with the serving
code on the selection split. Writes docs/experiments.md and the PNG plots beside it;
results are cached per variant under runs/experiments/ so a rerun only adds what is new.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

RECIPE = "training/configs/entailment.yaml"
SELECTION = "snli/validation[-1000:]"
# name: LightningCLI overrides on top of the release recipe (the first row is the recipe itself).
GRID: dict[str, list[str]] = {
    "BiLSTM, max, GloVe fine-tuned (recipe)": [],
    "GRU": ["--model.cell=gru"],
    "Elman RNN": ["--model.cell=rnn"],
    "2 layers": ["--model.layers=2"],
    "unidirectional": ["--model.bidirectional=false"],
    "mean pooling": ["--model.pooling=mean"],
    "last pooling": ["--model.pooling=last"],
    "embeddings learned": ["--model.embeddings=learned"],
    "GloVe frozen": ["--model.embeddings=glove_frozen"],
}
RELEASE_TASKS = ("entailment", "paraphrase", "ranking")
HEADLINE = {"entailment": "accuracy", "paraphrase": "f1", "ranking": "map"}


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def run_variant(name: str, overrides: list[str], epochs: int, root: Path) -> dict[str, Any]:
    """Train, export and read the card of one variant; cached in root/<slug>/result.json."""
    folder = root / slug(name)
    cached = folder / "result.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "pairscore.cli", "train", "--config", RECIPE, f"--trainer.max_epochs={epochs}",
               f"--trainer.default_root_dir={folder}", *overrides]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    match = re.search(r"best checkpoint: (\S+)", done.stdout)
    if done.returncode or not match:
        raise RuntimeError(f"{name}: training failed\n{done.stderr[-3000:]}")
    subprocess.run([sys.executable, "-m", "pairscore.cli", "export", match[1], "--out", str(folder / "model")], check=True, capture_output=True)
    card = json.loads((folder / "model" / "card.json").read_text())
    result = {
        "name": name,
        "overrides": " ".join(overrides) or "(recipe)",
        "accuracy": card["metrics"][SELECTION]["accuracy"],
        "parameters": card["architecture"]["parameters"],
        "train_seconds": seconds,
        "examples_per_second": card.get("training", {}).get("examples_per_second"),
        "epochs": epochs,
    }
    cached.write_text(json.dumps(result, indent=2))
    return result


def release_rows(models: Path) -> list[dict[str, Any]]:
    rows = []
    for task in RELEASE_TASKS:
        card_path = models / task / "card.json"
        if not card_path.is_file():
            continue
        card = json.loads(card_path.read_text())
        metric = HEADLINE[task]
        for split, values in card["metrics"].items():
            rows.append({"task": task, "model": "pairscore " + card["architecture"]["cell"], "split": split,
                         "metric": metric, "value": values[metric], "parameters": card["architecture"]["parameters"]})
    return rows


def baseline_rows(results: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        for row in data.get("rows", []):
            rows.append(row)
    return rows


def plot_learning_curves(models: Path, out: Path) -> Path | None:
    """Validation metric per epoch of each release run, from its CSV log (card.json names the checkpoint)."""
    fig, axes = plt.subplots(1, len(RELEASE_TASKS), figsize=(13, 3.6))
    drawn = False
    for axis, task in zip(axes, RELEASE_TASKS):
        card_path = models / task / "card.json"
        if not card_path.is_file():
            continue
        checkpoint = Path(json.loads(card_path.read_text())["checkpoint"])
        log = checkpoint.parent.parent / "metrics.csv"
        if not log.is_file():
            continue
        metric = "val_" + HEADLINE[task]
        points = [(int(r["epoch"]), float(r[metric])) for r in csv.DictReader(log.open()) if r.get(metric)]
        axis.plot([p[0] + 1 for p in points], [p[1] for p in points], marker="o")
        axis.set_title(f"{task}: {metric}")
        axis.set_xlabel("epoch")
        drawn = True
    if not drawn:
        plt.close(fig)
        return None
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def plot_confusion(models: Path, out: Path) -> Path | None:
    card_path = models / "entailment" / "card.json"
    if not card_path.is_file():
        return None
    card = json.loads(card_path.read_text())
    confusion = card["metrics"][SELECTION]["confusion"]
    labels = card["labels"]
    fig, axis = plt.subplots(figsize=(4.6, 4))
    axis.imshow(confusion, cmap="Blues")
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            axis.text(j, i, str(count), ha="center", va="center")
    axis.set_xticks(range(len(labels)), labels, rotation=30)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("gold")
    axis.set_title(f"entailment, {SELECTION}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render(grid: list[dict[str, Any]], release: list[dict[str, Any]], baselines: list[dict[str, Any]], plots: list[Path], command: str) -> str:
    lines = ["# Experiments", "", f"Produced by `{command}` (CPU, this repository's recipes).", ""]
    if grid:
        lines += [f"## NLI encoder variants (accuracy on `{SELECTION}`, {grid[0]['epochs']} epochs each)", "",
                  "| variant | overrides | accuracy | parameters | train time (s) | examples/s |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['name']} | `{r['overrides']}` | {fmt(r['accuracy'])} | {fmt(r['parameters'])} | {r['train_seconds']:.0f} | {fmt(r['examples_per_second'], 0)} |" for r in grid]
        lines.append("")
    lines += ["## Release models and baselines, same splits, same metrics", "",
              "| task | model | split | metric | value | parameters |", "|---|---|---|---|---|---|"]
    for r in release + baselines:
        lines.append(f"| {r['task']} | {r['model']} | `{r['split']}` | {r['metric']} | {fmt(r['value'])} | {fmt(r.get('parameters'))} |")
    lines.append("")
    for plot in plots:
        lines += [f"![{plot.stem}]({plot.name})", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4, help="epochs per NLI variant")
    parser.add_argument("--skip-grid", action="store_true", help="only the release models and baselines")
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--baselines", type=Path, default=Path("docs/results"))
    parser.add_argument("--runs", type=Path, default=Path("runs/experiments"))
    parser.add_argument("--out", type=Path, default=Path("docs/experiments.md"))
    args = parser.parse_args(argv)
    grid = [] if args.skip_grid else [run_variant(name, overrides, args.epochs, args.runs) for name, overrides in GRID.items()]
    plots = [p for p in (plot_learning_curves(args.models, args.out.with_name("learning_curves.png")),
                         plot_confusion(args.models, args.out.with_name("nli_confusion.png"))) if p]
    command = "python -m training.experiments " + " ".join(argv if argv is not None else sys.argv[1:])
    args.out.write_text(render(grid, release_rows(args.models), baseline_rows(args.baselines), plots, command.strip()))
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
