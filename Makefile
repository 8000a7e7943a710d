# pharma: `make run` starts the demo on http://127.0.0.1:5000, `make test` runs every check.
# Needs GNU make, python3 (3.11+), and for `make test` PostgreSQL and Redis on 127.0.0.1.

PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000
LOCALES ?= az ru
PYTEST_ARGS ?=
PYTEST := $(BIN)/python -m pytest -p no:cacheprovider --timeout=300 $(PYTEST_ARGS)
# Debian packages the tests need: zbar for pyzbar, Chromium for the browser tests, a font for screenshots
SYSTEM_PACKAGES ?= libzbar0 chromium fonts-dejavu-core
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PG_HOST ?= 127.0.0.1
REDIS_HOST ?= 127.0.0.1
# `make worker` consumes tasks from this broker; the web app sends them there when it has the same setting
WORKER_BROKER_URL ?= $(or $(PHARMA_BROKER_URL),redis://127.0.0.1:6379/0)

STAMP_RUN := $(VENV)/.stamp-install
STAMP_TEST := $(VENV)/.stamp-install-test

SHELL := /bin/bash

.PHONY: help run test lint bench clean distclean worker beat translations messages system-deps services venv

help:
	@echo "make run      install, migrate, load the demo data and serve http://$(HOST):$(PORT)"
	@echo "make test     lint, then the whole suite on SQLite and on PostgreSQL"
	@echo "make lint     ruff check ."
	@echo "make worker   a Celery worker on $(WORKER_BROKER_URL)"
	@echo "make beat     the Celery beat scheduler (daily jobs: certificate expiry, stock expiry scan)"
	@echo "make bench    run the benchmarks in bench/"
	@echo "make messages re-extract the texts into the az and ru catalogues (then translate them)"
	@echo "make clean    remove caches, compiled catalogues and test artifacts (distclean: also .venv and instance/)"

# ---------------------------------------------------------------- virtualenv

# (Debian's own python3 needs the python3-venv package for this; it is installed when missing)
$(BIN)/python:
	@$(PY) -c 'import sys; assert sys.version_info >= (3, 11), "pharma needs Python 3.11 or later"'
	$(PY) -m venv $(VENV) || { rm -rf $(VENV); \
		$(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3-venv >/dev/null && \
		$(PY) -m venv $(VENV); }

venv: $(STAMP_RUN)

# reinstall only when pyproject.toml is newer than the stamp
$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -e .
	@touch $@

$(STAMP_TEST): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --disable-pip-version-check -q -e '.[test]'
	@touch $@ $(STAMP_RUN)

# ---------------------------------------------------------------- translations

# compiles the .po catalogues to .mo (the .mo files are not committed); quiet when there are none yet
translations: $(STAMP_RUN)
	@if ls pharma/translations/*/LC_MESSAGES/messages.po >/dev/null 2>&1; then \
		$(BIN)/pybabel -q compile -d pharma/translations; \
	fi

# after changing texts: re-extract messages.pot and merge it into the az and ru catalogues; then
# translate the new or fuzzy entries (tests/unit/test_translations.py fails until they are)
messages: $(STAMP_RUN)
	$(BIN)/pybabel extract -F babel.cfg -k lazy_gettext -k _l -k Text --add-location=file --sort-by-file -w 100 \
		--project=pharma --version=0.1.0 --copyright-holder="pharma" -o pharma/translations/messages.pot .
	@for locale in $(LOCALES); do \
		if [ -f pharma/translations/$$locale/LC_MESSAGES/messages.po ]; then \
			$(BIN)/pybabel update -i pharma/translations/messages.pot -d pharma/translations -l $$locale -w 100 --no-fuzzy-matching; \
		else \
			$(BIN)/pybabel init -i pharma/translations/messages.pot -d pharma/translations -l $$locale -w 100; \
		fi; \
	done

# ---------------------------------------------------------------- run

define PRINT_DEMO_SIGN_INS
from pharma.parties.fixtures import demo_sign_ins
rows = [("role", "username / device", "password / token"), *demo_sign_ins()]
widths = [max(len(row[i]) for row in rows) for i in range(3)]
rule = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
print("\nDemo sign-ins (demo data only; never use these in production):")
print(rule)
for n, row in enumerate(rows):
    print("| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |")
    if n == 0:
        print(rule)
print(rule)
endef
export PRINT_DEMO_SIGN_INS

run: $(STAMP_RUN) translations
	$(BIN)/pharma db upgrade
	$(BIN)/pharma fixtures load --if-empty
	@$(BIN)/python -c "$$PRINT_DEMO_SIGN_INS"
	@echo
	@echo "Serving on http://$(HOST):$(PORT)/  (Ctrl-C stops)"
	$(BIN)/pharma run --host $(HOST) --port $(PORT)

worker: $(STAMP_RUN)
	PHARMA_BROKER_URL=$(WORKER_BROKER_URL) $(BIN)/celery -A pharma.worker worker --loglevel=INFO

# one scheduler per installation: it sends the daily tasks (pharma.tasks.BEAT_SCHEDULE) to the workers
beat: $(STAMP_RUN)
	PHARMA_BROKER_URL=$(WORKER_BROKER_URL) $(BIN)/celery -A pharma.worker beat --loglevel=INFO \
		--schedule $(or $(BEAT_SCHEDULE_FILE),instance/celerybeat-schedule)

# ---------------------------------------------------------------- test

# installs the Debian packages the tests need, only those missing
system-deps:
	@missing=""; \
	for pkg in $(SYSTEM_PACKAGES); do \
		dpkg -s $$pkg >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# starts PostgreSQL and Redis when they are not answering (probes: pg_isready and redis-cli, or
# the venv's psycopg and redis clients where those tools are not installed)
define PROBES
pg_up() { if command -v pg_isready >/dev/null; then pg_isready -q -h $(PG_HOST); \
	else $(BIN)/python -c "import psycopg; psycopg.connect('postgresql://postgres@$(PG_HOST):5432/postgres', connect_timeout=3).close()" 2>/dev/null; fi; }; \
redis_up() { if command -v redis-cli >/dev/null; then [ "$$(redis-cli -h $(REDIS_HOST) ping 2>/dev/null)" = PONG ]; \
	else $(BIN)/python -c "import redis; redis.Redis(host='$(REDIS_HOST)', socket_connect_timeout=3).ping()" 2>/dev/null; fi; }
endef

services: $(STAMP_RUN)
	@$(PROBES); \
	if ! pg_up; then \
		echo "starting PostgreSQL"; \
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | sort -V | tail -1) main start || true; \
		for i in $$(seq 30); do pg_up && break; sleep 1; done; \
		pg_up || { echo "PostgreSQL is not answering on $(PG_HOST):5432"; exit 1; }; \
	fi; \
	if ! redis_up; then \
		echo "starting Redis"; \
		$(SUDO) mkdir -p /var/lib/redis /var/log/redis; \
		$(SUDO) redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
			--dir /var/lib/redis --logfile /var/log/redis/ci.log || true; \
		for i in $$(seq 30); do redis_up && break; sleep 1; done; \
		redis_up || { echo "Redis is not answering on $(REDIS_HOST):6379"; exit 1; }; \
	fi

# lint, then the whole suite on SQLite and on PostgreSQL; every phase runs and reports, and the
# target fails if any of them failed
test: $(STAMP_TEST) system-deps services translations
	@status=0; t0=$$(date +%s); \
	echo "== ruff check ."; \
	$(BIN)/ruff check . || status=1; t1=$$(date +%s); \
	echo "== pytest on SQLite"; \
	PHARMA_TEST_DB=sqlite $(PYTEST) || status=1; t2=$$(date +%s); \
	echo "== pytest on PostgreSQL"; \
	PHARMA_TEST_DB=postgresql $(PYTEST) || status=1; t3=$$(date +%s); \
	echo "== timings: ruff $$((t1 - t0))s, SQLite $$((t2 - t1))s, PostgreSQL $$((t3 - t2))s"; \
	if [ $$status -ne 0 ]; then echo "make test: FAILED"; else echo "make test: all passed"; fi; \
	exit $$status

lint: $(STAMP_TEST)
	$(BIN)/ruff check .

# runs every bench/*.py except helpers (_*.py); they make their own scratch databases
bench: $(STAMP_RUN) services
	@found=0; for script in bench/*.py; do \
		[ -e "$$script" ] || continue; \
		case "$$(basename "$$script")" in _*) continue;; esac; found=1; \
		echo "== $$script"; $(BIN)/python "$$script" || exit 1; \
	done; [ $$found = 1 ] || echo "no benchmarks in bench/"

# ---------------------------------------------------------------- clean

clean:
	rm -rf .pytest_cache .ruff_cache build dist *.egg-info test-artifacts
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	find pharma/translations -name '*.mo' -delete 2>/dev/null || true

distclean: clean
	rm -rf $(VENV) instance
