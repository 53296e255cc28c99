# trimtab: `make run` runs the demo on bundled real data and the paper venue; `make test` runs every test.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint deps node bench clean

$(STAMP): pyproject.toml constraints.txt
	@command -v $(PY) >/dev/null 2>&1 || { echo "error: $(PY) not found; install Python 3.11" >&2; exit 2; }
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[dev]"
	$(BIN)/python -m trimtab.backtest.aot  # ahead-of-time kernels: backtests run without importing Numba
	$(BIN)/python -m trimtab.backtest.warmup  # and the JIT kernels into Numba's disk cache, once, here
	touch $(STAMP)

deps: $(STAMP)

node:
	bash scripts/ensure_node_modules.sh

run: $(STAMP)
	$(BIN)/trimtab demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts
	$(BIN)/lint-imports --no-cache
	$(BIN)/python scripts/gen_architecture.py --check
	$(BIN)/mypy src/trimtab

test: $(STAMP) node lint
	bash scripts/ensure_test_services.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[bench]"
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache .mypy_cache .ruff_cache
