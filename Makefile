# Everything installs itself: `make test` on a fresh clone creates .venv first.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DOCS   ?= samples
INDEX  ?= index/samples
SCIFACT ?= $(wildcard ../shared/datasets/scifact)
SQUAD ?= $(wildcard ../shared/datasets/squad-dev-a)
SQUAD2 ?= $(wildcard ../shared/datasets/squad2-dev-a)
CHROMIUM := /usr/bin/chromium
TESSERACT := /usr/bin/tesseract
SUDO   := $(if $(filter 0,$(shell id -u)),,sudo)
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# llama-cpp-python builds from source (about 12 minutes on 2 cores; pip caches the wheel).
# A portable AVX2 build: the native one used AMX/AVX-512 kernels that crash on these VMs.
LLAMA_CPP := llama-cpp-python==0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON \
	-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF

.PHONY: setup ingest run api test test-fast lint eval eval-qa eval-reader reader bench bench-distributed screenshots clean

setup: $(STAMP) $(CHROMIUM) $(TESSERACT)

# Debian's chromium for the browser test (Playwright drives it; it never downloads a browser).
$(CHROMIUM):
	@echo "installing Debian's chromium for the browser test"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium

# Debian's Tesseract for OCR of scanned PDF pages and images (ingest/ocr.py).
$(TESSERACT):
	@echo "installing Debian's tesseract-ocr for OCR"
	$(SUDO) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq tesseract-ocr tesseract-ocr-eng

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	@echo "building $(LLAMA_CPP) (about 12 minutes the first time; pip caches the wheel)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=2 $(BIN)/pip install --quiet $(LLAMA_CPP)
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

ingest: setup
	$(BIN)/rag ingest $(DOCS) --index $(INDEX)

# The main job: bring the samples' index up to date (only what changed is redone) and serve
# the app on http://127.0.0.1:8501 (PORT=... for another port).
PORT ?= 8501
SAMPLE_QUESTIONS := ["What is the dimension of the vectors all-MiniLM-L6-v2 maps sentences to?", "When was Debian bookworm released?", "Which uid is reserved for the mysql user?", "What is the codename of Ubuntu 22.04?"]
run: setup
	$(BIN)/rag ingest samples --index index/samples
	RAG_UI__EXAMPLES='$(SAMPLE_QUESTIONS)' $(BIN)/rag serve --index index/samples --port $(PORT)

# The HTTP API over the samples' index at http://127.0.0.1:8000 (docs at /docs; API_PORT=... for another).
API_PORT ?= 8000
api: setup
	$(BIN)/rag ingest samples --index index/samples
	$(BIN)/rag api --index index/samples --port $(API_PORT)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: setup lint
	$(BIN)/python -m pytest --durations=25

test-fast: setup
	$(BIN)/python -m pytest -m "not slow"

# Retrieval quality and latency per stage on SciFact's test split (full corpus; the first run
# embeds it, about 9 minutes here, and later runs reuse the index in .cache/eval).
eval: setup
	@test -n "$(SCIFACT)" || (echo "set SCIFACT=path/to/scifact (BEIR layout)"; exit 2)
	$(BIN)/rag eval retrieval $(SCIFACT) --split test --out runs/eval-scifact-test

# Answer quality on the bundled samples (questions in eval/data/samples_qa.jsonl) with the
# default generator, its follow-up and table sets, and SciFact claim checking: is an expert's rationale sentence cited?
eval-qa: setup
	$(BIN)/rag ingest samples --index index/samples
	$(BIN)/rag eval qa eval/data/samples_qa.jsonl --index index/samples --out runs/eval-qa-samples
	$(BIN)/rag eval qa eval/data/followups_samples.jsonl --index index/samples --out runs/eval-followups-samples
	$(BIN)/rag eval qa eval/data/tables_samples.jsonl --index index/samples --out runs/eval-tables-samples
	@test -z "$(SQUAD)" || $(BIN)/rag eval qa $(SQUAD) --out runs/eval-squad
	@test -z "$(SQUAD)" || RAG_GENERATION__ANSWER_STYLE=short $(BIN)/rag eval qa $(SQUAD) --out runs/eval-squad-short
	@test -z "$(SQUAD)" || $(BIN)/rag eval qa $(SQUAD) --generator extractive --out runs/eval-squad-extractive
	@test -z "$(SQUAD)" || $(BIN)/rag eval qa $(SQUAD) --questions eval/data/followups_squad.jsonl --out runs/eval-followups-squad
	@test -z "$(SCIFACT)" || $(BIN)/rag eval qa $(SCIFACT) --claims --generator extractive --out runs/eval-claims-scifact

# The reader alone on SQuAD 2.0 gold paragraphs (official metric), and its decline trade-off on the
# whole answer path over squad2-dev-a's collection (tradeoff.png).
eval-reader: setup
	@test -n "$(SQUAD2)" || (echo "set SQUAD2=path/to/squad2-dev-a"; exit 2)
	$(BIN)/rag eval reader $(SQUAD2)/dev-v2.0-a.json --out runs/eval-reader
	$(BIN)/rag eval qa $(SQUAD2) --tradeoff --out runs/eval-squad2

# Train the shipped reader again from the shared SQuAD training data in its five stages
# (reader_train settings, then models/reader-stage2.toml to reader-stage5.toml: 700-900 steps
# each, about 0.7-1.7 hours each on these 2 cores, minutes on a GPU; run it again after a stop to
# resume), then export it to models/reader with its threshold chosen on squad2-dev-a.
reader: setup
	@test -n "$(SQUAD2)" || (echo "set SQUAD2=path/to/squad2-dev-a"; exit 2)
	$(BIN)/rag train-reader --out runs/reader
	$(BIN)/rag --config models/reader-stage2.toml train-reader --out runs/reader-2
	$(BIN)/rag --config models/reader-stage3.toml train-reader --out runs/reader-3
	$(BIN)/rag --config models/reader-stage4.toml train-reader --out runs/reader-4
	$(BIN)/rag --config models/reader-stage5.toml train-reader --out runs/reader-5 --export models/reader --calibrate $(SQUAD2)/dev-v2.0-a.json

# The README's screenshots (docs/first-screen.png, ui-ask.png, evaluation-report.png) from the real app
# on the samples, in Debian's chromium.
screenshots: setup
	$(BIN)/rag ingest samples --index index/samples
	$(BIN)/python docs/screenshots.py

# Every benchmark (bench/): ingest throughput, query latency, generation, the llama-index peer
# (in its own .venv-peer), 1M synthetic chunks and 10M built a block at a time (about 30 min and
# 30 GB of disk here; `rag bench --large-chunks 0` skips it); writes runs/bench/bench.json, prints a table.
PEER_VENV := .venv-peer
$(PEER_VENV)/.installed: requirements-peer.txt
	$(PYTHON) -m venv $(PEER_VENV)
	$(PEER_VENV)/bin/pip install --quiet -r requirements-peer.txt
	touch $@

bench:
	@test -n "$(SCIFACT)" || (echo "set SCIFACT=path/to/scifact (BEIR layout)"; exit 2)
	$(MAKE) -j2 setup $(PEER_VENV)/.installed
	rm -rf runs/bench/work
	$(BIN)/rag bench --out runs/bench --dataset $(SCIFACT) --peer-python $(PEER_VENV)/bin/python

# The distributed paths (bench/distributed.py, bench/milvus_scale.py): Ray vs plain ingest on
# 1,000 SciFact documents, Milvus Lite vs local queries (on the index `make bench` left, if any)
# and Milvus Lite at growing sizes; writes runs/bench/distributed-bench.json.
bench-distributed: setup
	@test -n "$(SCIFACT)" || (echo "set SCIFACT=path/to/scifact (BEIR layout)"; exit 2)
	rm -rf runs/bench/work/distributed runs/bench/work/milvus-scale
	$(BIN)/rag bench --distributed --out runs/bench --dataset $(SCIFACT)

clean:
	rm -rf $(VENV) $(PEER_VENV) index .pytest_cache
