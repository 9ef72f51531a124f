# Kestrel CRM: `make dev` runs the whole product, `make test` runs every test.
# Needs only Python 3.11+ and npm; everything else is installed from the lock files.

PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export DJANGO_SETTINGS_MODULE ?= config.settings.development

.PHONY: help install dev dev-stop test test-fast screenshots lint format bench tools clean

help:
	@echo "make dev       start PostgreSQL, Redis, web, worker and beat with a demo tenant"
	@echo "make test      run the whole test suite with coverage (real PostgreSQL and Redis)"
	@echo "make lint      ruff and mypy"
	@echo "make bench     run the benchmarks under bench/"

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

static/dist/app.js: node_modules/.installed $(wildcard frontend/*.js)
	npm run build

install: $(VENV)/.synced static/dist/app.js

# Helm's engine for the chart's lint test (helm-sdkpy needs Python >= 3.12, in a venv of its
# own). Where no such Python exists the chart test is skipped, loudly.
HELM_PYTHON_FOUND := $(shell tools/helm/find_python.sh 2>/dev/null)
tools: tools/helm/.venv/.synced
tools/helm/.venv/.synced: tools/helm/pyproject.toml tools/helm/uv.lock | $(UV)
	@if [ -n "$(HELM_PYTHON_FOUND)" ]; then \
		UV_PYTHON_DOWNLOADS=never $(UV) sync --frozen --project tools/helm --python "$(HELM_PYTHON_FOUND)" && touch $@; \
	else \
		echo "WARNING: no Python >= 3.12 found: the Helm chart lint test will be SKIPPED"; \
	fi

dev: install
	$(PY) deploy/dev.py

dev-stop: install
	$(PY) -m deploy.devservices stop

# The whole suite, with line and branch coverage of the product's code. Browser tests run
# against Debian's Chromium at /usr/bin/chromium and are skipped, loudly, only if it is absent.
test: install tools
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest --create-db \
		--cov --cov-report=term --cov-report=xml --durations=30 $(PYTEST_ARGS)

# Re-take the README's screenshots (docs/screenshots/) with the browser tests.
screenshots: install
	UPDATE_SCREENSHOTS=1 DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest tests/browser -q

test-fast: install tools
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m pytest --reuse-db -x -q $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	DJANGO_SETTINGS_MODULE=config.settings.test $(PY) -m mypy .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	$(PY) bench/provisioning.py
	$(PY) bench/routing.py
	$(PY) bench/contacts_data.py
	$(PY) bench/contacts.py
	$(PY) bench/sales_data.py
	$(PY) bench/sales.py
	$(PY) bench/queues_scaling.py
	$(PY) bench/reminders.py
	$(PY) bench/imports.py --million
	$(PY) bench/exports.py

clean:
	rm -rf $(VENV) $(TOOLS) tools/helm/.venv node_modules static/dist staticfiles .pytest_cache .mypy_cache .ruff_cache .coverage coverage.xml
