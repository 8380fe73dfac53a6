"""`pairscore` console command: one subcommand per job, each owning its own arguments.

Serving-side subcommands never import torch; training-side ones say which extra
to install when it is missing.
"""

from __future__ import annotations

import importlib
import sys

from pairscore import extras

COMMANDS = {
    # name: (module with main(argv) -> int, extra it needs, one-line help)
    "train": ("training.cli", "train", "train a model from a recipe (LightningCLI)"),
    "export": ("training.export", "train", "export a checkpoint to a model folder (ONNX)"),
    "evaluate": ("pairscore.jobs.evaluate", None, "metrics of a model folder on a data file (onnxruntime only)"),
    "score": ("pairscore.jobs.score", None, "score a JSONL/CSV/Parquet file with a model folder"),
    "serve": ("service.serve", None, "serve the models over HTTP (BentoML)"),
    "explain": ("pairscore.jobs.explain", None, "score one pair and show which tokens its vectors come from"),
}


def usage() -> str:
    lines = ["usage: pairscore COMMAND [ARGS]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, _, help_) in COMMANDS.items()]
    lines += ["", "`pairscore COMMAND --help` for a command's arguments."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"pairscore: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module_name, extra, _ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if extra and exc.name and exc.name.split(".")[0] in extras.EXTRAS[extra]:
            print(extras.needs(f"pairscore {name}", extra, exc.name), file=sys.stderr)
            return 2
        raise
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
