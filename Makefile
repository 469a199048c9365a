# The two commands of the README: `make run` and `make test`. Everything else here serves them.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Reinstall whenever the dependency list changes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test system lint typecheck contracts unit bench clean

# Debian packages the system and its tests use: Chromium (PDF charts via kaleido, browser tests),
# poppler-utils (PDF checks), docker-compose (validates docker-compose.yml; no engine needed),
# postgresql-client (pg_dump/pg_restore for `rblock-pilot backup`; Debian 12's 15 matches its server).
system:
	@missing=""; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v pdftotext >/dev/null || missing="$$missing poppler-utils"; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v pg_dump >/dev/null || missing="$$missing postgresql-client"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	  else echo "make: install these Debian packages first:$$missing"; exit 1; fi; \
	fi

$(STAMP):
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch and torchvision first, with pip, from this machine's disk (see README: pinned versions).
	$(BIN)/python -m pip install --quiet -e '.[train,api,dev]'
	rm -f $(VENV)/.installed-*
	touch $@

run: system $(STAMP)
	$(BIN)/rblock-pilot up

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

contracts: $(STAMP)
	$(BIN)/lint-imports

unit: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup

test: system lint typecheck contracts unit

bench: $(STAMP)
	$(BIN)/python bench/regularizers.py
	$(BIN)/python bench/training.py

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .import_linter_cache
