# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
export FLASK_APP := app

.PHONY: run dev test lint install install-dev calibrate chromium translations

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Serve on http://127.0.0.1:$(PORT) under gunicorn, SQLite in instance/: a web process per
# core, two at most (MODERATION_WEB_PROCESSES=N sets it), the scoring worker a thread of
# one of them (config/gunicorn.conf.py).
# Links in moderators' mail point at this server unless MODERATION_PUBLIC_URL says where.
run: install
	$(BIN)/flask db upgrade
	$(BIN)/flask moderation bootstrap
	@echo "serving on http://127.0.0.1:$(PORT)/  (demo blog: http://127.0.0.1:$(PORT)/demo/; moderators: http://127.0.0.1:$(PORT)/moderation/; Ctrl-C stops)"
	PORT=$(PORT) MODERATION_PUBLIC_URL="$${MODERATION_PUBLIC_URL:-http://127.0.0.1:$(PORT)}" \
	  exec $(BIN)/gunicorn -c config/gunicorn.conf.py 'app:create_app()'

# Flask's reloading development server; the worker runs beside it.
dev: install
	$(BIN)/flask db upgrade
	$(BIN)/flask moderation bootstrap
	$(BIN)/flask moderation worker & trap 'kill %1' EXIT; \
	  MODERATION_WORKER_IN_PROCESS=false $(BIN)/flask run --debug --port $(PORT)

# Debian's Chromium for the browser tests (Playwright cannot download browsers here).
chromium:
	@command -v chromium >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; }

# On SQLite and, when TEST_DATABASE_URL's server answers, PostgreSQL: each run creates its
# own database there and drops it (README, Development).
test: install-dev chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy moderation app.py
	$(BIN)/lint-imports --no-cache

calibrate: install
	$(BIN)/python bench/calibrate_lite.py

# The server's reader-facing messages: extract them, merge them into each language's .po
# (translate what comes up empty), and compile the .mo files that are committed beside them.
translations: install
	$(BIN)/pybabel extract -F moderation/translations/babel.cfg -k N_ --no-location \
	  --omit-header --sort-output --width 100 -o moderation/translations/messages.pot moderation
	$(BIN)/pybabel update -i moderation/translations/messages.pot -d moderation/translations \
	  --width 100 --no-fuzzy-matching
	$(BIN)/pybabel compile -d moderation/translations
