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
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pairscore serve", description=__doc__)
    parser.add_argument(
        "--host", default=os.environ.get("BENTOML_HOST", "0.0.0.0"), help="address to bind (default 0.0.0.0)"
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("BENTOML_PORT", 3000)), help="port (default 3000)"
    )
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
