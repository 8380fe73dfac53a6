"""The models-v3 ablation: one lever at a time, every task, every selection and reported split (docs/experiments.md).

A library, not a study: `python -m training.studies.experiments --ablation` runs it and renders its tables.

Each step trains the three release recipes (training/configs/<task>.yaml, their own epochs) from a distilled
encoder (a variant of training/configs/distill.yaml, `DISTILLED`), exports them and measures them with the serving
code (the exporter's card metrics: `pairscore evaluate`'s numbers), with what the encoders alone give: the STS-B
Spearman and the WikiQA / TrecQA MAP of the plain cosine of their /embed vectors, beside the same figures of the
teachers' own vectors. "v2.1" is the models shipped before, read from their cards at PREVIOUS. Results are cached
per step and task under runs/experiments/ablation/.
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
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from pairscore import artifact, metrics, tasks
from pairscore.card import Card, from_json
from pairscore.jobs.evaluate import evaluate
from pairscore.oov import oov_rates
from pairscore.runtime.model import PairModel
from pairscore.specs import load_pairs
from pairscore.tasks import fmt
from training import stages
from training.embeddings import load_glove
from training.evaluators import STS_SPLIT, STSEvaluator
from training.export import export
from training.export.card import split_oov
from training.release import DISTILLED, ENCODER, TASK_VARIANTS
from training.stages import Variant
from training.teacher import TeacherCache, get_teacher
from training.texts import RELEASE, texts_of
from training.tokenizer import build_tokenizer

SEEDS = (42, 1)  # the release recipe's seed, and a second one for the seed spread
PREVIOUS = "46b7fec"  # the last commit with the v2.1 models in models/
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


@dataclass(frozen=True)
class Step:
    """One column: a variant of the release recipes, for the tasks the lever changes (the others keep the column
    before), starting from the `distilled` encoder (a DISTILLED name)."""

    distilled: str
    variant: Variant = field(default_factory=dict)  # for every task it trains
    tasks: tuple[str, ...] = tasks.NAMES
    task_variants: dict[str, Variant] = field(default_factory=dict)  # for one task
    side_branch: bool = False  # the next lever builds on the column before this one


STEPS: dict[str, Step] = {
    "MiniLM teacher, vector loss (v2 distillation)": Step("MiniLM, vector loss"),
    "+ mpnet teacher": Step("mpnet, vector loss"),
    "+ relational loss (KL)": Step("mpnet, + relational KL"),
    "+ question-answer batches": Step("mpnet, + relational KL, QA batches"),
    "relational MSE instead of KL": Step("mpnet, relational MSE, QA batches", side_branch=True),
    "+ cosine ranking head": Step(
        "mpnet, + relational KL, QA batches", {"model": {"head": "cosine"}}, tasks=("ranking",)
    ),
}
# The release recipe (training/release.py) trained again with the second seed: the seed spread.
RELEASE_RECIPE = ("the release recipe", Step(ENCODER, task_variants=TASK_VARIANTS))
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
    """encoder_figures of a teacher's own vectors (its cache, filled with the splits' texts first); cached."""
    cached = root / f"teacher-{name}.json"
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
    """task -> {"metrics": split -> metrics, "sts": Spearman} of the v2.1 models, from their cards in git."""
    results = {}
    for task in tasks.NAMES:
        shown = ["git", "show", f"{PREVIOUS}:models/{task}/card.json"]
        card = from_json(subprocess.run(shown, capture_output=True, text=True, check=True).stdout, " ".join(shown))
        results[task] = {"metrics": {**card.metrics, **(card.reported or {})}, "sts": card.embed_sts["spearman"]}
    return results


def distilled_encoder(name: str, root: Path) -> str:
    """The best checkpoint of one DISTILLED variant, distilled once and handed over in root/distill/<name>/."""
    folder = root / "distill" / stages.slug(name)
    best = stages.handed_over(folder) or stages.distill(DISTILLED[name], folder, stages.slug(name))
    return best.checkpoint


def step_variant(step: Step, task: str, seed: int, root: Path) -> Variant:
    """The config one step trains one task with: the recipe's own epochs, the step's encoder."""
    encoder = {"model": {"init_encoder": distilled_encoder(step.distilled, root)}}
    return stages.merge(step.variant, step.task_variants.get(task, {}), encoder, {"seed_everything": seed})


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
    best = stages.train(task, variant, folder, f"{stages.slug(name)}-{task}")
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
        "seed": seed,
        "metrics": splits,
        "oov": oov,
        "encoder": encoder_figures(model.encode),
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


def run(root: Path, cached_only: bool = False) -> dict[str, dict[str, dict[str, Any] | None]]:
    """column -> task -> result (None: not measured); a task a step does not change keeps the column before. Last,
    the release recipe with the second seed (its first is the release itself, models/)."""
    results: dict[str, dict[str, dict[str, Any] | None]] = {}
    before: dict[str, dict[str, Any] | None] = {}
    for name, step in STEPS.items():
        results[name] = {
            task: run_step(name, task, step, SEEDS[0], root, cached_only) if task in step.tasks else before.get(task)
            for task in tasks.NAMES
        }
        if not step.side_branch:
            before = results[name]
    name, step = RELEASE_RECIPE
    results[f"{name} (seed {SEEDS[1]})"] = {
        t: run_step(name, t, step, SEEDS[1], root, cached_only) for t in tasks.NAMES
    }
    return results


def distillation_lines(root: Path) -> list[str]:
    """The distilled encoders on their own, from each DISTILLED variant's CSV log at its best checkpoint."""
    rows = []
    for name, variant in DISTILLED.items():
        best = stages.handed_over(root / "distill" / stages.slug(name))
        log = Path(best.checkpoint).parent.parent / "metrics.csv" if best else None
        measured = [r for r in csv.DictReader(log.open()) if r.get("val_cosine")] if log and log.is_file() else []
        if measured:
            rows.append((name, variant, max(measured, key=lambda r: float(r["val_cosine"]))))
    if not rows:
        return []
    lines = [
        "### The distilled encoders alone",
        "",
        "`python -m training.distill --config training/configs/distill.yaml` with each variant (`DISTILLED` in "
        "training/release.py), BiLSTM 1 × 128 on MiniLM's frozen token vectors. On the texts held out of "
        "distillation: the cosine of the projected vector to the teacher's, and the Spearman correlation of the "
        "student's in-batch similarities with the teacher's (the order ranking and STS need); on `stsb/validation`, "
        "the cosine Spearman of the pooled vector (what /embed serves); at the checkpoint picked on the cosine.",
        "",
        "| distilled encoder | teacher | relational loss | QA batches | epochs | cosine to teacher (epoch) | "
        "similarity Spearman | STS-B cosine |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, variant, best in rows:
        teacher = stages.setting(variant, "data.teacher", "minilm")
        relational = stages.setting(variant, "model.relational", "none")
        qa = "yes" if stages.setting(variant, "data.pairs") else "no"
        epochs = stages.setting(variant, "trainer.max_epochs", 2)
        similarity = best.get("val_similarity_spearman")
        lines.append(
            f"| {name} | {teacher} | {relational} | {qa} | {epochs} | {float(best['val_cosine']):.4f} "
            f"({int(best['epoch']) + 1}) | {fmt(float(similarity)) if similarity else '–'} | "
            f"{float(best['val_sts_spearman']):.4f} |"
        )
    return lines + [""]


def ablation_columns(
    results: dict, release: dict[str, Card], release_encoders: dict[str, dict[str, float]]
) -> dict[str, dict[str, Any]]:
    """Column -> {"metrics": task -> split -> metrics, "encoder": task -> encoder figures}: v2.1, steps, release."""
    previous = previous_results()
    columns: dict[str, dict[str, Any]] = {
        "v2.1 (shipped before)": {
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
        columns["v3 release (models/)"] = {
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


# The release's own targets (selection splits): (task, split, metric) -> the least value wanted.
FLOORS = {
    ("ranking", "wiki_qa/validation", "map"): 0.76,
    ("ranking", "trec_qa/validation", "map"): 0.80,
    ("paraphrase", "mrpc/train[-400:]", "accuracy"): 0.77,
}
STS_FLOOR = 0.85  # /embed's default (entailment) encoder, STS-B cosine Spearman
TEACHER_GAP = 0.03  # the ranking encoder's own cosine MAP on WikiQA, at most this far below its teacher's


def target_lines(columns: dict[str, dict[str, Any]], baselines: dict, teachers: dict[str, dict[str, float]]) -> list:
    """Met / missed for each target, from the release column, its second seed and the baselines."""
    release, second = columns.get("v3 release (models/)"), columns.get(f"{RELEASE_RECIPE[0]} (seed {SEEDS[1]})")
    minilm = baselines.get("minilm+head", {})
    if not release or not second:
        return []

    def value(column: dict[str, Any], task: str, spec: str, metric: str) -> float | None:
        return column["metrics"].get(task, {}).get(spec, {}).get(metric)

    lines = ["| target | wanted | measured | met? |", "|---|---|---|---|"]
    for task, spec, metric in ROWS:
        ours, other = value(release, task, spec, metric), value(second, task, spec, metric)
        base = minilm.get((task, spec), {}).get(metric)
        if None in (ours, other, base):
            continue
        spread, margin = abs(ours - other), (ours + other) / 2 - base
        lines.append(
            f"| `{spec}` {metric}: beats minilm+head by more than the seed spread | margin > {fmt(spread)} | "
            f"{fmt(ours)} / {fmt(other)} (seeds {SEEDS[0]} / {SEEDS[1]}) vs {fmt(base)}: margin of the mean "
            f"{fmt(margin)} | "
            f"{'yes' if margin > spread else '**no**'} |"
        )
    for (task, spec, metric), floor in FLOORS.items():
        ours = value(release, task, spec, metric)
        if ours is not None:
            lines.append(f"| `{spec}` {metric} | ≥ {floor} | {fmt(ours)} | {'yes' if ours >= floor else '**no**'} |")
    teacher = teachers[stages.setting(DISTILLED[ENCODER], "data.teacher", "minilm")][COSINE_SPLITS[0]]
    cosine = release["encoder"].get("ranking", {}).get(COSINE_SPLITS[0])
    lines.append(
        f"| ranking encoder, `{COSINE_SPLITS[0]}` /embed cosine MAP | ≥ the teacher's − {TEACHER_GAP} "
        f"({fmt(teacher - TEACHER_GAP)}) | {fmt(cosine)} | {'yes' if cosine >= teacher - TEACHER_GAP else '**no**'} |"
    )
    sts = release["encoder"].get("entailment", {}).get(STS_SPLIT)
    lines.append(
        f"| /embed (entailment encoder), `{STS_SPLIT}` cosine Spearman | ≥ {STS_FLOOR} | {fmt(sts)} | "
        f"{'yes' if sts >= STS_FLOOR else '**no**'} |"
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
) -> list[str]:
    """Markdown lines: the ablation table (steps as columns), the teachers, the distilled encoders, the vocabulary."""
    teachers = {name: teacher_figures(name, root) for name in ("minilm", "mpnet")}
    columns = ablation_columns(results, release, release_encoders)
    lines = [
        "## Models v3: one lever at a time",
        "",
        f'Produced by `{command}`. Each column adds one lever to the one before (a "instead of" column is a side '
        "branch: the next builds on the column before it); every column trains the three release recipes with "
        f"their own epochs (training/configs/*.yaml), seed {SEEDS[0]}, from the distilled encoder its step names "
        "(`STEPS` in training/ablation.py, `DISTILLED` in training/release.py); the release recipe "
        f"runs with seed {SEEDS[1]} too, and the gap between that column and the release (models/) is the seed "
        "spread. A task a lever does not touch repeats the "
        "column before. Figures: `pairscore evaluate` on the exported graphs (onnxruntime); the encoder rows score "
        "the plain cosine of two /embed vectors. Baselines: docs/results/*.json (a frozen teacher + the same head).",
        "",
        *table_lines(columns, baselines, teachers),
        "",
        f"The release keeps the distilled encoder **{ENCODER}** for every task"
        + "".join(f"; {task}: `{json.dumps(v)}`" for task, v in TASK_VARIANTS.items())
        + " (ENCODER and TASK_VARIANTS in training/release.py, where the reason for each is written).",
        "",
    ]
    return lines + target_lines(columns, baselines, teachers) + distillation_lines(root) + vocabulary_lines(vocabulary)
