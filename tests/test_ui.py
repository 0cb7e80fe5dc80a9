"""The Streamlit chat, driven through Streamlit's AppTest: every flow a reader uses, over the real engine."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pydantic import SecretStr
from streamlit.testing.v1 import AppTest

from qa.answer import CANNOT_ANSWER
from qa.answer.scorer import read_manifest
from qa.api import create_app
from qa.config import ApiSettings, Settings
from qa.engine import Engine
from qa.feedback import read_feedback
from qa.markdown import escape, short_answer_markdown
from qa.query import Query

from .chat_server import Reply, ScriptedChatServer, marker
from .conftest import DATA, ROOT, SEEDS, served
from .news_site import RSS, NewsSite, Resource, pages, rss

APP = str(ROOT / "ui" / "app.py")
NATO = "How many Russians did NATO expel?"
API_TOKEN = "ui-token-0123456789"


def use_settings(monkeypatch: pytest.MonkeyPatch, settings: Settings) -> None:
    """Point the app (which reads QA_* from the environment) at the test's index."""
    monkeypatch.setenv("QA_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("QA_COLLECTION", settings.collection)
    if settings.chroma_url:
        monkeypatch.setenv("QA_CHROMA_URL", settings.chroma_url)
    else:
        monkeypatch.delenv("QA_CHROMA_URL", raising=False)


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, seeded: Engine) -> AppTest:
    """The chat over the seed articles, after its first run."""
    use_settings(monkeypatch, seeded.settings)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def ask(at: AppTest, question: str) -> AppTest:
    at.chat_input[0].set_value(question).run()
    assert not at.exception
    return at


def replies(at: AppTest) -> list[str]:
    """The answer text of each assistant message (its first Markdown element)."""
    return [message.markdown[0].value if message.markdown else "" for message in assistant_messages(at)]


def assistant_messages(at: AppTest) -> list:
    return [message for message in at.main.chat_message if message.name == "assistant"]


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.sidebar.metric if m.label == label)


def sidebar_text(at: AppTest) -> str:
    return "\n".join(m.value for m in at.sidebar.markdown)


def test_answer_streams_in_with_numbered_quoted_sources(app: AppTest, seeded: Engine) -> None:
    expected = seeded.ask(Query(question=NATO))
    ask(app, NATO)
    [reply] = assistant_messages(app)
    # The short answer with its confidence (bold only when confident), then the sentences.
    assert expected.short_answer == "eight" and expected.confidence is not None
    assert reply.markdown[0].value.startswith(short_answer_markdown(expected) + "\n\n")
    assert "eight Russians" in reply.markdown[0].value
    assert "\\[1\\]" in reply.markdown[0].value
    sources = len(expected.citations)
    assert reply.status[0].label.startswith(f"Searched 2 articles: {sources} source{'s' if sources > 1 else ''}")
    details = reply.status[0].caption[0].value  # the status box says what was searched, how, and how long it took
    assert details.startswith(escape(f"Searched for: {NATO}"))
    assert escape(f"As of {date.today()}; filters: none; 5 passages") in details
    assert len(reply.expander) == sources
    source = reply.expander[0]
    citation = expected.citations[0]
    assert source.label.startswith("\\[1\\] NATO Secretary")
    assert "Radio Free Europe/Radio Liberty" in source.label
    # The quote is highlighted inside its paragraph, and its offsets are shown.
    passage = source.markdown[0].value
    assert re.search(r":orange-background\[[^\]]*Earlier this month, NATO expelled eight Russians", passage)
    assert passage.endswith("NATO also halved the number of accredited positions for Russia to 10\\.")
    assert f"characters {citation.start}–{citation.end}" in source.caption[0].value


def test_follow_up_keeps_the_conversation_and_new_chat_clears_it(app: AppTest) -> None:
    ask(app, NATO)
    ask(app, "Which country established diplomatic ties with the Taliban government?")
    assert [m.markdown[0].value for m in app.main.chat_message if m.name == "user"] == [
        "How many Russians did NATO expel?",
        "Which country established diplomatic ties with the Taliban government?",
    ]
    first, second = replies(app)
    assert "eight Russians" in first
    assert "Russia" in second and "eight Russians" not in second
    next(b for b in app.sidebar.button if b.label == "New chat").click().run()
    assert len(app.main.chat_message) == 0


def test_refusal_is_shown_as_such_without_sources(app: AppTest) -> None:
    ask(app, "Who won the 2022 FIFA World Cup final?")
    [reply] = assistant_messages(app)
    assert [info.value for info in reply.info] == [escape(CANNOT_ANSWER)]
    assert len(reply.expander) == 0
    assert reply.status[0].label.startswith("Searched 2 articles: no support")


def test_source_filter_limits_which_articles_answer(app: AppTest) -> None:
    question = "What did Stoltenberg call the biggest defeat of NATO?"
    ask(app, question)
    assert any("Stoltenberg Condemns" in source.label for source in assistant_messages(app)[0].expander)
    app.sidebar.selectbox(key="source").select("Radio Free Europe/Radio Liberty").run()
    ask(app, question)
    filtered = assistant_messages(app)[1]
    assert all("Radio Free Europe" in source.label for source in filtered.expander)
    assert not any("Stoltenberg Condemns" in source.label for source in filtered.expander)


def test_date_filter_and_k(app: AppTest) -> None:
    record = {
        "title": "Tram line opens",
        "text": "The new tram line in Westbury opened on Monday. It has 11 stops and runs every six minutes.",
        "published": "2024-03-01",
        "source": "Westbury Gazette",
        "url": "https://westbury.example/tram",
    }
    app.sidebar.file_uploader[0].upload("tram.json", json.dumps(record).encode(), "application/json").run()
    app.sidebar.file_uploader[0].upload(
        "bus.json",
        json.dumps(
            {**record, "title": "Bus depot", "text": "The depot closed.", "published": "2024-05-01", "url": None}
        ).encode(),
        "application/json",
    ).run()
    question = "How many stops does the Westbury tram line have?"
    app.sidebar.toggle(key="by_date").set_value(True).run()
    app.sidebar.date_input(key="dates").set_value((date(2024, 4, 1), date(2024, 5, 31))).run()
    ask(app, question)
    assert not any("Tram line opens" in source.label for source in assistant_messages(app)[0].expander)
    app.sidebar.date_input(key="dates").set_value((date(2024, 2, 1), date(2024, 3, 31))).run()
    app.sidebar.slider(key="k").set_value(2).run()
    ask(app, question)
    reply = assistant_messages(app)[1]
    source = reply.expander[0]  # the answer's source first (a runner-up's sentence may cite an undated article)
    assert source.label == "\\[1\\] Tram line opens — Westbury Gazette, 2024\\-03\\-01"
    assert [(link.label, link.url) for link in source.get("link_button")] == [
        ("Open the article", "https://westbury.example/tram")
    ]


def test_upload_reports_each_file_and_grows_the_corpus(app: AppTest, seeded: Engine) -> None:
    hostile_name = "![x](javascript:alert(1)) <img src=x onerror=alert(1)> notes.txt"
    app.sidebar.file_uploader[0].set_value(
        [
            ("ferry.txt", (DATA / "hostile" / "markup.txt").read_bytes(), "text/plain"),
            (hostile_name, b"Council notes\n\nThe council met on Friday.", "text/plain"),
            ("latin1.txt", "Caf\xe9 news".encode("latin-1"), "text/plain"),
            ("big.txt", b"word " * (21 * 1024 * 1024 // 5), "text/plain"),
        ]
    ).run()
    assert not app.exception
    results = sidebar_text(app)
    assert escape("ferry.txt: added (1 chunk)") in results
    assert "\\!\\[x\\]\\(javascript\\:alert\\(1\\)\\) \\<img src\\=x onerror\\=alert\\(1\\)\\> notes\\.txt" in results
    assert escape("latin1.txt: failed (not UTF-8 text") in results
    assert escape("big.txt: failed (file too large (21.0 MB > 20 MB))") in results
    assert metric(app, "Articles") == "4"
    # Uploading the same names again updates nothing; file names never became paths.
    ferry = ("ferry.txt", (DATA / "hostile" / "markup.txt").read_bytes(), "text/plain")
    app.sidebar.file_uploader[0].set_value([ferry]).run()
    assert escape("ferry.txt: skipped (unchanged)") in sidebar_text(app)
    stored = [Path(p).name for p in (seeded.settings.data_dir / "uploads").iterdir()]
    assert len(stored) == 2 and all(re.fullmatch(r"[0-9a-f]{32}\.txt", name) for name in stored)


def test_remove_article(app: AppTest, seeded: Engine) -> None:
    choice = app.sidebar.selectbox(key="remove_choice")
    target = next(option for option in choice.options if option.startswith("Stoltenberg Condemns"))
    choice.select(target).run()
    app.sidebar.button(key="remove").click().run()
    assert not app.exception
    assert metric(app, "Articles") == "1"
    assert [a.title for a in seeded.articles()] == [a.title for a in seeded.articles() if "Condemns" not in a.title]
    assert len(seeded.articles()) == 1
    assert any("Removed Stoltenberg Condemns" in s.value for s in app.sidebar.success)


def test_feedback_is_appended_with_question_answer_and_citations(app: AppTest, seeded: Engine) -> None:
    ask(app, NATO)
    assistant_messages(app)[0].feedback[0].set_value(1).run()
    ask(app, "Who won the 2022 FIFA World Cup final?")
    assistant_messages(app)[1].feedback[0].set_value(0).run()
    assert not app.exception
    up, down = read_feedback(seeded.feedback_path)
    assert (up.rating, up.answer.question, down.rating, down.answer.refused) == ("up", NATO, "down", True)
    article = seeded.get_article(up.answer.citations[0].article.id)
    citation = up.answer.citations[0]
    assert article.text[citation.start : citation.end] == citation.quote
    assert up.filters["k"] == 5


def test_engine_that_cannot_start_shows_one_readable_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("QA_CHROMA_URL", "http://127.0.0.1:9")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    [error] = at.error
    assert error.value.startswith(escape("The engine could not start: cannot open the Chroma index (server"))
    monkeypatch.setenv("QA_K", "0")
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert at.error[0].value.startswith(escape("The engine could not start: invalid setting QA_K"))


@pytest.fixture
def api_url(seeded: Engine) -> Iterator[str]:
    """A live uvicorn serving the API over the seeded engine, in a thread."""
    settings = seeded.settings.model_copy(update={"api": ApiSettings(token=SecretStr(API_TOKEN))})
    with served(create_app(settings, seeded)) as url:
        yield url


def test_the_remote_chat_bolds_as_the_server_says(
    monkeypatch: pytest.MonkeyPatch, seeded: Engine, tmp_path: Path
) -> None:
    """Over QA_API_URL the server's answer scorer decides what is confident, not a scorer the chat has locally."""
    import shutil

    from qa.answer.scorer import SHIPPED

    confidence = seeded.ask(Query(question=NATO)).confidence or 0.0
    locally_bold = confidence >= read_manifest().shown_threshold
    server_scorer = tmp_path / "scorer"  # the shipped scorer, its bold threshold on the other side of this answer
    shutil.copytree(SHIPPED, server_scorer)
    manifest = json.loads((server_scorer / "manifest.json").read_text())
    manifest["shown_threshold"] = 1.0 if locally_bold else 0.0
    (server_scorer / "manifest.json").write_text(json.dumps(manifest))
    settings = seeded.settings.model_copy(
        update={"answer_model": server_scorer, "api": ApiSettings(token=SecretStr(API_TOKEN))}
    )
    with served(create_app(settings, Engine(settings, seeded.embeddings))) as url:
        monkeypatch.setenv("QA_API_URL", url)
        monkeypatch.setenv("QA_API_TOKEN", API_TOKEN)
        monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "unused"))
        app = AppTest.from_file(APP, default_timeout=60).run()
        ask(app, NATO)
    [reply] = assistant_messages(app)
    assert reply.markdown[0].value.startswith("**eight**") is not locally_bold


def test_the_chat_can_use_the_http_api(monkeypatch: pytest.MonkeyPatch, api_url: str, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_API_URL", api_url)
    monkeypatch.setenv("QA_API_TOKEN", API_TOKEN)
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "unused"))  # the chat keeps nothing of its own
    app = AppTest.from_file(APP, default_timeout=60).run()
    assert not app.exception and not app.error
    assert metric(app, "Articles") == "2"
    ask(app, NATO)
    [reply] = assistant_messages(app)
    assert re.match(r"(\*\*eight\*\*|Possibly eight) \[1\] · confidence 0\.\d\d", reply.markdown[0].value)
    highlighted = r":orange-background\[[^\]]*Earlier this month, NATO expelled eight Russians"
    assert re.search(highlighted, reply.expander[0].markdown[0].value)
    faro = ("faro.txt", b"Lighthouse sold\nThe Faro lighthouse sold for 42 euros.", "text/plain")
    app.sidebar.file_uploader[0].set_value([faro]).run()
    assert not app.exception
    assert escape("faro.txt: added (1 chunk)") in sidebar_text(app)
    assert metric(app, "Articles") == "3"
    assert not (tmp_path / "unused").exists()


def test_an_unreachable_api_is_one_readable_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("QA_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path))
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert at.error[0].value.startswith(
        escape("The articles could not be read: cannot reach the API at http://127.0.0.1:9")
    )


def test_the_llm_engine_answers_in_the_chat_and_follows_up(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, embeddings, chat_server: ScriptedChatServer
) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    assert Engine(settings, embeddings).ingest([SEEDS]).failed == []
    use_settings(monkeypatch, settings)
    monkeypatch.setenv("QA_LLM_BASE_URL", chat_server.url)
    monkeypatch.setenv("QA_LLM_MODEL", "scripted")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    engine_choice = at.sidebar.radio(key="answerer")
    assert "llm" in engine_choice.options
    engine_choice.set_value("llm").run()

    chat_server.script(
        Reply(
            lambda r: (
                f"NATO expelled eight Russians {marker(r, 'expelled eight')}. "
                f"The Eiffel Tower was painted gold {marker(r, 'expelled eight')}."
            )
        )
    )
    ask(at, NATO)
    [reply] = assistant_messages(at)
    assert reply.markdown[0].value == escape("NATO expelled eight Russians.") + " \\[1\\]"
    assert "Eiffel" not in reply.markdown[0].value
    assert any("1 sentence" in warning.value for warning in reply.warning)
    assert reply.expander and reply.expander[0].label.startswith("\\[1\\]")

    # The follow-up is rewritten (by the LLM here) and the answer says what was searched for.
    chat_server.script(
        Reply("What did Jens Stoltenberg say about Afghanistan?"),
        Reply(lambda r: f"He called it the biggest defeat of NATO {marker(r, 'biggest defeat')}."),
    )
    ask(at, "What did he say about Afghanistan?")
    second = assistant_messages(at)[1]
    assert second.markdown[0].value.startswith(escape("He called it the biggest defeat of NATO."))
    searched = escape("Searched for: What did Jens Stoltenberg say about Afghanistan?")
    assert any(caption.value == searched for caption in second.caption)
    assert "Who is" not in chat_server.requests[0]["messages"][-1]["content"]
    assert NATO in chat_server.requests[0]["messages"][-1]["content"]


def test_time_words_show_the_dates_searched_and_one_click_searches_every_date(app: AppTest) -> None:
    assert app.sidebar.date_input(key="as_of").value == date.today()
    app.sidebar.date_input(key="as_of").set_value(date(2026, 11, 30)).run()
    ask(app, f"{NATO[:-1]} last week?")
    [reply] = assistant_messages(app)
    captions = [c.value for c in reply.caption]
    searched = "About 23 Nov to 29 Nov 2026 (“last week”) — searched articles from 23 Nov to 30 Nov 2026"
    assert escape(searched) in captions
    assert "eight" in reply.markdown[0].value  # the seeds are undated: searched in every window
    reply.button(key=next(b.key for b in reply.button if b.label == "Search all dates")).click().run()
    assert not app.exception
    _, again = assistant_messages(app)
    assert not any("searched articles from" in c.value for c in again.caption)
    assert "eight" in again.markdown[0].value
    assert escape("As of 2026-11-30") in again.status[0].caption[0].value


def test_web_page_box_and_feeds_panel(monkeypatch: pytest.MonkeyPatch, seeded: Engine, site: NewsSite) -> None:

    page = site.page("/levy.html", "Council raises river levy", "The river council raised the levy on Monday.")
    site.resources["/feed"] = Resource(body=rss(pages(site, 2)), content_type=RSS)
    use_settings(monkeypatch, seeded.settings)
    monkeypatch.setenv("QA_FETCH_HOST_DELAY", "0")
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.sidebar.text_input(key="page_url").input("http://[::1")
    next(b for b in at.sidebar.button if b.label == "Add page").click().run()
    assert "not a valid URL" in sidebar_text(at) and "Error" not in sidebar_text(at)  # one line, no exception name
    at.sidebar.text_input(key="page_url").input(page)
    next(b for b in at.sidebar.button if b.label == "Add page").click().run()
    assert "loopback or private" in sidebar_text(at)  # the chat's URLs reach public addresses only
    assert metric(at, "Articles") == "2"

    monkeypatch.setenv("QA_FETCH_PRIVATE", "true")  # an intranet's chat
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.sidebar.text_input(key="page_url").input(page)
    next(b for b in at.sidebar.button if b.label == "Add page").click().run()
    assert escape("Council raises river levy: added (1 chunk)") in sidebar_text(at)
    at.sidebar.text_input(key="feed_url").input(site.url + "/feed")
    next(b for b in at.sidebar.button if b.label == "Follow feed").click().run()
    assert not at.exception
    assert escape("127.0.0.1 · new · never polled · 0 articles") in sidebar_text(at)
    at.sidebar.button(key="poll_feeds").click().run()
    assert any(escape("Local Wire: 2 added") in caption.value for caption in at.sidebar.caption)
    assert escape("Local Wire · ok ·") in sidebar_text(at) and metric(at, "Articles") == "5"
    choice = at.sidebar.selectbox(key="feed_remove_choice")
    choice.select(choice.options[0]).run()
    at.sidebar.button(key="remove_feed").click().run()
    assert seeded.feeds() == [] and metric(at, "Articles") == "5"
