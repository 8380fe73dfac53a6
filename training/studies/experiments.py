"""The lecture's claims, measured here: NLI encoder variants, the models-v4 ablation, release models and baselines.

    python -m training.studies.experiments [--epochs 4] [--skip-grid] [--ablation [--only COLUMN ...]] [--cached-only]

Trains each NLI variant with the release recipe plus one change (same data, same epochs, from scratch), exports
it, and reads the metrics the exporter measured with the serving code on the selection split. `--ablation` adds
the models-v4 levers one at a time (training.ablation: SelQA, sequential ranking, STS pairs in distillation, the
student sizes), every task, every selection and reported split, the frontier (docs/frontier.png), and the
fallback-token rate of each vocabulary option. Writes docs/experiments.md and the PNG plots beside it; results are
cached per variant under runs/experiments/ so a rerun only adds what is new.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from pairscore import artifact, machine, tasks  # noqa: E402
from pairscore.card import read  # noqa: E402
from pairscore.runtime.model import PairModel  # noqa: E402
from pairscore.tasks import fmt  # noqa: E402
from training import ablation, stages  # noqa: E402
from training.export import export  # noqa: E402
from training.stages import Variant  # noqa: E402

SELECTION = "snli/validation[-1000:]"
# name: a variant of the entailment release recipe (the first row is the recipe itself), trained from scratch.
GRID: dict[str, Variant] = {
    "BiLSTM, max pooling, MiniLM token vectors frozen (recipe)": {},
    "GRU": {"model": {"cell": "gru"}},
    "Elman RNN": {"model": {"cell": "rnn"}},
    "2 layers": {"model": {"layers": 2}},
    "unidirectional": {"model": {"bidirectional": False}},
    "mean pooling": {"model": {"pooling": "mean"}},
    "last pooling": {"model": {"pooling": "last"}},
    "MiniLM token vectors fine-tuned": {"model": {"embeddings": "minilm"}},
    "token vectors learned from scratch": {"model": {"embeddings": "learned"}},
    "GloVe 6B 50d frozen, word vocabulary": {
        "data": {"tokenizer": "word"},
        "model": {"embeddings": "glove_frozen", "embedding_dim": 50},
    },
}


def run_variant(name: str, variant: Variant, epochs: int, root: Path) -> dict[str, Any]:
    """Train, export and read the card of one variant; cached in root/<slug>/result.json."""
    folder = root / stages.slug(name)
    cached = folder / "result.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    best = stages.train(
        "entailment", stages.merge(variant, {"trainer": {"max_epochs": epochs}}), folder, stages.slug(name)
    )
    card = export(Path(best.checkpoint), folder / "model", force=True)
    result = {
        "name": name,
        "variant": variant,
        "accuracy": card.metrics[SELECTION]["accuracy"],
        "parameters": card.architecture["parameters"],
        "train_seconds": card.training["seconds"],
        "examples_per_second": card.training["examples_per_second"],
        "epochs": epochs,
    }
    cached.write_text(json.dumps(result, indent=2))
    return result


Table = dict[tuple[str, str], dict[str, float]]  # (task, split spec) -> model -> headline metric


def release_rows(models: Path, table: Table) -> None:
    """The shipped models on their selection and reported splits (the served fp32 encoder)."""
    for task in tasks.NAMES:
        if not (models / task / artifact.CARD_FILE).is_file():
            continue
        card = read(models / task)
        for spec, values in {**card.metrics, **(card.reported or {})}.items():
            table.setdefault((task, spec), {})["pairscore"] = values[tasks.TASKS[task].metric]


def baseline_rows(results: Path, table: Table) -> list[str]:
    """The baselines' JSON results (training/baselines); returns their model names."""
    names = []
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        names.append(data["model"])
        for task, result in data["tasks"].items():
            for split, values in result["metrics"].items():
                if split != "train":  # the baselines key their measured splits by spec
                    table.setdefault((task, split), {})[data["model"]] = values[tasks.TASKS[task].metric]
    return names


def plot_learning_curves(models: Path, out: Path) -> Path | None:
    """Validation metric per epoch of each release run, from its CSV log (card.json names the checkpoint)."""
    fig, axes = plt.subplots(1, len(tasks.NAMES), figsize=(13, 3.6))
    drawn = False
    for axis, task in zip(axes, tasks.NAMES):
        if not (models / task / artifact.CARD_FILE).is_file():
            continue
        checkpoint = Path(read(models / task).checkpoint)
        log = checkpoint.parent.parent / "metrics.csv"
        if not log.is_file():
            continue
        metric = tasks.TASKS[task].monitor
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
    if not (models / "entailment" / artifact.CARD_FILE).is_file():
        return None
    card = read(models / "entailment")
    confusion = card.metrics[SELECTION]["confusion"]
    labels = card.labels
    fig, axis = plt.subplots(figsize=(4.6, 4))
    axis.imshow(confusion, cmap="Blues")
    for i, row in enumerate(confusion):
        for j, count in enumerate(row):
            axis.text(j, i, str(count), ha="center", va="center")
    axis.set_xticks(range(len(labels)), labels, rotation=30)
    axis.set_yticks(range(len(labels)), labels)
    axis.set_xlabel("predicted")
    axis.set_ylabel("gold")
    axis.set_title(f"entailment (fp32), {SELECTION}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def baseline_metrics(results: Path) -> dict[str, dict[tuple[str, str], dict[str, float]]]:
    """model -> (task, split spec) -> all its metrics, from the baselines' JSON results."""
    out: dict[str, dict[tuple[str, str], dict[str, float]]] = {}
    for path in sorted(results.glob("*.json")):
        data = json.loads(path.read_text())
        for task, result in data["tasks"].items():
            for split, values in result["metrics"].items():
                if split != "train":
                    out.setdefault(data["model"], {})[(task, split)] = values
    return out


def kept_section(doc: Path, heading: str, why: str) -> list[str]:
    """A section of the existing doc, verbatim, naming the command that measured it (the grid with --skip-grid;
    the models-v3 ablation, whose runs the v4 ablation replaced)."""
    if not doc.is_file():
        return []
    text = doc.read_text()
    start = text.find(f"## {heading}")
    if start < 0:
        return []
    end = text.find("\n## ", start + 1)
    section = text[start : end if end > 0 else len(text)].rstrip("\n").split("\n")
    if not any(line.startswith("Measured by") for line in section):
        produced = re.search(r"Produced by `([^`]+)`", text)
        section[1:1] = [
            "",
            f"Measured by `{produced[1] if produced else 'python -m training.studies.experiments'}` ({why}).",
        ]
    return section + [""]


def grid_lines(grid: list[dict[str, Any]]) -> list[str]:
    lines = [
        f"## NLI encoder variants (accuracy on `{SELECTION}`, {grid[0]['epochs']} epochs each, fp32)",
        "",
        "Each row is the release recipe with one change (its config), trained from scratch for the same epochs. "
        "Train time and examples/s are the training loop's own clock (saved in the checkpoint) with the torch threads "
        "the run had; the variants ran one after another beside other jobs, so read speed ratios loosely "
        "(benchmarks/train_speed.py measures the recipes alone). Parameters include frozen embeddings.",
        "",
        "| variant | config | accuracy | parameters | train time (s) | examples/s |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['name']} | `{json.dumps(r['variant']) if r['variant'] else '(recipe)'}` | {fmt(r['accuracy'])} "
        f"| {fmt(r['parameters'])} | {r['train_seconds']:.0f} | {fmt(r['examples_per_second'], 0)} |"
        for r in grid
    ]
    return lines + [""]


def comparison_lines(table: Table, baselines: list[str]) -> list[str]:
    columns = ["pairscore", *baselines]
    lines = [
        "## Release models and baselines: same data, same splits, same metrics",
        "",
        "The headline metric per task (entailment accuracy, paraphrase F1, ranking MAP over clean questions). "
        "Entailment selects on its first row, paraphrase and ranking on both of theirs (the cards' `metrics`; "
        "`reported` splits select nothing); pairscore's figures use the served encoder. "
        "all-MiniLM-L6-v2 was pre-trained on data that includes the SNLI and MultiNLI train splits and QA sets "
        "(the `data_config.json` in its package), which pairscore's models cannot use here: the comparison favours it.",
        "",
        "| task | split | metric | " + " | ".join(columns) + " |",
        "|---" * (3 + len(columns)) + "|",
    ]
    for (task, spec), values in table.items():
        cells = " | ".join(fmt(values.get(c)) for c in columns)
        lines.append(f"| {task} | `{spec}` | {tasks.TASKS[task].metric} | {cells} |")
    return lines + [""]


def render(
    grid: list[dict[str, Any]],
    table: Table,
    baselines: list[str],
    plots: list[Path],
    command: str,
    ablation: list[str] | None = None,
    kept: list[str] | None = None,
    previous: list[str] | None = None,
) -> str:
    lines = [
        "# Experiments",
        "",
        f"Produced by `{command}` on {machine.describe()}; the baselines' figures by "
        "`python -m training.studies.baselines.frozen --teacher minilm|mpnet` and "
        "`python -m training.studies.baselines.lexical` (docs/results/*.json).",
        "",
    ]
    lines += grid_lines(grid) if grid else kept or []
    lines += ablation or []
    lines += previous or []
    lines += comparison_lines(table, baselines)
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
    parser.add_argument(
        "--speed",
        type=Path,
        default=Path("benchmarks/out/frontier.json"),
        help="ablation: the frontier's speed axis, from python -m benchmarks.frontier (no frontier without it)",
    )
    parser.add_argument("--ablation", action="store_true", help="the models-v4 levers, one at a time, on every task")
    parser.add_argument(
        "--only", nargs="+", help="ablation: measure only these columns (the others from the cache), for parallel runs"
    )
    parser.add_argument(
        "--cached-only", action="store_true", help="ablation: render the steps already measured, train nothing"
    )
    args = parser.parse_args(argv)
    grid = (
        [] if args.skip_grid else [run_variant(name, variant, args.epochs, args.runs) for name, variant in GRID.items()]
    )
    plots = [
        p
        for p in (
            plot_learning_curves(args.models, args.out.with_name("learning_curves.png")),
            plot_confusion(args.models, args.out.with_name("nli_confusion.png")),
        )
        if p
    ]
    command = "python -m training.studies.experiments " + " ".join(argv if argv is not None else sys.argv[1:])
    ablation_lines = None
    if args.ablation:
        results = ablation.run(
            args.runs / "ablation", cached_only=args.cached_only, only=set(args.only) if args.only else None
        )
        release = {t: read(args.models / t) for t in tasks.NAMES if (args.models / t / artifact.CARD_FILE).is_file()}
        release = {t: c for t, c in release.items() if c.format_version >= 3}
        release_encoders = {t: ablation.encoder_figures(PairModel(args.models / t).encode) for t in release}
        ablation_lines = ablation.render(
            results,
            release,
            release_encoders,
            baseline_metrics(args.baselines),
            ablation.vocabulary_options(args.runs / "ablation"),
            command.strip(),
            args.runs / "ablation",
            json.loads(args.speed.read_text()) if args.speed.is_file() else None,
            args.out.with_name("frontier.png"),
        )
    table: Table = {}
    release_rows(args.models, table)
    baselines = baseline_rows(args.baselines, table)
    args.out.write_text(
        render(
            grid,
            dict(sorted(table.items(), key=lambda kv: tasks.NAMES.index(kv[0][0]))),
            baselines,
            plots,
            command.strip(),
            ablation_lines,
            kept_section(args.out, "NLI encoder variants", "kept as it was by `--skip-grid`")
            if args.skip_grid
            else None,
            kept_section(args.out, "Models v3: one lever at a time", "its runs are not in this repository"),
        )
    )
    print(args.out.read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
