"""Train, export and document the release models in models/: the command each model card names.

    python -m training.release [distill] [entailment paraphrase ranking] [--models models] [--TASK-OVERRIDES ...]

Stages, in order: `distill` caches the teacher's vectors (training.teacher) and pre-trains
the encoders on them (training/configs/distill.yaml, with each task's DISTILL overrides);
each task then runs its recipe from its encoder (`--model.init_encoder`), is exported in artifact format v2 with the
fp32 encoder served (batch-independent), gets its reported (non-selection) splits, the
fallback-token rates and the STS-B cosine of its /embed vectors in the card, and
models/README.md is rendered from the cards. Without the `distill` stage the tasks
start from the checkpoints the last one noted (runs/release/distilled*.txt) or --distilled.
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
from training.ablation import slug
from training.data import load_pairs
from training.evaluators import STS_SPLIT, STSEvaluator
from training.export import export, split_oov

TASKS = ("entailment", "paraphrase", "ranking")
STAGES = ("distill", *TASKS)
SELECTION_METRIC = {"entailment": "accuracy", "paraphrase": "f1", "ranking": "map"}
# Splits reported in the card besides the selection splits (never used to select anything; one the recipe
# already selects on, like MRPC once paraphrase trains on it, is in the card's metrics instead).
REPORTED = {"entailment": ["sick/validation"], "paraphrase": ["mrpc/train[-400:]"], "ranking": ["trec_qa/validation"]}
# The distillation each task starts from: overrides on training/configs/distill.yaml. At equal task epochs, longer
# distillation lifted MRPC and cost entailment and both ranking splits; a wider encoder won neither task on every
# split (docs/experiments.md, `python -m training.experiments --skip-grid --ablation`).
DISTILL: dict[str, list[str]] = {"entailment": [], "paraphrase": ["--trainer.max_epochs=12"], "ranking": []}


def distilled_note(runs: Path, overrides: list[str]) -> Path:
    """Where the distill stage notes the best checkpoint of one DISTILL variant (runs/distilled.txt for the plain recipe)."""
    return runs / "".join(["distilled", *(f"-{slug(o)}" for o in overrides), ".txt"])


def run_stage(name: str, command: list[str], runs: Path) -> Path:
    """Run one training command; its log goes to runs/<name>.log; returns the best checkpoint it printed."""
    runs.mkdir(parents=True, exist_ok=True)
    log = runs / f"{name}.log"
    with open(log, "w") as handle:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=handle, text=True)
        handle.write(done.stdout)
    match = re.search(r"best checkpoint: (\S+)", done.stdout)
    if done.returncode or not match:
        raise SystemExit(f"{name} failed (exit {done.returncode}): see {log}")
    return Path(match[1])


def distill(runs: Path, variant: list[str], overrides: list[str]) -> Path:
    """The teacher's vectors (cached), then one distilled encoder; its checkpoint is noted in distilled_note()."""
    teacher = subprocess.run([sys.executable, "-m", "training.teacher"], capture_output=True, text=True)
    if teacher.returncode:
        raise SystemExit(f"teacher vectors failed: {teacher.stderr[-2000:]}")
    note = distilled_note(runs, variant)
    checkpoint = run_stage(
        note.stem,
        [
            sys.executable,
            "-m",
            "training.distill",
            "--config",
            "training/configs/distill.yaml",
            f"--trainer.default_root_dir={runs}",
            *variant,
            *overrides,
        ],
        runs,
    )
    note.write_text(str(checkpoint))
    return checkpoint


def train(task: str, runs: Path, overrides: list[str]) -> Path:
    """Run the task recipe; returns the best checkpoint."""
    return run_stage(
        task,
        [
            sys.executable,
            "-m",
            "pairscore.cli",
            "train",
            "--config",
            f"training/configs/{task}.yaml",
            f"--trainer.default_root_dir={runs}",
            *overrides,
        ],
        runs,
    )


def finish_card(task: str, out: Path, card: dict[str, Any], command: str) -> dict[str, Any]:
    """Add the reported splits (metrics, fallback tokens, calibration), the /embed vectors' STS-B cosine and the command."""
    served = PairModel(out)
    data_dir = card["config"]["data"].get("data_dir")
    reported = {spec: load_pairs(spec, task, data_dir) for spec in REPORTED[task] if spec not in card["metrics"]}
    card["reported"] = {spec: evaluate(served, pairs, card["threshold"]) for spec, pairs in reported.items()}
    card["oov"]["splits"].update({spec: split_oov(served, pairs) for spec, pairs in reported.items()})
    if card.get("calibration"):
        card["calibration"]["splits"].update(
            {spec: calibration_errors(served, pairs) for spec, pairs in reported.items()}
        )
    card["embed_sts"] = {
        "split": STS_SPLIT,
        "metric": "spearman of the cosine of two /embed vectors",
        "spearman": STSEvaluator(STS_SPLIT, data_dir)(served.encode),
    }
    card["reproduce"] = command
    artifact.write_card(out, card)
    return artifact.read_card(out)


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def render_readme(models: Path) -> str:
    """models/README.md: one table row per model, from the cards alone."""
    lines = [
        "# Release models",
        "",
        "Rendered from each folder's `card.json` by `python -m training.release --readme-only`; "
        "every figure was measured by the command in its card's `reproduce` "
        "(`pairscore evaluate` on the exported graphs, onnxruntime; fp32 encoders served).",
        "",
        "| task | architecture | parameters | selection splits (served) | also reported | /embed cosine, STS-B Spearman | "
        "max fallback-token rate | distilled from | trained | licences |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        path = models / task
        if not (path / artifact.CARD_FILE).is_file():
            continue
        card = artifact.read_card(path)
        arch = card["architecture"]
        metric = SELECTION_METRIC[task]
        shape = (
            f"{'Bi' if arch['bidirectional'] else ''}{arch['cell'].upper()} {arch['layers']}×{arch['hidden_size']}, "
            f"{arch['pooling']} pooling, {arch['embeddings']} {arch['embedding_dim']}d, vocabulary {arch['vocab_size']:,}"
            + (", + pair features" if card.get("features") else "")
        )
        selection = "; ".join(f"`{spec}` {metric} {fmt(values[metric])}" for spec, values in card["metrics"].items())
        reported = "; ".join(
            f"`{spec}` {metric} {fmt(values[metric])}" for spec, values in card.get("reported", {}).items()
        )
        oov = max((v["token_rate"] for v in (card.get("oov") or {}).get("splits", {}).values()), default=None)
        teacher = card.get("teacher") or {}
        training = card.get("training") or {}
        distilled = (teacher.get("distillation") or {}).get("seconds", 0)
        trained = (
            f"{training.get('seconds', 0) / 60:.0f} min, {training.get('epochs')} epochs"
            + (f" (+ {distilled / 60:.0f} min distillation)" if teacher else "")
            + f", {training.get('hardware', '?')}"
        )
        licences = "; ".join(sorted({f"{d['source']}: {d['licence']}" for d in card["data"]}))
        lines.append(
            f"| {task} | {shape} | {arch['parameters']:,} | {selection} | {reported or '–'} | "
            f"{fmt((card.get('embed_sts') or {}).get('spearman'))} | {'–' if oov is None else f'{100 * oov:.2f}%'} | "
            f"{teacher.get('name', '–')} | {trained} | {licences} |"
        )
    lines += [
        "",
        "Reproduce the models: the `reproduce` command in their cards (`python -m training.release` runs the "
        "distillation stage, then every task).",
        "",
        "**Licences.** SICK and Twitter URL are CC BY-NC-SA 3.0 (non-commercial); MRPC, WikiQA and TrecQA are "
        "research-use only. A model trained on them inherits those terms: the entailment model (SICK) and the "
        "paraphrase model (Twitter URL, MRPC) are for non-commercial research use, the ranking model (WikiQA, TrecQA) for "
        "research use. The distilled encoders saw the training texts of every source (no labels).",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "stages", nargs="*", default=list(STAGES), help=f"any of {', '.join(STAGES)} (default: all, in that order)"
    )
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--runs", type=Path, default=Path("runs/release"))
    parser.add_argument(
        "--distilled", type=Path, help="one encoder checkpoint for every task (default: each task's DISTILL variant)"
    )
    parser.add_argument(
        "--distill-override", action="append", default=[], help="a LightningCLI override for the distill stage"
    )
    parser.add_argument("--readme-only", action="store_true", help="only render models/README.md from the cards")
    args, overrides = parser.parse_known_args(argv)
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}: expected {', '.join(STAGES)}")
    if not args.readme_only:
        tasks = [t for t in TASKS if t in args.stages]
        if "distill" in args.stages:
            for variant in dict.fromkeys(tuple(DISTILL[t]) for t in tasks or TASKS):
                distill(args.runs, list(variant), args.distill_override)
        for task in tasks:
            distilled = args.distilled
            if distilled is None:
                noted = distilled_note(args.runs, DISTILL[task])
                if not noted.is_file():
                    parser.error(
                        f"{noted}: no distilled encoder for {task} yet; run the distill stage first or give --distilled"
                    )
                distilled = Path(noted.read_text().strip())
            checkpoint = train(task, args.runs, [f"--model.init_encoder={distilled}", *overrides])
            out = args.models / task
            card = export(checkpoint, out, tune_threshold=task == "paraphrase")
            command = " ".join(
                ["python -m training.release", *[f"--distill-override={o}" for o in args.distill_override], *overrides]
            )
            card = finish_card(task, out, card, command)
            print(
                f"{task}: metrics {card['metrics']} reported {card['reported']} embed_sts {card['embed_sts']['spearman']:.4f}"
            )
    (args.models / "README.md").write_text(render_readme(args.models))
    print((args.models / "README.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
