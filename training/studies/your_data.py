"""Leave one source out: what fine-tuning and distillation on a user's own data buy (docs/your-data.md).

    python -m training.studies.your_data [--tasks entailment paraphrase ranking] [--runs runs/your-data]

For each task one source plays the user's data (SICK for entailment, MRPC for paraphrase, TrecQA for ranking):
its training and selection splits are written out as a user's CSV files (their own column names, string labels)
and never reach the base model, not even its distillation texts. Then, on that source's selection split:
- base: the release recipe without the source, from an encoder distilled without its texts;
- + fine-tuning: the base model folder (`--model.init_from`) trained on the source's training file;
- + distillation, then fine-tuning: the base encoder distilled further on the source's training texts (no
  labels), then fine-tuned from the base folder with that encoder;
- from nothing: the recipe on the source's training file alone (no distillation; the input vectors are still
  MiniLM's, by PCA, frozen);
- the shipped model, from its card (trained on every source).
Every stage runs as `pairscore train` / `python -m training.distill` (training.stages) and is measured
by the serving code; its wall-clock time is kept. Results are cached per step under --runs.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pairscore import machine, tasks
from pairscore.card import read
from pairscore.jobs.evaluate import evaluate, read_pairs
from pairscore.runtime.model import PairModel
from pairscore.schema import parse_columns
from pairscore.specs import load_pairs, resolve_data_dir
from pairscore.tasks import fmt
from training import stages
from training.export import export
from training.stages import Variant
from training.texts import TRAINING_SPECS

DOC = Path("docs/your-data.md")
MARKERS = ("<!-- your-data:start -->", "<!-- your-data:end -->")
COLUMNS = "text_a=first,text_b=second,label=verdict,group=topic"  # the user's own names
DISTILL_EPOCHS = 4  # on the source's texts: a few thousand texts, so more passes than over the release's 90,000


@dataclass(frozen=True)
class HeldOut:
    """A source playing the user's data, and the release recipe without it."""

    task: str
    train: str  # the source's training split
    select: str  # its selection split
    base: Variant  # data settings of the recipe without the source
    texts: str  # the source's spec among the release's distillation texts


HELD_OUT = {
    "entailment": HeldOut(
        "entailment",
        "sick/train",
        "sick/validation",
        {"data": {"train": ["snli_cad/train", "snli/validation[:-2000]"], "val": ["snli/validation[-1000:]"]}},
        "sick/train",
    ),
    "paraphrase": HeldOut(
        "paraphrase",
        "mrpc/train[:-600]",
        "mrpc/train[-400:]",
        {
            "data": {
                "train": ["twitter_url/train[:-3000]"],
                "val": ["twitter_url/train[-2000:]"],
                "calibration": ["twitter_url/train[-3000:-2000]"],
            }
        },
        "mrpc/train[:-400]",
    ),
    "ranking": HeldOut(
        "ranking",
        "trec_qa/train",
        "trec_qa/validation",
        {"data": {"train": ["wiki_qa/train"], "val": ["wiki_qa/validation"]}},
        "trec_qa/train",
    ),
}
ROWS = (
    "base (without the source)",
    "+ fine-tuning on its training file",
    "+ distillation on its texts, then fine-tuning",
    "trained on the source alone, from nothing",
    "the shipped model (every source)",
)


def write_user_csv(spec: str, task: str, out: Path) -> Path:
    """A shared split as a user's CSV: their column names (COLUMNS), label names or yes/no instead of ids."""
    if out.is_file():
        return out
    names = tasks.get(task).labels
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["first", "second", "verdict", "topic"])
        for pair in load_pairs(spec, task):
            label = ("yes" if pair.label else "no") if len(names) == 2 else names[pair.label]  # as schema reads them
            writer.writerow([pair.text_a, pair.text_b, label, pair.group or ""])
    return out


def measured(folder: Path, task: str, select: Path) -> dict[str, Any]:
    model = PairModel(folder)
    return evaluate(model, read_pairs(str(select), task, columns=parse_columns(COLUMNS)), model.threshold)


class Study:
    """One held-out source: its steps, each cached in runs/<task>/<step>.json with its wall-clock seconds."""

    def __init__(self, held: HeldOut, root: Path):
        self.held, self.root = held, root / held.task
        self.train_csv = write_user_csv(held.train, held.task, self.root / "user" / "train.csv")
        self.select_csv = write_user_csv(held.select, held.task, self.root / "user" / "select.csv")
        self.files = {"train": [str(self.train_csv)], "val": [str(self.select_csv)], "columns": COLUMNS}

    def step(self, name: str, run) -> dict[str, Any]:
        cached = self.root / f"{stages.slug(name)}.json"
        if cached.is_file():
            return json.loads(cached.read_text())
        started = time.perf_counter()
        folder = run()
        result = {"step": name, "seconds": time.perf_counter() - started, "folder": str(folder)}
        result["metrics"] = measured(folder, self.held.task, self.select_csv)
        cached.write_text(json.dumps(result, indent=2))
        return result

    def train(self, name: str, variant: Variant) -> Path:
        """Train the task recipe with the variant and export it; the model folder."""
        best = stages.train(self.held.task, variant, self.root / name, f"{self.held.task}-{name}")
        out = self.root / name / "model"
        export(Path(best.checkpoint), out, tune_threshold=tasks.get(self.held.task).thresholded, force=True)
        return out

    def base(self) -> Path:
        texts = [spec for spec in TRAINING_SPECS if spec != self.held.texts]
        distilled = stages.distill({"data": {"texts": texts}}, self.root / "base-distill", "distill")
        return self.train("base", stages.merge(self.held.base, {"model": {"init_encoder": distilled.checkpoint}}))

    def fine_tuned(self, base: Path) -> Path:
        return self.train("fine-tuned", {"data": self.files, "model": {"init_from": str(base)}})

    def distilled_then_fine_tuned(self, base: Path) -> Path:
        texts = {"texts": [f"{self.train_csv}#first,second"]}
        trainer = {"max_epochs": DISTILL_EPOCHS}
        variant = {"data": texts, "model": {"init_from": str(base)}, "trainer": trainer}
        distilled = stages.distill(variant, self.root / "source-distill", "distill")
        model = {"init_from": str(base), "init_encoder": distilled.checkpoint}
        return self.train("distilled-fine-tuned", {"data": self.files, "model": model})

    def run(self, models: Path) -> dict[str, Any]:
        base = self.step(ROWS[0], self.base)
        base_folder = Path(base["folder"])
        results = {
            ROWS[0]: base,
            ROWS[1]: self.step(ROWS[1], lambda: self.fine_tuned(base_folder)),
            ROWS[2]: self.step(ROWS[2], lambda: self.distilled_then_fine_tuned(base_folder)),
            ROWS[3]: self.step(ROWS[3], lambda: self.train("from-nothing", {"data": self.files})),
        }
        card = read(models / self.held.task)
        shipped = {**card.metrics, **(card.reported or {})}.get(self.held.select)
        results[ROWS[4]] = {
            "step": ROWS[4],
            "metrics": shipped,
            "seconds": None,
            "folder": str(models / self.held.task),
        }
        return results


def render(results: dict[str, dict[str, Any]], command: str) -> str:
    lines = [
        f"Produced by `{command}` on {machine.describe()} (2 cores, each stage in its own process). The held-out "
        "source's selection split, measured by the serving code (`pairscore evaluate` numbers); the time is each "
        "step's wall clock, stages included (the base's distillation and training; a fine-tune's training; "
        "distilling on the source's texts and then fine-tuning), the exports' measurement aside. Distillation runs "
        "training/configs/distill.yaml as it is (the MiniLM teacher, the vector loss), the fast setting a user "
        "starts with; the shipped models' figures come from the release's mpnet-distilled encoder.",
        "",
        "| task (held-out source) | model | metric | value | wall clock |",
        "|---|---|---|---|---|",
    ]
    for task, rows in results.items():
        held, metric = HELD_OUT[task], tasks.TASKS[task].metric
        for name, row in rows.items():
            value = (row["metrics"] or {}).get(metric)
            seconds = row["seconds"]
            clock = "–" if seconds is None else f"{seconds / 60:.1f} min"
            lines.append(f"| {task} (`{held.select}`) | {name} | {metric} | {fmt(value)} | {clock} |")
    return "\n".join(lines)


def write_doc(section: str, doc: Path = DOC) -> None:
    text = doc.read_text()
    start, end = text.index(MARKERS[0]) + len(MARKERS[0]), text.index(MARKERS[1])
    doc.write_text(text[:start] + "\n" + section + "\n" + text[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(HELD_OUT), choices=list(HELD_OUT))
    parser.add_argument("--runs", type=Path, default=Path("runs/your-data"))
    parser.add_argument("--models", type=Path, default=Path("models"), help="the shipped models (their cards)")
    parser.add_argument("--doc", type=Path, default=DOC)
    args = parser.parse_args(argv)
    print(f"shared data: {resolve_data_dir()}", flush=True)
    results = {task: Study(HELD_OUT[task], args.runs).run(args.models) for task in args.tasks}
    section = render(results, " ".join(["python -m training.studies.your_data", *(argv or sys.argv[1:])]))
    write_doc(section, args.doc)
    print(section)
    return 0


if __name__ == "__main__":
    sys.exit(main())
