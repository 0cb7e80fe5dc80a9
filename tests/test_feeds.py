"""Following feeds against a real HTTP server on 127.0.0.1: RSS 2.0, RSS 1.0 and Atom; conditional GET; entries
fetched once; summaries kept when pages fail; bad feeds, bombs and back-off; two pollers; the CLI and the API."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from qa import cli
from qa.api.app import create_app
from qa.config import ApiSettings, FetchSettings, Settings, get_settings, parse_interval
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine
from qa.errors import ConfigError
from qa.models import FeedStatus
from qa.poller import FeedPoller

from .conftest import ROOT, served
from .news_site import RSS, Resource, pages, rss


@pytest.fixture
def feeds_engine(tmp_path: Path, embeddings: MiniLMEmbeddings) -> Engine:
    """An engine over an empty embedded index that may fetch from the local server."""
    return Engine(Settings(data_dir=tmp_path / "data", fetch=FetchSettings(private=True, host_delay=0)), embeddings)


def rss1(links: list[str]) -> bytes:
    items = "".join(
        f'<item rdf:about="{link}"><title>Entry {n}</title><link>{link}</link><dc:date>2026-11-0{n}</dc:date>'
        f"<description>Summary {n}.</description></item>"
        for n, link in enumerate(links, start=1)
    )
    return (
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<channel rdf:about="x"><title>RDF Wire</title></channel>{items}</rdf:RDF>'
    ).encode()


def atom(links: list[str]) -> bytes:
    entries = "".join(
        f'<entry><title>Entry {n}</title><link href="{link}"/><id>urn:e:{n}</id>'
        f"<updated>2026-11-0{n}T08:00:00Z</updated><summary>Summary {n}.</summary></entry>"
        for n, link in enumerate(links, start=1)
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Wire</title>'
        f"<id>urn:feed</id><updated>2026-11-03T08:00:00Z</updated>{entries}</feed>"
    ).encode()


@pytest.mark.parametrize(
    ("make", "content_type", "name"),
    [(rss, RSS, "Local Wire"), (rss1, "application/rdf+xml", "RDF Wire"), (atom, "application/atom+xml", "Atom Wire")],
)
def test_each_feed_format_brings_its_entries_in(feeds_engine, site, make, content_type, name) -> None:
    links = pages(site, 3)
    site.resources["/feed"] = Resource(body=make(links), content_type=content_type)
    feeds_engine.add_feed(site.url + "/feed")
    [poll] = feeds_engine.poll_feeds()
    assert poll.feed.status == FeedStatus.OK and poll.feed.name == name and poll.feed.articles == 3
    stored = {article.url: article for article in feeds_engine.articles()}
    assert set(stored) == set(links)
    article = feeds_engine.get_article(stored[links[1]].id)
    assert article.title == "Summit number 2" and "river 2" in article.text
    assert article.published is not None and article.published.isoformat() == "2026-11-02"
    assert article.fetched is not None and not article.summary_only


def test_an_unchanged_feed_is_not_fetched_again_and_seen_entries_never(feeds_engine, site) -> None:
    links = pages(site, 3)
    site.resources["/feed"] = Resource(body=rss(links[:2]), content_type=RSS, etag='"1"')
    feeds_engine.add_feed(site.url + "/feed")
    feeds_engine.poll_feeds()
    [second] = feeds_engine.poll_feeds()
    assert second.feed.status == FeedStatus.NOT_MODIFIED
    assert site.requests[-1][1].get("If-None-Match") == '"1"'
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS, etag='"2"')
    [third] = feeds_engine.poll_feeds()
    assert third.report.count("added") == 1
    assert [site.hits[f"/story/{n}.html"] for n in (1, 2, 3)] == [1, 1, 1]
    assert third.feed.articles == 3


def test_an_updated_entry_is_fetched_again_and_the_newer_version_wins(feeds_engine, site) -> None:
    [link] = pages(site, 1)
    updated = '<rss version="2.0"><channel><title>W</title><item><title>E</title><link>{}</link><guid>g1</guid>' \
        "<pubDate>Mon, 01 Nov 2026 09:00:00 GMT</pubDate>{}</item></channel></rss>"  # fmt: skip
    site.resources["/feed"] = Resource(body=updated.format(link, "").encode(), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    feeds_engine.poll_feeds()
    site.page("/story/1.html", "Summit number 1", "Correction: the summit opened on Tuesday in Bern, not Geneva.")
    later = "<atom:updated xmlns:atom='http://www.w3.org/2005/Atom'>2026-11-02T10:00:00Z</atom:updated>"
    site.resources["/feed"] = Resource(body=updated.format(link, later).encode(), content_type=RSS)
    [poll] = feeds_engine.poll_feeds()
    assert poll.report.count("updated") == 1
    [article] = feeds_engine.articles()
    assert "Bern" in feeds_engine.get_article(article.id).text


def test_a_page_that_fails_is_kept_from_the_feeds_summary(feeds_engine, site) -> None:
    links = pages(site, 3)
    site.resources["/story/2.html"] = Resource(status=403, body=b"subscribers only")
    site.resources["/story/3.html"] = Resource(body=b"%PDF", content_type="application/pdf")
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    [poll] = feeds_engine.poll_feeds()
    assert poll.summary_only == 2 and poll.report.count("added") == 3
    kept = {a.url: feeds_engine.get_article(a.id) for a in feeds_engine.articles()}
    assert kept[links[1]].summary_only and "voted for it" in kept[links[1]].text
    assert kept[links[1]].published is not None and kept[links[1]].published.isoformat() == "2026-11-02"
    assert not kept[links[0]].summary_only


def test_robots_txt_keeps_the_crawler_to_the_summary(feeds_engine, site) -> None:
    links = pages(site, 2)
    site.resources["/robots.txt"] = Resource(body=b"User-agent: qa-news\nDisallow: /story/2", content_type="text/plain")
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    [poll] = feeds_engine.poll_feeds()
    assert poll.summary_only == 1 and site.hits["/story/2.html"] == 0 and site.hits["/story/1.html"] == 1


def test_a_huge_feed_is_capped_per_poll(tmp_path, embeddings, site) -> None:
    engine = Engine(
        Settings(data_dir=tmp_path / "d", feed_max_entries=5, fetch=FetchSettings(private=True, host_delay=0)),
        embeddings,
    )
    [link] = pages(site, 1)
    site.resources["/feed"] = Resource(body=rss([f"{link}?n={n}" for n in range(10_000)]), content_type=RSS)
    engine.add_feed(site.url + "/feed")
    [poll] = engine.poll_feeds()
    assert poll.feed.status == FeedStatus.OK
    fetched = sum(hits for path, hits in site.hits.items() if path.startswith("/story/1.html"))
    assert len(poll.report.items) == 5 and fetched == 5


def test_bad_feeds_fail_alone_and_back_off(feeds_engine, site) -> None:
    links = pages(site, 1)
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;">]>'
        b"<rss><channel><title>&lol2;</title></channel></rss>"
    )
    site.resources["/bomb"] = Resource(body=bomb, content_type=RSS)
    site.resources["/broken"] = Resource(body=b"<rss><channel><title>unclosed", content_type=RSS)
    site.resources["/gone"] = Resource(status=500)
    site.resources["/good"] = Resource(body=rss(links, dates=False), content_type=RSS)
    for path in ("/bomb", "/broken", "/gone", "/good"):
        feeds_engine.add_feed(site.url + path, name=path.strip("/"))
    polls = {poll.feed.name: poll for poll in feeds_engine.poll_feeds()}
    assert "declares XML entities" in (polls["bomb"].feed.error or "")
    assert "not a readable feed" in (polls["broken"].feed.error or "")
    assert (polls["gone"].feed.error or "").startswith("HTTP 500")
    assert polls["good"].feed.status == FeedStatus.OK and polls["good"].report.count("added") == 1
    assert feeds_engine.get_article(feeds_engine.articles()[0].id).published.isoformat() == "2026-11-01"
    again = {poll.feed.name: poll for poll in feeds_engine.poll_feeds()}
    assert again["gone"].skipped and "backing off after 1 failed" in again["gone"].skipped
    assert site.hits["/gone"] == 1
    forced = {poll.feed.name: poll for poll in feeds_engine.poll_feeds(force=True)}
    assert forced["gone"].feed.failures == 2 and site.hits["/gone"] == 2
    listed = {feed.name: feed for feed in feeds_engine.feeds()}
    assert listed["gone"].next_poll and listed["gone"].status == FeedStatus.ERROR


def test_two_pollers_at_once_fetch_each_entry_once(feeds_engine, site, embeddings) -> None:
    links = pages(site, 6)
    for link in links:
        site.resources[link.removeprefix(site.url)].delay_s = 0.2
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    other = Engine(feeds_engine.settings, embeddings)
    results = []
    pollers = [threading.Thread(target=lambda e=e: results.extend(e.poll_feeds())) for e in (feeds_engine, other)]
    for poller in pollers:
        poller.start()
    for poller in pollers:
        poller.join()
    assert sorted(bool(poll.skipped) for poll in results) == [False, True]
    assert [site.hits[link.removeprefix(site.url)] for link in links] == [1] * 6
    assert len(feeds_engine.articles()) == 6


def test_feeds_are_kept_in_the_index(engine) -> None:
    """Both Chroma modes: every process and replica on the index follows the same feeds."""
    added = engine.add_feed("https://news.example.org/rss.xml", name="Example")
    again = Engine(engine.settings, engine.embeddings)
    assert [feed.id for feed in again.feeds()] == [added.id]
    assert engine.add_feed("https://news.example.org/rss.xml", name="Renamed").id == added.id
    assert [feed.name for feed in again.feeds()] == ["Renamed"]
    again.remove_feed("https://news.example.org/rss.xml")
    assert engine.feeds() == []


def test_the_cli_follows_polls_lists_and_removes(monkeypatch, tmp_path, embeddings, site) -> None:
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_FETCH_PRIVATE", "true")
    monkeypatch.setenv("QA_FETCH_HOST_DELAY", "0")
    monkeypatch.setattr(cli, "open_engine", lambda: Engine(embeddings=embeddings))
    site.resources["/feed"] = Resource(body=rss(pages(site, 2)), content_type=RSS)
    site.resources["/down"] = Resource(status=404)
    runner = CliRunner()
    assert runner.invoke(cli.app, ["feeds", "add", site.url + "/feed"]).exit_code == 0
    assert runner.invoke(cli.app, ["feeds", "add", site.url + "/down", "--name", "Down"]).exit_code == 0
    polled = runner.invoke(cli.app, ["feeds", "poll"])
    assert polled.exit_code == 1, polled.output
    assert "Local Wire: 2 added" in polled.output and "Down: error: HTTP 404" in polled.output
    listed = runner.invoke(cli.app, ["feeds", "list"]).output.strip().splitlines()
    assert len(listed) == 2 and any("error: HTTP 404" in line and "0 articles" in line for line in listed)
    assert any(" ok " in line and "2 articles" in line for line in listed)
    assert runner.invoke(cli.app, ["feeds", "remove", site.url + "/down"]).exit_code == 0
    missing = runner.invoke(cli.app, ["feeds", "remove", "nope"])
    assert missing.exit_code == 1 and "no followed feed" in missing.output
    assert runner.invoke(cli.app, ["feeds", "watch", "--every", "soon"]).exit_code == 1


def test_watch_stops_cleanly_on_ctrl_c(tmp_path, site) -> None:
    site.resources["/feed"] = Resource(body=rss(pages(site, 1)), content_type=RSS)
    env = {**os.environ, "QA_DATA_DIR": str(tmp_path / "data"), "QA_FETCH_PRIVATE": "true", "PYTHONUNBUFFERED": "1"}
    qa = [str(Path(sys.executable).parent / "qa")]
    subprocess.run([*qa, "feeds", "add", site.url + "/feed"], env=env, check=True, cwd=ROOT, capture_output=True)
    watcher = subprocess.Popen(
        [*qa, "feeds", "watch", "--every", "1h"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert watcher.stdout is not None
    line = watcher.stdout.readline().decode()
    assert "Local Wire: 1 added" in line
    watcher.send_signal(signal.SIGINT)
    out, _ = watcher.communicate(timeout=30)
    assert watcher.returncode == 0 and "stopped" in out.decode()


def test_the_api_routes_feeds_behind_the_token(tmp_path, embeddings, site) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        fetch=FetchSettings(private=True, host_delay=0),
        api=ApiSettings(token="s3cret"),
        feed_every=0,  # polled by hand here: tests/test_service.py has the background poller
    )
    site.resources["/feed"] = Resource(body=rss(pages(site, 2)), content_type=RSS)
    with served(create_app(settings, Engine(settings, embeddings))) as url:
        assert httpx.get(f"{url}/v1/feeds").status_code == 401
        auth = {"Authorization": "Bearer s3cret"}
        added = httpx.post(f"{url}/v1/feeds", json={"url": site.url + "/feed"}, headers=auth)
        assert added.status_code == 201 and "seen" not in added.json()
        bad = httpx.post(f"{url}/v1/feeds", json={"url": "file:///etc/passwd"}, headers=auth)
        assert bad.status_code == 422 and "only http and https" in bad.json()["error"]["message"]
        polled = httpx.post(f"{url}/v1/feeds/poll", headers=auth, timeout=60).json()
        assert polled[0]["feed"]["status"] == "ok" and len(polled[0]["report"]["items"]) == 2
        [listed] = httpx.get(f"{url}/v1/feeds", headers=auth).json()
        assert listed["articles"] == 2 and "seen" not in listed
        assert httpx.delete(f"{url}/v1/feeds/{listed['id']}", headers=auth).status_code == 200
        assert httpx.delete(f"{url}/v1/feeds/{listed['id']}", headers=auth).status_code == 404
        assert httpx.get(f"{url}/v1/stats", headers=auth).json()["articles"] == 2


def test_a_schedule_polls_each_feed_when_it_is_due(feeds_engine, site) -> None:
    site.resources["/feed"] = Resource(body=rss(pages(site, 1)), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    [first] = feeds_engine.poll_feeds(every=3600)
    assert first.report.count("added") == 1 and first.feed.last_success
    assert first.feed.next_poll and 3590 < (first.feed.next_poll - first.feed.last_success).total_seconds() <= 3600
    assert feeds_engine.poll_feeds(every=3600) == [] and site.hits["/feed"] == 1  # not due: not even listed
    [by_hand] = feeds_engine.poll_feeds()  # by hand: every feed, and the schedule kept
    assert not by_hand.skipped and site.hits["/feed"] == 2 and by_hand.feed.next_poll == first.feed.next_poll
    assert [parse_interval(text) for text in ("90s", "15m", "2", "1h", "1d")] == [90, 900, 120, 3600, 86400]
    assert Settings(feed_every="0").feed_every == 0 and Settings(feed_every="2s").feed_every == 2
    with pytest.raises(ConfigError, match="QA_FEED_EVERY"):
        get_settings({"feed_every": "soon"})


def test_entries_are_written_one_at_a_time_unless_writes_are_slow(feeds_engine, site, monkeypatch) -> None:
    """On a large index a write is mostly the catalogue's pass over every article: then entries are gathered."""
    from qa import feeds as feeds_module

    written: list[int] = []
    ingest = feeds_module.ingest_articles
    monkeypatch.setattr(
        feeds_module, "ingest_articles", lambda loaded, *rest: written.append(len(loaded)) or ingest(loaded, *rest)
    )
    site.resources["/small"] = Resource(body=rss(pages(site, 3, prefix="small")), content_type=RSS)
    site.resources["/large"] = Resource(body=rss(pages(site, 4, prefix="large")), content_type=RSS)
    feeds_engine.add_feed(site.url + "/small")
    feeds_engine.poll_feeds()
    assert written == [1, 1, 1]
    written.clear()
    monkeypatch.setattr(feeds_module, "CHEAP_WRITE_S", 0.0)  # every write counts as slow
    feeds_engine.add_feed(site.url + "/large")
    feeds_engine.poll_feeds()
    assert written == [1, 3] and len(feeds_engine.articles()) == 7  # the first, then the rest together


def test_a_stopped_poller_stops_between_entries_and_the_next_poll_takes_the_rest(feeds_engine, site) -> None:
    links = pages(site, 8)
    for link in links:
        site.resources[link.removeprefix(site.url)].delay_s = 0.3
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    poller = FeedPoller(lambda: feeds_engine, 3600)
    poller.start()
    while site.hits[links[1].removeprefix(site.url)] == 0:
        time.sleep(0.05)
    asked = time.monotonic()
    assert poller.stop(timeout=10) and time.monotonic() - asked < 2
    fetched = [link for link in links if site.hits[link.removeprefix(site.url)]]
    assert 2 <= len(fetched) < 8 and len(feeds_engine.articles()) == len(fetched)  # what was fetched is stored
    [feed] = feeds_engine.feeds()
    assert feed.next_poll is None  # due at once
    [rest] = feeds_engine.poll_feeds(every=3600)
    assert rest.report.count("added") == 8 - len(fetched) and len(feeds_engine.articles()) == 8
    assert [site.hits[link.removeprefix(site.url)] for link in links] == [1] * 8


def test_on_a_chroma_server_a_claim_overwritten_by_another_replica_is_given_up(
    chroma_server, tmp_path, site, embeddings, monkeypatch
) -> None:
    """A Chroma server has no lock two replicas share: both may read a feed unclaimed and both write a claim. Each
    reads its claim back after a pause, and the one whose claim was overwritten (here, in that pause) leaves it."""
    from qa import feeds as feeds_module

    site.resources["/feed"] = Resource(body=rss(pages(site, 2)), content_type=RSS)
    settings = Settings(
        data_dir=tmp_path / "data",
        chroma_url=chroma_server,
        collection=f"claims{uuid.uuid4().hex[:8]}",
        fetch=FetchSettings(private=True, host_delay=0),
    )
    engine = Engine(settings, embeddings)
    feed = engine.add_feed(site.url + "/feed")
    until = feed.added + timedelta(days=3650)
    settle = []

    def other_replica_claims(seconds: float) -> None:
        settle.append(seconds)
        feeds_module._save(engine.store, feed.model_copy(update={"polling_by": "replica-b:7", "polling_until": until}))

    monkeypatch.setattr(feeds_module.time, "sleep", other_replica_claims)
    [lost] = engine.poll_feeds(every=60)
    assert settle == [feeds_module.CLAIM_SETTLE_S]
    assert lost.skipped == "replica-b:7 claimed it first" and site.hits["/feed"] == 0
    monkeypatch.undo()
    feeds_module._save(engine.store, feed)  # replica b is done
    [won] = engine.poll_feeds(every=60)
    assert not won.skipped and won.report.count("added") == 2 and site.hits["/feed"] == 1


def test_a_bad_entry_stays_that_entrys_and_every_feed_is_polled(feeds_engine, site) -> None:
    [good] = pages(site, 1)
    bad_links = ["http://0177.0.0.1/x", "javascript:alert(1)", "file:///etc/passwd", "http://[::1"]
    site.resources["/mixed"] = Resource(body=rss([*bad_links, good]), content_type=RSS)
    site.resources["/later"] = Resource(body=rss(pages(site, 1, prefix="later"), title="Later Wire"), content_type=RSS)
    feeds_engine.add_feed(site.url + "/mixed", name="a mixed")  # polled first: feeds go by name
    feeds_engine.add_feed(site.url + "/later", name="b later")
    polls = {poll.feed.name: poll for poll in feeds_engine.poll_feeds()}
    assert polls["a mixed"].feed.status == FeedStatus.OK and polls["a mixed"].report.count("added") == 1
    reasons = [item.reason or "" for item in polls["a mixed"].report.failed]
    assert len(reasons) == 4 and all(reason.startswith("refused link: ") for reason in reasons)
    assert polls["b later"].report.count("added") == 1  # the feed after it was polled too
    assert {article.url for article in feeds_engine.articles()} <= {good, site.url + "/later/1.html"}
    again = feeds_engine.poll_feeds(force=True)  # a link that can never be fetched is not tried again
    assert all(poll.report.items == [] for poll in again)


def test_an_unexpected_failure_is_the_feeds_own_error(feeds_engine, site, monkeypatch) -> None:
    import qa.feeds

    def broken(content: bytes, url: str) -> None:
        raise KeyError("parser bug")

    site.resources["/feed"] = Resource(body=rss(pages(site, 1)), content_type=RSS)
    feeds_engine.add_feed(site.url + "/feed")
    monkeypatch.setattr(qa.feeds, "parse_feed", broken)
    [poll] = feeds_engine.poll_feeds()
    assert poll.feed.status == FeedStatus.ERROR and poll.feed.error == "unexpected KeyError (logged)"
    assert feeds_engine.feeds()[0].status == FeedStatus.ERROR  # saved: the next poll backs off


def test_entities_are_refused_in_every_encoding_a_parser_detects(feeds_engine, site) -> None:
    bomb = '<?xml version="1.0" encoding="{0}"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]>' \
        "<rss><channel><title>&b;</title></channel></rss>"  # fmt: skip
    for encoding in ("utf-16", "utf-32", "cp500"):
        site.resources[f"/{encoding}"] = Resource(body=bomb.format(encoding).encode(encoding), content_type=RSS)
        feeds_engine.add_feed(f"{site.url}/{encoding}", name=encoding)
    polls = feeds_engine.poll_feeds()
    assert len(polls) == 3 and all("declares XML entities" in (poll.feed.error or "") for poll in polls)


def test_a_claim_left_by_a_dead_poller_is_taken(feeds_engine, site, monkeypatch, tmp_path, embeddings) -> None:
    import socket
    from datetime import UTC, datetime, timedelta

    from qa.feeds import _save

    site.resources["/feed"] = Resource(body=rss(pages(site, 1)), content_type=RSS)
    feed = feeds_engine.add_feed(site.url + "/feed")
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    until = datetime.now(UTC) + timedelta(minutes=15)
    try:
        alive = feed.model_copy(update={"polling_until": until, "polling_by": f"{socket.gethostname()}:{sleeper.pid}"})
        _save(feeds_engine.store, alive)
        [held] = feeds_engine.poll_feeds(force=True)
        assert held.skipped and f":{sleeper.pid} is polling it" in held.skipped
    finally:
        sleeper.kill()
    killed = feed.model_copy(
        update={"polling_until": until, "polling_by": f"{socket.gethostname()}:{dead.stdout.strip()}"}
    )
    _save(feeds_engine.store, killed)
    monkeypatch.setenv("QA_DATA_DIR", str(feeds_engine.settings.data_dir))
    monkeypatch.setattr(cli, "open_engine", lambda: Engine(feeds_engine.settings, embeddings))
    listed = CliRunner().invoke(cli.app, ["feeds", "list"]).output
    assert "whose process is gone: the next poll takes it" in listed
    [taken] = feeds_engine.poll_feeds()
    assert not taken.skipped and taken.report.count("added") == 1
