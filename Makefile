# `make run`: the service on the embedded default (SQLite + SQLite broker).
# `make test`: install and run the whole test suite (needs Redis, PostgreSQL and chromium;
# .ci/run starts and installs them).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/forumq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/forumq

.PHONY: install run test lint
install: $(BIN)/forumq

run: install
	$(BIN)/forumq up

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

test: install lint
	$(BIN)/pytest -q
