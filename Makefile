# espcn-ref: every target builds and uses a local virtual environment in .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# The standard SR sets live next to the repository when they are available.
DATA   ?= $(wildcard ../shared/data)

.PHONY: help venv test test-slow test-all test-nojit docs demo bench bench-1thread bench-quality bench-epoch pretrained clean clean-numba

help:
	@echo "make demo       run the main job (see README)"
	@echo "make test       the test suite (about 4 min of tests on 2 cores; the slow tests are in test-slow)"
	@echo "make test-slow  the long tests only"
	@echo "make test-nojit the kernels' twin tests with NUMBA_DISABLE_JIT=1: every kernel runs as Python, for a debugger (under a minute)"
	@echo "make docs       the API reference from the docstrings (pdoc), in docs/api/index.html"
	@echo "make bench      speed and memory against the GEMM roofline (and PyTorch if installed); Fig. 2 and Sec. 3.5 against SRCNN (Set14 from DATA)"
	@echo "make bench-1thread the same on one thread pinned to one core (benchmarks/results_1thread.json)"
	@echo "make bench-quality time to quality: the README's 15-minute x3 command, then Set5 (DATA=..., about 20 min)"
	@echo "make bench-epoch seconds per training epoch on T91's stride-13 patches, ours and PyTorch's if installed (DATA=..., default ../shared/data)"
	@echo "make pretrained retrain the shipped x2/x3/x4 models on T91 (needs DATA)"
	@echo "make clean      remove the virtual environment and caches"
	@echo "make clean-numba remove Numba's compiled-kernel cache (after editing a kernel another file's kernel calls)"

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,deploy]'
	@touch $@

venv: $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow"

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

test-all: $(STAMP)
	$(BIN)/python -m pytest

# The twin tests of the kernels (ops, shuffle, loss, equivalences, the grid engine,
# the model) with the JIT off: the kernels run as plain Python, so a breakpoint in
# any of them stops, and the engine's BLAS call is replaced by its NumPy twin
# (ops/blas.py). Hypothesis uses its "nojit" profile (tests/conftest.py).
NOJIT_TESTS = $(wildcard tests/test_conv*.py tests/test_engine*.py tests/test_activations_loss.py \
	tests/test_shuffle.py tests/test_equivalence.py tests/test_model*.py)
test-nojit: $(STAMP)
	NUMBA_DISABLE_JIT=1 HYPOTHESIS_PROFILE=nojit $(BIN)/python -m pytest -m "not slow" $(NOJIT_TESTS)

# HTML from the docstrings of every public module; a warning fails the build (docs/build_api.py).
docs: $(STAMP)
	$(BIN)/python docs/build_api.py docs/api

demo: $(STAMP)
	$(BIN)/python -m espcn_ref demo $(if $(DATA),--data $(DATA))

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[bench]'  # PyTorch 2.13.0 CPU, the comparison
	$(BIN)/python benchmarks/bench.py --json benchmarks/results.json $(if $(DATA),--data $(DATA))

bench-1thread: $(STAMP)
	taskset -c 0 $(BIN)/python benchmarks/bench.py --threads 1 --json benchmarks/results_1thread.json $(if $(DATA),--data $(DATA))

# Time to quality, kept out of make bench: the README's 15-minute recipe, then Set5 x3 (target: 32.55 dB).
bench-quality: $(STAMP)
	@test -n "$(DATA)" || (echo "set DATA=/path/to/sets (with T91/ and Set5/)"; exit 2)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/espcn-ref train --data $(DATA) --scale 3 --stride 7 --augment --init icnr --epochs 300 --patience 300 --minutes 15 --overwrite --out runs/quality_x3
	$(BIN)/espcn-ref evaluate --method runs/quality_x3/model.npz --data $(DATA) --sets Set5 --scale 3

# Seconds per epoch on the stride-13 T91 patches of PyTorch's reference run (needs T91).
bench-epoch: $(STAMP)
	@test -n "$(DATA)" || (echo "set DATA=/path/to/sets (with T91/)"; exit 2)
	$(BIN)/python benchmarks/epoch_time.py --data $(DATA)

# The exact commands that produced the shipped models (see README, Results).
PRETRAINED_EPOCHS_2 ?= 250
PRETRAINED_EPOCHS_3 ?= 130
PRETRAINED_EPOCHS_4 ?= 1000
pretrained: $(STAMP)
	@test -n "$(DATA)" || (echo "set DATA=/path/to/sets (with T91/)"; exit 2)
	env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE $(BIN)/espcn-ref train --data $(DATA) --scale 3 --stride 3 --rescale 0.9,0.8,0.7,0.6 --augment-online --init icnr --epochs $(PRETRAINED_EPOCHS_3) --decay-at 0.85 --patience $(PRETRAINED_EPOCHS_3) --average --minutes 59 --out runs/x3
	cp runs/x3/model.npz src/espcn_ref/weights/espcn_x3.npz
	$(BIN)/espcn-ref train --data $(DATA) --scale 2 --epochs $(PRETRAINED_EPOCHS_2) --stride 13 --out runs/x2
	cp runs/x2/model.npz src/espcn_ref/weights/espcn_x2.npz
	$(BIN)/espcn-ref train --data $(DATA) --scale 4 --epochs $(PRETRAINED_EPOCHS_4) --stride 13 --out runs/x4
	cp runs/x4/model.npz src/espcn_ref/weights/espcn_x4.npz

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis src/*.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Numba's disk cache checks the file of each cached function, not the files of
# the compiled functions it calls (conv_grid's kernels call shuffle._channel
# and blas.gemm_kernel): after editing one of those, drop the cache.
clean-numba:
	find src -name '*.nbi' -delete -o -name '*.nbc' -delete
