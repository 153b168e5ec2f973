# Two entry points do every set-up step themselves on a fresh machine:
#   make demo  -> simulators + gateway on 127.0.0.1:8080
#   make test  -> lint, type-check, full test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-fast lint typecheck unit unit-fast bench loadtest clean helm-tools oidc-provider system-deps lock lock-upgrade sbom vllm config-docs

# Installed from requirements/dev.lock (every package pinned, every file's hash checked, the `dev` and
# `ner` extras included), then the project itself with no dependency resolution at all: a fresh clone
# installs exactly what was tested. A changed lock rebuilds the environment from scratch.
$(STAMP): requirements/dev.lock pyproject.toml
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/pip check
	touch $(STAMP)

# Brings the locks in line with pyproject.toml (and vLLM's with backends/vllm/requirements.in), every
# file's hash: what is already pinned stays pinned, so adding a dependency adds it and what it needs,
# nothing else moves. `make lock-upgrade` takes the newest releases that fit the ranges instead.
# Resolved against the default package index alone, not this machine's extra mirrors, so that the
# lock installs anywhere. Commit the locks with the change.
TOOLS := .tools/bin
TOOLS_STAMP := .tools/.installed
$(TOOLS_STAMP): requirements/tools.lock
	rm -rf .tools
	$(PYTHON) -m venv .tools
	$(TOOLS)/pip install --quiet --require-hashes --no-deps -r requirements/tools.lock
	touch $(TOOLS_STAMP)

LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
UPGRADE ?=
lock: $(TOOLS_STAMP)
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(TOOLS)/pip-compile $(LOCK_FLAGS) $(UPGRADE) \
		--extra ner -o requirements/runtime.lock pyproject.toml
	env -u PIP_FIND_LINKS PIP_CONFIG_FILE=/dev/null $(TOOLS)/pip-compile $(LOCK_FLAGS) $(UPGRADE) \
		--extra dev --extra ner -c requirements/runtime.lock -o requirements/dev.lock pyproject.toml
	$(MAKE) -C backends/vllm lock COMPILER=$(CURDIR)/$(TOOLS)/pip-compile

lock-upgrade:
	$(MAKE) lock UPGRADE=--upgrade

demo: $(STAMP)
	$(BIN)/python -m gateway.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# docs/configuration.md's tables, written from the configuration models' field docstrings (the prose
# around them is edited in the file). tests/gateway/test_docs.py fails while they disagree.
config-docs: $(STAMP)
	$(BIN)/python -m gateway.config_docs

# The real helm binaries (3 and 4) that tests/helm renders the chart with: pinned, checked, a few seconds.
HELM_TOOLS := $(VENV)/helm/.installed
$(HELM_TOOLS): $(STAMP) tests/helm/install_helm.py
	$(BIN)/python -m tests.helm.install_helm $(VENV)/helm
	touch $(HELM_TOOLS)

helm-tools: $(HELM_TOOLS)

# The OpenID provider tests/oidc signs in with: oidc-provider from npm, exactly as package-lock.json
# says (`npm ci`), no install scripts run. Node.js comes from the system.
OIDC_PROVIDER := tests/oidc/provider/node_modules/.installed
$(OIDC_PROVIDER): tests/oidc/provider/package.json tests/oidc/provider/package-lock.json | system-deps
	cd tests/oidc/provider && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $(OIDC_PROVIDER)

oidc-provider: $(OIDC_PROVIDER)

# What the tests run from Debian's packages: their private redis-servers, the browser that drives
# the console's pages (through Playwright, which never downloads one), and npm for the test OpenID
# provider (tests/oidc/provider). Installed when missing.
system-deps:
	@command -v redis-server >/dev/null 2>&1 && [ -x /usr/bin/chromium ] || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server chromium; }
	@command -v npm >/dev/null 2>&1 || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm; }

# Real vLLM (the community CPU build) in its own environment, outside the work tree so that every
# clone on this machine reuses it while backends/vllm/requirements.lock is unchanged.
vllm:
	$(MAKE) -C backends/vllm env

unit: $(STAMP) $(HELM_TOOLS) $(OIDC_PROVIDER) system-deps vllm
	$(BIN)/pytest

# Everything but the tests against real vLLM: for the edit loop.
unit-fast: $(STAMP) $(HELM_TOOLS) $(OIDC_PROVIDER) system-deps
	$(BIN)/pytest -m "not real_vllm"

test: lint typecheck unit

test-fast: lint typecheck unit-fast

# A CycloneDX SBOM of the locked runtime environment, the one the Docker image runs: build/sbom.json.
SBOM_ENV := build/sbom-env
sbom: $(TOOLS_STAMP)
	rm -rf $(SBOM_ENV) build/wheel
	$(TOOLS)/pip wheel --quiet --no-deps --no-build-isolation -w build/wheel .
	$(PYTHON) -m venv --without-pip $(SBOM_ENV)
	$(TOOLS)/pip --python $(SBOM_ENV)/bin/python install --quiet --require-hashes --no-deps -r requirements/runtime.lock
	$(TOOLS)/pip --python $(SBOM_ENV)/bin/python install --quiet --no-deps build/wheel/*.whl
	$(TOOLS)/cyclonedx-py environment --output-reproducible --of JSON -o build/sbom.json $(SBOM_ENV)
	@$(TOOLS)/python -c 'import json; print("build/sbom.json:", len(json.load(open("build/sbom.json"))["components"]), "components")'

bench: $(STAMP)
	$(BIN)/python -m loadtests.bench

# A bounded headless locust run (30 s, 20 users) against simulators; results under results/locust/.
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run_locust $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
