# Everything installs itself: `make test` on a fresh clone creates .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS   ?= samples
INDEX  ?= index/samples
SCIFACT ?= $(wildcard ../shared/datasets/scifact)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: setup ingest run test test-fast bench-ingest clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

ingest: setup
	$(BIN)/rag ingest $(DOCS) --index $(INDEX)

# The main job on the bundled samples: build (or bring up to date) their index.
run: setup
	$(BIN)/rag ingest samples --index index/samples

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Whole-pipeline ingest throughput against the raw encode rate, on SciFact (see benchmarks/).
bench-ingest: setup
	@test -n "$(SCIFACT)" || (echo "set SCIFACT=path/to/scifact (BEIR layout)"; exit 2)
	$(BIN)/python benchmarks/ingest_throughput.py --dataset $(SCIFACT)

clean:
	rm -rf $(VENV) index .pytest_cache
