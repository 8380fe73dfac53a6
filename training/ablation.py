"""The models-v4 ablation: one lever at a time, every task, every selection and reported split (docs/experiments.md).

A library, not a study: `python -m training.studies.experiments --ablation` runs it and renders its tables.

Each step trains the three release recipes (training/configs/<task>.yaml, their own epochs) from a distilled
encoder (a variant of training/configs/distill.yaml, `DISTILLED`), exports them and measures them with the serving
code (the exporter's card metrics: `pairscore evaluate`'s numbers), with what the encoders alone give: the STS-B
Spearman and the WikiQA / TrecQA MAP of the plain cosine of their /embed vectors, beside the same figures of the
teachers' own vectors. "v3" is the models shipped before, read from their cards at PREVIOUS. Results are cached
per step and task under runs/experiments/ablation/. The student sizes are the frontier's points (training.frontier).
"""

from __future__ import annotations

import csv
import json
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from pairscore import artifact, metrics, tasks
from pairscore.card import Card, from_json
from pairscore.jobs.evaluate import evaluate
from pairscore.oov import oov_rates
from pairscore.runtime.model import PairModel
from pairscore.specs import load_pairs
from pairscore.tasks import fmt
from training import frontier, stages
from training.distill_module import load_distilled
from training.embeddings import load_glove
from training.evaluators import STS_SPLIT, STSEvaluator
from training.export import export
from training.export.card import split_oov
from training.release import (
    COSINE_HEAD,
    DISTILLED,
    ENCODER,
    SELQA,
    STUDENT,
    TARGET_SOURCES,
    TASK_VARIANTS,
    THEN,
    train_task,
)
from training.stages import Variant
from training.teacher import TeacherCache, get_teacher, resolve_cache_dir
from training.texts import RELEASE, texts_of
from training.tokenizer import build_tokenizer

SEEDS = (42, 1)  # the release recipe's seed, and a second one (distillation and tasks) for the seed spread
PREVIOUS = "d8798bb"  # the last commit with the v3 models in models/
PREVIOUS_NAME = "v3 (shipped before)"
ROWS = [  # (task, split, metric): the six selection rows, MRPC accuracy beside its F1
    ("entailment", "snli/validation[-1000:]", "accuracy"),
    ("entailment", "sick/validation", "accuracy"),
    ("paraphrase", "twitter_url/train[-2000:]", "f1"),
    ("paraphrase", "mrpc/train[-400:]", "f1"),
    ("paraphrase", "mrpc/train[-400:]", "accuracy"),
    ("ranking", "wiki_qa/validation", "map"),
    ("ranking", "trec_qa/validation", "map"),
]
COSINE_SPLITS = ("wiki_qa/validation", "trec_qa/validation")  # ranked by the plain cosine of two /embed vectors
DISTILL_MODEL = yaml.safe_load((stages.CONFIGS / "distill.yaml").read_text())["model"]  # the student's defaults


@dataclass(frozen=True)
class Step:
    """One column: a variant of the release recipes, for the tasks the lever changes (the others keep the column
    before), starting from the `distilled` encoder (a DISTILLED name) of the `student`'s shape."""

    distilled: str
    tasks: tuple[str, ...] = tasks.NAMES
    task_variants: dict[str, Variant] = field(default_factory=dict)  # for one task
    then: dict[str, Variant] = field(default_factory=dict)  # a task's second stage (release.THEN)
    student: Variant = field(default_factory=dict)  # the encoder's shape, for distillation and the tasks
    side_branch: bool = False  # the next lever builds on the column before this one


V3_ENCODER = "mpnet, + relational KL, QA batches"
V4_ENCODER = "mpnet, + relational KL, QA batches, STS pairs"
SELQA_RANKING = {"ranking": stages.merge(COSINE_HEAD, SELQA)}
SEQUENTIAL = {"ranking": TARGET_SOURCES}
# The student sizes beyond v3's BiLSTM 1x128 on a 128-d token table: the frontier (each with every v4 lever).
SIZES: dict[str, Variant] = {
    "BiLSTM 1×256": {"model": {"hidden_size": 256}},
    "BiLSTM 2×128": {"model": {"layers": 2}},
    "BiLSTM 1×128, 256-d token table": {"model": {"embedding_dim": 256}},
}
STEPS: dict[str, Step] = {
    "v3 recipe, distilled on the new texts too": Step(V3_ENCODER, task_variants={"ranking": COSINE_HEAD}),
    "+ SelQA (ranking)": Step(V3_ENCODER, task_variants=SELQA_RANKING, tasks=("ranking",), side_branch=True),
    "+ SelQA, sequential: all sources, then WikiQA + TrecQA": Step(
        V3_ENCODER, task_variants=SELQA_RANKING, then=SEQUENTIAL, tasks=("ranking",), side_branch=True
    ),
    "+ STS pairs in distillation (CoSENT)": Step(V4_ENCODER, task_variants={"ranking": COSINE_HEAD}),
    **{
        f"{name} (+ STS pairs)": Step(
            V4_ENCODER, task_variants={"ranking": COSINE_HEAD}, student=size, side_branch=True
        )
        for name, size in SIZES.items()
    },
}
# The release recipe (training/release.py) trained again, distillation included, with the second seed: the spread.
RELEASE_RECIPE = ("the release recipe", Step(ENCODER, task_variants=TASK_VARIANTS, then=THEN, student=STUDENT))
VOCABULARY_SPLITS = {
    "entailment": ["snli/validation[-1000:]", "sick/validation"],
    "paraphrase": ["twitter_url/train[-2000:]", "mrpc/train[-400:]"],
    "ranking": ["wiki_qa/validation", "trec_qa/validation"],
}
# v1's vocabularies: each task's own training words, at its recipe's min_freq (paraphrase capped at 30,000 words).
V1_TRAIN = {
    "entailment": ["snli_cad/train", "sick/train", "snli/validation[:-1000]"],
    "paraphrase": ["twitter_url/train[:-2000]"],
    "ranking": ["wiki_qa/train"],
}
V1_MIN_FREQ = {"entailment": 1, "paraphrase": 2, "ranking": 1}
V1_MAX_SIZE = {"paraphrase": 30000}
Encode = Callable[[list[str]], np.ndarray]


def cosine_map(encode: Encode, spec: str) -> float:
    """MAP of a ranking split's candidates ordered by the plain cosine of the question's and the answer's vectors."""
    pairs = load_pairs(spec, "ranking")
    texts = list(dict.fromkeys(t for p in pairs for t in (p.text_a, p.text_b)))
    vectors = np.asarray(encode(texts), dtype=np.float64)
    vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row = {t: i for i, t in enumerate(texts)}
    scores = [float(vectors[row[p.text_a]] @ vectors[row[p.text_b]]) for p in pairs]
    return metrics.ranking([p.group for p in pairs], [p.label for p in pairs], scores)["map"]


def encoder_figures(encode: Encode) -> dict[str, float]:
    """What a sentence encoder gives alone: STS-B Spearman and the cosine MAP of the ranking splits."""
    return {STS_SPLIT: STSEvaluator(STS_SPLIT)(encode), **{spec: cosine_map(encode, spec) for spec in COSINE_SPLITS}}


def teacher_figures(name: str, root: Path) -> dict[str, float]:
    """encoder_figures of a teacher's own vectors (its cache, filled with the splits' texts first); cached. `name`:
    a teacher name or a sentence-transformers folder (the static baseline)."""
    cached = root / f"teacher-{Path(name).name}.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    cache = TeacherCache(get_teacher(name))

    def encode(texts: list[str]) -> np.ndarray:
        cache.fill(texts, threads=2)
        return cache.vectors(texts)

    figures = encoder_figures(encode)
    root.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(figures, indent=2))
    return figures


def previous_results() -> dict[str, dict[str, Any]]:
    """task -> {"metrics": split -> metrics, "sts": Spearman} of the models shipped before, from their cards in git."""
    results = {}
    for task in tasks.NAMES:
        shown = ["git", "show", f"{PREVIOUS}:models/{task}/card.json"]
        card = from_json(subprocess.run(shown, capture_output=True, text=True, check=True).stdout, " ".join(shown))
        results[task] = {"metrics": {**card.metrics, **(card.reported or {})}, "sts": card.embed_sts["spearman"]}
    return results


def distilled_folder(step: Step, seed: int, root: Path) -> Path:
    """Where a step's distilled encoder is handed over: one per DISTILLED variant, student shape and seed."""
    shape = "".join(f"-{stages.slug(f'{k} {v}')}" for k, v in sorted(stages.setting(step.student, "model", {}).items()))
    return root / "distill" / (stages.slug(step.distilled) + shape + ("" if seed == SEEDS[0] else f"-seed{seed}"))


def distilled_encoder(step: Step, seed: int, root: Path) -> str:
    """The best checkpoint of the step's distilled encoder, distilled once."""
    folder = distilled_folder(step, seed, root)
    variant = stages.merge(DISTILLED[step.distilled], step.student, {"seed_everything": seed})
    best = stages.handed_over(folder) or stages.distill(variant, folder, folder.name)
    return best.checkpoint


def step_variant(step: Step, task: str, seed: int, root: Path) -> Variant:
    """The config one step trains one task with: the recipe's own epochs, the step's encoder."""
    encoder = {"model": {"init_encoder": distilled_encoder(step, seed, root)}}
    return stages.merge(step.task_variants.get(task, {}), step.student, encoder, {"seed_everything": seed})


def run_step(name: str, task: str, step: Step, seed: int, root: Path, cached_only: bool = False) -> dict | None:
    """Train, export and measure one step for one task; cached in root/<step>/<task>/result.json. None if it is not
    cached and cached_only."""
    folder = root / stages.slug(name) / (task if seed == SEEDS[0] else f"{task}-seed{seed}")
    cached = folder / "result.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    if cached_only:
        return None
    variant = step_variant(step, task, seed, root)
    best = train_task(task, variant, step.then.get(task), folder, f"{stages.slug(name)}-{task}")
    card = export(Path(best.checkpoint), folder / "model", tune_threshold=tasks.get(task).thresholded, force=True)
    model = PairModel(folder / "model")
    splits, oov = dict(card.metrics), dict(card.oov.splits)
    for spec in tasks.TASKS[task].reported:
        if spec not in splits:
            pairs = load_pairs(spec, task)
            splits[spec] = evaluate(model, pairs, card.threshold)
            oov[spec] = split_oov(model, pairs)
    result = {
        "step": name,
        "task": task,
        "variant": variant,
        "then": step.then.get(task),
        "seed": seed,
        "metrics": splits,
        "oov": oov,
        "encoder": encoder_figures(model.encode),
        "architecture": card.architecture,
        "parameters": card.architecture["parameters"],
        "train_seconds": card.training["seconds"],
    }
    cached.write_text(json.dumps(result, indent=2))
    return result


def vocabulary_options(root: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Fallback-token rates of each vocabulary option on the six splits (cached in root/vocabulary.json)."""
    cached = root / "vocabulary.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    texts = {
        spec: list(dict.fromkeys(t for p in load_pairs(spec, task) for t in (p.text_a, p.text_b)))
        for task, specs in VOCABULARY_SPLITS.items()
        for spec in specs
    }
    index, _ = load_glove()
    glove = Tokenizer(
        models.WordLevel(
            {artifact.PAD_TOKEN: 0, artifact.UNK_TOKEN: 1, **{w: i + 2 for w, i in index.items()}},
            unk_token=artifact.UNK_TOKEN,
        )
    )
    glove.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    glove.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    minilm = build_tokenizer([], kind="minilm")
    wordpiece = build_tokenizer(texts_of([RELEASE]), min_freq=2, kind="wordpiece")
    options = {
        "GloVe 6B word list (400,000 words)": dict.fromkeys(texts, glove),
        "all-MiniLM-L6-v2 WordPiece (30,522 pieces)": dict.fromkeys(texts, minilm),
        "WordPiece trained on all training texts (30,000)": dict.fromkeys(texts, wordpiece),
    }
    per_task = {
        task: build_tokenizer(
            list(dict.fromkeys(t for s in specs for p in load_pairs(s, task) for t in (p.text_a, p.text_b))),
            min_freq=V1_MIN_FREQ[task],
            max_size=V1_MAX_SIZE.get(task),
        )
        for task, specs in V1_TRAIN.items()
    }
    options = {
        "v1: each task's training words": {
            spec: per_task[task] for task, specs in VOCABULARY_SPLITS.items() for spec in specs
        },
        **options,
    }
    result = {
        name: {
            spec: {
                **oov_rates(tokenizers[spec], texts[spec]),
                "tokens_per_text": sum(len(e.ids) for e in tokenizers[spec].encode_batch(texts[spec]))
                / len(texts[spec]),
            }
            for spec in texts
        }
        for name, tokenizers in options.items()
    }
    root.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(result, indent=2))
    return result


def run(
    root: Path, cached_only: bool = False, only: set[str] | None = None
) -> dict[str, dict[str, dict[str, Any] | None]]:
    """column -> task -> result (None: not measured); a task a step does not change keeps the column before. Last,
    the release recipe with the second seed (its first is the release itself, models/). `only`: the columns to
    measure (the others are read from the cache), so that two processes can share the work."""
    results: dict[str, dict[str, dict[str, Any] | None]] = {}
    before: dict[str, dict[str, Any] | None] = {}
    name, step = RELEASE_RECIPE
    columns = {**STEPS, f"{name} (seed {SEEDS[1]})": step}
    for column, step in columns.items():
        seed = SEEDS[0] if column in STEPS else SEEDS[1]
        cached = cached_only or (only is not None and column not in only)
        results[column] = {
            task: run_step(column, task, step, seed, root, cached) if task in step.tasks else before.get(task)
            for task in tasks.NAMES
        }
        if not step.side_branch:
            before = results[column]
    return results


def distillation_lines(root: Path) -> list[str]:
    """The distilled encoders on their own, from each distilled folder's CSV log at its best checkpoint."""
    runs = [(step, SEEDS[0]) for step in STEPS.values()] + [(RELEASE_RECIPE[1], SEEDS[1])]
    used = {distilled_folder(step, seed, root): (step, seed) for step, seed in runs}  # each distilled encoder once
    rows = []
    for folder, (step, seed) in used.items():
        distilled = step.distilled
        handed = stages.handed_over(folder)
        log = Path(handed.checkpoint).parent.parent / "metrics.csv" if handed else None
        measured = [r for r in csv.DictReader(log.open()) if r.get("val_cosine")] if log and log.is_file() else []
        if measured:
            variant = stages.merge(DISTILLED[distilled], step.student)
            seconds = load_distilled(handed.checkpoint)["pairscore"]["training"]["seconds"]
            rows.append((distilled, variant, seed, max(measured, key=lambda r: float(r["val_cosine"])), seconds))
    if not rows:
        return []
    lines = [
        "### The distilled encoders alone",
        "",
        "`python -m training.distill --config training/configs/distill.yaml` with each variant (`DISTILLED` in "
        "training/release.py) and student shape. On the texts held out of "
        "distillation: the cosine of the projected vector to the teacher's, and the Spearman correlation of the "
        "student's in-batch similarities with the teacher's (the order ranking and STS need); on `stsb/validation`, "
        "the cosine Spearman of the pooled vector (what /embed serves); at the checkpoint picked on the cosine.",
        "",
        "| distilled encoder | student | seed | teacher | relational loss | QA batches | STS pairs | epochs | "
        "cosine to teacher (epoch) | similarity Spearman | STS-B cosine | distillation time (s) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, variant, seed, best, seconds in rows:
        teacher = stages.setting(variant, "data.teacher", "minilm")
        relational = stages.setting(variant, "model.relational", "none")
        qa = "yes" if stages.setting(variant, "data.pairs") else "no"
        graded = "yes" if stages.setting(variant, "data.similarity") else "no"
        epochs = stages.setting(variant, "trainer.max_epochs", 2)
        similarity = best.get("val_similarity_spearman")
        shape = student_shape(variant)
        lines.append(
            f"| {name} | {shape} | {seed} | {teacher} | {relational} | {qa} | {graded} | {epochs} | "
            f"{float(best['val_cosine']):.4f} ({int(best['epoch']) + 1}) | "
            f"{fmt(float(similarity)) if similarity else '–'} | {float(best['val_sts_spearman']):.4f} | "
            f"{seconds:.0f} |"
        )
    return lines + [""]


def student_shape(variant: Variant) -> str:
    """'BiLSTM 1×128, 128-d table' from a distill variant over training/configs/distill.yaml's defaults."""
    model = stages.merge(DISTILL_MODEL, stages.setting(variant, "model", {}))
    return f"BiLSTM {model['layers']}×{model['hidden_size']}, {model['embedding_dim']}-d table"


def ablation_columns(
    results: dict, release: dict[str, Card], release_encoders: dict[str, dict[str, float]]
) -> dict[str, dict[str, Any]]:
    """Column -> {"metrics": task -> split -> metrics, "encoder": task -> encoder figures}: v3, steps, release."""
    previous = previous_results()
    columns: dict[str, dict[str, Any]] = {
        PREVIOUS_NAME: {
            "metrics": {t: r["metrics"] for t, r in previous.items()},
            "encoder": {t: {STS_SPLIT: r["sts"]} for t, r in previous.items()},
        }
    }
    for name, by_task in results.items():
        columns[name] = {
            "metrics": {t: (r or {}).get("metrics", {}) for t, r in by_task.items()},
            "encoder": {t: (r or {}).get("encoder", {}) for t, r in by_task.items()},
        }
    if release:
        columns[RELEASE_COLUMN] = {
            "metrics": {t: {**c.metrics, **(c.reported or {})} for t, c in release.items()},
            "encoder": release_encoders,
        }
    return columns


def vocabulary_lines(vocabulary: dict[str, Any]) -> list[str]:
    splits = next(iter(vocabulary.values()))
    lines = [
        "",
        "### Fallback-token rate per vocabulary option",
        "",
        "Share of tokens that become the fallback token (`[UNK]`), share of texts with at least one, and tokens per "
        "text, on each split's distinct texts. Target: at most 1% of tokens on every selection split.",
        "",
        "| vocabulary | " + " | ".join(f"`{s}`" for s in splits) + " |",
        "|---" * (1 + len(splits)) + "|",
    ]
    for name, by_split in vocabulary.items():
        cells = [
            f"{100 * v['token_rate']:.2f}% ({100 * v['text_rate']:.1f}% of texts, {v['tokens_per_text']:.1f} tok)"
            for v in by_split.values()
        ]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def table_lines(columns: dict[str, dict[str, Any]], baselines: dict, teachers: dict[str, dict[str, float]]) -> list:
    names = list(columns) + list(baselines)
    lines = ["| task | split | metric | " + " | ".join(names) + " |", "|---" * (3 + len(names)) + "|"]
    for task, spec, metric in ROWS:
        cells = [fmt(col["metrics"].get(task, {}).get(spec, {}).get(metric)) for col in columns.values()]
        cells += [fmt(b.get((task, spec), {}).get(metric)) for b in baselines.values()]
        lines.append(f"| {task} | `{spec}` | {metric} | " + " | ".join(cells) + " |")
    for task in tasks.NAMES:
        cells = [fmt(col["encoder"].get(task, {}).get(STS_SPLIT)) for col in columns.values()]
        lines.append(f"| {task} encoder | `{STS_SPLIT}` | /embed cosine Spearman | " + " | ".join(cells) + " |")
    for spec in COSINE_SPLITS:
        cells = [fmt(col["encoder"].get("ranking", {}).get(spec)) for col in columns.values()]
        lines.append(f"| ranking encoder | `{spec}` | /embed cosine MAP | " + " | ".join(cells) + " |")
    lines += ["", "The teachers' own vectors, on the same splits:", "", "| teacher | split | figure | value |"]
    lines.append("|---|---|---|---|")
    for name, figures in teachers.items():
        for spec, value in figures.items():
            figure = "cosine Spearman" if spec == STS_SPLIT else "cosine MAP"
            lines.append(f"| {name} | `{spec}` | {figure} | {fmt(value)} |")
    return lines


# The release's own targets (selection splits): (task, split, metric) -> the least value wanted (mean of the seeds).
FLOORS = {
    ("ranking", "wiki_qa/validation", "map"): 0.78,
    ("ranking", "trec_qa/validation", "map"): 0.83,
    ("paraphrase", "mrpc/train[-400:]", "accuracy"): 0.77,
}
STS_FLOOR = 0.85  # /embed's default (entailment) encoder, STS-B cosine Spearman
# No lower than the models shipped before by more than the seed spread.
KEPT = (("entailment", "snli/validation[-1000:]", "accuracy"), ("entailment", "sick/validation", "accuracy"))
RELEASE_COLUMN = "v4 release (models/)"


def target_lines(columns: dict[str, dict[str, Any]], baselines: dict) -> list:
    """Met / missed for each target, from the release column and its second seed (their mean and spread), the
    models shipped before and the baselines."""
    release, second = columns.get(RELEASE_COLUMN), columns.get(f"{RELEASE_RECIPE[0]} (seed {SEEDS[1]})")
    minilm, previous = baselines.get("minilm+head", {}), columns.get(PREVIOUS_NAME)
    if not release or not second:
        return []

    def seeds(task: str, spec: str, metric: str) -> tuple[float, float] | None:
        values = [c["metrics"].get(task, {}).get(spec, {}).get(metric) for c in (release, second)]
        return None if None in values else (values[0], values[1])

    def measured(pair: tuple[float, float]) -> str:
        return f"{fmt(pair[0])} / {fmt(pair[1])} (seeds {SEEDS[0]} / {SEEDS[1]}): mean {fmt(sum(pair) / 2)}"

    lines = ["| target | wanted | measured | met? |", "|---|---|---|---|"]
    for task, spec, metric in ROWS:
        pair, base = seeds(task, spec, metric), minilm.get((task, spec), {}).get(metric)
        if pair is None or base is None:
            continue
        spread, margin = abs(pair[0] - pair[1]), sum(pair) / 2 - base
        lines.append(
            f"| `{spec}` {metric}: beats minilm+head by more than the seed spread | margin > {fmt(spread)} | "
            f"{measured(pair)} vs {fmt(base)}: margin {fmt(margin)} | {'yes' if margin > spread else '**no**'} |"
        )
    for (task, spec, metric), floor in FLOORS.items():
        pair = seeds(task, spec, metric)
        if pair is not None:
            met = sum(pair) / 2 >= floor
            lines.append(f"| `{spec}` {metric} | ≥ {floor} | {measured(pair)} | {'yes' if met else '**no**'} |")
    for task, spec, metric in KEPT:
        pair = seeds(task, spec, metric)
        before = (previous or {}).get("metrics", {}).get(task, {}).get(spec, {}).get(metric)
        if pair is not None and before is not None:
            spread = abs(pair[0] - pair[1])
            met = sum(pair) / 2 >= before - spread
            lines.append(
                f"| `{spec}` {metric}: no lower than {PREVIOUS_NAME.split(' ')[0]} by more than the seed spread | "
                f"≥ {fmt(before)} − {fmt(spread)} | {measured(pair)} | {'yes' if met else '**no**'} |"
            )
    sts = [c["encoder"].get("entailment", {}).get(STS_SPLIT) for c in (release, second)]
    if None not in sts:
        lines.append(
            f"| /embed (entailment encoder), `{STS_SPLIT}` cosine Spearman | ≥ {STS_FLOOR} | {measured(tuple(sts))} | "
            f"{'yes' if sum(sts) / 2 >= STS_FLOOR else '**no**'} |"
        )
    return ["### Targets", "", *lines, ""]


def render(
    results: dict[str, dict[str, dict[str, Any] | None]],
    release: dict[str, Card],
    release_encoders: dict[str, dict[str, float]],
    baselines: dict[str, dict[tuple[str, str], dict[str, float]]],
    vocabulary: dict[str, Any],
    command: str,
    root: Path,
    speed: dict[str, Any] | None = None,
    png: Path | None = None,
) -> list[str]:
    """Markdown lines: the ablation table (steps as columns), the teachers, the targets, the frontier (with
    benchmarks/frontier.py's `speed` JSON, the plot written to `png`), the distilled encoders, the vocabulary."""
    teachers = {name: teacher_figures(name, root) for name in ("minilm", "mpnet")}
    columns = ablation_columns(results, release, release_encoders)
    lines = [
        "## Models v4: one lever at a time",
        "",
        f"Produced by `{command}`. Each column adds one lever to the one before; a student size is a side branch "
        "(each size has every lever before it, and the next size starts from the same column). Every column trains "
        f"the three release recipes with their own epochs (training/configs/*.yaml), seed {SEEDS[0]}, from the "
        "distilled encoder its step names (`STEPS` in training/ablation.py, `DISTILLED` in training/release.py); "
        f"the release recipe runs again with seed {SEEDS[1]}, distillation included, and the gap between that "
        "column and the release (models/) is the seed spread. A task a lever does not touch repeats the column "
        "before. Figures: `pairscore evaluate` on the exported graphs (onnxruntime); the encoder rows score the "
        "plain cosine of two /embed vectors. Baselines: docs/results/*.json (a frozen encoder + the same head).",
        "",
        *table_lines(columns, baselines, teachers),
        "",
        f"The release: student **{student_shape(STUDENT)}**, the distilled encoder **{ENCODER}** for every task"
        + "".join(f"; {task}: `{json.dumps(v)}`" for task, v in TASK_VARIANTS.items())
        + "".join(f"; then {task}: `{json.dumps(v)}`" for task, v in THEN.items())
        + " (STUDENT, ENCODER, TASK_VARIANTS and THEN in training/release.py, where the reason for each is written).",
        "",
    ]
    if speed and png:
        points = frontier_points(columns, results, baselines, speed["speed"], root, resolve_cache_dir())
        lines += frontier_lines(points, png, speed["command"])
    return lines + target_lines(columns, baselines) + distillation_lines(root) + vocabulary_lines(vocabulary)


# The frontier's students: the v3-sized student with every lever, and each size with every lever.
FRONTIER_STUDENTS = {
    student_shape({}): "+ STS pairs in distillation (CoSENT)",
    **{student_shape(size): f"{name} (+ STS pairs)" for name, size in SIZES.items()},
}
# Baselines on the frontier: name -> (docs/results model, or None for the plain cosine of the encoder's vectors;
# the encoder (a teacher name or folder), benchmarks/frontier.py's speed key).
STATIC_FOLDER = "model2vec-minilm"  # training/studies/baselines/static.py's folder under <cache>/teachers/
FRONTIER_BASELINES = {
    "lexical": ("lexical", None, "lexical"),
    "MiniLM cosine": (None, "minilm", "all-MiniLM-L6-v2"),
    "MiniLM + head": ("minilm+head", None, "all-MiniLM-L6-v2"),
    "mpnet cosine": (None, "mpnet", "all-mpnet-base-v2"),
    "mpnet + head": ("mpnet+head", None, "all-mpnet-base-v2"),
    "Model2Vec cosine": (None, STATIC_FOLDER, "model2vec-minilm"),
    "Model2Vec + head": ("model2vec-minilm+head", None, "model2vec-minilm"),
}
EMBED_ROW = f"{STS_SPLIT} /embed Spearman"


def row_key(spec: str, metric: str) -> str:
    return f"{spec} {metric}"


def column_figures(column: dict[str, Any]) -> dict[str, float]:
    """A column's frontier figures: every selection row, and /embed's (the entailment encoder's) STS-B Spearman."""
    figures = {
        row_key(spec, metric): column["metrics"].get(task, {}).get(spec, {}).get(metric) for task, spec, metric in ROWS
    }
    figures[EMBED_ROW] = column["encoder"].get("entailment", {}).get(STS_SPLIT)
    return {k: v for k, v in figures.items() if v is not None}


def frontier_points(
    columns: dict[str, dict[str, Any]],
    results: dict[str, dict[str, dict[str, Any] | None]],
    baselines: dict[str, dict[tuple[str, str], dict[str, float]]],
    speed: dict[str, float],
    root: Path,
    cache_dir: Path,
) -> list[frontier.Point]:
    """The students (the release's size with both seeds) and the baselines, with their speed ratios."""
    points = []
    release_shape, second = student_shape(STUDENT), columns.get(f"{RELEASE_RECIPE[0]} (seed {SEEDS[1]})")
    for shape, column in FRONTIER_STUDENTS.items():
        runs = [columns[RELEASE_COLUMN], second] if shape == release_shape and second else [columns.get(column)]
        figures: dict[str, list[float]] = {}
        for run in filter(None, runs):
            for key, value in column_figures(run).items():
                figures.setdefault(key, []).append(value)
        entailment = (results.get(column) or {}).get("entailment") or {}
        parameters = entailment.get("parameters")
        points.append(
            frontier.Point(shape, frontier.STUDENT, "BiLSTM (served: ONNX fp32)", parameters, figures, speed.get(shape))
        )
    for name, (model, encoder, speed_key) in FRONTIER_BASELINES.items():
        if model is not None:
            measured = baselines.get(model, {})
            figures = {row_key(spec, m): [measured[(t, spec)][m]] for t, spec, m in ROWS if (t, spec) in measured}
        else:
            teacher = str(cache_dir / "teachers" / encoder) if encoder == STATIC_FOLDER else encoder
            found = teacher_figures(teacher, root)
            figures = {row_key(spec, "map"): [found[spec]] for spec in COSINE_SPLITS if spec in found}
            figures[EMBED_ROW] = [found[STS_SPLIT]]
        points.append(frontier.Point(name, frontier.BASELINE, encoder or model, None, figures, speed.get(speed_key)))
    return points


def frontier_lines(points: list[frontier.Point], png: Path, speed_command: str) -> list[str]:
    """The frontier section: the plot (written to `png`) and its table."""
    frontier.plot(points, png, [*(row_key(spec, metric) for _, spec, metric in ROWS), EMBED_ROW])
    return [
        "## The quality/speed frontier",
        "",
        "Each student size trained with every v4 lever (the columns above), against the baselines a user already "
        "has. Speed: served pairs/s over HTTP with the vector cache off (`/entailment`, 32 pairs per request, 8 "
        f"connections, under wrk) for the students, in-process pairs/s for the baselines, each as a ratio to "
        f"all-MiniLM-L6-v2 in process, measured in one run: `{speed_command}` (benchmarks/out/frontier.json). "
        "Students show the mean over seeds, ± half the spread; the release's size has two distillation seeds.",
        "",
        f"![frontier]({png.name})",
        "",
        *frontier.table_lines(points),
        "",
    ]
