"""The layer rules of the house, over the import graph (every import statement, those inside functions too).

pairscore/ is the torch-free core under both halves: training/ and service/ stand on it and never on each other,
so a model folder is the only thing that passes between them. The CLI's subcommand table names its targets as
strings on purpose (it is the one place that reaches up); an import would pull the layers above into the core.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# package -> top-level modules it must never import
FORBIDDEN = {
    "pairscore": {"torch", "pytorch_lightning", "lightning", "lightning_fabric", "bentoml", "service", "training"}
    | {"benchmarks"},
    "service": {"training", "benchmarks", "torch", "pytorch_lightning", "lightning"},
    "training": {"service", "benchmarks"},
}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """(line, top-level module) for every absolute import in the file, wherever it stands."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")[0]) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module.split(".")[0]))
    return found


def violations(package: str) -> list[str]:
    forbidden = FORBIDDEN[package]
    return [
        f"{path.relative_to(REPO)}:{line} imports {module}"
        for path in sorted((REPO / package).rglob("*.py"))
        for line, module in imported_modules(path)
        if module in forbidden
    ]


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_rules(package: str) -> None:
    assert violations(package) == []


def test_the_rule_sees_imports_inside_functions(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from training.model import PairModule\n    import torch.nn\n")
    assert imported_modules(module) == [(2, "training"), (3, "torch")]


def test_studies_are_leaves() -> None:
    """A study is a script over the training library: none imports another study (what studies share lives in a
    library module under training/), so each can change or go without touching the others."""
    found = []
    for path in sorted((REPO / "training" / "studies").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [f"training.studies.{node.module or ''}" if node.level else node.module or ""]
                names = [f"{names[0]}.{alias.name}" for alias in node.names]
            else:
                continue
            found += [f"{path.relative_to(REPO)}:{node.lineno} imports {n}" for n in names if "training.studies" in n]
    assert found == []
