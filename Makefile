# The two set-up commands of the README, plus the developer ones.
# Every target creates the virtual environment itself when it is missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test docs docs-check lint pyfloor package-check format bench conformance sandbox clean

# The sandbox is a distribution of its own (sandbox/), not on PyPI. Named in the same pip call as the
# provider, its folder is the only candidate pip considers for the dev extra's requirement on it: the name is
# never looked up in an index.
$(STAMP): pyproject.toml sandbox/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ./sandbox -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/demo.py

# Most tests wait on a server (the sandbox's latency, Airflow processes starting), not on the CPU: three
# workers on two cores, each taking whole files (module fixtures such as the deployment tier stay in one
# process). On 2026-12-06's slower host, two workers took 10 min 20 s and three 8 min 36 s.
PYTEST_WORKERS ?= 3

# The suite includes the package check (tests/packaging/test_wheel.py).
test: $(STAMP) pyfloor docs-check
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

# The documentation site (docs/, Sphinx): warnings are errors, references are checked (nitpicky), every
# page is read again (-E) so that no warning hides in a cached page. Open docs/_build/html/index.html.
SPHINX := $(BIN)/sphinx-build -W --keep-going -n -q -E
docs: $(STAMP)
	$(SPHINX) -b html docs docs/_build/html

# The same checks without writing HTML (about ten seconds): part of `make test`.
docs-check: $(STAMP)
	$(SPHINX) -b dummy docs docs/_build/dummy

lint: $(STAMP) pyfloor
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# requires-python says 3.10: nothing the package, its scripts or the example DAGs use may need a newer Python.
# (Only 3.11 runs; see the README's "Tested with".)
pyfloor: $(STAMP)
	$(BIN)/vermin --target=3.10- --violations --no-tips --eval-annotations --quiet airflow_provider_contacts sandbox/contacts_sandbox example_dags scripts

# The wheel users install: built, checked by twine, installed without extras beside Airflow (a virtual
# environment cached in .package-check/ by a hash of the dependencies), every module imported, pip check.
package-check: $(STAMP)
	$(BIN)/python -m pytest tests/packaging -q -p no:cacheprovider

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
	rm -rf $(VENV) .demo .airflow-test .pytest_cache .ruff_cache .mypy_cache .package-check docs/_build docs/api
