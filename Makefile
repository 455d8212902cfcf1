# Two commands do all the set-up: `make demo` and `make test`. Everything they need is installed here, into
# .venv (Python, from pyproject.toml) and node_modules (Azurite, from package.json / package-lock.json).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: install demo test lint unit integration bench package clean aml-server-venv

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: install
	$(PY) examples/demo.py

test: install lint
	$(PY) -m pytest

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

unit: install
	$(PY) -m pytest tests/unit

integration: install
	$(PY) -m pytest tests/integration

# Real-time scoring speed: fninfer vs a minimal FastAPI app (benchmark-only dependency), and mlflow when
# MLFLOW_PYTHON names an interpreter that has it.
bench: install
	$(PY) -m pip install --quiet fastapi
	$(PY) benchmarks/realtime.py

# The zip Azure Functions runs (see the README, "Deploy to Azure"); pass options with ARGS="--include-model m:1".
package: install
	$(VENV)/bin/fninfer package $(ARGS)

clean:
	rm -rf $(VENV) $(AML_SERVER_VENV) node_modules .fninfer .pytest_cache .ruff_cache *.egg-info

# Azure ML's own scoring server in a venv of its own (not a dependency of fninfer), for
# tests/integration/test_aml_server_parity.py, which compares fninfer's scoring answers with its answers.
AML_SERVER_VENV := .venv-aml-server
aml-server-venv: $(AML_SERVER_VENV)/.installed

$(AML_SERVER_VENV)/.installed:
	$(PYTHON) -m venv $(AML_SERVER_VENV)
	$(AML_SERVER_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(AML_SERVER_VENV)/bin/python -m pip install --quiet azureml-inference-server-http==1.5.1 azureml-contrib-services inference-schema numpy pandas
	touch $@
