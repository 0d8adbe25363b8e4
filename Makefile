# omnishelf: `make run` serves the demo on embedded SQLite; `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys;print(hashlib.sha1(open('pyproject.toml','rb').read()).hexdigest()[:12])")

.PHONY: install run test test-fast lint schema bench chaos clean

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

# Crash test: 2 APIs + 2 workers on throwaway PostgreSQL + Redis under mixed load, one of them
# SIGKILLed every 2-5 s for CHAOS_SECONDS; then `omnishelf doctor` must find nothing.
CHAOS_SECONDS ?= 60
chaos: install
	scripts/with-services.sh $(BIN)/python -m bench.chaos --seconds $(CHAOS_SECONDS)

# Benchmarks: the production topology (uvicorn workers, arq worker, PostgreSQL, Redis) driven
# over HTTP by a separate load generator, raw asyncpg baselines; results in bench/results/ and
# docs/performance.md (~16 min; BENCH_ARGS=--quick for ~3, or e.g. --scenarios products).
BENCH_ARGS ?=
bench: install
	$(BIN)/pip install --quiet --disable-pip-version-check -e ".[dev,bench]"
	scripts/with-services.sh $(BIN)/python -m bench run $(BENCH_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

schema: install
	$(BIN)/omnishelf export-schema --output schema.graphql

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
