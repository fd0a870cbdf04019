# Pulse: the two commands are `make demo` and `make test`; each sets up what it needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.9
# dev.lock: runtime.lock's pins (the image's set) plus the test, lint and demo tools.
LOCK := requirements/dev.lock
RUNTIME_LOCK := requirements/runtime.lock
# The repo root is the import root: `jobs`, `include` and `dags` are packages below it.
export PYTHONPATH := $(CURDIR)
# Spark must run on the same interpreter as the driver.
export PYSPARK_PYTHON := $(CURDIR)/$(BIN)/python

.PHONY: help setup java postgres browser demo test lint lock clean

help:
	@echo "make demo   generate synthetic events and run the nightly DAG over 28 days through Airflow's scheduler"
	@echo "make test   lint + the whole test suite (unit, dag, integration)"
	@echo "make lock   re-resolve requirements/runtime.in and dev.in into their lock files (with hashes)"

# Java 17 for Spark, installed with apt-get when no java is on PATH.
java:
	@if ! command -v java >/dev/null 2>&1; then \
	  echo "java not found: installing openjdk-17-jre-headless"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq openjdk-17-jre-headless procps >/dev/null; \
	fi

# PostgreSQL for Airflow's metadata database in the demo and the tests (include/demo/postgres.py
# starts a throwaway server on loopback), installed with apt-get when missing: Debian's. The
# package's own cluster is not used (nor left running).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "PostgreSQL not found: installing postgresql"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	  $$SUDO service postgresql stop >/dev/null 2>&1 || true; \
	fi

# Chromium and its driver for the tests that drive Airflow's UI (tests/e2e/test_backfills.py),
# installed with apt-get when missing: Debian's, so Selenium Manager never downloads one.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  echo "chromium or chromedriver not found: installing chromium chromium-driver"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

# The venv is rebuilt whenever the lock file changes (the stamp is older than the lock).
# Debian's python3.11 needs python3.11-venv for `-m venv`: installed when venv creation fails.
$(VENV)/.stamp: $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) 2>/dev/null || { \
	  rm -rf $(VENV); SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq python3.11-venv >/dev/null && \
	  $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(BIN)/uv pip sync -q --python $(BIN)/python $(LOCK)
	@touch $@

setup: java $(VENV)/.stamp

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Two workers by default (tests/conftest.py keeps each module, and the end-to-end modules that
# share Airflow runs, on one worker); `make test PYTEST_WORKERS=0` runs in one process.
PYTEST_WORKERS ?= 2
test: setup postgres browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS)

# `make demo PULSE_WAREHOUSE_URI=s3://pulse-demo/warehouse` publishes to object storage: without
# an AWS_ENDPOINT_URL, moto's S3 server is started on loopback for the demo (in memory, stopped
# at the end; the demo reads the mart back from it before).
DEMO_S3_PORT ?= 5055
demo: setup postgres
	@if [[ "$${PULSE_WAREHOUSE_URI:-}" == s3://* && -z "$${AWS_ENDPOINT_URL:-}" ]]; then \
	  mkdir -p data; \
	  echo "starting moto's S3 server on 127.0.0.1:$(DEMO_S3_PORT) (log: data/moto_server.log)"; \
	  $(BIN)/moto_server -H 127.0.0.1 -p $(DEMO_S3_PORT) >data/moto_server.log 2>&1 & \
	  moto=$$!; trap "kill $$moto" EXIT; \
	  AWS_ENDPOINT_URL=http://127.0.0.1:$(DEMO_S3_PORT) AWS_ACCESS_KEY_ID=demo \
	  AWS_SECRET_ACCESS_KEY=demo AWS_DEFAULT_REGION=us-east-1 PULSE_DEMO_CREATE_BUCKET=1 \
	  $(BIN)/python -m include.demo.run_demo $(DEMO_ARGS); \
	else \
	  $(BIN)/python -m include.demo.run_demo $(DEMO_ARGS); \
	fi

# runtime.lock first: dev.in takes its pins as constraints, so both files agree on every package
# they share. Existing pins are kept (uv prefers the versions already in the output file); to
# move one, edit its bound in the .in file or pass `--upgrade-package NAME` via LOCK_ARGS.
COMPILE := $(BIN)/uv pip compile -q --python-version 3.11 --python-platform x86_64-manylinux_2_28 \
  --no-header --annotation-style line --generate-hashes $(LOCK_ARGS)
lock:
	$(COMPILE) requirements/runtime.in -o $(RUNTIME_LOCK)
	$(COMPILE) requirements/dev.in -o $(LOCK)

clean:
	rm -rf $(VENV) data .pytest_cache
