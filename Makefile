# espcn-ref: every target builds and uses a local virtual environment in .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The standard SR sets live next to the repository when they are available.
DATA   ?= $(wildcard ../shared/data)

.PHONY: help venv test test-slow test-all demo bench clean

help:
	@echo "make demo       run the main job (see README)"
	@echo "make test       the test suite (fast, < 10 min on 2 cores)"
	@echo "make test-slow  the long tests only"
	@echo "make bench      speed and memory against the GEMM roofline (and PyTorch if installed)"
	@echo "make clean      remove the virtual environment and caches"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest

demo: $(STAMP)
	$(BIN)/python -m espcn_ref demo $(if $(DATA),--data $(DATA))

bench: $(STAMP)
	$(BIN)/python benchmarks/bench.py --json benchmarks/results.json

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
