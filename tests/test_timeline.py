"""Timeline answers: which questions get one, and the entries a story of several days and outlets gives (dates in
order, one entry per event, an update with both values, a same-day difference with both outlets, a reprint's
outlet, nothing from another story), in the engine, the CLI, the HTTP API and the OpenAI endpoint."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from qa import cli
from qa.answer.timeline import asks_timeline, facts, lines_of, newsworthy, pick_entries, topic_of
from qa.api import create_app
from qa.config import LLMSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.markdown import answer_markdown
from qa.models import Answer, ArticleRef, Chunk
from qa.query import Query

from .chat_server import Reply, ScriptedChatServer, marker
from .conftest import DATA

STORY = DATA / "story" / "articles.jsonl"
AS_OF = date(2025, 3, 8)  # the Saturday after the strike's week
STRIKE = "What happened with the port strike?"
STRIKE_ARTICLES = {"strike-1", "strike-1-reprint", "strike-2", "strike-3", "strike-4a", "strike-4b", "strike-5"}


@pytest.mark.parametrize(
    "question",
    [
        STRIKE,
        "What's the latest on the strike?",
        "What happened with the Taliban since Monday?",
        "How has the port dispute developed?",
        "What changed in the ceasefire talks this week?",
        "Any updates on the tariffs?",
        "What happened this week?",
        "What's the latest?",
        "Give me a timeline of the Gaza talks",
        "What are the latest developments in the election?",
    ],
)
def test_questions_about_a_story_ask_for_a_timeline(question: str) -> None:
    assert asks_timeline(question)


@pytest.mark.parametrize(
    "question",
    [
        # Single facts, worded like the shared years' quiz questions (2022-2024 hold 10 such).
        "What happened to the fin whale that beached itself at Delaware Seashore State Park?",
        "What happened when a fan who won a Washington Commanders 50/50 raffle tried to cash the check?",
        "What is the latest phishing attack hitting social media users?",
        "What happened at the Concord Mall carnival in Delaware?",
        "How many Russians did NATO expel?",
        "Who leads the Halbridge Port Authority?",
        "What did NATO say this week about Russia?",
    ],
)
def test_questions_for_one_fact_keep_the_factoid_answer(question: str) -> None:
    assert not asks_timeline(question)


@pytest.mark.parametrize(
    ("question", "topic"),
    [
        ("What happened with the port strike since Tuesday?", "the port strike"),
        ("What's the latest on the strike?", "the strike"),
        ("How has the port dispute developed this week?", "the port dispute"),
        ("What happened this week?", ""),
        ("What's the latest news?", ""),
        ("What's new with the New York subway strike?", "the New York subway strike"),
    ],
)
def test_the_topic_is_the_question_without_its_asking_and_time_words(question: str, topic: str) -> None:
    assert topic_of(question, AS_OF).strip() == topic


def test_facts_are_numbers_with_what_they_measure() -> None:
    found = facts("The union said 1,200 members had joined the strike on March 5, 2025, for 3 days.")
    assert [(fact.measure, fact.value, fact.text) for fact in found] == [("members", 1200.0, "1,200 members")]
    money = facts("The council approved $3 billion and a 12% rise in 2024.")
    assert [(fact.measure, fact.value) for fact in money] == [("$billion", 3e9), ("percent", 12.0)]


def test_page_furniture_is_not_news() -> None:
    assert newsworthy("Dock workers at the Port of Halbridge walked off the job on Monday, halting cargo traffic.")
    assert not newsworthy("Sign up for our newsletter to get the latest news from the port every morning.")
    assert not newsworthy("Dock Workers Strike At Port Of Halbridge As Talks Fail Again Today.")
    assert not newsworthy("Will the dock workers at the Port of Halbridge ever go back to work at all?")
    assert not newsworthy("Too short to be news.")


def passage(article_id: str, published: date, text: str) -> Chunk:
    ref = ArticleRef(id=article_id, title=article_id, source=f"{article_id} news", published=published)
    return Chunk(article=ref, ordinal=0, start=0, end=len(text), text=text)


def test_an_entry_is_dated_by_the_day_its_sentence_writes_inside_the_period() -> None:
    friday = date(2025, 3, 7)
    passages = [
        passage(
            "a", friday, "Crane drivers at Halbridge refused to load ships on Tuesday in support of the port strike."
        ),
        passage("b", friday, "The port strike began when dockers walked out on Monday over pay and shift rules."),
        passage("c", friday, "The port strike at Halbridge is costing exporters millions of pounds every day."),
    ]
    since = date(2025, 3, 4)  # "since Tuesday": Monday is before the period
    entries = pick_entries(lines_of(passages, "port strike", since, friday), 5, since, friday)
    days = {entry.line.evidence.chunk.article.id: entry.line.day for entry in entries}
    assert days == {"a": date(2025, 3, 4), "b": friday, "c": friday}
    assert [entry.line.day for entry in entries] == sorted(days.values())


@pytest.mark.parametrize(
    ("days_later", "before", "kind"),
    [
        (2, "1,200 members", "update"),
        (40, "1,200 members", "event"),  # a month and more apart: another story's number, not this one's update
        (2, "nearly 1,200 members", "event"),  # an estimate against a count: not the same fact told twice
    ],
)
def test_an_update_needs_the_same_fact_within_a_month(days_later: int, before: str, kind: str) -> None:
    first, later = date(2025, 3, 3), date(2025, 3, 3) + timedelta(days=days_later)
    passages = [
        passage("a", first, f"The Halbridge dockworkers union said {before} had joined the port strike over pay."),
        passage("b", later, "The Halbridge dockworkers union said 1,500 members had joined the port strike by then."),
    ]
    entries = pick_entries(lines_of(passages, "port strike", None, later), 5, None, later)
    assert [entry.kind for entry in entries] == ["event", kind]


@pytest.fixture(scope="module")
def story(tmp_path_factory: pytest.TempPathFactory, embeddings: MiniLMEmbeddings) -> Engine:
    engine = Engine(Settings(data_dir=tmp_path_factory.mktemp("story"), chroma_url=None), embeddings)
    report = engine.ingest_records([json.loads(line) for line in STORY.read_text().splitlines()])
    assert report.failed == [] and report.count("added") == 9
    return engine


def ask(engine: Engine, question: str, **fields: object) -> Answer:
    return engine.ask(Query.model_validate({"question": question, "as_of": AS_OF, **fields}))


def entry_quotes(answer: Answer) -> dict[int, str]:
    return {citation.n: citation.quote for citation in answer.citations}


def test_a_story_timeline_dated_in_order_one_entry_per_event(story: Engine) -> None:
    answer = ask(story, STRIKE)
    assert answer.timeline is not None and not answer.refused
    entries = answer.timeline.entries
    days = [entry.day for entry in entries]
    assert days == sorted(days) and days[0] == date(2025, 3, 3) and days[-1] == date(2025, 3, 7)
    cited = {citation.n: citation for citation in answer.citations}
    articles = [cited[entry.citation].article.id for entry in entries]
    assert set(articles) <= STRIKE_ARTICLES  # nothing from the library or the football
    stories = [story.store.get_article(article).story for article in articles]  # type: ignore[union-attr]
    assert len(stories) == len(set(stories))
    # The two reports of Thursday's ships are one entry.
    assert sum(entry.day == date(2025, 3, 6) for entry in entries) == 1
    for citation in answer.citations:  # every quote verbatim
        article = story.get_article(citation.article.id)
        assert article.text[citation.start : citation.end] == citation.quote
    for entry in entries:
        assert entry.text == cited[entry.citation].quote and f"[{entry.citation}]" in answer.answer
    # Monday's report ran in the Harbor Times and, reprinted, in the Bay Ledger.
    monday = next(entry for entry in entries if entry.day == date(2025, 3, 3))
    assert monday.outlets == ["Harbor Times", "Bay Ledger"]
    per_day = [(count.day.day, count.articles) for count in answer.timeline.articles_per_day]
    assert per_day == [(3, 2), (4, 1), (5, 1), (6, 2), (7, 1)]  # the strike's seven articles, not the others


def test_a_later_value_is_an_update_quoting_both_reports(story: Engine) -> None:
    answer = ask(story, STRIKE)
    assert answer.timeline is not None
    quotes = entry_quotes(answer)
    updates = [entry for entry in answer.timeline.entries if entry.kind == "update"]
    members = next(entry for entry in updates if entry.change == "1,200 members → 1,500 members")
    assert members.day == date(2025, 3, 5) and members.earlier is not None
    assert "1,500 members" in quotes[members.citation] and "1,200 members" in quotes[members.earlier]
    resigned = next(entry for entry in updates if entry.change == "Martin Greaves resigned")
    assert resigned.earlier is not None and "who leads the Halbridge Port Authority" in quotes[resigned.earlier]
    assert "Updated: 1,200 members → 1,500 members." in answer.answer
    assert all(entry.kind != "differs" or entry.day == date(2025, 3, 6) for entry in answer.timeline.entries)


def test_outlets_that_differ_the_same_day_are_both_quoted(story: Engine) -> None:
    answer = ask(story, STRIKE)
    assert answer.timeline is not None
    quotes = entry_quotes(answer)
    differs = [entry for entry in answer.timeline.entries if entry.kind == "differs"]
    assert len(differs) == 1
    entry = differs[0]
    assert entry.change == "Harbor Times: 40 ships · Coastal Wire: 55 ships"
    assert entry.earlier is not None
    assert "40 ships" in quotes[entry.citation] and "55 ships" in quotes[entry.earlier]
    sources = {c.n: c.article.source for c in answer.citations}
    assert {sources[entry.citation], sources[entry.earlier]} == {"Harbor Times", "Coastal Wire"}
    assert "Coastal Wire" not in entry.outlets  # it ran another value


def test_the_period_asked_bounds_the_entries(story: Engine) -> None:
    answer = ask(story, "What happened with the port strike since Tuesday?")
    assert answer.timeline is not None and answer.timeline.since == date(2025, 3, 4)
    assert answer.timeline.entries and all(entry.day >= date(2025, 3, 4) for entry in answer.timeline.entries)


def test_a_period_without_articles_on_it_says_so(story: Engine) -> None:
    answer = ask(story, "What happened with the Olympics since Monday?")
    assert answer.refused and answer.answer == "No articles from 3 Mar to 8 Mar 2025 on this."
    assert answer.citations == []
    empty = ask(story, "What happened?", as_of=date(2025, 6, 1))  # no time words: the week up to the as-of day
    assert empty.refused and empty.answer == "No articles from 26 May to 1 Jun 2025 on this."


def test_a_question_with_no_topic_lists_the_periods_most_covered_stories(story: Engine) -> None:
    answer = ask(story, "What happened this week?")
    assert answer.timeline is not None and answer.timeline.topic == ""
    sources = {c.n: c.article.id for c in answer.citations}
    shown = [sources[entry.citation] for entry in answer.timeline.entries]
    assert set(shown) & {"library", "football"}  # the week's other news too
    assert sum(article in STRIKE_ARTICLES for article in shown) > len(shown) / 2  # the most covered most


def test_the_mode_turns_the_timeline_on_and_off(story: Engine) -> None:
    factoid = ask(story, STRIKE, mode="factoid")
    assert factoid.timeline is None
    asked = ask(story, "Who leads the Halbridge Port Authority?")
    assert asked.timeline is None
    forced = ask(story, "Halbridge dock strike", mode="timeline", entries=2)
    assert forced.timeline is not None and len(forced.timeline.entries) == 2


@pytest.fixture(scope="module")
def client(story: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(story.settings, story), raise_server_exceptions=False) as test_client:
        yield test_client


def test_the_api_gives_the_timeline_and_refuses_out_of_range_requests(client: TestClient) -> None:
    body = {"question": STRIKE, "as_of": AS_OF.isoformat()}
    answer = client.post("/v1/ask", json=body).json()
    assert answer["timeline"]["entries"][0]["day"] == "2025-03-03"
    assert {entry["kind"] for entry in answer["timeline"]["entries"]} == {"event", "update", "differs"}
    for wrong in ({"entries": 0}, {"entries": 21}, {"k": 0}, {"k": 51}, {"mode": "story"}):
        response = client.post("/v1/ask", json={**body, **wrong})
        assert response.status_code == 422, wrong
        assert "\n" not in response.json()["error"]["message"]


def test_the_openai_endpoint_gives_a_markdown_list_and_the_extension_field(client: TestClient) -> None:
    body = {
        "model": "qa-extractive",
        "messages": [{"role": "user", "content": STRIKE}],
        "as_of": AS_OF.isoformat(),
        "entries": 3,
    }
    reply = client.post("/v1/chat/completions", json=body).json()
    content = reply["choices"][0]["message"]["content"]
    listed = [line for line in content.split("\n") if line.startswith("- **")]
    assert len(listed) == 3 == len(reply["timeline"]["entries"])
    assert "Sources:" in content
    off = client.post("/v1/chat/completions", json={**body, "mode": "factoid"}).json()
    assert off["timeline"] is None and not off["choices"][0]["message"]["content"].startswith("- **")
    streamed = client.post("/v1/chat/completions", json={**body, "stream": True}).text
    pieces = [
        json.loads(line[6:])["choices"][0]["delta"].get("content", "")
        for line in streamed.splitlines()
        if line.startswith("data: {")
    ]
    assert "".join(pieces).startswith(content.split("\n\nSources:")[0])


def test_the_cli_prints_a_dated_list(story: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "open_engine", lambda: story)
    runner = CliRunner()
    shown = runner.invoke(cli.app, ["ask", "Halbridge dock strike", "--timeline", "--as-of", "2025-03-08"])
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0].startswith(" 3 Mar 2025  ") and "— Harbor Times, Bay Ledger" in lines[0]
    assert any("Updated: 1,200 members → 1,500 members." in line for line in lines)
    as_json = runner.invoke(cli.app, ["ask", STRIKE, "--as-of", "2025-03-08", "--json", "--entries", "2"])
    assert len(json.loads(as_json.stdout)["timeline"]["entries"]) == 2
    plain = runner.invoke(cli.app, ["ask", STRIKE, "--no-timeline", "--as-of", "2025-03-08", "--json"])
    assert json.loads(plain.stdout)["timeline"] is None
    wrong = runner.invoke(cli.app, ["ask", STRIKE, "--entries", "0"])
    assert wrong.exit_code == 2 and "--entries" in wrong.output


@pytest.fixture
def llm_story(story: Engine, chat_server: ScriptedChatServer, embeddings: MiniLMEmbeddings) -> Iterator[Engine]:
    """The story's index, answered by the scripted OpenAI-protocol server as the `llm` answerer."""
    llm = LLMSettings(base_url=chat_server.url, model="scripted", timeout=2)
    yield Engine(story.settings.model_copy(update={"llm": llm}), embeddings)
    chat_server.script()


def test_an_llm_summary_stands_above_the_entries_each_claim_checked(
    llm_story: Engine, chat_server: ScriptedChatServer
) -> None:
    chat_server.script(
        Reply(
            lambda request: (
                f"Dock workers walked off the job on Monday {marker(request, 'walked off the job')}. "
                "The strike ended with a pay rise of 20 percent [1]."
            )
        )
    )
    answer = ask(llm_story, STRIKE, answerer="llm")
    assert answer.answerer == "llm" and answer.timeline is not None
    summary, listed = answer.answer.split("\n\n", 1)
    assert answer.timeline.summary == summary
    assert answer_markdown(answer).startswith("Dock workers walked off the job on Monday\\. \\[")  # for the chat
    assert summary.startswith("Dock workers walked off the job on Monday. [") and "pay rise" not in answer.answer
    assert listed == "\n".join(line for line in listed.split("\n") if line.startswith("- **"))
    numbers = [citation.n for citation in answer.citations]
    assert numbers == sorted(set(numbers))
    summary_n = int(summary.rsplit("[", 1)[1].rstrip("]."))
    assert summary_n > max(entry.citation for entry in answer.timeline.entries)  # numbered after the entries'
    quoted = {citation.n: citation.quote for citation in answer.citations}
    assert "walked off the job" in quoted[summary_n]
    assert "1 sentence" in answer.notices[0]  # the unsupported one, left out


def test_an_llm_that_fails_leaves_the_entries_alone_with_a_notice(
    llm_story: Engine, chat_server: ScriptedChatServer
) -> None:
    chat_server.script(Reply(status=500))
    answer = ask(llm_story, STRIKE, answerer="llm")
    assert answer.answerer == "extractive" and answer.timeline is not None
    assert answer.answer.startswith("- **3 Mar 2025**")
    assert any("failed" in notice for notice in answer.notices)
