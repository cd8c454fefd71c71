# The two commands: `make run` and `make test`. Everything else is their parts.
PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
PORT   ?= 8000
export PATH := $(BIN):$(PATH)

.PHONY: run test install assets migrate seed lint typecheck check clean

## run: set everything up and start the web server, the Celery worker and beat (Ctrl-C stops all)
run: install assets
	@mkdir -p var
	@test -s var/demo-password || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(12))" > var/demo-password
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py migrate --noinput
	DEBUG=$${DEBUG:-true} $(BIN)/python manage.py seed_demo --password "$$(cat var/demo-password)" --api-key "$${DEMO_API_KEY:-DEMOKEY0DEMOKEY0DEMOKEY0DEMOKEY0}"
	@echo ""
	@echo "  Portal:      http://127.0.0.1:$(PORT)/"
	@echo "  Staff panel: http://127.0.0.1:$(PORT)/staff/"
	@echo "  Django admin http://127.0.0.1:$(PORT)/django-admin/"
	@echo "  Mail sent by the help desk is written to var/mail/."
	@echo ""
	DEBUG=$${DEBUG:-true} PORT=$(PORT) $(BIN)/honcho start -f Procfile.dev

## test: set everything up and run the whole suite (SQLite unless DATABASE_URL says otherwise)
test: install assets
	$(BIN)/python -m pytest $(PYTEST_ARGS)

install: $(VENV)/.installed

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed (set PYTHON=python3.11).")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python requirements.txt requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	@touch $@

assets: $(BIN)/python
	$(BIN)/python scripts/vendor_assets.py

migrate: install
	$(BIN)/python manage.py migrate --noinput

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: install
	DEBUG=true $(BIN)/mypy .

clean:
	rm -rf var staticfiles static/vendor

## bench: the benchmark of ../shared/BENCH.md at SIZE tickets (loads or reuses hd_bench_ours and
## hd_bench_peer, starts what it needs, writes bench/results/); BENCH_ARGS for more (bench/run.py --help)
SIZE ?= 2000
.PHONY: bench
bench: install assets
	$(BIN)/python bench/run.py --size $(SIZE) $(BENCH_ARGS)
