"""Training speed of each release recipe (training/configs/*.yaml): examples/s over a fixed number of steps.

Each recipe runs in its own process through the real `pairscore train` classes (training.cli.PairCLI:
PairModule + PairDataModule, the recipe's data, model and batch size) with the recipe's trainer
settings except: --steps optimizer steps, no validation, no checkpoints, no logger, and
torch.set_num_threads(--threads). A callback times the steps; the first --warmup steps are not
counted. Examples/s counts training pairs (both texts of a pair go through the encoder). Data loading,
tokenizer building and GloVe lookup happen before the first step and are reported as set-up time.

    python -m benchmarks.train_speed [--steps 100] [--threads 2] [--configs training/configs/*.yaml]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import harness
from benchmarks.harness import REPO, md_table
from pairscore import tasks


def short_recipe(config: Path, steps: int, data_dir: str | None) -> dict[str, Any]:
    """The recipe with its trainer cut to `steps` optimizer steps: no validation, checkpoints, logger or callbacks."""
    import yaml

    recipe = yaml.safe_load(config.read_text())
    trainer = dict(recipe.get("trainer") or {})
    trainer.pop("callbacks", None)
    trainer.update(
        {
            "max_steps": steps,
            "max_epochs": -1,
            "limit_val_batches": 0,
            "num_sanity_val_steps": 0,
            "enable_checkpointing": False,
            "logger": False,
            "enable_progress_bar": False,
            "enable_model_summary": False,
        }
    )
    recipe["trainer"] = trainer
    if data_dir:
        recipe.setdefault("data", {})["data_dir"] = data_dir
    return recipe


def step_timer() -> Any:
    """A Lightning callback that records when each training step ends, its pairs and its tokens."""
    from pytorch_lightning import Callback  # here: the parent process, which only starts recipes, needs no torch

    class StepTimer(Callback):
        def __init__(self) -> None:
            self.ends: list[float] = []
            self.sizes: list[int] = []
            self.tokens: list[int] = []

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            self.ends.append(time.perf_counter())
            self.sizes.append(int(len(batch["label"])))
            self.tokens.append(int(batch["a_len"].sum() + batch["b_len"].sum()))

    return StepTimer()


def timed_fit(config: Path, recipe: dict[str, Any]) -> tuple[Any, Any, dict[str, float]]:
    """Build the recipe's PairCLI and fit it: (cli, step timer, {set-up, fit} seconds)."""
    import yaml

    from training.cli import PairCLI
    from training.data import PairDataModule
    from training.model import PairModule

    with tempfile.TemporaryDirectory(prefix="pairscore-train-speed-") as tmp:
        recipe["trainer"]["default_root_dir"] = tmp
        cfg = Path(tmp) / config.name
        cfg.write_text(yaml.safe_dump(recipe))
        t0 = time.perf_counter()
        cli = PairCLI(
            PairModule,
            PairDataModule,
            args=["--config", str(cfg)],
            run=False,
            seed_everything_default=42,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"prog": "train_speed"},
        )
        cli.datamodule.setup("fit")
        timer = step_timer()
        cli.trainer.callbacks.append(timer)
        t_fit = time.perf_counter()
        cli.trainer.fit(cli.model, cli.datamodule)
        t_done = time.perf_counter()
    return cli, timer, {"setup_s": t_fit - t0, "fit_s": t_done - t_fit}


def one(config: Path, steps: int, warmup: int, threads: int, data_dir: str | None) -> dict[str, Any]:
    """Train one recipe for `steps` steps in this process and time it."""
    import torch

    torch.set_num_threads(threads)
    cli, timer, spent = timed_fit(config, short_recipe(config, steps, data_dir))
    w = min(warmup, len(timer.ends) - 2)
    counted = timer.sizes[w + 1 :]
    seconds = timer.ends[-1] - timer.ends[w]
    params = sum(p.numel() for p in cli.model.parameters())
    h = cli.model.hparams
    return {
        "config": str(config.relative_to(REPO) if config.is_relative_to(REPO) else config),
        "task": h.task,
        "model": (
            f"{h.cell} {h.layers}x{h.hidden_size}{' bi' if h.bidirectional else ''}, "
            f"{h.embeddings} {h.embedding_dim}d, {h.pooling} pooling"
        ),
        "parameters": params,
        "batch_size": cli.datamodule.hparams.batch_size,
        "train_rows": len(cli.datamodule.train_set),
        "steps": len(timer.ends),
        "timed_steps": len(counted),
        "examples_per_s": sum(counted) / seconds if seconds > 0 else float("nan"),
        "tokens_per_s": sum(timer.tokens[w + 1 :]) / seconds if seconds > 0 else float("nan"),
        "ms_per_step": 1000 * seconds / max(1, len(counted)),
        "setup_s": spent["setup_s"],
        "fit_s": spent["fit_s"],
        "epoch_estimate_s": len(cli.datamodule.train_set) / (sum(counted) / seconds) if seconds > 0 else float("nan"),
        "threads": threads,
    }


def markdown(r: dict[str, Any]) -> str:
    rows = [
        [
            x["config"],
            x["model"],
            f"{x['parameters'] / 1e6:.2f} M",
            x["batch_size"],
            x["timed_steps"],
            x["examples_per_s"],
            x["tokens_per_s"],
            x["ms_per_step"],
            x["setup_s"],
            x["epoch_estimate_s"],
        ]
        if "error" not in x
        else [x["config"], x["error"], "", "", "", "", "", "", "", ""]
        for x in r["recipes"]
    ]
    return (
        f"### Training speed ({r['threads']} threads, {r['steps']} steps, first {r['warmup']} not timed)\n\n"
        + md_table(
            [
                "recipe",
                "model",
                "params",
                "batch",
                "timed steps",
                "examples/s",
                "tokens/s",
                "ms/step",
                "set-up s",
                "s/epoch (est.)",
            ],
            rows,
        )
    )


def recipe(config: Path, args: argparse.Namespace) -> dict[str, Any]:
    """One recipe in a process of its own (Lightning and torch state do not leak from one to the next)."""
    cmd = [sys.executable, "-m", "benchmarks.train_speed", "--one", str(config), "--steps", str(args.steps)]
    cmd += ["--warmup", str(args.warmup), "--threads", str(args.threads)]
    cmd += ["--data-dir", args.data_dir] if args.data_dir else []
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "PYTHONWARNINGS": "ignore"}
    shown = harness.relative(str(config))
    try:
        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=args.timeout)
    except subprocess.TimeoutExpired:
        return {"config": shown, "error": f"timed out after {args.timeout:.0f} s"}
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if line is None:
        return {"config": shown, "error": f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}"}
    return json.loads(line.removeprefix("RESULT "))


def main(argv: list[str] | None = None) -> int:
    p = harness.parser(__doc__, "train_speed", models=False)
    recipes = [REPO / "training" / "configs" / f"{task}.yaml" for task in tasks.NAMES]  # distill.yaml is no recipe
    p.add_argument("--configs", nargs="+", type=Path, default=recipes)
    p.add_argument("--steps", type=int, default=100, help="optimizer steps per recipe (default 100)")
    p.add_argument("--warmup", type=int, default=10, help="first steps not timed (default 10)")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--timeout", type=float, default=600, help="seconds per recipe before it is stopped")
    p.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # internal: run one recipe, print JSON
    args = harness.parse(p, argv, steps=12, warmup=2)
    if args.one:
        print("RESULT " + json.dumps(one(args.one.resolve(), args.steps, args.warmup, args.threads, args.data_dir)))
        return 0
    settings = {"steps": args.steps, "warmup": args.warmup, "threads": args.threads}
    with harness.measuring(args, **settings) as result:
        result["recipes"] = []
        for config in args.configs:
            result["recipes"].append(recipe(config, args))
            print(json.dumps(result["recipes"][-1]), flush=True)
    return harness.publish(result, args.out, markdown)


if __name__ == "__main__":
    raise SystemExit(main())
