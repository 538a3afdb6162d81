# The two commands a newcomer needs: `make run` and `make test`. See README.md.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
# The personal links in invitation emails and the start-up message point at the port the app runs on.
# Exported here because honcho gives each process of Procfile.dev its own PORT (web PORT, worker PORT+100...).
export SITE_URL ?= http://127.0.0.1:$(PORT)

.PHONY: run test lint bench install clean-db

$(BIN)/python:
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "$(PYTHON) not found; set PYTHON=/path/to/python3.11"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py demo_setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start --port $(PORT)

test: $(STAMP)
	$(BIN)/pytest --create-db $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

bench: $(STAMP)
	@command -v wrk >/dev/null 2>&1 || { echo "Installing Debian's wrk (load generator)"; \
	  $$( [ "$$(id -u)" -eq 0 ] || echo sudo ) apt-get install -y -qq wrk; }
	$(BIN)/python manage.py bench $(BENCH_ARGS)

clean-db:
	rm -rf var/cxmetrics.sqlite3* var/broker var/celerybeat-schedule*
