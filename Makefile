# The two set-up commands: `make serve` (serving install, no torch) and `make test`.
PYTHON ?= python3
SERVE_VENV ?= .venv-serve
DEV_VENV ?= .venv
PIP_FLAGS = -q -c constraints.txt

.PHONY: serve test lint bench

$(SERVE_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

$(DEV_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/pip install $(PIP_FLAGS) -e '.[train,dev,baselines,ray]'
	touch $@

serve: $(SERVE_VENV)/.installed
	$(SERVE_VENV)/bin/pairscore serve

lint: $(DEV_VENV)/.installed
	$(DEV_VENV)/bin/ruff check .
	$(DEV_VENV)/bin/ruff format --check .

test: $(DEV_VENV)/.installed
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(DEV_VENV)/bin/pytest $(PYTEST_ARGS)

bench: $(DEV_VENV)/.installed
	$(DEV_VENV)/bin/pip install $(PIP_FLAGS) -e '.[bench]'
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(DEV_VENV)/bin/python benchmarks/run_all.py $(BENCH_ARGS)
