# `make run`: the service on the embedded default (SQLite + SQLite broker).
# `make test`: install and run the whole test suite (needs Redis and PostgreSQL, which
# .ci/run starts, and chromium, which `make test` installs when it runs as root).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

$(BIN)/forumq: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(BIN)/forumq

.PHONY: install run test lint browser
install: $(BIN)/forumq

run: install
	$(BIN)/forumq up

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

# tests/api/test_docs.py renders /api/docs in Debian's chromium: installed when missing
# and this user can (root with apt-get), else one line says how.
browser:
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing chromium (tests/api/test_docs.py)"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; } \
	      || echo "could not install chromium: tests/api/test_docs.py needs it (apt-get install chromium)"; \
	  else \
	    echo "chromium is missing: tests/api/test_docs.py needs it (sudo apt-get install chromium)"; \
	  fi; }

test: install lint browser
	$(BIN)/pytest -q
