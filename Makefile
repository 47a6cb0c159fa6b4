# Plate: `make run` serves the app, `make test` runs the whole suite. Both work on a fresh clone.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
FLASK := $(VENV)/bin/flask --app webapp
HOST ?= 127.0.0.1
PORT ?= 5000
# Test processes (pytest-xdist); each gets its own SQLite files and PostgreSQL database.
TEST_WORKERS ?= auto
# Keep compiled modules (__pycache__, git-ignored) even where the environment sets PYTHONDONTWRITEBYTECODE:
# otherwise every test worker, server process and command compiles every module again (seconds each).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install run migrate demo test chromium wrk bench serve clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

instance:
	mkdir -p instance

migrate: install instance
	$(FLASK) db upgrade

# Serves the app and, in the same process, the push dispatcher (a pass every 15 s).
run: migrate
	$(FLASK) push keys
	PLATE_DISPATCH_IN_PROCESS=1 $(FLASK) run --host $(HOST) --port $(PORT)

# Serves as in production: gunicorn (gunicorn.conf.py; PLATE_BIND, default 127.0.0.1:8000) and the push
# dispatcher as its own process, JSON logs on stdout; migrates first; Ctrl-C stops both (bin/serve).
serve: migrate
	VENV=$(VENV) bin/serve

demo: migrate
	$(FLASK) demo

# Browser tests need Debian's Chromium; install it when we can (root with apt), never a downloaded build.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not found and cannot be installed here: browser tests will be skipped (CI fails instead)."; fi; }

test: install chromium
	@$(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: that is a failure, not a pass."; exit 1; fi; exit $$rc

# Each benchmark prints ratios measured side by side in one run (see README, Figures). SQLite always;
# PostgreSQL too when TEST_DATABASE_URL names a server (each benchmark makes and drops its own databases).
PG_BENCH = $(if $(TEST_DATABASE_URL),--database-url $(TEST_DATABASE_URL),)
bench: install chromium wrk
	$(PY) bench/api.py
	$(if $(TEST_DATABASE_URL),$(PY) bench/api.py $(PG_BENCH))
	$(PY) bench/push.py
	$(if $(TEST_DATABASE_URL),$(PY) bench/push.py $(PG_BENCH))
	$(PY) bench/pwa.py
	$(PY) bench/record.py $(PG_BENCH)
	$(PY) bench/load.py $(if $(TEST_DATABASE_URL),$(PG_BENCH),--backends sqlite)

# bench/api.py drives gunicorn with wrk, from Debian's packages.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "wrk not found: install it (apt-get install wrk) for bench/api.py."; exit 1; fi; }

clean:
	rm -rf $(VENV) .pytest_cache tests/artifacts
