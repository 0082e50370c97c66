# Two commands for a new user on a fresh machine:
#   make demo   set up .venv, install cpeval, run the default evaluation (castle doctrine) end to end
#   make test   set up .venv, install cpeval with dev extras, run ruff and the test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip
OUT    ?= out/castle_doctrine

.PHONY: demo test test-all install install-dev bench book clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(PIP) install --quiet -c constraints.txt -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) install --quiet -c constraints.txt -e ".[dev,docs]"
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/cpeval run designs/castle_doctrine.yaml --out $(OUT)
	@echo ""
	@echo "Report: $(OUT)/report.html (and report.md)   Results: $(OUT)/results.json"

test: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/python -m pytest -n 2 -m "not slow" -q

test-all: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -n 2 -q

book: $(VENV)/.installed-dev
	MPLBACKEND=Agg $(BIN)/jupyter-book build book -W --keep-going

bench: $(VENV)/.installed-dev
	@echo "Benchmarks compare against peer packages; see benchmarks/README.md"

clean:
	rm -rf out .pytest_cache .ruff_cache
