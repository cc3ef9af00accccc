# rnnmf — `make help` lists the targets. Every target that needs the environment builds it first,
# so on a fresh clone `make test` and `make reproduce-all` are each one command.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
RNNMF := $(VENV)/bin/rnnmf
STAMP := $(VENV)/.installed
PROFILE ?= quick
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install test test-full lint bench reproduce-all report clean distclean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}'
	@echo "  variables: PROFILE=smoke|quick|paper (default quick), PYTEST_ARGS=..., RNNMF_TEST_THREADS=1|2 (torch threads per test)"

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	touch $@

install: $(STAMP) ## create .venv and install rnnmf (editable) with the pinned versions

test: $(STAMP) ## fast test suite (excludes tests marked slow; < 10 min on 2 CPU cores)
	$(PY) -m pytest -m "not slow" -q $(PYTEST_ARGS)

test-full: $(STAMP) ## every test, the slow ones included
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP) ## ruff over the whole tree
	$(VENV)/bin/ruff check .

bench: $(STAMP) ## speed benchmarks: ratios measured in one process (results/bench/)
	$(RNNMF) bench

reproduce-all: $(STAMP) ## every figure and table at PROFILE, then the report (resumes where it stopped)
	$(PY) -m experiments.reproduce_all --profile $(PROFILE)

report: $(STAMP) ## write results/REPORT.md from the CSVs under results/
	$(RNNMF) report

clean: ## remove caches and build leftovers (never results/)
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info
	find . -name __pycache__ -type d -prune -not -path './$(VENV)/*' -exec rm -rf {} +

distclean: clean ## also remove the virtual environment
	rm -rf $(VENV)
