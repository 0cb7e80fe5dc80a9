# Two commands on a fresh machine: `make run` and `make test`. Everything else is called by them.
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Models load from pip packages only: never wait on a model hub.
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
BENCHMARK ?= ../shared/benchmarks/realtimeqa-2023q1

.PHONY: install run test lint bench clean

install: $(STAMP)

# torch first and pinned: it is the CPU build on local disk; anything looser pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/pip install -qq torch==2.13.0
	$(BIN)/pip install -qq -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/qa ingest seeds
	$(BIN)/qa ask "How many Russians did NATO expel?"

lint: install
	$(BIN)/ruff check qa tests benchmarks
	$(BIN)/ruff format --check qa tests benchmarks
	$(BIN)/mypy qa

test: lint
	$(BIN)/pytest

bench: install
	$(BIN)/python benchmarks/core.py $(BENCHMARK)

clean:
	rm -rf $(VENV) .qa .pytest_cache .mypy_cache .ruff_cache
