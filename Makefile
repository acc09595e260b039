# proofcheck: `make reports` builds the solution documents, `make test` runs the whole suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install test test-fast reports verify bench seeds clean

install: $(STAMP)

# The virtual environment is rebuilt whenever the dependency pins change.
# A proofcheck.egg-info left in the checkout by an older layout would shadow the installed metadata (entry points).
$(STAMP): pyproject.toml
	rm -rf proofcheck.egg-info
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Every claim at seed 0 (the pytest items), then every claim at a rotating seed derived from the commit,
# so that each commit explores one more sample; the seed is printed with the command that replays it.
# Override with `make test ROTATING_SEED=n`; without git it is 1.
ROTATING_SEED ?= $(shell h=$$(git rev-parse --short=7 HEAD 2>/dev/null) && echo $$(( 0x$$h % 100000 )) || echo 1)

test: $(STAMP)
	HYPOTHESIS_PROFILE=ci $(BIN)/python -m pytest -q tests proofs
	@echo "rotating seed $(ROTATING_SEED) (from commit $$(git rev-parse --short=7 HEAD 2>/dev/null || echo none)); replay: $(BIN)/proofcheck verify --seed $(ROTATING_SEED)"
	$(BIN)/proofcheck verify --seed $(ROTATING_SEED)

# Every claim at seeds 0-19, each in a fresh process; reports which claims fail at which seeds.
seeds: $(STAMP)
	$(BIN)/python benchmarks/seed_sweep.py --seeds 0-19

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
	$(BIN)/python benchmarks/bulk_memory_bench.py
	$(BIN)/python benchmarks/cluster_bench.py
	$(BIN)/python benchmarks/serve_bench.py
	$(BIN)/python benchmarks/review_bench.py

clean:
	rm -rf $(VENV) reports/*.pdf reports/*.html reports/*.tex .cache
