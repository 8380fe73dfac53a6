"""The models-v2 ablation: one lever at a time, every task, every selection and reported split (docs/experiments.md).

Each step is the release recipes (training/configs/<task>.yaml) with the variant that
turn the later levers off, trained for the same short epochs, exported, and measured by
the serving code (the exporter's card metrics, `pairscore evaluate`'s numbers); the
/embed vectors' STS-B cosine and the fallback-token rates come with each. "v1" is the
shipped v1 models, read from their cards at V1_REVISION. Results are cached per step
and task under runs/experiments/ablation/.
"""

from __future__ import annotations

import csv
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

from pairscore import artifact, tasks
from pairscore.oov import oov_rates
from pairscore.specs import load_pairs
from pairscore.tasks import fmt
from service.evaluate import evaluate
from service.runtime import PairModel, encoder_inputs, open_session
from training.embeddings import load_glove
from training.evaluators import STSEvaluator
from training.export import export, export_graphs, split_oov, store_table_fp16
from training.model import PairModule
from training.studies import release, stages
from training.studies.stages import Variant
from training.texts import RELEASE, texts_of
from training.tokenizer import build_tokenizer

V1_REVISION = "3069653"  # the last commit with the v1 models in models/
ROWS = [  # (task, split, metric): the six selection rows, MRPC accuracy beside its F1
    ("entailment", "snli/validation[-1000:]", "accuracy"),
    ("entailment", "sick/validation", "accuracy"),
    ("paraphrase", "twitter_url/train[-2000:]", "f1"),
    ("paraphrase", "mrpc/train[-400:]", "f1"),
    ("paraphrase", "mrpc/train[-400:]", "accuracy"),
    ("ranking", "wiki_qa/validation", "map"),
    ("ranking", "trec_qa/validation", "map"),
]
OPEN_VOCABULARY: Variant = {
    "data": {"tokenizer": "minilm"},
    "model": {"embeddings": "minilm_frozen", "embedding_dim": 128, "hidden_size": 128},
}
WIKIQA_ONLY: Variant = {"data": {"train": ["wiki_qa/train"], "val": ["wiki_qa/validation"]}}  # before the TrecQA step
# The distilled encoders the steps start from: the release's, and the rest of the size sweep (no task step).
DISTILLED: dict[str, Variant] = {
    **release.DISTILLED,
    "8 epochs, hidden 192": {"trainer": {"max_epochs": 8}, "model": {"hidden_size": 192}},
    "8 epochs, hidden 256": {"trainer": {"max_epochs": 8}, "model": {"hidden_size": 256}},
    "2 epochs, input 64": {"trainer": {"max_epochs": 2}, "model": {"hidden_size": 128, "embedding_dim": 64}},
    "2 epochs, input 256": {"trainer": {"max_epochs": 2}, "model": {"hidden_size": 128, "embedding_dim": 256}},
}
FEATURES = {"data": {"features": True}}
NO_FEATURES = {"data": {"features": False}}


@dataclass(frozen=True)
class Step:
    """One column: a variant of the release recipes, for the tasks the lever changes (the others keep the column
    before), starting from the `distilled` encoder (a DISTILLED name) when one is named."""

    variant: Variant
    distilled: str | None = None
    tasks: tuple[str, ...] = tasks.NAMES
    ranking: Variant = field(default_factory=dict)  # more config for the ranking recipe
    side_branch: bool = False  # the next lever builds on the column before this one


STEPS: dict[str, Step] = {
    "+ open vocabulary": Step(stages.merge(OPEN_VOCABULARY, NO_FEATURES), ranking=WIKIQA_ONLY),
    "+ distillation": Step(stages.merge(OPEN_VOCABULARY, NO_FEATURES), "2 epochs", ranking=WIKIQA_ONLY),
    "+ exact-match features": Step(stages.merge(OPEN_VOCABULARY, FEATURES), "2 epochs", ranking=WIKIQA_ONLY),
    "shared encoder (distilled, frozen)": Step(
        stages.merge(OPEN_VOCABULARY, FEATURES, {"model": {"freeze_encoder": True}}),
        "2 epochs",
        ranking=WIKIQA_ONLY,
        side_branch=True,
    ),
    "+ TrecQA training data": Step(stages.merge(OPEN_VOCABULARY, FEATURES), "2 epochs", tasks=("ranking",)),
    "+ longer distillation": Step(stages.merge(OPEN_VOCABULARY, FEATURES), "12 epochs"),
    "+ hidden 192": Step(
        stages.merge(OPEN_VOCABULARY, FEATURES, {"model": {"hidden_size": 192}}), "8 epochs, hidden 192"
    ),
}
VOCABULARY_SPLITS = {
    "entailment": ["snli/validation[-1000:]", "sick/validation"],
    "paraphrase": ["twitter_url/train[-2000:]", "mrpc/train[-400:]"],
    "ranking": ["wiki_qa/validation", "trec_qa/validation"],
}


def v1_results() -> dict[str, dict[str, dict[str, float]]]:
    """task -> split -> metrics of the shipped v1 models (served encoder), from their cards in git."""
    results = {}
    for task in tasks.NAMES:
        card = json.loads(
            subprocess.run(
                ["git", "show", f"{V1_REVISION}:models/{task}/card.json"], capture_output=True, text=True, check=True
            ).stdout
        )
        served = "metrics_int8" if card["int8"]["served"] else "metrics"
        results[task] = {**card[served], **card["reported"]}
    return results


def distilled_encoder(name: str, root: Path) -> str:
    """The best checkpoint of one DISTILLED variant, distilled once and handed over in root/distill/<name>/."""
    folder = root / "distill" / stages.slug(name)
    best = stages.handed_over(folder) or stages.distill(DISTILLED[name], folder, stages.slug(name))
    return best.checkpoint


def step_variant(step: Step, task: str, epochs: int, root: Path) -> Variant:
    """The config one step trains one task with."""
    variant = stages.merge(step.variant, step.ranking if task == "ranking" else {}, {"trainer": {"max_epochs": epochs}})
    if step.distilled:
        variant = stages.merge(variant, {"model": {"init_encoder": distilled_encoder(step.distilled, root)}})
    return variant


def run_step(name: str, task: str, step: Step, epochs: int, root: Path, cached_only: bool = False) -> dict | None:
    """Train, export and measure one step for one task; cached in root/<step>/<task>/result.json. None if it is not
    cached and cached_only."""
    folder = root / stages.slug(name) / task
    cached = folder / "result.json"
    if cached.is_file():
        return json.loads(cached.read_text())
    if cached_only:
        return None
    variant = step_variant(step, task, epochs, root)
    best = stages.train(task, variant, folder, f"{stages.slug(name)}-{task}")
    card = export(Path(best.checkpoint), folder / "model", tune_threshold=task == "paraphrase", force=True)
    model = PairModel(folder / "model")
    splits, oov = dict(card["metrics"]), dict(card["oov"]["splits"])
    for spec in tasks.TASKS[task].reported:
        if spec not in splits:
            pairs = load_pairs(spec, task)
            splits[spec] = evaluate(model, pairs, card["threshold"])
            oov[spec] = split_oov(model, pairs)
    result = {
        "step": name,
        "task": task,
        "variant": variant,
        "epochs": epochs,
        "metrics": splits,
        "oov": oov,
        "embed_sts": STSEvaluator()(model.encode),
        "parameters": card["architecture"]["parameters"],
        "train_seconds": card["training"]["seconds"],
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
    v1 = {
        "entailment": ["snli_cad/train", "sick/train", "snli/validation[:-1000]"],
        "paraphrase": ["twitter_url/train[:-2000]"],
        "ranking": ["wiki_qa/train"],
    }
    v1_min_freq = {"entailment": 1, "paraphrase": 2, "ranking": 1}
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
            min_freq=v1_min_freq[task],
            max_size=30000 if task == "paraphrase" else None,
        )
        for task, specs in v1.items()
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


def run(root: Path, epochs: int, cached_only: bool = False) -> dict[str, dict[str, dict[str, Any] | None]]:
    """step -> task -> result (None: not measured); a task a step does not change keeps the column before."""
    results: dict[str, dict[str, dict[str, Any] | None]] = {}
    before: dict[str, dict[str, Any] | None] = {}
    for name, step in STEPS.items():
        results[name] = {
            task: run_step(name, task, step, epochs, root, cached_only) if task in step.tasks else before.get(task)
            for task in tasks.NAMES
        }
        if not step.side_branch:
            before = results[name]
    return results


Shape = tuple[int, int]  # (hidden size, input dimension)


def encode_speeds(shapes: list[Shape], root: Path, rounds: int = 3) -> dict[str, float]:
    """Texts/s of an encoder.onnx per shape, "HIDDENxDIM" (random weights: speed does not depend on them), onnxruntime
    on 1 thread, batches of 64 WikiQA answers, rounds interleaved, best of each; cached in root/distill/speed.json."""
    cached = root / "distill" / "speed.json"
    keys = [f"{hidden}x{dim}" for hidden, dim in shapes]
    known = json.loads(cached.read_text()) if cached.is_file() else {}
    if all(k in known for k in keys):
        return known
    texts = list(dict.fromkeys(p.text_b for p in load_pairs("wiki_qa/validation", "ranking")))[:1024]
    tokenizer = build_tokenizer([], kind="minilm")
    ids = [e.ids for e in tokenizer.encode_batch(texts)]
    sessions = {}
    with tempfile.TemporaryDirectory() as tmp:
        for key, (hidden, dim) in zip(keys, shapes):
            folder = Path(tmp) / key
            folder.mkdir()
            model = PairModule(
                "ranking", vocab_size=tokenizer.get_vocab_size(), embedding_dim=dim, hidden_size=hidden
            ).eval()
            export_graphs(model, folder)
            store_table_fp16(folder / "encoder.onnx")
            sessions[key] = open_session(folder / "encoder.onnx", 1, artifact.ENCODER_INPUTS, artifact.ENCODER_OUTPUT)
    best = dict.fromkeys(keys, float("inf"))
    for _ in range(rounds):
        for key, session in sessions.items():
            start = time.perf_counter()
            for i in range(0, len(ids), 64):
                session.run([artifact.ENCODER_OUTPUT], encoder_inputs(ids[i : i + 64]))
            best[key] = min(best[key], time.perf_counter() - start)
    speeds = {key: len(ids) / t for key, t in best.items()}
    cached.write_text(json.dumps(speeds, indent=2))
    return speeds


def distillation_lines(root: Path) -> list[str]:
    """The distilled encoders on their own (each DISTILLED variant's CSV log).

    The size sweep at the distillation stage.
    """
    rows = []
    for name, variant in DISTILLED.items():
        best = stages.handed_over(root / "distill" / stages.slug(name))
        log = Path(best.checkpoint).parent.parent / "metrics.csv" if best else None
        measured = [r for r in csv.DictReader(log.open()) if r.get("val_cosine")] if log and log.is_file() else []
        if measured:
            shape = (
                stages.setting(variant, "model.hidden_size", 128),
                stages.setting(variant, "model.embedding_dim", 128),
            )
            after_two = [float(r["val_cosine"]) for r in measured if int(r["epoch"]) < 2]
            best = max(measured, key=lambda r: float(r["val_cosine"]))
            rows.append((name, shape, max(after_two), best))
    if not rows:
        return []
    speeds = encode_speeds(sorted({shape for _, shape, _, _ in rows} | {(128, 128)}), root)
    vocab = build_tokenizer([], kind="minilm").get_vocab_size()
    lines = [
        "### The distilled encoders alone, and the encoder's size",
        "",
        "`python -m training.distill --config training/configs/distill.yaml` with each variant (`DISTILLED` in "
        "training/studies/ablation.py), 1 layer. Cosine to the teacher on 2,000 held-out training texts; STS-B "
        "(`stsb/validation`) cosine Spearman of the pooled vector (what /embed serves) and through the projection "
        "to the teacher's space, at the best checkpoint. Token table: MiniLM's WordPiece rows × input dimension, "
        "float16. Encode speed: encoder.onnx on 1 thread, batches of 64 WikiQA answers, relative to hidden 128 × "
        "input 128 in the same "
        "run (`encode_speeds`, cached in runs/experiments/ablation/distill/speed.json).",
        "",
        "| distilled encoder | hidden | input dim | token table (MB) | cosine after 2 epochs | "
        "best cosine (epoch) | STS-B cosine | STS-B projected | encode speed vs 128 × 128 |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, (hidden, dim), after_two, best in rows:
        lines.append(
            f"| {name} | {hidden} | {dim} | {vocab * dim * 2 / 1e6:.1f} | {after_two:.4f} | "
            f"{float(best['val_cosine']):.4f} ({int(best['epoch']) + 1}) | {float(best['val_sts_spearman']):.4f} | "
            f"{float(best['val_sts_spearman_projected']):.4f} | {speeds[f'{hidden}x{dim}'] / speeds['128x128']:.2f}× |"
        )
    return lines + [""]


def ablation_columns(results: dict, release: dict[str, dict[str, Any]], epochs: int) -> dict[str, dict[str, Any]]:
    """Column name -> {"metrics": task -> split -> metrics, "sts": task -> Spearman, "epochs"}: v1, steps, release."""
    columns: dict[str, dict[str, Any]] = {"v1 (shipped)": {"metrics": v1_results(), "epochs": "release"}}
    for name, by_task in results.items():
        columns[name] = {
            "metrics": {t: (r or {}).get("metrics", {}) for t, r in by_task.items()},
            "sts": {t: (r or {}).get("embed_sts") for t, r in by_task.items()},
            "epochs": epochs,
        }
    if release:
        columns["v2 release (models/)"] = {
            "metrics": {t: {**c["metrics"], **c.get("reported", {})} for t, c in release.items()},
            "sts": {t: (c.get("embed_sts") or {}).get("spearman") for t, c in release.items()},
            "epochs": "release",
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


def render(
    results: dict[str, dict[str, dict[str, Any] | None]],
    release: dict[str, dict[str, Any]],
    baselines: dict[str, dict[tuple[str, str], dict[str, float]]],
    vocabulary: dict[str, Any],
    epochs: int,
    command: str,
    root: Path,
) -> list[str]:
    """Markdown lines: the ablation table (steps as columns), the distilled encoders and the vocabulary table."""
    columns = ablation_columns(results, release, epochs)
    names = list(columns) + list(baselines)
    lines = [
        "## Models v2: one lever at a time",
        "",
        f'Produced by `{command}`. Each column adds one lever to the one before ("shared encoder" freezes the '
        f"distilled encoder, so one encoder serves every task). The lever columns are trained for {epochs} epoch(s) "
        "per task (short runs: read them as the direction of each lever); v1 and the v2 release are the shipped "
        "models with their release recipes. Every v2 column trains paraphrase on Twitter URL + MRPC (minus the "
        "selection lines) and selects it on both. Figures: `pairscore evaluate` on the exported graphs "
        "(onnxruntime). Baselines: docs/results/*.json.",
        "",
        "| task | split | metric | " + " | ".join(names) + " |",
        "|---" * (3 + len(names)) + "|",
    ]
    for task, spec, metric in ROWS:
        cells = [fmt(col["metrics"].get(task, {}).get(spec, {}).get(metric)) for col in columns.values()]
        cells += [fmt(b.get((task, spec), {}).get(metric)) for b in baselines.values()]
        lines.append(f"| {task} | `{spec}` | {metric} | " + " | ".join(cells) + " |")
    for task in tasks.NAMES:
        cells = [fmt((col.get("sts") or {}).get(task)) for col in columns.values()] + ["" for _ in baselines]
        lines.append(f"| {task} encoder | `stsb/validation` | cosine Spearman | " + " | ".join(cells) + " |")
    lines += [
        "",
        "A dash: not measured (v1's STS-B cosine is not in its cards). Until the TrecQA-data column, ranking "
        "trains and selects on WikiQA only; from it on, on WikiQA + TrecQA (training/configs/ranking.yaml); a column "
        "whose lever does not touch a task repeats the column before for it. The distilled encoder each column "
        "starts from is named in its step (`STEPS` and `DISTILLED` in training/studies/ablation.py): 2 epochs of "
        "distillation up to the shared-encoder and TrecQA columns, then longer, then a wider encoder. The v2 "
        "release differs from the lever columns in its recipes (training/configs/*.yaml): more epochs, pair features "
        "for paraphrase and ranking only, and per task the distilled encoder that won there (`DISTILL` in "
        "training/studies/release.py: 12 epochs for paraphrase, 2 for entailment and ranking, all hidden 128).",
        "",
    ]
    return lines + distillation_lines(root) + vocabulary_lines(vocabulary)
