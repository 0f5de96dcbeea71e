# Textcast — `make run` starts the product, `make test` runs the whole suite.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PYTEST_ARGS ?=

.PHONY: run test lint install screenshots bench clean

$(BIN)/.installed: requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

install: $(BIN)/.installed

run: install
	bin/dev

lint: install
	$(BIN)/ruff check .

test: lint
	$(BIN)/pytest -n auto --dist loadfile $(PYTEST_ARGS)

# PNGs of every main page (desktop and phone width) and of the journeys' steps, from the browser
# tests (needs Debian's chromium), into screenshots/.
screenshots: install
	rm -rf screenshots
	SCREENSHOT_DIR=screenshots $(BIN)/pytest tests/browser -p no:xdist -q
	@echo "Screenshots in ./screenshots/"

# Benchmarks print figures and ratios to a baseline measured in the same run (not timed tests).
# The database ones run against PostgreSQL: BENCH_DATABASE_URL overrides the default below.
# The callbacks one also needs Redis (BENCH_REDIS_URL). Each prints its own figures; about 10 minutes in all.
BENCH_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/textcast_bench
BENCH_REDIS_URL ?= redis://127.0.0.1:6379/3
bench: install
	$(BIN)/python bench/estimate_parts.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/import_recipients.py --rows 1000000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/broadcast_scale.py --rows 1000000
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/dispatch.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/compliance.py
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python bench/webhooks.py
	DATABASE_URL=$(BENCH_DATABASE_URL) REDIS_URL=$(BENCH_REDIS_URL) $(BIN)/python bench/callbacks.py --seconds 60

clean:
	rm -rf var staticfiles .pytest_cache .ruff_cache
