# The two commands a fresh machine needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test fuzz install migrate demo lint bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' || \
		{ echo "Python 3.11 or newer is needed (PYTHON=$(PYTHON))"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

migrate: install
	$(BIN)/python manage.py migrate --noinput

# The demo's webhook endpoint is this server's own receiver on 127.0.0.1, which production
# refuses (server-side request forgery): development allows private networks.
DEV_ENV := WEBHOOKS_ALLOW_PRIVATE_NETWORKS=True

demo: migrate
	$(DEV_ENV) $(BIN)/python manage.py loyalty_demo

# The server and, beside it, a task worker (webhook deliveries, enqueued jobs); stopping the
# server (Ctrl-C) stops the worker too.
run: demo
	@bash -c 'trap "kill \$$worker 2>/dev/null; wait \$$worker 2>/dev/null" EXIT; \
		$(DEV_ENV) $(BIN)/python manage.py db_worker --queue-name "*" --no-reload \
			--interval 0.5 & worker=$$!; \
		$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000'

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The contract fuzzer (schemathesis) against a live production-mode server on PostgreSQL
# (DATABASE_URL names the server; a database of its own is created there).
fuzz: install
	$(BIN)/python tools/fuzz.py

lint: install
	$(BIN)/ruff check .

bench: install
	$(BIN)/python bench/ledger.py

clean:
	rm -rf $(VENV) db.sqlite3* staticfiles
