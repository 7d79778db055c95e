# Tracebin: the two commands are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml client_lib/pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test lint typecheck pytest install system-deps migrate loadtest bench clean

$(STAMP): pyproject.toml client_lib/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' -e ./client_lib
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## make run: virtualenv, install, migrate, serve on SQLite at http://127.0.0.1:8000 (development secrets)
run: $(STAMP)
	TRACEBIN_DEV=1 $(BIN)/tracebin-server migrate
	TRACEBIN_DEV=1 $(BIN)/tracebin-server serve --host 127.0.0.1 --port $${PORT:-8000}

migrate: $(STAMP)
	$(BIN)/tracebin-server migrate

## Debian packages the tests need: Chromium for the browser tests, wrk for `make bench`.
system-deps:
	@command -v chromium >/dev/null && command -v wrk >/dev/null || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium wrk >/dev/null; }

lint: $(STAMP)
	$(BIN)/ruff check app dashboard client_lib tests loadtests
	$(BIN)/ruff format --check app dashboard client_lib tests loadtests

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) system-deps
	$(BIN)/pytest $(PYTEST_ARGS)

## make test: install what the tests need, then ruff, mypy --strict and the whole pytest suite
test: system-deps $(STAMP)
	$(MAKE) lint
	$(MAKE) typecheck
	$(MAKE) pytest

loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run $(ARGS)

bench: $(STAMP) system-deps
	$(BIN)/python -m loadtests.bench $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
