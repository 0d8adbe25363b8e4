# omnishelf: `make run` serves the demo on embedded SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:12])")

.PHONY: install run test test-fast lint schema bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/omnishelf migrate
	$(BIN)/omnishelf seed
	$(BIN)/omnishelf serve

# Installs PostgreSQL and Redis when missing, starts throwaway servers, runs lint and every
# test on PostgreSQL + Redis, then the API suite again on SQLite; stops the servers.
test: install
	scripts/with-services.sh scripts/run-tests.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: install
	$(BIN)/omnishelf export-schema --output schema.graphql

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
