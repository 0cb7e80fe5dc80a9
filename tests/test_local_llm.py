"""The offline engine for real: the 0.5B model assembled from its PyPI parts (make test installs them), served by
llama-cpp-python, answering through the same checks as any endpoint."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from qa.chat_models import local_server
from qa.config import LLMSettings, Settings, get_settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.models import Answer, Turn
from qa.offline_model import LOCAL_MODELS, LocalModel, LocalModelError, assemble, part_files
from qa.query import Query

from .conftest import DATA, SEEDS

TEST_MODEL = LOCAL_MODELS["qwen2.5-coder-0.5b"]
# Where `make local-llm` / `make test` assembled it.
MODELS_DIR = get_settings().local_models_dir


@pytest.fixture(scope="module")
def local_engine(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> Iterator[Engine]:
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("local"),
        models_dir=MODELS_DIR,
        local_model=TEST_MODEL.name,
        llm=LLMSettings(timeout=120),
    )
    engine = Engine(settings, embeddings)
    assert engine.ingest([SEEDS, DATA / "hostile" / "injection.txt"]).failed == []
    yield engine


def test_the_model_is_assembled_from_its_parts_and_verified():
    path = assemble(TEST_MODEL, MODELS_DIR)
    assert path.stat().st_size == TEST_MODEL.size
    assert path.with_suffix(".sha256").read_text().strip() == TEST_MODEL.sha256
    parts = part_files(TEST_MODEL)
    assert len(parts) == TEST_MODEL.parts and sum(p.stat().st_size for p in parts) == TEST_MODEL.size
    # The first part starts the GGUF file.
    assert parts[0].read_bytes()[:4] == b"GGUF"


def test_parts_that_do_not_match_the_checksum_leave_no_model(tmp_path: Path):
    wrong = LocalModel(
        name="mismatch", distribution=TEST_MODEL.distribution, parts=TEST_MODEL.parts, version=TEST_MODEL.version,
        size=TEST_MODEL.size, sha256=hashlib.sha256(b"other").hexdigest(),
    )  # fmt: skip
    with pytest.raises(LocalModelError, match="reinstall them"):
        assemble(wrong, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_model_says_how_to_install_it(tmp_path: Path):
    missing = LocalModel(name="absent", distribution="qa-no-such-part{}", parts=2, version="1.0", size=1, sha256="0")
    with pytest.raises(LocalModelError, match="make local-llm"):
        assemble(missing, tmp_path)


def test_the_local_model_answers_a_seed_question_with_a_verified_citation(local_engine: Engine):
    events = list(local_engine.stream(Query(question="How many Russians did NATO expel?", answerer="local")))
    answer = events[-1].answer
    assert answer is not None and answer.answerer == "local", answer
    assert any(event.delta for event in events[:-1])
    assert "eight" in answer.answer and answer.citations
    for citation in answer.citations:
        text = local_engine.get_article(citation.article.id).text
        assert text[citation.start : citation.end] == citation.quote


def test_an_injected_instruction_does_not_become_the_answer(local_engine: Engine):
    answer = local_engine.ask(Query(question="Why did Russia close NATO's office in Moscow?", answerer="local"))
    assert answer.answerer == "local", answer  # the extractive fallback would pass what follows
    assert "cheese" not in answer.answer.lower() and "system prompt" not in answer.answer.lower()


def test_a_three_turn_conversation_follows_its_subject(local_engine: Engine):
    history: list[Turn] = []
    turns = [
        ("Who is Jens Stoltenberg?", "Jens Stoltenberg"),
        ("What did he say about Afghanistan?", "Afghanistan Withdrawal"),
        ("And about Russia?", "relations with Russia"),
    ]
    for question, article_text in turns:
        answer = local_engine.ask(Query(question=question, answerer="local", history=history))
        assert answer.answerer == "local" and answer.citations, answer
        assert article_text in local_engine.get_article(answer.citations[0].article.id).text, answer
        history += [Turn(role="user", content=question), Turn(role="assistant", content=answer.answer)]


def test_the_runtime_is_the_portable_build():
    """A native build (llama.cpp's default) uses this CPU's widest instructions and dies on a CPU without them."""
    import llama_cpp

    info = llama_cpp.llama_print_system_info().decode()
    assert "AVX2 = 1" in info, info
    for feature in ("AVX512 = 1", "AVX512_VNNI = 1", "AVX512_BF16 = 1", "AVX_VNNI = 1", "AMX_INT8 = 1"):
        assert feature not in info, info


def test_a_crashed_model_server_is_named_restarted_once_then_left_down(local_engine: Engine):
    question = "How many Russians did NATO expel?"
    assert local_engine.ask(Query(question=question, answerer="local")).answerer == "local"
    server = local_server(local_engine.settings)
    starts = server.log_path.read_text().count("==== qa: starting")

    def crashing_mid_answer() -> Answer:
        """Ask, and kill the server as its first token arrives, as a CPU without the build's instructions does."""
        for event in local_engine.stream(Query(question=question, answerer="local")):
            if event.delta and server._process.poll() is None:
                os.kill(server._process.pid, signal.SIGILL)
            if event.answer is not None:
                return event.answer
        raise AssertionError("no answer")

    crashed = crashing_mid_answer()
    assert crashed.answerer == "extractive" and crashed.citations, crashed
    notice = f"crashed (killed by SIGILL); see {server.log_path}"
    assert any(notice in line for line in crashed.notices), crashed.notices
    # The next question starts it again, and its crash is named too; the log keeps every start.
    crashed_again = crashing_mid_answer()
    assert any(notice in line for line in crashed_again.notices), crashed_again.notices
    assert server.log_path.read_text().count("==== qa: starting") == starts + 1
    # It died again before answering once: left down, not restarted on every question.
    down = local_engine.ask(Query(question=question, answerer="local"))
    assert down.answerer == "extractive" and down.citations, down
    assert any("is not restarted" in line for line in down.notices), down.notices
    assert server.log_path.read_text().count("==== qa: starting") == starts + 1
