# KSeF Portal — the commands a newcomer needs. Only python3 is required; everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(abspath $(VENV))/bin
PORT ?= 8000
BENCH ?=
SOAK_MINUTES ?= 30
# pytest-xdist processes for `make test`: most of the suite's time is spent waiting on workers, servers and
# browsers it starts, so 3 keep the 2 cores of CI busy.
TEST_WORKERS ?= 3
STAMP := $(VENV)/.installed-stamp

.PHONY: run test lint bench soak messages lock install clean

$(STAMP): pyproject.toml requirements.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[dev]"
	@touch $(STAMP)

## install: create .venv and install the pinned dependencies
install: $(STAMP)

.env:
	$(BIN)/python bin/bootstrap_env.py

## run: bootstrap, then the web app on http://127.0.0.1:$(PORT) plus a Celery worker with beat
run: install .env
	$(BIN)/python bin/compile_messages.py
	$(BIN)/python manage.py migrate --noinput
	@echo
	@echo "  KSeF Portal:    http://127.0.0.1:$(PORT)/"
	@echo "  KSeF simulator: http://127.0.0.1:$(PORT)/ksef-sim/"
	@echo "  Health:         http://127.0.0.1:$(PORT)/healthz   (Ctrl+C stops everything)"
	@echo
	@# Settings read .env themselves; honcho must not let it override PORT from the command line. honcho gives
	@# each process a PORT of its own (web 8000, worker 8100), so all of them learn the web's port as WEB_PORT:
	@# the worker then reaches the simulator and writes links at the address the web server serves.
	exec env PATH="$(BIN):$$PATH" WEB_PORT=$(PORT) $(BIN)/honcho start --env /dev/null --port $(PORT)

## test: the whole suite in TEST_WORKERS processes (service tests skip locally without PostgreSQL/Redis; CI
## requires them). TEST_WORKERS=0 runs it in one process; so does plain `.venv/bin/python -m pytest tests/...`.
test: install
	$(BIN)/python bin/compile_messages.py
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)

## lint: ruff, ruff format --check, mypy, and a check that migrations are up to date
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .
	DJANGO_SETTINGS_MODULE=tests.settings $(BIN)/python manage.py makemigrations --check --dry-run

## bench: print the benchmark figures (BENCH=<group> runs one group)
bench: install
	$(BIN)/python bin/compile_messages.py
	$(BIN)/python bench/run.py $(BENCH)

## soak: issue and import for SOAK_MINUTES (30) while KSeF fails and the worker is killed (PostgreSQL + Redis)
soak: install
	$(BIN)/python bin/compile_messages.py
	SOAK_MINUTES=$(SOAK_MINUTES) $(BIN)/python bench/soak.py

## messages: refresh the gettext catalogs (needs GNU gettext) and compile them
messages: install
	# Templates (templates/) go to the project catalog in locale/; each app's Python code to its own catalog.
	$(BIN)/python bin/make_messages.py
	$(BIN)/python bin/compile_messages.py

## lock: re-pin every dependency after a change in pyproject.toml
lock:
	rm -rf .venv-lock && $(PYTHON) -m venv .venv-lock
	.venv-lock/bin/python -m pip install --quiet --upgrade pip
	.venv-lock/bin/python -m pip install --quiet -e ".[dev]"
	(echo "# Pinned versions of every dependency (constraints for 'pip install -c requirements.lock -e .[dev]')."; \
	 echo "# Regenerate with 'make lock' after changing pyproject.toml."; \
	 .venv-lock/bin/python -m pip freeze --exclude-editable) > requirements.lock
	rm -rf .venv-lock

clean:
	rm -rf $(VENV) var
