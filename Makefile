# TraceCenter: `make run` serves the app with demo data; `make test` runs the whole suite.
# Both need only Python 3.12+ and make; `make test` also needs npm (axe-core, the accessibility checker).

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
# Two locks, both with hashes (pip install --require-hashes): what the application runs on (requirements.lock,
# from requirements.in) and that plus the test and lint tools (requirements-dev.lock, from requirements-dev.in).
# `make run` installs the first only; test, lint and messages the second. Each stamp carries the checksum of its
# lock(s), so a changed lock installs again.
RUN_STAMP := $(VENV)/.installed-run-$(shell cksum requirements.lock 2>/dev/null | cut -d' ' -f1)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.lock requirements-dev.lock 2>/dev/null | cksum | cut -d' ' -f1)
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_CASES ?= 40

# The first Python 3.12+ found: python3.13, python3.12, then python3 (which a .python-version file may select).
FIND_PYTHON := for p in python3.13 python3.12 python3; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' >/dev/null 2>&1; then \
	echo $$p; break; fi; done

.PHONY: run test test-postgres lint check messages clean static-vendor

# A .venv with a Python 3.12+, created (or re-created, when it is older) from the first one found; a canned
# recipe (GNU make: each line runs as a recipe line of the rule that uses it).
define ENSURE_VENV
@PYTHON="$$($(FIND_PYTHON))"; \
	if [ -z "$$PYTHON" ]; then \
		echo "TraceCenter needs Python 3.12 or newer: install python3.12 (or 3.13) and put it on the PATH." >&2; exit 1; fi; \
	if [ ! -x $(PY) ] || ! $(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; then \
		echo "Creating $(VENV) with $$PYTHON"; rm -rf $(VENV); "$$PYTHON" -m venv $(VENV); fi
$(PIP) --upgrade pip
endef

$(RUN_STAMP): requirements.lock
	$(ENSURE_VENV)
	$(PIP) --require-hashes -r requirements.lock
	@rm -f $(VENV)/.installed-run-* $(VENV)/.installed-[0-9]*; touch $(RUN_STAMP)

# The development lock holds every pin of the runtime one, so it satisfies `run` too.
$(DEV_STAMP): requirements.lock requirements-dev.lock
	$(ENSURE_VENV)
	$(PIP) --require-hashes -r requirements-dev.lock
	@rm -f $(VENV)/.installed-*; touch $(DEV_STAMP) $(RUN_STAMP)

# One process serves the pages and the live updates and runs the worker (the embedded default);
# Ctrl-C stops them together. With REDIS_URL set, run `manage.py worker` beside it (see docs/platform.md).
# A laptop's server: DEBUG on (DEBUG=false to try it as production serves), so only on loopback (HOST).
run: $(RUN_STAMP)
	$(PY) manage.py migrate --no-input -v 0
	$(PY) manage.py demo_data --cases $(DEMO_CASES)
	DEBUG=$${DEBUG:-true} $(PY) manage.py serve --host $(HOST) --port $(PORT)

# The browser tests check every page with axe-core, an npm package (package-lock.json): installed with `npm ci` when
# node_modules is missing or older than the lock. Serving needs no npm: USWDS and htmx are committed under
# tracecenter/static/vendor/ (make static-vendor).
NODE_STAMP := node_modules/.installed-$(shell cksum package-lock.json 2>/dev/null | cut -d' ' -f1)
$(NODE_STAMP): package-lock.json
	@command -v npm >/dev/null 2>&1 || { echo "The browser tests need npm (Node.js) for axe-core: install nodejs and npm." >&2; exit 1; }
	npm ci --no-audit --no-fund --loglevel=error
	@rm -f node_modules/.installed-*; touch $(NODE_STAMP)

test: $(DEV_STAMP) $(NODE_STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The same suite on PostgreSQL (DATABASE_URL defaults to the local server).
test-postgres: $(DEV_STAMP)
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/tracecenter} $(PY) -m pytest -q -m "not browser" $(PYTEST_ARGS)

lint: $(DEV_STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy tracecenter
	$(VENV)/bin/lint-imports
	$(PY) manage.py makemigrations --check --dry-run

# Rebuild the translation catalogues after changing user-facing strings (needs GNU gettext).
messages: $(DEV_STAMP)
	cd tracecenter && ../$(PY) ../manage.py makemessages -l es --no-obsolete --add-location file
	cd tracecenter && ../$(PY) ../manage.py compilemessages -l es

# Re-copies USWDS and htmx from node_modules into tracecenter/static/vendor/ after a version change (scripts/vendor_static.sh).
static-vendor:
	scripts/vendor_static.sh

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
