# Two commands do all the set-up on a fresh machine with Python 3.11+ and make:
#   make run    run the bot on the embedded defaults (SQLite, no external server)
#   make test   run the test suite (SQLite; set TEST_DATABASE_URL for PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv run test lint catalogs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	$(BIN)/yishi run

# pytest exits 5 when it collected no test: that must fail, and it does (make passes the code on).
# Most tests wait on sockets and subprocesses, so four workers keep two cores busy (TEST_WORKERS=0: one process).
TEST_WORKERS ?= 4
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS)

# Extract user-facing strings and merge them into both catalogs (compiling happens at start-up).
catalogs: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg --no-location --sort-output -o locales/messages.pot .
	$(BIN)/pybabel update -i locales/messages.pot -d locales --no-fuzzy-matching --ignore-obsolete --width 120

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
