# Everything runs inside .venv, created on first use; the stamp reinstalls when pyproject.toml changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

# The main job on SQLite: build projects, run the quick sweep under real uWSGI, analyse it.
demo: $(STAMP)
	$(BIN)/run-experiments experiments/sweeps/quick.yaml
	$(BIN)/analyze-results results/quick.csv --out results/quick-analysis

test: $(STAMP)
	$(BIN)/ruff check generator experiments tests
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check generator experiments tests
	$(BIN)/ruff format --check generator experiments tests

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_runner.py

clean:
	rm -rf generated .pytest_cache
