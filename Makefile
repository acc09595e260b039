# proofcheck: `make reports` builds the solution documents, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast reports verify bench clean

install: $(STAMP)

# The virtual environment is rebuilt whenever the dependency pins change.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -q tests proofs

test-fast: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest -q -m "not slow" tests

verify: $(STAMP)
	$(BIN)/proofcheck verify

reports: $(STAMP)
	$(BIN)/proofcheck verify

bench: $(STAMP)
	$(BIN)/python benchmarks/verify_bench.py
	$(BIN)/python benchmarks/grade_bench.py

clean:
	rm -rf $(VENV) reports/*.pdf reports/*.html reports/*.tex .cache
