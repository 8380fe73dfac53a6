"""Train, export and document the release models in models/: the command each model card names.

    python -m training.release [distill] [entailment paraphrase ranking] [--models models]
        [--variant FRAGMENT.yaml] [--distill-variant FRAGMENT.yaml] [--trained RUNS]

Stages, in order: `distill` caches the teacher's vectors (training.teacher) and pre-trains one encoder of the
STUDENT's shape on them (training/configs/distill.yaml with the DISTILLED variant named ENCODER); each task then
runs its recipe (with its TASK_VARIANTS, and a second stage where THEN names one) from that encoder
(model.init_encoder), is exported in artifact format v3 with the fp32 encoder served (batch-independent), gets its
reported (non-selection) splits, the fallback-token rates and the STS-B cosine of its /embed vectors in the card,
and models/README.md is rendered from the cards. Without the `distill` stage the tasks start from the encoder an
earlier distill stage handed over (runs/release/distill/), or --distilled. Every stage hands over best.json
(training.stages); `--variant` / `--distill-variant` add a YAML fragment of config values. `--trained` exports
what an earlier run of the same recipe trained (an ablation column's folder, say) instead of training it again.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import yaml

from pairscore import artifact, tasks
from pairscore.card import Card, read
from pairscore.jobs.evaluate import calibration_errors, evaluate
from pairscore.runtime.model import PairModel
from pairscore.specs import load_pairs
from pairscore.tasks import fmt
from training import stages
from training.evaluators import STS_SPLIT, STSEvaluator
from training.export import export
from training.export.card import split_oov
from training.export.cli import Finish
from training.stages import Variant

STAGES = ("distill", *tasks.NAMES)
MINILM: Variant = {"data": {"teacher": "minilm"}}
MPNET: Variant = {"data": {"teacher": "mpnet"}}
RELATIONAL_KL: Variant = {"model": {"relational": "kl", "relational_weight": 1.0, "temperature": 0.05}}
RELATIONAL_MSE: Variant = {"model": {"relational": "mse", "relational_weight": 10.0}}
QA_BATCHES: Variant = {"data": {"pairs": ["wiki_qa/train", "trec_qa/train"]}}
# /embed's similarity from people, not only from the teacher: the graded STS pairs beside distillation (CoSENT).
GRADED_PAIRS: Variant = {"data": {"similarity": ["stsb/train", "sts2012_2016/train"]}}
# The distilled encoders the release and the ablation start from: variants of training/configs/distill.yaml.
DISTILLED: dict[str, Variant] = {
    "MiniLM, vector loss": MINILM,
    "mpnet, vector loss": MPNET,
    "mpnet, + relational KL": stages.merge(MPNET, RELATIONAL_KL),
    "mpnet, + relational KL, QA batches": stages.merge(MPNET, RELATIONAL_KL, QA_BATCHES),
    "mpnet, relational MSE, QA batches": stages.merge(MPNET, RELATIONAL_MSE, QA_BATCHES),
    "mpnet, + relational KL, QA batches, STS pairs": stages.merge(MPNET, RELATIONAL_KL, QA_BATCHES, GRADED_PAIRS),
}
# Ranking learning from SelQA too (2,375 more Wikipedia questions, 2.7x WikiQA's): a lever the ablation measured
# and the release does not take (below).
SELQA: Variant = {"data": {"train": ["wiki_qa/train", "trec_qa/train", "selqa/train"]}}
COSINE_HEAD: Variant = {"model": {"head": "cosine"}}
# A second stage, continuing from the first stage's model (exported, then model.init_from): the recipe's data
# first, then only the sources the model is selected on ("all sources, then the target source").
TARGET_SOURCES: Variant = {"data": {"train": ["wiki_qa/train", "trec_qa/train"]}}

# The release recipe (docs/experiments.md, "Models v4", has the levers that chose it), each choice on the selection
# splits of every task it touches:
# - STUDENT, the student's shape, for distillation and every task: BiLSTM 1x256. On the ablation's seed it wins
#   SNLI, SICK and /embed's STS-B over the 1x128 student with the same levers, and serves at 17.6x MiniLM
#   (docs/frontier.png), above the 12x floor.
# - ENCODER, the one distilled encoder every task starts from: + STS pairs (CoSENT beside distillation) lifts
#   /embed's STS-B cosine (.815 -> .832 at 1x128), MRPC and both ranking splits; at 1x128 it cost SNLI and SICK,
#   which the 1x256 student wins back. One seed each: the release's two seeds differ by up to .05 (TrecQA).
# - TASK_VARIANTS, what each task recipe changes on top of training/configs/<task>.yaml: ranking scores with the
#   cosine head (v3). It does not take SelQA: joint training lost WikiQA (.720 -> .687), and "all sources, then
#   WikiQA + TrecQA" lost both splits (.705 / .734 against .720 / .752).
# - THEN, the tasks that train a second stage (train_task): none, since the sequential SelQA recipe lost.
STUDENT: Variant = {"model": {"hidden_size": 256}}
ENCODER = "mpnet, + relational KL, QA batches, STS pairs"
TASK_VARIANTS: dict[str, Variant] = {"ranking": COSINE_HEAD}
THEN: dict[str, Variant] = {}


def distill(runs: Path, variant: Variant) -> stages.Best:
    """The teacher's vectors of the release texts (cached), then the release's distilled encoder, handed over in
    runs/distill/."""
    teacher = stages.setting(DISTILLED[ENCODER], "data.teacher", "minilm")
    print(f"teacher {teacher}: the vectors of every training text (cached after the first run)", flush=True)
    if subprocess.run([sys.executable, "-m", "training.teacher", "--teacher", teacher]).returncode:
        raise SystemExit("teacher vectors failed (see above)")
    return stages.distill(stages.merge(DISTILLED[ENCODER], STUDENT, variant), runs / "distill", "distill")


def train_task(task: str, recipe: Variant, then: Variant | None, folder: Path, name: str) -> stages.Best:
    """The task's recipe; with `then`, a second stage continues from the first one's model (exported under
    folder/first-stage, then model.init_from) with `then` on top: the first stage's data, then the second's. A first
    stage already exported there (a rerun, or the same recipe run before) is continued from, not trained again."""
    first = folder / "first-stage"
    if then is not None and (first / artifact.CARD_FILE).is_file():
        print(f"{name}: continuing from the first stage exported before ({first})", flush=True)
    else:
        best = stages.train(task, recipe, folder, name)
        if then is None:
            return best
        print(f"{name}: first stage {best.monitor}={best.score:.4f}, exporting -> {first}", flush=True)
        export(Path(best.checkpoint), first, tune_threshold=tasks.get(task).thresholded, force=True)
    second = stages.merge(recipe, then, {"model": {"init_from": str(first), "init_encoder": None}})
    return stages.train(task, second, folder / "then", f"{name}-then")


def first_stage(card: Card) -> None:
    """A model continued from a first stage (train_task) names that stage's training data and time too."""
    folder = Path((card.init_from or {}).get("folder", ""))
    if not (card.init_from and (folder / artifact.CARD_FILE).is_file()):
        return
    earlier = read(folder)
    stage = [{**d, "role": "first stage"} for d in earlier.data if d["role"] == "train"]
    card.data = stage + card.data
    card.training = {**(card.training or {}), "first_stage": earlier.training}


def distilled_encoder(runs: Path) -> str:
    """The checkpoint the distill stage handed over."""
    best = stages.handed_over(runs / "distill")
    if best is None:
        raise SystemExit(
            f"{runs / 'distill'}: no distilled encoder yet; run the distill stage first or give --distilled"
        )
    return best.checkpoint


def finish_card(command: str) -> Finish:
    """What the release adds to a card before export writes it: the reported splits (metrics, fallback tokens,
    calibration), the /embed vectors' STS-B cosine and the command."""

    def finish(card: Card, served: PairModel) -> None:
        data_dir = card.config["data"].get("data_dir")
        reported = {
            spec: load_pairs(spec, card.task, data_dir)
            for spec in tasks.get(card.task).reported
            if spec not in card.metrics
        }
        card.reported = {spec: evaluate(served, pairs, card.threshold) for spec, pairs in reported.items()}
        card.oov.splits.update({spec: split_oov(served, pairs) for spec, pairs in reported.items()})
        if card.calibration:
            card.calibration.splits.update(
                {spec: calibration_errors(served, pairs) for spec, pairs in reported.items()}
            )
        card.embed_sts = {
            "split": STS_SPLIT,
            "metric": "spearman of the cosine of two /embed vectors",
            "spearman": STSEvaluator(STS_SPLIT, data_dir)(served.encode),
        }
        card.reproduce = command
        first_stage(card)

    return finish


def render_readme(models: Path) -> str:
    """models/README.md: one table row per model, from the cards alone."""
    lines = [
        "# Release models",
        "",
        "Rendered from each folder's `card.json` by `python -m training.release --readme-only`. The "
        "figures were measured when the release exported each model, by the serving code on the exported graphs "
        "(onnxruntime, fp32 encoders served: the numbers `pairscore evaluate` gives); each card's `reproduce` "
        "names the command that trains and exports it.",
        "",
        "| task | architecture | parameters | selection splits (served) | also reported | "
        "/embed cosine, STS-B Spearman | max fallback-token rate | distilled from | trained | licences |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for task in tasks.NAMES:
        path = models / task
        if not (path / artifact.CARD_FILE).is_file():
            continue
        card = read(path)
        arch = card.architecture
        metric = tasks.TASKS[task].metric
        shape = (
            f"{'Bi' if arch['bidirectional'] else ''}{arch['cell'].upper()} {arch['layers']}×{arch['hidden_size']}, "
            f"{arch['pooling']} pooling, {arch['embeddings']} {arch['embedding_dim']}d, "
            f"vocabulary {arch['vocab_size']:,}" + (", + pair features" if card.features else "")
        )
        selection = "; ".join(f"`{spec}` {metric} {fmt(values[metric])}" for spec, values in card.metrics.items())
        reported = "; ".join(
            f"`{spec}` {metric} {fmt(values[metric])}" for spec, values in (card.reported or {}).items()
        )
        oov = max((v["token_rate"] for v in card.oov.splits.values()), default=None) if card.oov else None
        teacher = card.teacher or {}
        training = card.training or {}
        distilled = (teacher.get("distillation") or {}).get("seconds", 0)
        first = (training.get("first_stage") or {}).get("seconds")
        trained = (
            f"{training.get('seconds', 0) / 60:.0f} min, {training.get('epochs')} "
            f"epoch{'' if training.get('epochs') == 1 else 's'}"
            + (f" (+ {first / 60:.0f} min first stage)" if first else "")
            + (f" (+ {distilled / 60:.0f} min distillation)" if teacher else "")
            + f", {training.get('hardware', '?')}"
        )
        graded = (teacher.get("graded") or {}).get("splits", [])
        licences = "; ".join(sorted({f"{d['source']}: {d['licence']}" for d in [*card.data, *graded]}))
        lines.append(
            f"| {task} | {shape} | {arch['parameters']:,} | {selection} | {reported or '–'} | "
            f"{fmt((card.embed_sts or {}).get('spearman'))} | {'–' if oov is None else f'{100 * oov:.2f}%'} | "
            f"{teacher.get('name', '–')} | {trained} | {licences} |"
        )
    lines += [
        "",
        "Reproduce the models: the `reproduce` command in their cards (`python -m training.release` runs the "
        "distillation stage, then every task).",
        "",
        "**Licences.** SICK and Twitter URL are CC BY-NC-SA 3.0 (non-commercial); MRPC, WikiQA and TrecQA are "
        "research-use only; SelQA is Apache-2.0; the STS 2012–2016 pairs carry their SemEval files' terms (research "
        "use, one file CC BY-NC-SA 2.0 UK). A model trained on them inherits those terms: the entailment model (SICK) "
        "and the paraphrase model (Twitter URL, MRPC) are for non-commercial research use, the ranking model "
        "(WikiQA, TrecQA) for research use, and a model whose card lists the STS 2012–2016 pairs for non-commercial "
        "research use. The distilled encoders saw the training texts of every source (no labels) and, where a card "
        "lists STS sources, learned from their similarity scores too.",
        "",
    ]
    return "\n".join(lines)


def read_variant(path: Path | None) -> Variant:
    return yaml.safe_load(path.read_text()) or {} if path else {}


def trained(task: str, runs: Path) -> stages.Best:
    """What train_task handed over under runs/TASK (the second stage's, where the task has one)."""
    folder = runs / task / "then" if task in THEN else runs / task
    best = stages.handed_over(folder)
    if best is None:
        raise SystemExit(f"{folder}: no trained {task} model handed over (best.json) to export")
    return best


def release(task: str, args: argparse.Namespace, variant: Variant, command: str) -> Card:
    """Train the task from its distilled encoder (or take the one --trained names), export it over models/TASK and
    finish its card."""
    if args.trained:
        best = trained(task, args.trained)
    else:
        encoder = str(args.distilled) if args.distilled else distilled_encoder(args.runs)
        recipe = stages.merge(TASK_VARIANTS.get(task, {}), STUDENT, variant, {"model": {"init_encoder": encoder}})
        best = train_task(task, recipe, THEN.get(task), args.runs / task, task)
    out = args.models / task
    print(f"{task}: exporting {best.checkpoint} -> {out}", flush=True)
    tune = tasks.get(task).thresholded
    card = export(Path(best.checkpoint), out, tune_threshold=tune, force=True, finish=finish_card(command))
    print(f"{task}: metrics {card.metrics} reported {card.reported} embed_sts {card.embed_sts['spearman']:.4f}")
    return card


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("stages", nargs="*", default=list(STAGES), help=f"any of {', '.join(STAGES)} (default: all)")
    parser.add_argument("--models", type=Path, default=Path("models"))
    parser.add_argument("--runs", type=Path, default=Path("runs/release"))
    parser.add_argument("--distilled", type=Path, help="a distilled encoder (checkpoint or run folder) to start from")
    parser.add_argument("--variant", type=Path, help="a YAML fragment of config values for every task recipe")
    parser.add_argument("--distill-variant", type=Path, help="a YAML fragment of config values for the distill stage")
    parser.add_argument("--readme-only", action="store_true", help="only render models/README.md from the cards")
    parser.add_argument(
        "--trained",
        type=Path,
        help="export the tasks already trained under this folder (a release's --runs, or an ablation column's "
        "folder that ran the release recipe) instead of training them again",
    )
    args = parser.parse_args(argv)
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stage(s) {sorted(unknown)}: expected {', '.join(STAGES)}")
    if not args.readme_only:
        chosen = [t for t in tasks.NAMES if t in args.stages]
        command = " ".join(
            ["python -m training.release"]
            + [f"--{flag.replace('_', '-')} {path}" for flag, path in vars(args).items() if "variant" in flag and path]
        )
        if "distill" in args.stages and not (args.distilled or args.trained):
            distill(args.runs, read_variant(args.distill_variant))
        for task in chosen:
            release(task, args, read_variant(args.variant), command)
    (args.models / "README.md").write_text(render_readme(args.models))
    print((args.models / "README.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
