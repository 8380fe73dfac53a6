"""Run one training stage in its own process and read what it hands over: the studies' one way to chain runs.

A stage is a recipe (training/configs/*.yaml) plus a variant: config values as data
(`{"model": {"hidden_size": 192}}`), written as a YAML fragment into the stage's folder and given to
LightningCLI after the recipe, so the folder records exactly what ran. The stage's own process keeps runs
apart (seeds, threads, memory); it hands over best.json (training.runs), never printed text. While it runs,
its progress (epoch, batches, time left), from the progress.json the run keeps beside its logs (training.progress),
is echoed every PROGRESS_EVERY seconds.
"""

from __future__ import annotations

import copy
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import yaml

from training.progress import PROGRESS_FILE, Progress
from training.runs import BEST_FILE, Best

CONFIGS = Path(__file__).resolve().parent / "configs"
Variant = dict[str, Any]
PROGRESS_EVERY = 30.0  # seconds between progress lines


class StageError(RuntimeError):
    """A stage that failed or handed nothing over; the message names its log."""


def slug(name: str) -> str:
    """A name as a folder or file name: lower-case runs of letters and digits joined by '-'."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def merge(*variants: Variant) -> Variant:
    """Config dicts merged key by key, the later winning (lists are replaced, as LightningCLI does)."""
    out: Variant = {}
    for variant in variants:
        for key, value in variant.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merge(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def setting(variant: Variant, path: str, default: Any = None) -> Any:
    """A value of a variant by its dotted config key ('model.hidden_size'), else `default`."""
    value: Any = variant
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return default
        value = value[key]
    return value


def run(command: list[str], recipe: Path, variant: Variant, folder: Path, name: str) -> Best:
    """`python -m COMMAND --config recipe --config folder/name.yaml` (the variant, with default_root_dir=folder);
    returns the best.json the run wrote. The log goes to folder/name.log."""
    folder.mkdir(parents=True, exist_ok=True)
    fragment = folder / f"{name}.yaml"
    fragment.write_text(yaml.safe_dump(merge(variant, {"trainer": {"default_root_dir": str(folder)}})))
    log = folder / f"{name}.log"
    command = [sys.executable, "-m", *command, "--config", str(recipe), "--config", str(fragment)]
    print(f"{name}: started ({log})", flush=True)
    started = time.time()
    with open(log, "w") as handle:
        process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)
        watcher = threading.Thread(target=_echo_progress, args=(folder, started, name, process), daemon=True)
        watcher.start()
        process.wait()
        watcher.join()
    handed = [p for p in folder.glob(f"*/version_*/{BEST_FILE}") if p.stat().st_mtime >= started]
    if process.returncode or len(handed) != 1:
        raise StageError(f"{name} failed (exit {process.returncode}, {len(handed)} {BEST_FILE} written): see {log}")
    best = Best.read(handed[0])
    print(f"{name}: done in {(time.time() - started) / 60:.1f} min, {best.monitor}={best.score:.4f}", flush=True)
    return best


def train(task: str, variant: Variant, folder: Path, name: str = "train") -> Best:
    """The task's release recipe (training/configs/TASK.yaml) with the variant on top."""
    return run(["pairscore.cli", "train"], CONFIGS / f"{task}.yaml", variant, folder, name)


def distill(variant: Variant, folder: Path, name: str = "distill") -> Best:
    """The distillation recipe (training/configs/distill.yaml) with the variant on top."""
    return run(["training.distill"], CONFIGS / "distill.yaml", variant, folder, name)


def handed_over(folder: Path) -> Best | None:
    """The newest best.json under a stage's folder (a stage run earlier), or None."""
    found = sorted(folder.glob(f"*/version_*/{BEST_FILE}"), key=lambda p: p.stat().st_mtime)
    return Best.read(found[-1]) if found else None


def progress_of(folder: Path, since: float) -> Progress | None:
    """The progress a run under a stage's folder wrote since `since` (a time.time()), or None before its first."""
    found = [p for p in folder.glob(f"*/version_*/{PROGRESS_FILE}") if p.stat().st_mtime >= since]
    return Progress.read(max(found, key=lambda p: p.stat().st_mtime)) if found else None


def progress_line(name: str, progress: Progress) -> str:
    """'NAME: epoch 2/5, batch 120/260, about 7 min left'."""
    epochs = f"/{progress.epochs}" if progress.epochs else ""
    line = f"{name}: epoch {progress.epoch}{epochs}, batch {progress.batch}/{progress.batches or '?'}"
    left = progress.seconds_left()
    return line if left is None else f"{line}, about {left / 60:.0f} min left"


def _echo_progress(folder: Path, started: float, name: str, process: subprocess.Popen) -> None:
    """Print a running stage's progress every PROGRESS_EVERY seconds, when it has changed."""
    last = ""
    while process.poll() is None:
        time.sleep(PROGRESS_EVERY)
        progress = progress_of(folder, started)
        line = progress_line(name, progress) if progress else ""
        if line and line != last:
            print(line, flush=True)
            last = line
