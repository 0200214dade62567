# The two commands of the README:  `make quickstart`  and  `make test`.
# Both install what they need into .venv first. A CPU torch is pinned unless the venv
# already has a torch (a GPU user installs their own torch into .venv first).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0

.PHONY: install quickstart test lint browser slurm bench clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[test]"
	touch $@

quickstart: install
	$(BIN)/optbasin run examples/quickstart.yaml

# Headless Chromium for the report's browser test (Debian packages); installed when root.
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && apt-get install -y -qq chromium chromium-driver >/dev/null) \
	    || echo "note: chromium/chromedriver missing and not root: browser tests will be skipped"; }

# The optimizer and population tests again under torch's other CPU kernels (the native run covers
# AVX-512 where the CPU has it): their tolerances must hold on any CPU, not only on this one's.
KERNELS ?= default avx2
KERNEL_TESTS := tests/test_optim_*.py tests/test_population.py

# Slurm + munge for tests/test_slurm.py (a single-node Slurm the test starts); installed when root.
slurm:
	@command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null || \
	  { [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurmctld slurmd slurm-client munge >/dev/null) \
	    || echo "note: Slurm/munge missing and not root: Slurm tests will be skipped"; }

# ruff's lint and format check first (configured in pyproject.toml): seconds, before the suite's minutes.
test: install browser slurm lint
	$(BIN)/python -m pytest -q
	for k in $(KERNELS); do echo "== optimizer and population tests, ATEN_CPU_CAPABILITY=$$k"; \
	  ATEN_CPU_CAPABILITY=$$k $(BIN)/python -m pytest -q -m "not slow" $(KERNEL_TESTS) || exit 1; done

# ruff alone (also the first step of `make test`).
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: install
	$(BIN)/optbasin bench

clean:
	rm -rf $(VENV) *.egg-info
