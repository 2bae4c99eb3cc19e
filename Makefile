# Two commands do all the set-up on a fresh machine (Python >= 3.11 and make):
#   make demo   create .venv, install, run the baseline scenario, print its summary and
#               write its report (results/baseline_report/index.html)
#   make test   create .venv, install, run ruff, the import contracts (import-linter) and the tests
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: venv demo test lint bench golden notebook notebooks clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	mkdir -p results
	$(BIN)/fiscal-sim run configs/baseline.toml --out results/baseline.nc
	$(BIN)/fiscal-sim report results/baseline.nc --out results/baseline_report

lint: venv
	$(BIN)/ruff check sim tests benchmarks
	$(BIN)/lint-imports

test: lint
	$(BIN)/python -m pytest -n auto

bench: venv
	$(BIN)/python benchmarks/bench_engine.py
	$(BIN)/python benchmarks/bench_sensitivity.py
	$(BIN)/python benchmarks/bench_write.py
	$(BIN)/python benchmarks/bench_batch.py
	$(BIN)/python benchmarks/bench_calibration.py
	$(BIN)/python benchmarks/bench_history.py
	$(BIN)/python benchmarks/bench_breakeven.py
	$(BIN)/python benchmarks/bench_discovery.py
	$(BIN)/python benchmarks/bench_backtest.py

# JupyterLab on the notebooks (the `notebook` extra, installed on first use).
notebook: venv
	$(BIN)/python -m pip install --quiet -e ".[dev,notebook]"
	$(BIN)/jupyter lab notebooks

# Re-execute the notebooks and store their outputs (tests/test_notebooks.py checks they are current).
notebooks: venv
	$(BIN)/python tests/execute_notebooks.py

golden: venv
	$(BIN)/python tests/make_golden.py

clean:
	rm -rf $(VENV) results .pytest_cache .ruff_cache .hypothesis
