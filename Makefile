# Two commands do all the set-up: `make demo` and `make test`. Everything they need is installed here, into
# .venv (Python, from pyproject.toml) and node_modules (Azurite, from package.json / package-lock.json).

# Everything `make test` does before pytest runs side by side: the installs (.venv, node_modules, the doctor's and
# Azure ML server's venvs, chromium), then lint's three parts and the collection, as soon as .venv is there. Enough
# jobs for all of them at once: with fewer, the collection waited for a free slot and then ran alone on one core.
# Each recipe's own lines still run in order.
MAKEFLAGS += --jobs=8

PYTHON ?= python3
# Python writes its compiled modules (__pycache__, git-ignored; snapshots and zips leave them out) even where the
# environment says not to: the suite starts hundreds of Python processes (hosts, instances, scripts, commands) that
# would each compile the app and the SDK again, and pytest's workers would rewrite every test module again.
unexport PYTHONDONTWRITEBYTECODE
VENV := .venv
PY := $(VENV)/bin/python
# pytest-xdist workers, each with its own Azurite and hosts (tests/conftest.py). Five on two cores: many tests
# wait (on a host, a lease, an outage they cause) and the other workers keep the cores busy meanwhile; with four the
# cores sat idle while every worker waited in a trial, and a sixth costs more than it fills (benchmarks/README.md,
# The test suite). loadgroup without reordering: the slow trials first, one test at a time, then the other tests
# module by module (tests/conftest.py, pytest_collection_modifyitems).
TEST_WORKERS ?= 5
PYTEST := $(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder
# Debian's chromium, which the studio's browser tests drive (see its rule below).
CHROMIUM := /usr/bin/chromium

.PHONY: install demo test lint lint-code lint-doctor lint-docs collect unit quick integration bench package clean aml-server-venv

install: $(VENV)/.installed node_modules/.installed

# uv installs the venvs' packages (from PyPI, the versions pip would pick) in a fraction of pip's time on a clean
# clone (benchmarks/README.md, The test suite). It lives in .venv, which the other venvs' rules wait for. The venvs
# come from `python -m venv` without pip: ensurepip costs more CPU than uv takes to install a venv's packages. uv
# itself is installed into .venv by the pip of the Python making it (`pip --python`), or, where that Python has no
# pip, by ensurepip's; .venv then gets pip from uv (the tests and `fninfer package` run it).
UV := $(VENV)/bin/uv
UV_INSTALL := $(UV) pip install --quiet --python

$(UV):
	$(PYTHON) -m venv --without-pip $(VENV)
	$(PYTHON) -m pip --python $(PY) install --quiet 'uv==0.13.10' \
		|| { $(PY) -m ensurepip --default-pip && $(PY) -m pip install --quiet 'uv==0.13.10'; }

$(VENV)/.installed: pyproject.toml $(UV)
	$(UV_INSTALL) $(PY) -e '.[dev]' pip
	# The project folder is the app folder (function_app.py, functions/, shared/): on the dev venv's path, as the
	# Functions host puts the app's folder on its. The installed wheel has no top-level shared/functions.
	$(PY) -c 'import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()["purelib"], "fninfer-app.pth").write_text("$(CURDIR)\n")'
	touch $@

# azure-functions-doctor, an outside judge of the app as the real Functions host sees it, in its own venv (its
# dependencies are not the app's). What it checks and which warnings are accepted, with why: pyproject.toml,
# [tool.azure-functions-doctor]. Beside .venv rather than in it, so the two install at once.
DOCTOR := .venv-doctor
$(DOCTOR)/.installed: $(UV)
	$(PYTHON) -m venv --without-pip $(DOCTOR)
	$(UV_INSTALL) $(DOCTOR)/bin/python 'azure-functions-doctor==0.23.1'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

demo: install
	$(PY) examples/demo.py

# The parity test compares fninfer's scoring answers with Azure ML's own server's, so `make test` builds that server's
# venv too (below): in CI the comparison runs, it is not skipped. The import graph's test is left out: lint-code ran it.
test: install lint collect aml-server-venv $(CHROMIUM)
	$(PYTEST) --durations=25 --ignore=tests/unit/test_import_graph.py

# The suite collected once before its workers start, which writes the compiled test modules (assertion-rewritten)
# and the modules they import: on a clean clone every worker would compile them all at once. Needs no Azurite, so it
# runs while npm ci does.
collect: $(VENV)/.installed
	$(PY) -m pytest --collect-only -q > /dev/null

# Lint needs no Azurite: on a clean clone it runs while npm ci still installs it. Its three parts run side by side
# (each is one process at a time, and the doctor alone takes ~6 s: it parses each of the zip's files once per check).
lint: lint-code lint-doctor lint-docs

lint-code: $(VENV)/.installed
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	# the import graph: layers and no cycles (pyproject.toml, [tool.importlinter]; tests/unit/test_import_graph.py)
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q tests/unit/test_import_graph.py

lint-doctor: $(VENV)/.installed $(DOCTOR)/.installed
	$(PY) tools/doctor_copy.py $(VENV)/doctor-app
	cd $(VENV)/doctor-app && VIRTUAL_ENV=$(CURDIR)/$(VENV) $(CURDIR)/$(DOCTOR)/bin/azure-functions-doctor doctor \
		--profile full --hosting-plan flex-consumption --deployment-mode local-prebuilt \
		--summary-json $(CURDIR)/$(VENV)/doctor-summary.json
	$(PY) -c 'import json, sys; s = json.load(open("$(VENV)/doctor-summary.json")); sys.exit(f"doctor: {s}" if s.get("failed") or s.get("warned") else 0)'

lint-docs: $(VENV)/.installed
	NO_MKDOCS_2_WARNING=1 $(VENV)/bin/mkdocs build --strict --quiet

# The inner loop: `make unit` (no Azurite) and `make quick` (everything but the long trials marked `slow`: kills,
# faults, chaos, schemathesis, parity with Azure ML's server, packaging, the browser), which `make test` and CI run.
unit: install
	$(PYTEST) -m "not integration and not slow"

quick: install
	$(PYTEST) -m "not slow" --durations=10

integration: install $(CHROMIUM)
	$(PYTEST) -m integration --durations=25


# Speed, side by side in one run (see each script's docstring). Real-time: fninfer vs a minimal FastAPI app
# (benchmark-only dependency) and Azure ML's own scoring server (its venv, below), and mlflow when MLFLOW_PYTHON
# names an interpreter that has it. Scoring path: fninfer's own work per call vs run() alone, in-process. Batch:
# the pipeline vs a plain download-and-run loop. Storage: client CPU per request vs the SDK's clients as documented.
# SDK calls: Webservice.run vs requests.post, as Azure ML's run sends it.
# Listing runs: an experiment's runs with storage 10 ms away vs reading them one after the other.
bench: install aml-server-venv
	$(UV_INSTALL) $(PY) fastapi
	$(UV_INSTALL) $(AML_SERVER_VENV)/bin/python scikit-learn joblib
	AMLSERVER_PYTHON=$(AML_SERVER_VENV)/bin/python $(PY) benchmarks/realtime.py
	$(PY) benchmarks/scoring_path.py
	$(PY) benchmarks/storage_calls.py
	$(PY) benchmarks/sdk_calls.py
	$(PY) benchmarks/run_listing.py
	$(PY) benchmarks/batch.py

# The zip Azure Functions runs (see docs/deploying.md); pass options with ARGS="--include-model m:1".
package: install
	$(VENV)/bin/fninfer package $(ARGS)

clean:
	rm -rf $(VENV) $(DOCTOR) $(AML_SERVER_VENV) node_modules .fninfer .pytest_cache .ruff_cache *.egg-info

# The studio's browser tests (tests/browser) drive Debian's chromium with Playwright (a dev dependency). CI starts
# from a clean machine and runs as root, so the tests' targets install chromium when it is missing; never
# `playwright install`, which downloads a browser of its own.
$(CHROMIUM):
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# Azure ML's own scoring server in a venv of its own (not a dependency of fninfer), for
# tests/integration/test_aml_server_parity.py, which compares fninfer's scoring answers with its answers.
AML_SERVER_VENV := .venv-aml-server
aml-server-venv: $(AML_SERVER_VENV)/.installed

$(AML_SERVER_VENV)/.installed: $(UV)
	$(PYTHON) -m venv --without-pip $(AML_SERVER_VENV)
	$(UV_INSTALL) $(AML_SERVER_VENV)/bin/python azureml-inference-server-http==1.5.1 azureml-contrib-services inference-schema numpy pandas
	touch $@
