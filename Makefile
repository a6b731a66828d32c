# Two commands on a fresh machine:
#   make quickstart   sets up .venv (CPU torch + corenets) and trains the quickstart recipe
#   make test         the same set-up where missing, then the test suite, the tutorials and the docs build
#                     (.ci/run calls this, then test-slow)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# The CPU build: on these machines `torch==2.13.0` comes from local disk. Elsewhere, for a CPU-only
# build: make TORCH_INDEX=https://download.pytorch.org/whl/cpu  (a plain PyPI torch on Linux is the CUDA build).
TORCH       ?= torch==2.13.0
TORCH_INDEX ?=
EXTRAS      ?= dev,serve,export,browser,inspect,tune,docs
STAMP  := $(VENV)/.corenets-installed

.PHONY: quickstart test test-slow fuzz setup clean docs docs-serve notebooks

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)" $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install -q -e ".[$(EXTRAS)]"
	touch $(STAMP)

setup: $(STAMP)

quickstart: $(STAMP)
	$(BIN)/corenets run quickstart

# pytest exits 5 when it collects nothing (every test deselected or skipped at collection): not a failure here.
# Recursive (=), not :=, so the $$ survive until the recipe runs.
NO_TESTS_OK = rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 0; fi; exit $$rc
# extra pytest arguments, e.g. make test-slow PYTEST_ARGS=--reverse (tests/conftest.py): the same tests, backwards
PYTEST_ARGS ?=

# the suite runs every tutorial in fast mode (tests/test_tutorials.py) and keeps the executed notebooks in
# build/tutorials, whose outputs (plots, numbers) the site then shows; then the site must build, strictly
test: $(STAMP)
	CORENETS_EXECUTED_TUTORIALS=build/tutorials $(BIN)/python -m pytest -q $(PYTEST_ARGS); $(NO_TESTS_OK)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet --site-dir $(DOCS_SITE)

# the documentation site (mkdocs.yml): built into site/ (a broken link or a page missing from the nav fails the build),
# or served at http://127.0.0.1:8000 with a rebuild on every edit
DOCS_SITE ?= site
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir $(DOCS_SITE)

docs-serve: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve

# tutorials/*.ipynb from the jupytext .py files (the .py files are the source; the notebooks are not committed)
notebooks: $(STAMP)
	$(BIN)/jupytext --to ipynb tutorials/[0-9][0-9]_*.py

# the tests marked slow (real data, every export family with torch.export, long fault runs); .ci/run runs them after `test`
test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow $(PYTEST_ARGS); $(NO_TESTS_OK)

# the long fuzz (issue 17): each target of tests/faults/test_fuzz_cli.py (--set values, config files, CSV files, damaged
# run folders) draws fresh examples for FUZZ_SECONDS (default 600: 10 minutes a target) and prints how many it ran.
# One target: make fuzz PYTEST_ARGS="-k csv". `make test` runs the same targets with 5 examples each.
FUZZ_SECONDS ?= 600
fuzz: $(STAMP)
	CORENETS_FUZZ_SECONDS=$(FUZZ_SECONDS) $(BIN)/python -m pytest -q -s tests/faults/test_fuzz_cli.py $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) runs .pytest_cache site
