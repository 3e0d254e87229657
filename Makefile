# CareMonth — every target installs what it needs into .venv first.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test e2e lint fmt bench worker beat clean lock install backup restore

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "Python 3.11 is required ($(PYTHON) not found)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

# Embedded PostgreSQL (data in .data/pg/), migrate, demo data, serve http://127.0.0.1:8000.
run: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) -m ccm.devdb run

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadgroup -m "not e2e"
	$(PY) -m pytest -m e2e

e2e: $(STAMP)
	$(PY) -m pytest -m e2e

# The API, worklist and month-close tests through a private PgBouncer in transaction mode, as
# docker-compose.yml runs web, worker and beat (.ci/pgbouncer-tests, docs/pooling.md). Needs
# Debian's pgbouncer and the local PostgreSQL at 127.0.0.1:5432 (user postgres).
.PHONY: test-pgbouncer
test-pgbouncer: $(STAMP)
	.ci/pgbouncer-tests

# makemigrations runs the system checks: DEBUG=1 unless set, as DEBUG=0 requires EMAIL_URL.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports  # layering contracts in pyproject.toml (style.md §10)
	DEBUG=$${DEBUG:-1} $(PY) manage.py makemigrations --check --dry-run

fmt: $(STAMP)
	$(PY) -m ruff check --fix .
	$(PY) -m ruff format .

bench: $(STAMP)
	@for f in bench/[!_]*.py; do echo "== $$f"; $(PY) $$f || exit 1; done

worker: $(STAMP)
	@test -n "$$REDIS_URL" || { echo "make worker needs REDIS_URL (without it tasks run eagerly in-process)"; exit 1; }
	CAREMONTH_DEVDB_USER=$${CAREMONTH_DEVDB_USER:-caremonth_app} $(VENV)/bin/celery -A ccm worker --loglevel=INFO --concurrency=2

beat: $(STAMP)
	@test -n "$$REDIS_URL" || { echo "make beat needs REDIS_URL"; exit 1; }
	CAREMONTH_DEVDB_USER=$${CAREMONTH_DEVDB_USER:-caremonth_app} $(VENV)/bin/celery -A ccm beat --loglevel=INFO --scheduler django_celery_beat.schedulers:DatabaseScheduler

# Backups (docs/operations.md): a directory under BACKUP_DIR (.data/backups/ by default), of the
# embedded PostgreSQL or DATABASE_URL's; restore only into an empty database and MEDIA_ROOT.
# DEBUG=1 unless set, as for `make run` (DEBUG=0 requires EMAIL_URL: production sets its own).
backup: $(STAMP)
	DEBUG=$${DEBUG:-1} $(PY) manage.py backup

restore: $(STAMP)
	@test -n "$(FILE)" || { echo "usage: make restore FILE=.data/backups/<UTC time>"; exit 1; }
	DEBUG=$${DEBUG:-1} $(PY) manage.py restore "$(FILE)"

# Regenerate the full pinned set from pyproject.toml's pins.
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/pip install --quiet --disable-pip-version-check ".[dev]"
	.venv-lock/bin/pip freeze --exclude caremonth > requirements.lock
	rm -rf .venv-lock

clean:
	-test -x $(PY) && $(PY) -m ccm.devdb stop
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache .import_linter_cache test-artifacts
