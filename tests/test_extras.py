"""Each install carries every package its code imports: the serving install (the base dependencies) for pairscore/
and service/, the `train` extra on top for the training library (training/, the studies aside), read from the
installed project's own metadata."""

from __future__ import annotations

import ast
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from helpers import ROOT

FIRST_PARTY = {"pairscore", "service", "training", "benchmarks"}
# Imported only where the code says the import is optional, each from the extra named here.
OPTIONAL = {
    "datasets": "train",
    "ray": "ray",
}  # pairscore/specs.py loads rows; pairscore/jobs/score_ray.py scores on Ray


def imported(folder: Path, skip: str | None = None) -> set[str]:
    """Top-level names of every module imported anywhere under folder (function-level imports included)."""
    names = set()
    for path in folder.rglob("*.py"):
        if skip and skip in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names - FIRST_PARTY - set(sys.stdlib_module_names) - {"__future__"}


def requirements(extra: str | None) -> set[str]:
    """Normalised distribution names the project requires in the base install (extra None) or an extra."""
    found = set()
    for line in metadata.requires("pairscore") or []:
        requirement = Requirement(line)
        in_extra = requirement.marker is not None and requirement.marker.evaluate({"extra": extra or ""})
        if (extra is None and requirement.marker is None) or (extra is not None and in_extra):
            found.add(metadata.Distribution.from_name(requirement.name).metadata["Name"].lower().replace("_", "-"))
    return found


def distributions(module: str) -> set[str]:
    return {d.lower().replace("_", "-") for d in metadata.packages_distributions().get(module, [])}


@pytest.mark.parametrize("folder, extra", [("pairscore", None), ("service", None), ("training", "train")])
def test_every_import_is_in_the_install_that_runs_it(folder, extra):
    allowed = requirements(None) | (requirements(extra) if extra else set())
    missing = {}
    for module in imported(ROOT / folder, skip="studies"):
        needed = allowed | (requirements(OPTIONAL[module]) if module in OPTIONAL else set())
        if not distributions(module) & needed:
            missing[module] = sorted(distributions(module))
    assert not missing, f"{folder}/ imports modules whose distribution is not in its install ({extra}): {missing}"
