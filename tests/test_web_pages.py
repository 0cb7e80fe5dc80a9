"""Web pages as articles, from a real HTTP server on 127.0.0.1: extracted with their metadata, known by their
canonical URL, refused when the API is asked for a loopback address, and reported in one line when they fail."""

from __future__ import annotations

import threading
import time
from datetime import date
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from qa import cli
from qa.api.app import create_app
from qa.config import FetchSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.models import IngestStatus

from .conftest import served
from .news_site import Resource

TEXT = "The river council met on Monday and voted to raise the levy by three percent.\n\n" \
    "The mayor said the money would repair two bridges before the spring floods."  # fmt: skip


@pytest.fixture
def web_engine(tmp_path: Path, embeddings: MiniLMEmbeddings) -> Engine:
    return Engine(Settings(data_dir=tmp_path / "data", fetch=FetchSettings(host_delay=0)), embeddings)


def test_a_page_is_extracted_with_its_metadata_and_known_by_its_canonical_url(web_engine, site) -> None:
    url = site.page("/city/levy.html", "Council raises river levy", TEXT, date="2026-11-30", author="Ana Ruiz")
    report = web_engine.ingest_urls([url + "?utm_source=newsletter#top"], trusted=True)
    [item] = report.items
    assert item.status == IngestStatus.ADDED
    article = web_engine.get_article(item.article_id or "")
    assert (article.title, article.url, article.author, article.source) == (
        "Council raises river levy", url, "Ana Ruiz", "Local News"
    )  # fmt: skip
    assert article.published is not None and article.published.isoformat() == "2026-11-30"
    assert article.fetched is not None and "three percent" in article.text and "Copyright" not in article.text
    assert web_engine.ingest_urls([url], trusted=True).items[0].status == IngestStatus.SKIPPED
    site.page("/city/levy.html", "Council raises river levy", TEXT + "\n\nUpdated: the vote was 7 to 2.")
    again = web_engine.ingest_urls([url], trusted=True).items[0]
    assert (again.status, again.article_id) == (IngestStatus.UPDATED, item.article_id)
    assert len(web_engine.articles()) == 1


def test_a_canonical_url_on_another_host_is_ignored(web_engine, site) -> None:
    html = f"<html><head><title>T</title><link rel='canonical' href='https://victim.example/a'></head><body>" \
        f"<article><p>{TEXT}</p></article></body></html>"  # fmt: skip
    site.resources["/copy.html"] = Resource(body=html.encode())
    [item] = web_engine.ingest_urls([site.url + "/copy.html"], trusted=True).items
    assert web_engine.get_article(item.article_id or "").url == site.url + "/copy.html"


def test_pages_that_fail_are_one_line_each(web_engine, site) -> None:
    site.resources["/empty.html"] = Resource(body=b"<html><head><title>x</title></head><body></body></html>")
    site.resources["/gone"] = Resource(status=410)
    report = web_engine.ingest_urls([site.url + "/empty.html", site.url + "/gone", "ftp://x/y"], trusted=True)
    reasons = [item.reason or "" for item in report.failed]
    assert reasons[0] == "no article text found in the HTML"
    assert reasons[1].startswith("HTTP 410") and "only http and https" in reasons[2]
    assert web_engine.stats().articles == 0


def test_the_cli_ingests_urls_and_files_together(monkeypatch, tmp_path, embeddings, site) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cli, "open_engine", lambda: Engine(embeddings=embeddings))
    url = site.page("/a.html", "Council raises river levy", TEXT)
    note = tmp_path / "note.txt"
    note.write_text("Bridge repairs\n\nTwo bridges will be repaired before the spring floods, the mayor said.")
    result = CliRunner().invoke(cli.app, ["ingest", url, str(note)])
    assert result.exit_code == 0, result.output
    assert "2 added" in result.output
    failed = CliRunner().invoke(cli.app, ["ingest", site.url + "/missing"])
    assert failed.exit_code == 1 and f"skipped {site.url}/missing: HTTP 404" in failed.output


def test_the_api_refuses_loopback_and_fetches_when_allowed(tmp_path, embeddings, site) -> None:
    url = site.page("/a.html", "Council raises river levy", TEXT)
    for allowed in (False, True):
        settings = Settings(data_dir=tmp_path / f"data-{allowed}", fetch=FetchSettings(private=allowed, host_delay=0))
        with served(create_app(settings, Engine(settings, embeddings))) as api:
            local = url.replace("127.0.0.1", "localhost")  # a name that resolves to loopback
            report = httpx.post(f"{api}/v1/articles", json={"url": local}, timeout=30).json()
            [item] = report["items"]
            if allowed:
                assert item["status"] == "added"
            else:
                assert item["status"] == "failed" and "loopback or private" in item["reason"]
                assert site.hits["/a.html"] == 0
            invalid = httpx.post(f"{api}/v1/articles", json={"url": ""}, timeout=30)
            assert invalid.status_code == 422


def test_a_year_in_the_text_never_dates_a_page(web_engine, site) -> None:
    from qa.articles import article_from_page

    undated = "<html><head><title>Sales</title></head><body><article><h1>Sales</h1><p>{}</p></article></body></html>"
    units = undated.format("The plant sold 2010 units on Monday, more than in any week before it, the firm said.")
    fetched = date(2026, 12, 1)
    from_feed = article_from_page(units.encode(), site.url + "/a", web_engine.settings, fetched=fetched,
                                  feed_date=date(2026, 12, 1))  # fmt: skip
    assert from_feed.published == date(2026, 12, 1)  # the feed's date, not 2010
    alone = article_from_page(units.encode(), site.url + "/a", web_engine.settings, fetched=fetched)
    assert alone.published is None  # a guess far from the fetch day is dropped
    recent = undated.format("Published November 28, 2026. The plant sold 2010 units on Monday, the firm said.")
    near = article_from_page(recent.encode(), site.url + "/b", web_engine.settings, fetched=fetched)
    assert near.published == date(2026, 11, 28)  # a guess near the fetch day stands when nothing else dates it
    dated = site.page("/c.html", "Sales", "The plant sold 2010 units on Monday.", date="2026-11-20")
    raw = site.resources["/c.html"].body
    assert article_from_page(raw, dated, web_engine.settings, fetched=fetched, feed_date=date(2026, 11, 30)).published \
        == date(2026, 11, 20)  # fmt: skip


def test_a_reference_to_a_control_character_does_not_lose_the_page(web_engine, site) -> None:
    url = site.page("/esc.html", "Council raises river levy", TEXT.replace("three percent", "three &#27;[31m percent"))
    [item] = web_engine.ingest_urls([url], trusted=True).items
    assert item.status == IngestStatus.ADDED
    assert "three [31m percent" in web_engine.get_article(item.article_id or "").text


@pytest.mark.parametrize("url", ["http://0177.0.0.1/", "http://[::1", "http://[::1]:abc/", "http://exa\x01mple.com/"])
def test_a_malformed_url_is_refused_in_one_line_by_the_cli_and_the_api(monkeypatch, tmp_path, embeddings, url) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(cli, "open_engine", lambda: Engine(embeddings=embeddings))
    result = CliRunner().invoke(cli.app, ["ingest", url])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "not a valid URL" in result.output
    settings = Settings(data_dir=tmp_path / "api")
    with served(create_app(settings, Engine(settings, embeddings))) as api:
        page = httpx.post(f"{api}/v1/articles", json={"url": url}, timeout=30)
        feed = httpx.post(f"{api}/v1/feeds", json={"url": url + "feed"}, timeout=30)
    for response in (page, feed):
        assert response.status_code == 422 and "not a valid URL" in response.json()["error"]["message"]


def test_a_slow_page_holds_no_lock_while_it_is_fetched(tmp_path, embeddings, site) -> None:
    settings = Settings(data_dir=tmp_path / "data", fetch=FetchSettings(private=True, host_delay=0))
    site.page("/slow.html", "Council raises river levy", TEXT)
    site.resources["/slow.html"].delay_s = 5
    outcome: list[int] = []
    with served(create_app(settings, Engine(settings, embeddings))) as api:
        page = {"url": site.url + "/slow.html"}
        slow = threading.Thread(
            target=lambda: outcome.append(httpx.post(f"{api}/v1/articles", json=page, timeout=60).status_code)
        )
        slow.start()
        while site.hits["/slow.html"] == 0:  # the server is fetching the page now
            time.sleep(0.05)
        record = {"title": "Bridge repairs", "text": "Two bridges will be repaired before the spring floods."}
        added = httpx.post(f"{api}/v1/articles", json={"articles": [record]}, timeout=60)
        assert added.status_code == 200 and added.json()["items"][0]["status"] == "added"
        assert slow.is_alive() and not outcome  # the upload did not wait for the page
        slow.join()
    assert outcome == [200]
