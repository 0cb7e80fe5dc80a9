"""The service running itself: followed feeds polled by `qa serve` in the background, /metrics, one log line per
request, and a SIGTERM in the middle of a poll; against a local news site on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from qa.api.app import create_app
from qa.config import ApiSettings, FetchSettings, Settings
from qa.embeddings import MiniLMEmbeddings
from qa.engine import Engine

from .conftest import ROOT, scrape, served, value, wait_for
from .news_site import RSS, NewsSite, Resource, pages, rss
from .test_api_live import start_server, wait_ready

TOKEN = "service-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def service_settings(tmp_path: Path, **more: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        fetch=FetchSettings(private=True, host_delay=0),
        api=ApiSettings(token=TOKEN),
        **more,  # type: ignore[arg-type]
    )


def test_a_served_index_stays_fresh_with_no_second_process(tmp_path, embeddings, site) -> None:
    site.resources["/feed"] = Resource(body=rss(pages(site, 2)), content_type=RSS)
    settings = service_settings(tmp_path, feed_every=1)
    with served(create_app(settings, Engine(settings, embeddings))) as url:
        assert httpx.post(f"{url}/v1/feeds", json={"url": site.url + "/feed"}, headers=AUTH).status_code == 201
        stats = lambda: httpx.get(f"{url}/v1/stats", headers=AUTH).json()["articles"]  # noqa: E731
        wait_for(lambda: stats() == 2)
        [feed] = httpx.get(f"{url}/v1/feeds", headers=AUTH).json()
        assert feed["status"] == "ok" and feed["last_poll"] and feed["last_success"] and feed["next_poll"]
        assert feed["next_poll"] > feed["last_poll"].split(".")[0]

        # The site publishes a story after the first poll: the next scheduled poll brings it in.
        late = site.page(
            "/late.html",
            "Kelvin harbour bridge reopens",
            "The Kelvin harbour bridge reopened on Tuesday after a repair that cost 12 million euros.\n\n"
            "Ferries that had carried commuters during the repair returned to their old timetable.",
            date="2026-11-20",
        )
        site.resources["/feed"] = Resource(body=rss([*pages(site, 2), late]), content_type=RSS)
        wait_for(lambda: stats() == 3, seconds=30)
        question = {"question": "How much did the repair of the Kelvin harbour bridge cost?"}
        answer = httpx.post(f"{url}/v1/ask", json=question, headers=AUTH, timeout=60).json()
        assert "12 million euros" in answer["answer"] and answer["citations"][0]["url"] == late
        assert site.hits["/late.html"] == 1 and site.hits["/story/1.html"] == 1


def test_metrics_count_what_the_service_does_behind_the_token(tmp_path, embeddings, site) -> None:
    good = pages(site, 1)
    site.resources["/feed"] = Resource(
        body=rss([*good, "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"]), content_type=RSS
    )
    settings = service_settings(tmp_path, feed_every=0).model_copy(
        update={"api": ApiSettings(token=TOKEN, metrics_token="scraper-token-0123")}
    )
    with served(create_app(settings, Engine(settings, embeddings))) as url:
        assert httpx.get(f"{url}/metrics").status_code == 401
        assert httpx.get(f"{url}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        scraper = {"Authorization": "Bearer scraper-token-0123"}
        assert httpx.get(f"{url}/v1/stats", headers=scraper).status_code == 401  # it reads /metrics only
        before = scrape(url, scraper)

        record = {"title": "Ferry fares", "text": "Fares on the Greywater ferry rose to 7 euros on Monday."}
        assert httpx.post(f"{url}/v1/articles", json={"articles": [record]}, headers=AUTH).status_code == 200
        asked = httpx.post(f"{url}/v1/ask", json={"question": "What do Greywater ferry fares cost?"}, headers=AUTH)
        refused = httpx.post(f"{url}/v1/ask", json={"question": "Who won the 1930 chess olympiad?"}, headers=AUTH)
        assert not asked.json()["refused"] and refused.json()["refused"]
        assert httpx.post(f"{url}/v1/feeds", json={"url": site.url + "/feed"}, headers=AUTH).status_code == 201
        polled = httpx.post(f"{url}/v1/feeds/poll", headers=AUTH, timeout=60).json()
        assert polled[0]["feed"]["status"] == "ok"
        after = scrape(url, AUTH)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("qa_answers_total", answerer="extractive", refused="false") == 1
    assert delta("qa_answers_total", answerer="extractive", refused="true") == 1
    assert delta("qa_answer_confidence_count") == 2
    assert delta("qa_http_requests_total", method="POST", route="/v1/ask", status="200") == 2
    assert delta("qa_http_request_duration_seconds_count", route="/v1/ask") == 2
    # The record, the feed's page, and the summary of the entry whose page was refused; the file link failed.
    assert delta("qa_ingested_articles_total", status="added") == 3
    assert delta("qa_ingested_articles_total", status="failed") == 1
    assert delta("qa_ingested_chunks_total") >= 2
    assert delta("qa_feed_polls_total", outcome="ok") == 1
    assert delta("qa_fetch_refusals_total", reason="address") == 1
    assert delta("qa_fetch_refusals_total", reason="url") == 1
    assert value(after, "qa_store_articles") == 3 and value(after, "qa_feeds") == 1
    assert 0 <= value(after, "qa_feed_last_success_age_seconds") < 60
    assert value(after, "process_resident_memory_bytes") > 0  # the standard process collector


def test_each_request_is_one_log_line_and_the_question_only_when_asked(tmp_path, embeddings, caplog) -> None:
    settings = service_settings(tmp_path, feed_every=0)
    engine = Engine(settings, embeddings)
    engine.ingest_records([{"title": "Ferry fares", "text": "Fares on the Greywater ferry rose to 7 euros."}])
    question = {"question": "What do the Greywater ferry fares cost?"}
    caplog.set_level(logging.INFO, logger="qa.requests")
    with served(create_app(settings, engine)) as url:
        httpx.post(f"{url}/v1/ask", json=question, headers=AUTH, timeout=60)
        httpx.get(f"{url}/v1/articles/secret-id", headers=AUTH)
        httpx.get(f"{url}/no/such/path/private-words")
        httpx.get(f"{url}/v1/stats")
    lines = [record.getMessage() for record in caplog.records if record.name == "qa.requests"]
    assert len(lines) == 4, lines
    asked, unknown, unmatched, unauthorized = lines
    assert " POST /v1/ask 200 " in asked and " ms answerer=extractive refused=false bytes=" in asked
    assert "Greywater" not in asked and "question" not in asked
    assert " GET /v1/articles/{article_id:article_id} 404 " in unknown and "secret-id" not in unknown
    assert " GET unmatched 404 " in unmatched and "private-words" not in unmatched
    assert " GET /v1/stats 401 " in unauthorized

    caplog.clear()
    settings = settings.model_copy(update={"log_format": "json", "log_questions": True})
    with served(create_app(settings, engine)) as url:
        httpx.post(f"{url}/v1/ask", json=question, headers=AUTH, timeout=60)
    [line] = [json.loads(record.getMessage()) for record in caplog.records if record.name == "qa.requests"]
    assert {key: line[key] for key in ("method", "route", "status", "answerer", "refused")} == {
        "method": "POST",
        "route": "/v1/ask",
        "status": 200,
        "answerer": "extractive",
        "refused": False,
    }
    assert line["question"] == question["question"] and line["bytes"] > 100 and line["ms"] > 0
    assert line["time"].endswith("Z")


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_a_server_stopped_during_a_background_poll_leaves_a_clean_index_and_the_rest_is_fetched_next(
    tmp_path, site, stop: signal.Signals
) -> None:
    links = pages(site, 12)
    for link in links:
        site.resources[link.removeprefix(site.url)].delay_s = 0.4
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS)
    env = {
        **os.environ,
        "QA_DATA_DIR": str(tmp_path / "data"),
        "QA_API_TOKEN": TOKEN,
        "QA_FEED_EVERY": "1s",
        "QA_FETCH_PRIVATE": "true",
        "QA_FETCH_HOST_DELAY": "0",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    env.pop("QA_CHROMA_URL", None)
    log = tmp_path / "serve.log"
    process, url = start_server(env, log)
    try:
        wait_ready(process, url, log)
        assert httpx.post(f"{url}/v1/feeds", json={"url": site.url + "/feed"}, headers=AUTH).status_code == 201
        wait_for(lambda: site.hits[links[5].removeprefix(site.url)] > 0)  # five entries written, more to come
        process.send_signal(stop)
        asked = time.monotonic()
        process.wait(timeout=30)
        assert time.monotonic() - asked < 5, log.read_text()[-2000:]
    finally:
        process.kill()
    assert "Traceback" not in log.read_text()
    assert sum(site.hits[link.removeprefix(site.url)] > 0 for link in links) < 12
    qa = str(Path(sys.executable).parent / "qa")
    checked = subprocess.run([qa, "check", "--repair", "--json"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    found = json.loads(checked.stdout)
    assert found["after_repair"]["problems"] == []
    if stop == signal.SIGTERM:  # nothing half-written: there was nothing to repair
        assert found["found"]["problems"] == []

    # The next poll fetches what was missed. After a SIGTERM nothing is fetched twice but an entry cut off in its
    # fetch; a SIGKILL leaves the feed's record of what it ingested unsaved, so that poll's entries come again
    # (and are stored once: unchanged, skipped).
    polled = subprocess.run([qa, "feeds", "poll"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert polled.returncode == 0, polled.stdout + polled.stderr
    stats = subprocess.run([qa, "stats", "--json"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert json.loads(stats.stdout)["articles"] == 12
    fetches = sum(site.hits[link.removeprefix(site.url)] for link in links)
    assert fetches <= (13 if stop == signal.SIGTERM else 24)


def test_the_poller_yields_to_requests(tmp_path, embeddings: MiniLMEmbeddings, site: NewsSite) -> None:
    """Between entries a background poll waits while a request is being answered."""
    from qa.poller import FeedPoller

    links = pages(site, 3)
    site.resources["/feed"] = Resource(body=rss(links), content_type=RSS)
    settings = service_settings(tmp_path, feed_every=0)
    engine = Engine(settings, embeddings)
    engine.add_feed(site.url + "/feed")
    busy = {"now": True}
    poller = FeedPoller(lambda: engine, 3600, busy=lambda: busy["now"])
    poller.start()
    time.sleep(0.5)  # within YIELD_MAX_S: nothing fetched while busy
    assert [site.hits[link.removeprefix(site.url)] for link in links] == [0, 0, 0]
    busy["now"] = False
    wait_for(lambda: len(engine.articles()) == 3, seconds=30)
    assert poller.stop(timeout=5)
