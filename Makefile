# Two entry points for a newcomer: `make serve` and `make test`.
# Each creates the virtualenv and installs the project on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# `make serve` needs the runtime alone; `make test` and `make lint` add the test tools.
RUNTIME_STAMP := $(VENV)/.runtime-stamp
STAMP := $(VENV)/.installed-stamp
# `make serve PORT=5233` when Radicale (or anything else) already has 5232.
PORT ?=

.PHONY: serve test test-fast lint install install-runtime clean bench browser postgres


$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Editable, so a checkout's edits and its fixtures are what runs; `pip install .` is the
# same without -e (README: "Production install").
$(RUNTIME_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install-runtime: $(RUNTIME_STAMP)

install: $(STAMP)

serve: $(RUNTIME_STAMP)
	$(BIN)/aurinko-bridge serve $(if $(PORT),--port $(PORT))

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

browser:
	.ci/ensure-chromium

postgres:
	.ci/ensure-postgres

# Everything, the slow end-to-end cases included (CI runs this).
test: lint browser postgres
	$(BIN)/pytest

# The inner loop: no lint, no tests marked slow (long end-to-end runs); `make test` before
# a commit still runs them all.
test-fast: $(STAMP) browser postgres
	$(BIN)/pytest -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) build *.egg-info
