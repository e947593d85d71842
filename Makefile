# Everything runs inside .venv, created on first use; the stamp reinstalls when pyproject.toml changes.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: demo test lint docs bench clean calibration calibration-projects
# pretalx, django-wiki and Nautobot live in virtual environments of their own (their pins conflict with pretix's);
# their sweeps name that interpreter (python:), so one runner measures every project. Nautobot's runs below.
CALIBRATION_SWEEPS := calibration-oscarshop calibration-pretalx calibration-pretix calibration-wagtailsite \
	calibration-wikisite calibration-profiles

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

$(DOCS_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[docs]'
	@touch $(DOCS_STAMP)

# The main job on SQLite: build projects, run the quick sweep under real uWSGI, analyse it.
demo: $(STAMP)
	$(BIN)/run-experiments experiments/sweeps/quick.yaml
	$(BIN)/analyze-results results/quick.csv --out results/quick-analysis

# Two xdist workers (most tests wait on servers, databases or Slurm); tests of one xdist_group share a worker.
test: $(STAMP)
	$(BIN)/ruff check generator experiments tests calibration
	$(BIN)/python -m pytest -q -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check generator experiments tests calibration
	$(BIN)/ruff format --check generator experiments tests calibration

# The docs site (mkdocs.yml, docs/) into site/; --strict: a broken link or a page left out is an error.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_runner.py
	$(BIN)/python benchmarks/bench_databases.py

# Real projects installed on demand (django-oscar, pretix, wagtail into .venv; pretalx, django-wiki and Nautobot each
# into an environment of its own), laid out under generated/calibration/. Nautobot's database needs PostgreSQL's server programs.
calibration-projects: $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,calibration]'
	$(BIN)/python calibration/prepare.py

# Measure the real projects, their --like twins and the profiles; rebuild results/calibration/table.md. The twins'
# options are in the sweeps, fitted by `calibration/fit.py` (not re-run here: its seconds depend on the machine).
# Nautobot's database is a PostgreSQL server: its sweep and the table's probes run inside calibration/nautobot_db.py.
calibration: calibration-projects
	for sweep in $(CALIBRATION_SWEEPS); do $(BIN)/run-experiments --fresh experiments/sweeps/$$sweep.yaml || exit 1; done
	$(BIN)/python calibration/nautobot_db.py -- $(BIN)/run-experiments --fresh experiments/sweeps/calibration-nautobot.yaml
	$(BIN)/python calibration/nautobot_db.py -- $(BIN)/python calibration/table.py

clean:
	rm -rf generated .pytest_cache site
