"""`pairscore serve`: start the HTTP service, exactly as `bentoml serve` in the repo root does."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SERVICE = "service.app:PairScore"


def command(args: argparse.Namespace) -> list[str]:
    """The `bentoml serve` command line for these arguments."""
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        SERVICE,
        "--working-dir",
        str(REPO),
        *(["--host", args.host] if args.host else []),
        *(["--port", str(args.port)] if args.port else []),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairscore serve", description=__doc__)
    parser.add_argument("--host", help="address to bind (default: BentoML's, $BENTOML_HOST or 0.0.0.0)")
    parser.add_argument("--port", type=int, help="port (default: BentoML's, $BENTOML_PORT or 3000)")
    parser.add_argument(
        "--models",
        type=Path,
        help="folder with entailment/, paraphrase/, ranking/ (default: PAIRSCORE_MODEL_DIR or models/)",
    )
    args = parser.parse_args(argv)
    if args.models is not None:
        os.environ["PAIRSCORE_MODEL_DIR"] = str(args.models.resolve())
    argv_serve = command(args)
    os.execv(argv_serve[0], argv_serve)  # signals reach bentoml directly; never returns
    return 0
