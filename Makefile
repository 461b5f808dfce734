# The two set-up commands of the README, plus the developer ones.
# Every target creates the virtual environment itself when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs docs-check lint format bench conformance sandbox clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Most tests wait on a server (the sandbox's latency, Airflow processes starting), not on the CPU: two
# workers, each taking whole files (module fixtures such as the deployment tier stay in one process).
PYTEST_WORKERS ?= 2

test: $(STAMP) docs-check
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The documentation site (docs/, Sphinx): warnings are errors, references are checked (nitpicky), every
# page is read again (-E) so that no warning hides in a cached page. Open docs/_build/html/index.html.
SPHINX := $(BIN)/sphinx-build -W --keep-going -n -q -E
docs: $(STAMP)
	$(SPHINX) -b html docs docs/_build/html

# The same checks without writing HTML (about ten seconds): part of `make test`.
docs-check: $(STAMP)
	$(SPHINX) -b dummy docs docs/_build/dummy

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py $(BENCH_ARGS)

# The sandbox against both official Contacts specs with schemathesis, 40 examples per operation (5-10 minutes).
conformance: $(STAMP)
	CONFORMANCE_EXAMPLES=40 $(BIN)/python -m pytest tests/integration/sandbox/test_conformance.py -s -q --timeout=3600

sandbox: $(STAMP)
	$(BIN)/contacts-sandbox --seed 200

clean:
	rm -rf $(VENV) .demo .airflow-test .pytest_cache .ruff_cache .mypy_cache docs/_build docs/api
