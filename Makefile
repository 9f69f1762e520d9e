# Quick start: `make run` (console on demo data) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8501

TS := clients/typescript
TS_DEPS := $(TS)/node_modules/.package-lock.json

.PHONY: install data run reset notebook api cli test lint bench bench-tasks bench-console audit-security clean ts-types

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# the TypeScript client's locked dev dependencies (openapi-typescript, typescript), for its tests
$(TS_DEPS): $(TS)/package-lock.json
	cd $(TS) && npm ci --no-audit --no-fund

# regenerate the committed OpenAPI schema and the TypeScript types from the app
ts-types: install $(TS_DEPS)
	$(BIN)/python -c 'import json; from integrations.api import create_app; print(json.dumps(create_app().openapi(), indent=2))' > $(TS)/openapi.json
	cd $(TS) && node_modules/.bin/openapi-typescript openapi.json -o src/schema.d.ts --default-non-nullable false

data: install
	$(BIN)/integrations init
	$(BIN)/integrations demo

run: data
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# drop the local data dir (.data) and load the demo orgs again
reset: install
	rm -rf .data
	$(MAKE) data

# JupyterLab from the venv, opened on notebooks/ (the notebooks find the project's .data themselves)
notebook: data
	$(BIN)/jupyter lab --notebook-dir notebooks --ip 127.0.0.1 --no-browser $(if $(filter 0,$(shell id -u)),--allow-root)

api: data
	$(BIN)/integrations api

# the CLI is installed in the venv, not on PATH: `make cli ARGS="status acmecorp"` (or `. .venv/bin/activate`)
cli: install
	$(BIN)/integrations $(ARGS)

lint: install
	$(BIN)/ruff check lib tests app.py pages
	$(BIN)/mypy lib --ignore-missing-imports --warn-unused-ignores
	$(BIN)/lint-imports
	shellcheck deploy/*.sh .ci/run

# two workers (pytest-xdist), a test file per worker at a time: its module fixtures (servers, browser) stay together
test: install lint $(TS_DEPS)
	$(BIN)/python -m pytest -n 2 --dist loadfile

# the attack reproductions, with the deploy findings' (a job refuses overridden env, http Supabase, per-identity grants)
audit-security: install
	$(BIN)/python -m pytest tests/security tests/deploy/test_pinned_env.py tests/deploy/test_job_identities.py -q

bench: install
	$(BIN)/python -m tests.benchmarks

# the console's first render in Chromium at 2,000 and 10,000 orgs (status page cold and warm, audit log's first page)
bench-console: install
	$(BIN)/python -m tests.benchmarks.console

# a nightly re-validation as a job of tasks: 1 vs 2 task processes at 200 ms (BENCH_TASKS_N=10000), BigQuery jobs per
# run on the double at two N (several minutes, so a target of its own)
bench-tasks: install
	$(BIN)/python -m tests.benchmarks.tasks

clean:
	rm -rf $(VENV) .data $(TS)/node_modules $(TS)/dist
