"""The README says how `pairscore` gets on PATH after each set-up command: the environments it activates are the
ones the Makefile creates, and the command is the project's console script there."""

from __future__ import annotations

import re

from helpers import ROOT


def test_the_readme_activates_the_environments_the_makefile_creates():
    make = (ROOT / "Makefile").read_text()
    readme = (ROOT / "README.md").read_text()
    serve, dev = (re.search(rf"^{name} \?= (\S+)$", make, re.M)[1] for name in ("SERVE_VENV", "DEV_VENV"))
    assert "make serve" in readme and f"source {serve}/bin/activate" in readme and f"{serve}/bin/pairscore" in readme
    assert "make test" in readme and f"source {dev}/bin/activate" in readme
    assert "$(SERVE_VENV)/bin/pairscore serve" in make  # `make serve` runs the command the README points to
    assert '\n[project.scripts]\npairscore = "pairscore.cli:main"\n' in (ROOT / "pyproject.toml").read_text()
