"""The service's Prometheus metrics: each defined once here, counted where the thing happens, served at /metrics.

prometheus-client's process-wide registry, as its documentation has it: one `qa serve` is one process, and what
an ingest or a fetch counts needs no engine or app passed down to it. The store's size and the feeds' freshness
are read when scraped (`observe_store`), not kept up to date on every write.
"""

from __future__ import annotations

from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from qa.errors import FetchError
from qa.models import Answer, Feed, FeedPoll, IngestReport

# Seconds: an extractive answer takes about 0.1 s on 2 cores, an LLM's several, an upload minutes.
LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
CONFIDENCE_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)

REQUESTS = Counter(
    "qa_http_requests", "HTTP requests answered, by method, route and status.", ["method", "route", "status"]
)
REQUEST_SECONDS = Histogram(
    "qa_http_request_duration_seconds",
    "Seconds from a request's arrival to its response's last byte, by route.",
    ["route"],
    buckets=LATENCY_BUCKETS,
)
ANSWERS = Counter("qa_answers", "Answers given, by answerer and whether they were refusals.", ["answerer", "refused"])
CONFIDENCE = Histogram(
    "qa_answer_confidence",
    "Confidence of the answers that have one: the probability that the answer is right.",
    buckets=CONFIDENCE_BUCKETS,
)
ARTICLES = Counter(
    "qa_ingested_articles", "Articles ingested, by outcome: added, updated, skipped, failed.", ["status"]
)
CHUNKS = Counter("qa_ingested_chunks", "Chunks written by ingests.")
POLLS = Counter("qa_feed_polls", "Feed polls by outcome: ok, not modified, error, skipped.", ["outcome"])
FETCH_REFUSALS = Counter(
    "qa_fetch_refusals",
    "Pages, feeds and links not fetched, by reason: url, address, robots, redirects, type, encoding, size, "
    "entities, unreadable, http, network, timeout.",
    ["reason"],
)
STORED_ARTICLES = Gauge("qa_store_articles", "Articles in the index.")
STORED_CHUNKS = Gauge("qa_store_chunks", "Chunks in the index.")
FEEDS = Gauge("qa_feeds", "Feeds followed.")
LAST_GOOD_POLL_AGE = Gauge(
    "qa_feed_last_success_age_seconds",
    "Seconds since any followed feed was last polled without error, by any replica (-1: never).",
)


# What the request being answered gave, for its log line: the request log puts a dict here, and the thread the
# answer is made on (a copy of the request's context) fills it in.
REQUEST_ANSWER: ContextVar[dict[str, Any] | None] = ContextVar("qa_request_answer", default=None)


def observe_answer(answer: Answer) -> None:
    """Count one answer given, and note it for the request's log line."""
    ANSWERS.labels(answer.answerer, str(answer.refused).lower()).inc()
    if answer.confidence is not None:
        CONFIDENCE.observe(answer.confidence)
    noted = REQUEST_ANSWER.get()
    if noted is not None:
        noted.update(answerer=answer.answerer, refused=answer.refused, question=answer.question)


def observe_ingest(report: IngestReport) -> None:
    """Count what one ingest did."""
    for item in report.items:
        ARTICLES.labels(item.status.value).inc()
    CHUNKS.inc(report.chunks)


def observe_poll(poll: FeedPoll) -> None:
    """Count one feed's poll by how it went."""
    POLLS.labels("skipped" if poll.skipped else poll.feed.status.value).inc()


def refused(error: FetchError) -> FetchError:
    """Count a page, feed or link not fetched, by its reason; the error itself, to raise."""
    FETCH_REFUSALS.labels(error.reason).inc()
    return error


def observe_store(articles: int, chunks: int, feeds: list[Feed], now: datetime | None = None) -> None:
    """Set the gauges read at a scrape: the index's size and the feeds' freshness."""
    STORED_ARTICLES.set(articles)
    STORED_CHUNKS.set(chunks)
    FEEDS.set(len(feeds))
    good = [feed.last_success for feed in feeds if feed.last_success]
    age = ((now or datetime.now(UTC)) - max(good)).total_seconds() if good else -1
    LAST_GOOD_POLL_AGE.set(age)
