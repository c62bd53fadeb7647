# The whole developer interface.  Every target sets up .venv/ first if needed, from the
# hash-checked lock file (requirements/lock.txt): two installs of one version of gutaxis
# get the same packages, and so the same numbers.
PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed-stamp
LOCK    := requirements/lock.txt
LOCKENV := .venv-lock

.PHONY: demo serve test bench lint setup clean lock lock-upgrade node-validator

# The FHIR tests' independent validator (@medplum/core through Node, tests/fhir/node/):
# its npm packages, installed exactly as package-lock.json pins them.
NODE_DIR   := tests/fhir/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed-stamp

$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet 'pip==26.3'
	$(BIN)/python -m pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

setup: $(STAMP)

$(NODE_STAMP): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	npm ci --prefix $(NODE_DIR) --no-audit --no-fund
	@touch $(NODE_STAMP)

# without npm nothing is installed: the tests that need the validator skip (and fail in CI)
node-validator:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(NODE_STAMP); \
	else echo "npm not found: the FHIR tests' Node validator is not installed (those tests skip)"; fi

demo: $(STAMP)
	$(BIN)/gutaxis demo --overwrite

# The practice application with a demo clinic made from the bundled study (its password is
# printed the first time); data in gutaxis-demo-clinic/, http://127.0.0.1:8000/
serve: $(STAMP)
	$(BIN)/gutaxis serve --data gutaxis-demo-clinic --demo-clinic

# one pytest worker per core (pytest-xdist): much of the suite waits on servers,
# browsers and subprocesses; a focused `pytest tests/…` still runs in one process
test: $(STAMP) node-validator
	$(BIN)/python -m pytest --numprocesses auto --durations=15

# the kernels against scikit-bio, then `gutaxis diversity` against Striped UniFrac's ssu end to end
bench: $(STAMP)
	$(BIN)/python -m benchmarks.run
	$(BIN)/python -m benchmarks.ssu

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

$(LOCKENV)/bin/pip-compile:
	$(PYTHON) -m venv $(LOCKENV)
	$(LOCKENV)/bin/python -m pip install --quiet 'pip==26.3' 'pip-tools==7.7.0'

# Re-pin after editing pyproject.toml (existing pins are kept); `make lock-upgrade` bumps all.
# The lock is for CPython 3.11 on Linux x86_64 (what CI runs); other platforms regenerate it.
lock: $(LOCKENV)/bin/pip-compile
	$(LOCKENV)/bin/pip-compile --quiet --generate-hashes --extra dev --extra service --build-deps-for editable \
	    --strip-extras --allow-unsafe --no-emit-index-url --no-emit-find-links \
	    $(LOCKFLAGS) -o $(LOCK) pyproject.toml

lock-upgrade:
	$(MAKE) lock LOCKFLAGS=--upgrade

clean:
	rm -rf $(VENV) $(LOCKENV) build dist .pytest_cache .mypy_cache .ruff_cache $(NODE_DIR)/node_modules
