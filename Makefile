# reportlab-nlp: the two set-up commands of the README are `make demo` and `make test`.
# Every install goes through constraints.txt (torch pinned: never a CUDA build).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
PIPC   := $(PIP) install -c constraints.txt
SRC    := $(shell find reportlab_nlp -name '*.py' -o -name '*.yaml') pyproject.toml

.PHONY: demo test lint typecheck pytest install clean bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Runtime dependencies (and the package's own dependency list).
$(VENV)/.runtime: $(BIN)/python pyproject.toml constraints.txt
	$(PIPC) "setuptools>=68" wheel
	$(PIPC) .
	touch $@

# Developer tools on top.
$(VENV)/.dev: $(VENV)/.runtime
	$(PIPC) ".[dev]"
	touch $@

# The package itself, reinstalled (not editable) whenever a source file changes,
# so that tests run against the installed package.
$(VENV)/.pkg: $(VENV)/.runtime $(SRC)
	$(PIP) install --no-deps --no-build-isolation --force-reinstall . 2>&1 | grep -v "is ignored: it is neither" || true
	$(BIN)/python -c "import reportlab_nlp" 
	touch $@

install: $(VENV)/.pkg

demo: $(VENV)/.pkg
	@mkdir -p out
	$(BIN)/reportlab-nlp label corpora/demo/reports.csv --id-col report_id --text-col text --summary \
		--out out/demo_labels.csv --out out/demo_labels.jsonl

lint: $(VENV)/.dev
	$(BIN)/ruff check reportlab_nlp tests bench serve
	$(BIN)/ruff format --check reportlab_nlp tests bench serve

typecheck: $(VENV)/.dev
	$(BIN)/mypy

pytest: $(VENV)/.dev $(VENV)/.pkg
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.pkg
	$(BIN)/python bench/throughput.py

clean:
	rm -rf $(VENV) out build *.egg-info
