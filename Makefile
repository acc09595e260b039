# proofcheck: `make reports` builds the solution documents, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast reports verify bench clean

install: $(STAMP)

# The virtual environment is rebuilt whenever the dependency pins change.
# A proofcheck.egg-info left in the checkout by an older layout would shadow the installed metadata (entry points).
$(STAMP): pyproject.toml
	rm -rf proofcheck.egg-info
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -q tests proofs

test-fast: $(STAMP)
	HYPOTHESIS_PROFILE=dev $(BIN)/python -m pytest -q -m "not slow" tests

verify: $(STAMP)
	$(BIN)/proofcheck verify

reports: $(STAMP) latex-tools
	$(BIN)/proofcheck report

# LaTeX for the PDF reports: installed with apt-get when missing and we are root on Debian/Ubuntu.
TEX_PACKAGES := texlive-latex-recommended latexmk lmodern
.PHONY: latex-tools
latex-tools:
	@command -v latexmk >/dev/null 2>&1 && command -v pdflatex >/dev/null 2>&1 || \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $(TEX_PACKAGES); \
	else \
		echo "make reports needs LaTeX: install $(TEX_PACKAGES) (e.g. sudo apt-get install --no-install-recommends $(TEX_PACKAGES))" >&2; exit 1; \
	fi

bench: $(STAMP)
	$(BIN)/python benchmarks/verify_bench.py
	$(BIN)/python benchmarks/grade_bench.py
	$(BIN)/python benchmarks/serve_bench.py

clean:
	rm -rf $(VENV) reports/*.pdf reports/*.html reports/*.tex .cache
