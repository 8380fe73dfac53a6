# The two set-up commands: `make serve` (serving install, no torch) and `make test`.
PYTHON ?= python3
SERVE_VENV ?= .venv-serve
DEV_VENV ?= .venv
PIP_FLAGS = -q -c constraints.txt

.PHONY: serve test lint bench doc-answers

$(SERVE_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_VENV)/bin/pip install $(PIP_FLAGS) -e .
	touch $@

$(DEV_VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(DEV_VENV)
	$(DEV_VENV)/bin/pip install $(PIP_FLAGS) -e '.[train,dev,baselines,ray,clients]'
	touch $@

serve: $(SERVE_VENV)/.installed
	$(SERVE_VENV)/bin/pairscore serve

lint: $(DEV_VENV)/.installed
	$(DEV_VENV)/bin/ruff check .
	$(DEV_VENV)/bin/ruff format --check .

# A narrowed run (PYTEST_ARGS, e.g. -m slow) that selects no test is an answer, not a failure: pytest's exit 5
# passes there, with a line saying so. A plain `make test` that collects nothing still fails.
test: $(DEV_VENV)/.installed
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(DEV_VENV)/bin/pytest $(PYTEST_ARGS)$(if $(PYTEST_ARGS), \
	  || { status=$$?; [ $$status -eq 5 ] && echo "make test: no test matches PYTEST_ARGS (pytest exit 5)" || exit $$status; })

# Rewrites the example answers in README.md and docs/ from a server on models/ (after the models change).
doc-answers: $(DEV_VENV)/.installed
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(DEV_VENV)/bin/pytest tests/docs --update-examples $(PYTEST_ARGS)

bench: $(DEV_VENV)/.installed
	$(DEV_VENV)/bin/pip install $(PIP_FLAGS) -e '.[bench]'
	HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 $(DEV_VENV)/bin/python -m benchmarks.run_all $(BENCH_ARGS)
