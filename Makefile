# Every target creates or reuses .venv and installs what it needs, pinned by constraints.txt.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
PIP := $(BIN)/python -m pip
TORCH := torch==2.13.0

.PHONY: demo test test-slow check lint imports typecheck bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# torch first: the CPU wheel on these machines; any other torch request pulls a multi-GB CUDA build.
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -c constraints.txt -e '.[all,dev]'
	touch $@

$(BENCH_STAMP): $(STAMP)
	$(PIP) install -q -c constraints.txt -e '.[all,dev,bench]'
	touch $@

demo: $(STAMP)
	$(BIN)/tradebrain demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

# the layer contracts of docs/architecture.md ([tool.importlinter] in pyproject.toml)
imports: $(STAMP)
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint imports typecheck test

bench: $(BENCH_STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
