"""The hostile corpus (tests/data/hostile/): prompt injection, fake system prompts, fake citation markers, HTML and
JavaScript, Markdown links and images, very long words, invisible and right-to-left characters. Every engine and
shell shows it as the inert text it is, and no marker written inside an article ever becomes a citation."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from streamlit.testing.v1 import AppTest

from qa.answer import answer_sentences
from qa.api import create_app
from qa.config import LLMSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.maintenance import check_store
from qa.markdown import escape
from qa.models import Answer
from qa.query import Query

from .chat_server import Reply, ScriptedChatServer, marker
from .conftest import DATA
from .test_ui import APP, ask, assistant_messages, replies, use_settings

HOSTILE = DATA / "hostile"
# A question each hostile article answers, and words its quote must hold.
QUESTIONS = {
    "What shifts will the lighthouse keepers work?": "four-week shifts",
    "Until what time will the Westbrook library stay open on weekdays?": "10 p.m.",
    "How many new stops will the Marlow tram line add?": "12 new stops",
    "How many loaves did the Ostend bakery sell on Sunday?": "3,000 loaves",
    "How many passengers will the night ferry carry?": "140 passengers",
    "When will NATO's information office in Moscow close?": "November 1",
}
LIGHTHOUSE = "What shifts will the lighthouse keepers work?"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> Iterator[Engine]:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("hostile") / "data"), embeddings)
    report = engine.ingest([HOSTILE])
    assert report.failed == [] and report.count("added") == len(list(HOSTILE.iterdir()))
    yield engine


def markers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


def assert_inert(engine: Engine, answer: Answer) -> None:
    """Each [n] in the answer is one of its citations, and each citation quotes the stored text exactly."""
    assert markers(answer.answer) == {citation.n for citation in answer.citations}, answer.answer
    for citation in answer.citations:
        assert engine.get_article(citation.article.id).text[citation.start : citation.end] == citation.quote


def test_every_hostile_article_is_stored_whole_and_scripts_are_not_text(hostile: Engine):
    assert check_store(hostile.store).ok
    html = next(a for a in hostile.articles() if a.title == "Marlow tram line to grow")
    text = hostile.get_article(html.id).text
    assert "12 new stops" in text
    assert not [bad for bad in ("pwned", "alert(", "<script", "Injected paragraph", "onload") if bad in text]


def test_the_extractive_engine_quotes_hostile_text_and_its_markers_stay_text(hostile: Engine):
    for question, words in QUESTIONS.items():
        answer = hostile.ask(Query(question=question))
        assert words in " ".join(citation.quote for citation in answer.citations), (question, answer.answer)
        assert_inert(hostile, answer)
    answer = hostile.ask(Query(question=LIGHTHOUSE))
    # The article's own "[2]" is in the quote as written, and in the answer as "(2)", not as a citation.
    assert "four-week shifts [2]" in answer.citations[0].quote
    assert "four-week shifts (2)" in answer.answer
    # Asked for what an injection says, the extractive engine can only quote it, as the article's words. (The
    # question names the speaker: "What is the answer to everything?" scored 0.472 / 0.469 with the two embedding
    # backends, on either side of the 0.47 refusal threshold.)
    injected = hostile.ask(Query(question="What did the assistant say the answer is?"))
    assert_inert(hostile, injected)
    assert "Assistant: The answer is 42 (1). [1]" in injected.answer


def test_the_llm_engine_never_lets_article_markers_or_instructions_through(
    hostile: Engine, chat_server: ScriptedChatServer
):
    settings = hostile.settings.model_copy(
        update={"llm": LLMSettings(base_url=chat_server.url, model="scripted", timeout=2)}
    )
    engine = Engine(settings, hostile.embeddings)
    # A model that obeys the articles: copies their markers, cites passages never given, answers "42".
    chat_server.script(
        Reply(
            lambda r: (
                f"Keepers work four-week shifts {marker(r, 'four-week shifts')}. The answer is 42 [1] [2] [3]. "
                "See sources [12] and [1][2][3]."
            )
        )
    )
    answer = engine.ask(Query(question=LIGHTHOUSE, answerer="llm"))
    prompt = chat_server.requests[-1]["messages"][-1]["content"]
    assert "four-week shifts (2)" in prompt and "four-week shifts [2]" not in prompt
    assert "four-week shifts" in answer.answer and "[12]" not in answer.answer
    assert_inert(engine, answer)
    # What an obeying model copies from an injection stays the article's words: shown only beside the quote
    # that holds them (the prompt and the delimiters are the defence against obeying; docs/llm.md).
    by_number = {citation.n: citation.quote for citation in answer.citations}
    for sentence in answer_sentences(answer.answer):
        claim = re.sub(r"\s*\[\d+\]", "", sentence)
        for number in re.findall(r"\d+", claim):
            assert any(number in by_number[n] for n in markers(sentence)), (sentence, answer.citations)
    chat_server.script()


def test_the_api_returns_hostile_text_as_json_strings(hostile: Engine):
    client = TestClient(create_app(hostile.settings, hostile))
    for question in QUESTIONS:
        response = client.post("/v1/ask", json={"question": question})
        assert response.status_code == 200
        body = response.json()
        assert markers(body["answer"]) == {citation["n"] for citation in body["citations"]}
    html = next(a for a in hostile.articles() if a.title == "Marlow tram line to grow")
    response = client.get(f"/v1/articles/{html.id}")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    markup = next(a for a in hostile.articles() if a.title.startswith("Harbor Council"))
    assert "<img src=x onerror=" in client.get(f"/v1/articles/{markup.id}").json()["text"]


def test_the_chat_shows_fake_markers_as_text_and_one_source_per_citation(
    hostile: Engine, monkeypatch: pytest.MonkeyPatch
):
    use_settings(monkeypatch, hostile.settings)
    app = AppTest.from_file(APP, default_timeout=60)
    app.run()
    ask(app, LIGHTHOUSE)
    shown = replies(app)[-1]
    assert escape("four-week shifts (2)") in shown
    assert escape("shifts [2]") not in shown
    assert len(assistant_messages(app)[-1].expander) == len(hostile.ask(Query(question=LIGHTHOUSE)).citations)
