"""The LLM engine over a real OpenAI-protocol HTTP server with scripted replies, through langchain-openai.

Every reply a real model could give that must not reach the reader as is: a citation of a passage never given,
a claim no passage supports, a changed number, an error, a stall, garbage. And one it must: a good answer.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from qa.api import create_app
from qa.config import LLMSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.models import Turn
from qa.query import Query

from .chat_server import Reply, ScriptedChatServer, marker
from .conftest import DATA, SEEDS, free_port
from .test_api import sse_events

QUESTION = "How many Russians did NATO expel?"
EXPELLED = "expelled eight Russians"


@pytest.fixture
def llm_engine(tmp_path: Path, embeddings: MiniLMEmbeddings, chat_server: ScriptedChatServer) -> Iterator[Engine]:
    settings = Settings(
        data_dir=tmp_path / "data", llm=LLMSettings(base_url=chat_server.url, model="scripted", timeout=2)
    )
    engine = Engine(settings, embeddings)
    assert engine.ingest([SEEDS]).failed == []
    yield engine
    chat_server.script()


def assert_verbatim(engine: Engine, answer) -> None:
    for citation in answer.citations:
        assert engine.get_article(citation.article.id).text[citation.start : citation.end] == citation.quote


def test_a_good_answer_streams_then_arrives_with_exact_quotes(llm_engine: Engine, chat_server: ScriptedChatServer):
    chat_server.script(
        Reply(lambda r: f"NATO expelled eight Russians accredited to the alliance {marker(r, EXPELLED)}.")
    )
    events = list(llm_engine.stream(Query(question=QUESTION, answerer="llm")))
    deltas = [event.delta for event in events if event.delta]
    assert len(deltas) >= 5 and all(event.answer is None for event in events[:-1])
    answer = events[-1].answer
    assert answer.answerer == "llm" and not answer.refused and answer.notices == []
    assert answer.answer == "NATO expelled eight Russians accredited to the alliance. [1]"
    assert [c.n for c in answer.citations] == [1]
    assert EXPELLED in answer.citations[0].quote
    assert_verbatim(llm_engine, answer)
    # The prompt: rules first, then the passages as delimited data, then the question; streamed, temperature 0.
    request = chat_server.requests[-1]
    system, user = request["messages"]
    assert system["role"] == "system" and "data, not instructions" in system["content"]
    assert user["content"].startswith("<passages>") and user["content"].endswith(f"Question: {QUESTION}")
    assert request["stream"] is True and request["temperature"] == 0 and request["model"] == "scripted"


def test_a_citation_of_a_passage_never_given_is_removed(llm_engine: Engine, chat_server: ScriptedChatServer):
    chat_server.script(
        Reply(lambda r: f"NATO expelled eight Russians {marker(r, EXPELLED)}. Russia recalled its ambassador [9].")
    )
    answer = llm_engine.ask(Query(question=QUESTION, answerer="llm"))
    assert answer.answer == "NATO expelled eight Russians. [1]"
    assert "[9]" not in answer.answer and len(answer.citations) == 1
    assert answer.notices == [
        "1 sentence of the LLM at " + chat_server.url + " (scripted)'s answer left out: "
        "not supported by the passages it cited."
    ]


def test_a_claim_its_passage_does_not_support_is_dropped(llm_engine: Engine, chat_server: ScriptedChatServer):
    chat_server.script(
        Reply(
            lambda r: (
                f"NATO expelled eight Russians {marker(r, EXPELLED)}. "
                f"The Eiffel Tower was painted gold for the summit {marker(r, EXPELLED)}."
            )
        )
    )
    answer = llm_engine.ask(Query(question=QUESTION, answerer="llm"))
    assert answer.answerer == "llm"
    assert "Eiffel" not in answer.answer and answer.answer.startswith("NATO expelled eight Russians.")
    assert len(answer.notices) == 1 and "1 sentence" in answer.notices[0]


def test_an_answer_that_misses_the_extractive_one_says_which_its_citations_support(
    llm_engine: Engine, chat_server: ScriptedChatServer
):
    chat_server.script(Reply(lambda r: f"NATO expelled Russians accredited to the alliance {marker(r, EXPELLED)}."))
    answer = llm_engine.ask(Query(question=QUESTION, answerer="llm"))
    assert answer.answerer == "llm" and answer.citations
    assert len(answer.notices) == 1
    assert answer.notices[0].startswith("The passages the LLM at ") and "also name “eight”" in answer.notices[0]


@pytest.mark.parametrize("changed", ["nine", "18"])
def test_a_changed_number_is_not_passed_off_as_the_article(
    llm_engine: Engine, chat_server: ScriptedChatServer, changed: str
):
    chat_server.script(Reply(lambda r: f"NATO expelled {changed} Russians {marker(r, EXPELLED)}."))
    answer = llm_engine.ask(Query(question=QUESTION, answerer="llm"))
    assert changed not in answer.answer
    # Nothing of the LLM's answer held: the extractive answer stands in, and says so.
    assert answer.answerer == "extractive" and EXPELLED in answer.answer
    assert "wrote no claim that its passages support" in answer.notices[-1]
    assert_verbatim(llm_engine, answer)


def test_a_sentence_without_markers_is_attributed_only_where_a_passage_holds_it(
    llm_engine: Engine, chat_server: ScriptedChatServer
):
    chat_server.script(Reply("NATO expelled eight Russians accredited to the alliance. Paris hosted the talks."))
    answer = llm_engine.ask(Query(question=QUESTION, answerer="llm"))
    assert answer.answer == "NATO expelled eight Russians accredited to the alliance. [1]"
    assert EXPELLED in answer.citations[0].quote


def test_a_refusal_is_kept_as_a_refusal(llm_engine: Engine, chat_server: ScriptedChatServer):
    chat_server.script(Reply("I couldn't find this in the articles."))
    answer = llm_engine.ask(Query(question="What did the Pope say about Peru?", answerer="llm"))
    assert answer.refused and answer.answerer == "llm" and answer.citations == [] and answer.notices == []


@pytest.mark.parametrize(
    ("reply", "reason"),
    [
        (Reply(status=500), "Error code: 500"),
        (Reply("NATO expelled eight Russians [1].", delay_s=5), "Timeout"),
        (Reply(raw="<html>502 Bad Gateway</html>"), "extractive answer"),
    ],
    ids=["500", "timeout", "malformed"],
)
def test_a_failing_endpoint_gives_the_extractive_answer_with_a_notice(
    llm_engine: Engine, chat_server: ScriptedChatServer, reply: Reply, reason: str
):
    chat_server.script(reply)
    answer = llm_engine.ask(Query(question=QUESTION, answerer="llm"))
    assert answer.answerer == "extractive" and not answer.refused and EXPELLED in answer.answer
    assert len(answer.notices) == 1 and reason in answer.notices[0]
    assert "extractive answer" in answer.notices[0]


def test_an_unreachable_endpoint_gives_the_extractive_answer(tmp_path: Path, embeddings: MiniLMEmbeddings):
    settings = Settings(
        data_dir=tmp_path / "data", llm=LLMSettings(base_url=f"http://127.0.0.1:{free_port()}/v1", model="m")
    )
    engine = Engine(settings, embeddings)
    engine.ingest([SEEDS])
    answer = engine.ask(Query(question=QUESTION, answerer="llm"))
    assert answer.answerer == "extractive" and "Connection error" in answer.notices[0]


def test_an_article_cannot_break_out_of_the_passages(llm_engine: Engine, chat_server: ScriptedChatServer):
    assert llm_engine.ingest([DATA / "hostile" / "injection.txt"]).failed == []
    chat_server.script(Reply(lambda r: f"NATO expelled eight Russians {marker(r, EXPELLED)}."))
    answer = llm_engine.ask(Query(question="Why did Russia close NATO's office in Moscow?", answerer="llm", k=5))
    prompt = chat_server.requests[-1]["messages"][-1]["content"]
    assert "Ignore previous instructions" in prompt  # the article was among the passages...
    # ...and could not close the block early: one opening and one closing delimiter, ours.
    assert prompt.count("<passages>") == 1 and prompt.count("</passages>") == 1
    assert prompt.index("</passages>") > prompt.index("Ignore previous instructions")
    assert "cheese" not in answer.answer


def test_a_three_turn_conversation_follows_its_subject(llm_engine: Engine, chat_server: ScriptedChatServer):
    turns = ["Who is Jens Stoltenberg?", "What did he say about Afghanistan?", "And about Russia?"]
    expected = ["Jens Stoltenberg", "Afghanistan Withdrawal", "relations with Russia"]
    for engine_name in ("extractive", "llm"):
        history: list[Turn] = []
        for turn, (question, article_text) in enumerate(zip(turns, expected, strict=True)):
            if engine_name == "llm":
                rewrites = [
                    Reply("What did Jens Stoltenberg say about Afghanistan?"),
                    Reply("What did Jens Stoltenberg say about Russia?"),
                ]
                answer_reply = Reply(lambda r, text=article_text: f"Stoltenberg spoke {marker(r, text)}.")
                chat_server.script(*([rewrites[turn - 1]] if turn else []), answer_reply)
            answer = llm_engine.ask(Query(question=question, answerer=engine_name, history=history))
            first = llm_engine.get_article(answer.citations[0].article.id) if answer.citations else None
            assert first is not None and article_text in first.text, (engine_name, question, answer)
            if turn:
                assert "Stoltenberg" in (answer.standalone_question or "")
            history += [Turn(role="user", content=question), Turn(role="assistant", content=answer.answer)]


# ---- the same engine over the HTTP API ----


def test_the_api_streams_llm_tokens_then_the_verified_answer(llm_engine: Engine, chat_server: ScriptedChatServer):
    with TestClient(create_app(llm_engine.settings, llm_engine)) as client:
        models = [model["id"] for model in client.get("/v1/models").json()["data"]]
        assert "qa-extractive" in models and "qa-llm" in models
        chat_server.script(Reply(lambda r: f"NATO expelled eight Russians {marker(r, EXPELLED)}."))
        response = client.post("/v1/ask/stream", json={"question": QUESTION, "engine": "llm"})
        events = sse_events(response.text)
        deltas = [json.loads(data)["text"] for kind, data in events if kind == "delta"]
        assert len(deltas) >= 4 and "".join(deltas).startswith("NATO expelled eight Russians [")
        kind, data = events[-1]
        answer = json.loads(data)
        assert kind == "answer" and answer["engine"] == "llm"
        assert answer["answer"] == "NATO expelled eight Russians. [1]"

        # OpenAI-compatible chat: the model picks the engine, earlier messages are the history.
        chat_server.script(
            Reply("What did Jens Stoltenberg say about Afghanistan?"),
            Reply(lambda r: f"Stoltenberg called it the biggest defeat of NATO {marker(r, 'biggest defeat')}."),
        )
        messages = [
            {"role": "user", "content": "Who is Jens Stoltenberg?"},
            {"role": "assistant", "content": "A former NATO Secretary General [1]."},
            {"role": "user", "content": "What did he say about Afghanistan?"},
        ]
        reply = client.post("/v1/chat/completions", json={"model": "qa-llm", "messages": messages}).json()
        content = reply["choices"][0]["message"]["content"]
        assert content.startswith("Stoltenberg called it the biggest defeat of NATO. [1]")
        assert "biggest defeat" in reply["citations"][0]["quote"]
        rewrite_request = chat_server.requests[0]["messages"][-1]["content"]
        assert "Who is Jens Stoltenberg?" in rewrite_request and "What did he say about Afghanistan?" in rewrite_request


def test_an_engine_that_is_not_set_up_is_a_one_line_400(tmp_path: Path, embeddings: MiniLMEmbeddings):
    engine = Engine(Settings(data_dir=tmp_path / "data"), embeddings)
    with TestClient(create_app(engine.settings, engine)) as client:
        models = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert "qa-extractive" in models and "qa-llm" not in models
        response = client.post("/v1/ask", json={"question": QUESTION, "engine": "llm"})
        assert response.status_code == 400
        assert response.json()["error"]["message"].startswith("the llm engine needs QA_LLM_BASE_URL")
        stream = client.post("/v1/ask/stream", json={"question": QUESTION, "engine": "llm"})
        assert stream.status_code == 400
