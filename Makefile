# nogilbench: every target installs what it needs first (scripts/setup.sh is idempotent and
# takes a few seconds once everything is in place).
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
LINT_PATHS := nogilbench api loadtest tests

# In CI the free-threaded interpreter must be provisioned and its tests must run, not skip.
ifdef CI
export NOGILBENCH_REQUIRE_FT ?= 1
endif

# ---------------------------------------------------------------------------------------------
# Notebooks validated by `make test` with nbval (notebook files or folders).
NBVAL_TARGETS ?= notebooks
NBVAL_FLAGS ?= --nbval-current-env --nbval-sanitize-with notebooks/nbval_sanitize.cfg
# Line coverage of the library and the service in `make test` (pytest-cov, measured in the
# pytest process and nbval's kernel; cells, servers and .venv-ft children are not counted).
# The suite fails below COV_FLOOR percent: just under what the full suite reaches (85%).
COV_FLOOR ?= 84
COV_FLAGS ?= --cov=nogilbench --cov=api --cov-report=term:skip-covered \
	--cov-fail-under=$(COV_FLOOR)
# ---------------------------------------------------------------------------------------------

.PHONY: help setup lock test report info lint serve serve-ft lab clean

help:
	@echo "make setup     interpreters + .venv, .venv-ft, .venv-gil from requirements/*.lock"
	@echo "make lock      rewrite requirements/*.lock (UPGRADE=1: newest versions)"
	@echo "make report    run (or resume) the default sweep, render reports/report.html"
	@echo "make test      lint, then the test suite with coverage (COV_FLOOR=N)"
	@echo "make info      interpreters and host"
	@echo "make lint      ruff check + ruff format --check + import contracts (lint-imports)"
	@echo "make serve     the API on the stock interpreter; serve-ft: free-threaded, GIL off"
	@echo "make lab       JupyterLab on $(HOST):$(LAB_PORT), notebooks/ open, kernel 'nogilbench'"
	@echo "make performance  load (3 interpreters), overhead, limits -> reports/performance.md"
	@echo "make schemathesis-long  a longer schemathesis run against the API's OpenAPI schema"
	@echo "make clean     remove the environments and caches (keeps data/ and reports/)"

setup:
	scripts/setup.sh

# The lock files setup installs from (scripts/lock.sh says how each is resolved); commit them.
# UPGRADE=1 moves every pin to the newest version that installs, UPGRADE_PACKAGE="a b" some.
lock: setup
	UPGRADE=$(UPGRADE) UPGRADE_PACKAGE="$(UPGRADE_PACKAGE)" scripts/lock.sh

test: setup lint
	$(PY) -m pytest -q $(COV_FLAGS) tests \
		$(if $(strip $(NBVAL_TARGETS)),--nbval $(NBVAL_FLAGS) $(NBVAL_TARGETS))

# matrix.ipynb (the default sweep, resumed if interrupted) -> report.ipynb -> reports/report.html
report: setup
	$(VENV)/bin/nogilbench report

info: setup
	$(VENV)/bin/nogilbench info

# Import contracts: pyproject.toml's [tool.importlinter] (layers point down), once it exists.
lint: setup
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	@if grep -q '^\[tool\.importlinter\]' pyproject.toml; then \
		echo "$(VENV)/bin/lint-imports"; $(VENV)/bin/lint-imports; \
	else echo "lint-imports: skipped (no [tool.importlinter] in pyproject.toml)"; fi

# uvicorn's own access log is off: the service logs each request itself, with its id.
serve: setup
	$(VENV)/bin/uvicorn api.main:app --host $(HOST) --port $(PORT) --no-access-log

serve-ft: setup
	.venv-ft/bin/python -X gil=0 -m uvicorn api.main:app --host $(HOST) --port $(PORT) \
		--no-access-log

# JupyterLab on loopback with notebooks/ as its root and explore.ipynb open, the project's
# kernel (.venv/bin/python, installed by setup); prints the URL with a fresh token (or
# LAB_TOKEN). The port must be free: no silent move to another one.
LAB_PORT ?= 8888
lab: setup
	$(PY) -m nogilbench.notebook.lab --host $(HOST) --port $(LAB_PORT) $(if $(LAB_TOKEN),--token $(LAB_TOKEN))

# The interpreters built from source stay in ~/.cache/nogilbench (outside the clone).
clean:
	rm -rf .venv .venv-ft .venv-gil build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -not -path './.git/*' -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
# Performance and hostile input (issue 5). Bounded loopback traffic only; see nogilbench/perf.
SCHEMATHESIS_EXAMPLES ?= 40
SCHEMATHESIS_SUMMARY := reports/schemathesis-long.json

.PHONY: performance schemathesis-long

# schemathesis with more examples per operation; its summary goes into reports/performance.md.
schemathesis-long: setup
	NOGILBENCH_SCHEMATHESIS_EXAMPLES=$(SCHEMATHESIS_EXAMPLES) \
	NOGILBENCH_SCHEMATHESIS_SUMMARY=$(SCHEMATHESIS_SUMMARY) \
	$(PY) -m pytest -q -p no:cacheprovider tests/hostile/test_hostile_schema.py

# Load (stock / free-threaded GIL on / GIL off), API vs library throughput, Pillow limit,
# sweep overhead, schemathesis summary -> reports/performance.md. A schemathesis failure is
# recorded in the report rather than stopping it.
performance: setup
	-$(MAKE) --no-print-directory schemathesis-long
	$(PY) -m loadtest.report --out reports/performance.md
