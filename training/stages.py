"""Run one training stage in its own process and read what it hands over: the studies' one way to chain runs.

A stage is a recipe (training/configs/*.yaml) plus a variant: config values as data
(`{"model": {"hidden_size": 192}}`), written as a YAML fragment into the stage's folder and given to
LightningCLI after the recipe, so the folder records exactly what ran. The stage's own process keeps runs
apart (seeds, threads, memory); it hands over best.json (training.runs), never printed text. While it runs,
its progress (epoch, batches, Lightning's time left) is echoed every PROGRESS_EVERY seconds.
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

from training.runs import BEST_FILE, Best

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
Variant = dict[str, Any]
PROGRESS_EVERY = 30.0  # seconds between progress lines
# Lightning's progress bar: "Epoch 1:  45%|####| 120/260 [00:30<00:35, 4.0it/s ...]" (tqdm, \r-separated)
BAR = re.compile(r"Epoch (\d+):\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[([\d:]+)<([\d:?]+)")


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
        epochs = setting(merge(yaml.safe_load(recipe.read_text()), variant), "trainer.max_epochs")
        watcher = threading.Thread(target=_echo_progress, args=(log, name, process, epochs), daemon=True)
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


def _seconds(clock: str) -> float:
    """tqdm's '01:02:03' or '02:03' as seconds ('?' as 0)."""
    parts = [int(p) for p in clock.split(":") if p.isdigit()]
    return float(sum(p * 60**i for i, p in enumerate(reversed(parts))))


def _echo_progress(log: Path, name: str, process: subprocess.Popen, epochs: int | None) -> None:
    """Print the latest progress-bar state of a running stage every PROGRESS_EVERY seconds, with a rough time left."""
    last = ""
    while process.poll() is None:
        time.sleep(PROGRESS_EVERY)
        bars = BAR.findall(log.read_text(errors="replace")[-4000:])
        if not bars:
            continue
        epoch, done, total, elapsed, left = bars[-1]
        epoch = int(epoch) + 1
        line = f"{name}: epoch {epoch}{f'/{epochs}' if epochs else ''}, batch {done}/{total}"
        if epochs:
            per_epoch = _seconds(elapsed) + _seconds(left)
            line += f", about {(_seconds(left) + (epochs - epoch) * per_epoch) / 60:.0f} min left"
        if line != last:
            print(line, flush=True)
            last = line
