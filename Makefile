# The two commands of the README: `make demo` and `make test`. Both set everything up first.
VENV := .venv
PYTEST_ARGS ?= -n 2
export NO_MKDOCS_2_WARNING := 1

.PHONY: setup lock demo test test-fast lint typecheck js docs docs-build clean

# .venv and .venv-pelican from uv.lock, npm's tools from package-lock.json (scripts/setup.sh).
setup:
	bash scripts/setup.sh

# After changing a dependency in pyproject.toml: re-lock, then set up from the new lock. To move a
# pin without changing pyproject.toml: `make lock LOCK_ARGS="--upgrade-package ruff"`.
lock:
	bash scripts/setup.sh --lock $(LOCK_ARGS)

demo: setup
	$(VENV)/bin/python scripts/demo.py

test: setup
	$(VENV)/bin/python -m pytest $(PYTEST_ARGS)

# The inner loop (after one `make setup`): tests/unit and tests/engine without browsers or Pelican
# builds, and a tenth of the property-test examples. `make test` runs it all.
test-fast:
	AAE_QUICK=1 $(VENV)/bin/python -m pytest -n 2 -q -m "(unit or engine) and not browser and not pelican"

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check aae_tracking_plugins pelican
	npm run --silent lint

typecheck: setup
	$(VENV)/bin/mypy --strict

# Rebuild the minified tracker after editing aae_tracking_plugins/js/*.js (the build is committed).
js: setup
	npm run --silent lint
	npm run --silent build

# The documentation site (mkdocs.yml, docs/contributing.md): served with live reload on
# http://127.0.0.1:8000/, tracking itself into `aae-tracking collect` (port 8787) when it runs.
# DOCS_ARGS passes options, e.g. `make docs DOCS_ARGS="-a 127.0.0.1:8001"`.
docs: setup
	$(VENV)/bin/mkdocs serve $(DOCS_ARGS)

# Build it strictly (every broken link or anchor fails) into build/docs-site.
docs-build: setup
	$(VENV)/bin/mkdocs build --strict $(DOCS_ARGS)

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache sample_sites/mkdocs/site sample_sites/pelican/output
