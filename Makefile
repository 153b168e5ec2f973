# Two entry points do every set-up step themselves on a fresh machine:
#   make demo  -> simulators + gateway on 127.0.0.1:8080
#   make test  -> lint, type-check, full test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck unit bench loadtest clean helm-tools system-deps

# With the `ner` extra (spaCy and its 16 MB French model, about 20 s more to install), so that the
# tests cover person and place names too.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,ner]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m gateway.demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The real helm binaries (3 and 4) that tests/helm renders the chart with: pinned, checked, a few seconds.
HELM_TOOLS := $(VENV)/helm/.installed
$(HELM_TOOLS): $(STAMP) tests/helm/install_helm.py
	$(BIN)/python -m tests.helm.install_helm $(VENV)/helm
	touch $(HELM_TOOLS)

helm-tools: $(HELM_TOOLS)

# What the tests run from Debian's packages: their private redis-servers, and the browser that drives
# the console's pages (through Playwright, which never downloads one). Installed when missing.
system-deps:
	@command -v redis-server >/dev/null 2>&1 && [ -x /usr/bin/chromium ] || { \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server chromium; }

unit: $(STAMP) $(HELM_TOOLS) system-deps
	$(BIN)/pytest

test: lint typecheck unit

bench: $(STAMP)
	$(BIN)/python -m loadtests.bench

# A bounded headless locust run (30 s, 20 users) against simulators; results under results/locust/.
loadtest: $(STAMP)
	$(BIN)/python -m loadtests.run_locust $(LOADTEST_ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
