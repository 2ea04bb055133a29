# Every target creates .venv (Python 3.11) and installs the pinned requirements (runtime + dev tools)
# and the project itself (editable) when missing or stale.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: venv demo test test-fast lint bench airflow e2e compose-check clean

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements-dev.txt
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

## make demo: generate demo data under ./demo and monitor its last 14 days (reports + .eml outbox)
demo: venv
	$(PY) -m monitor demo

## make test: the whole suite, servers (moto S3, aiosmtpd, Airflow on SQLite) started by the tests
test: venv lint
	$(PY) -m pytest -q -ra

test-fast: venv lint
	$(PY) -m pytest -q -ra -m "not slow"

## make lint: ruff (lint + import order) and mypy on the whole tree
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: venv
	$(PY) bench/bench_drift.py --rows 1000000 --cols 25
	$(PY) bench/bench_performance.py

## make e2e: the CeleryExecutor topology without Docker (needs Debian postgresql + redis-server)
e2e: venv
	$(PY) scripts/e2e_celery.py

compose-check: venv
	$(PY) -m pytest -q tests/e2e/test_compose.py

clean:
	rm -rf demo artifacts .pytest_cache

## make airflow: Airflow 3 standalone on SQLite (./airflow_home) with dags/ and the demo monitor; UI http://127.0.0.1:8080, login admin/admin
airflow: venv
	bash scripts/airflow_standalone.sh
