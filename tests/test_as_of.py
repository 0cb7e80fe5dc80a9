"""Questions asked as of a day: nothing published after it answers, time words set the dates searched, undated
articles are always searched, and the answer says which dates it searched and how old its news is."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa import cli
from qa.answer import CANNOT_ANSWER, citation_heading
from qa.api import create_app
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.query import Query

BRIDGE = [
    {
        "id": "opened",
        "title": "Westbury bridge opens",
        "text": "Mayor Alice Grant opened the new Westbury bridge on Tuesday. The bridge has four lanes.",
        "published": "2026-11-24",
        "source": "Westbury Gazette",
    },
    {
        "id": "approved",
        "title": "Council approves bridge",
        "text": "The Westbury bridge plan was approved by the council in March. Work starts in the spring.",
        "published": "2026-03-10",
        "source": "Westbury Gazette",
    },
    {
        "id": "closed",
        "title": "Old bridge closes",
        "text": "The old Westbury bridge closed for repairs after engineers found cracks in its piers.",
        "published": "2025-06-01",
        "source": "Westbury Gazette",
    },
]
UNDATED = {
    "id": "history",
    "title": "A history of Westbury's bridges",
    "text": "Westbury has had a bridge over the river since 1820, when a wooden bridge was built by the mill owners.",
}


@pytest.fixture
def dated(tmp_path: Path, embeddings: MiniLMEmbeddings) -> Engine:
    engine = Engine(Settings(data_dir=tmp_path / "data", chroma_url=None, collection="dated"), embeddings)
    assert engine.ingest_records(BRIDGE).failed == []
    return engine


def cited(engine: Engine, **fields) -> tuple[set[str], object]:
    answer = engine.ask(Query(**fields))
    return {c.article.id for c in answer.citations}, answer


def test_nothing_published_after_the_as_of_day_answers(dated: Engine):
    ids, answer = cited(dated, question="Who opened the new Westbury bridge?", as_of=date(2026, 11, 20))
    assert "opened" not in ids and answer.as_of == date(2026, 11, 20)
    ids, _ = cited(dated, question="Who opened the new Westbury bridge?", as_of=date(2026, 11, 25))
    assert "opened" in ids


def test_time_words_set_the_window_and_the_answer_says_so(dated: Engine):
    ids, answer = cited(dated, question="Who opened the Westbury bridge last week?", as_of=date(2026, 12, 1))
    assert answer.time_window is not None
    # Searched from the words' first day to as_of: news of last week goes on.
    assert (answer.time_window.since, answer.time_window.until) == (date(2026, 11, 23), date(2026, 12, 1))
    assert answer.time_window.from_text == "last week"
    assert ids == {"opened"}
    dropped = Query(question=answer.question, as_of=date(2026, 12, 1), time_words=False)
    filters, window = dropped.search()
    assert window is None
    assert {c.article.id for c in dated.retriever.retrieve(dropped.question, 5, filters)} == {
        "opened",
        "approved",
        "closed",
    }


def test_an_explicit_window_wins_over_the_words(dated: Engine):
    ids, answer = cited(
        dated,
        question="What happened to the Westbury bridge last week?",
        as_of=date(2026, 12, 1),
        since=date(2025, 1, 1),
        until=date(2025, 12, 31),
    )
    assert answer.time_window is None and ids == {"closed"}


def test_a_window_with_no_article_is_a_refusal_that_says_why(dated: Engine):
    _, answer = cited(dated, question="What happened to the Westbury bridge before 2020?", as_of=date(2026, 12, 1))
    assert answer.refused and answer.answer == CANNOT_ANSWER
    assert answer.notices == ["No article in the store is from up to 30 Jan 2020: the search found nothing "
                              "to answer from."]  # fmt: skip


def test_undated_articles_are_searched_in_any_window_and_cited_as_undated(dated: Engine):
    assert dated.ingest_records([UNDATED]).failed == []
    ids, answer = cited(dated, question="When was the first bridge in Westbury built in 2019?", as_of=date(2026, 12, 1))
    assert answer.time_window is not None and "history" in ids
    assert not answer.notices  # the window is not empty: the undated article is in it
    [history] = [c for c in answer.citations if c.article.id == "history"]
    assert citation_heading(history).endswith("— undated")  # no source either


def test_an_answer_from_old_news_to_a_question_about_now_says_how_old(dated: Engine):
    _, answer = cited(dated, question="Who approved the Westbury bridge plan?", as_of=date(2026, 11, 20))
    assert not answer.refused and {c.article.id for c in answer.citations} == {"approved"}
    assert "The newest article on this is from 10 Mar 2026, 255 days before 20 Nov 2026." in answer.notices
    _, recent = cited(dated, question="Who opened the new Westbury bridge?", as_of=date(2026, 11, 30))
    assert not any("newest article" in notice for notice in recent.notices)
    _, asked_about_then = cited(
        dated, question="Who approved the Westbury bridge plan?", as_of=date(2026, 11, 20), since=date(2026, 1, 1)
    )
    assert not any("newest article" in notice for notice in asked_about_then.notices)  # dates given: not "now"


@pytest.mark.parametrize(
    ("as_of", "message"),
    [
        ("2999-01-01", "as_of: 2999-01-01 is in the future"),
        ("1899-12-31", "as_of: 1899-12-31 is before 1900"),
        ("next tuesday", "--as-of: not a date: 'next tuesday'"),
        # Strict as the help says: these were read by guess (which year, which order of day and month?).
        ("March 5", "--as-of: not a date: 'March 5' (use YYYY-MM-DD)"),
        ("5/3/2023", "--as-of: not a date: '5/3/2023' (use YYYY-MM-DD)"),
        ("2023-02-30", "--as-of: not a date: '2023-02-30' (use YYYY-MM-DD)"),
    ],
)
def test_a_bad_as_of_day_is_one_line_in_the_cli_and_a_422_in_the_api(
    as_of: str, message: str, dated: Engine, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(cli, "open_engine", lambda: dated)
    result = CliRunner().invoke(cli.app, ["ask", "Who opened the bridge?", "--as-of", as_of])
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert message in line
    with TestClient(create_app(dated.settings, dated)) as client:
        response = client.post("/v1/ask", json={"question": "Who opened the bridge?", "as_of": as_of})
    assert response.status_code == 422
    assert "as_of" in json.dumps(response.json())


def test_a_when_question_gets_the_day_written_out_and_the_quote_keeps_its_words(dated: Engine):
    question = "When did Mayor Alice Grant open the new Westbury bridge?"
    _, answer = cited(dated, question=question, as_of=date(2026, 12, 1))
    [citation] = [c for c in answer.citations if c.article.id == "opened"]
    assert "on Tuesday" in citation.quote  # verbatim, as the article says it
    assert [(d.text, d.day) for d in citation.dates] == [("on Tuesday", "Tuesday 24 Nov 2026")]
    assert answer.short_answer == "Tuesday 24 Nov 2026"
