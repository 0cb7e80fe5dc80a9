"""Following feeds: the feeds followed (kept in the index), and polling them: the feed fetched only if it changed,
each new entry's page fetched and extracted (or kept from the feed's summary when the page fails) and written as
the poll goes; one bad feed never stops the others, errors back off, a feed claimed by one poller is left alone by
another, and a scheduled poll takes only the feeds that are due, so replicas polling one index share the work."""

from __future__ import annotations

import hashlib
import logging
import os
import re
import socket
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from qa import metrics
from qa.articles import LoadFailure, article_from_page, article_from_summary, canonical_url, source_from_url
from qa.config import Settings
from qa.errors import ArticleError, FetchError, NotFoundError, QAError
from qa.fetcher import Fetcher, check_url
from qa.ingest import ingest_articles
from qa.models import Article, Feed, FeedPoll, FeedStatus, IngestReport
from qa.store import ArticleStore

# The followed feeds are kept in the index's side collection of this name, one JSON document per feed.
FEEDS = "feeds"
# A poller's claim on a feed lapses after this, so a poller killed half-way does not hold the feed for ever.
CLAIM = timedelta(minutes=15)
# A Chroma server has no lock two replicas share: a claim is written, then read back after this long, and the
# replica whose claim is not the one stored leaves the feed (both read, both write: the later write wins).
CLAIM_SETTLE_S = 0.25
# After a failed poll the feed waits BACKOFF x 2^(failures - 1) before the next, at most BACKOFF_MAX.
BACKOFF = timedelta(minutes=15)
BACKOFF_MAX = timedelta(days=1)
# Entries remembered as ingested, per feed: more than any feed lists at once.
SEEN_KEPT = 5000
# Fetched entries are written one at a time: a stop waits for one write, and between two the background poll
# yields to requests (benchmarks/load.py, 8 clients on 2 cores: answer p95 while ingesting 1.54x the idle p95 one
# entry a write; 2.08x four; 2.45x writing only while writes stay under a fifth of the poll's time). But after a
# write that took over CHEAP_WRITE_S (one entry took 0.5-1.2 s at a million chunks; a page's embedding ~0.3 s),
# entries are gathered until the writes take at most WRITES_SHARE of the poll's time.
CHEAP_WRITE_S = 1.0
WRITES_SHARE = 0.2
# An entity declaration as it appears in the encodings an XML parser detects from the first bytes: scanning only
# the raw bytes as ASCII would miss a UTF-16, UTF-32 or EBCDIC feed's.
ENTITY_DECLARATIONS = [re.compile(rb"<!ENTITY", re.IGNORECASE)] + [
    re.compile(re.escape("<!ENTITY".encode(encoding)))
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "cp500", "cp037")
]

log = logging.getLogger("qa.feeds")


def feed_id(url: str) -> str:
    """A feed's id: a hash of its canonical URL, so one feed added twice is one feed."""
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]


def list_feeds(store: ArticleStore) -> list[Feed]:
    """Every followed feed, by name."""
    feeds = [Feed.model_validate_json(document) for document in store.side_documents(FEEDS).values()]
    return sorted(feeds, key=lambda feed: (feed.name.lower(), feed.url))


def add_feed(store: ArticleStore, url: str, name: str | None = None, *, now: datetime | None = None) -> Feed:
    """Follow a feed (checked to be an http(s) URL; fetched at the next poll). Adding it again renames it."""
    url = check_url(url)
    with store.writing():
        existing = _get(store, feed_id(url))
        if existing:
            feed = existing.model_copy(update={"name": name or existing.name})
        else:
            feed = Feed(id=feed_id(url), url=url, name=name or source_from_url(url) or url, added=now or _now())
        _save(store, feed)
    return feed


def remove_feed(store: ArticleStore, id_or_url: str) -> Feed:
    """Stop following a feed, named by its id or URL; the articles it brought stay."""
    with store.writing():
        feed = _get(store, id_or_url) or next(
            (feed for feed in list_feeds(store) if feed.url == id_or_url.strip()), None
        )
        if feed is None:
            raise NotFoundError(f"no followed feed has the id or URL {id_or_url!r} (see `qa feeds list`)")
        store.delete_side_document(FEEDS, feed.id)
    return feed


def poll_feeds(
    store: ArticleStore,
    settings: Settings,
    *,
    force: bool = False,
    every: float | None = None,
    stop: Callable[[], bool] = lambda: False,
    on_poll: Callable[[FeedPoll], None] | None = None,
) -> list[FeedPoll]:
    """Poll the followed feeds once: every one (those backing off after errors only when `force`), or, on a
    schedule of `every` seconds, only those due, each next due `every` seconds after its poll began. `stop` is
    asked between entries (it may wait there: the server's poller yields to requests so), and what was fetched by
    then is still ingested."""
    polls = []
    with Fetcher(settings) as fetcher:
        for feed in list_feeds(store):
            if stop():
                break
            if every is not None and not _due(feed, _now()):
                continue
            try:
                poll = poll_feed(store, settings, feed.id, fetcher, force=force, every=every, stop=stop)
            except NotFoundError:  # removed since it was listed
                continue
            if poll is None:  # another replica polled it since it was listed
                continue
            polls.append(poll)
            if on_poll:
                on_poll(poll)
    return polls


def poll_feed(
    store: ArticleStore,
    settings: Settings,
    id_: str,
    fetcher: Fetcher,
    *,
    force: bool = False,
    every: float | None = None,
    stop: Callable[[], bool] = lambda: False,
) -> FeedPoll | None:
    """Poll one feed: claim it, fetch it if changed, ingest its new entries, and save how it went; None when, on a
    schedule, it is not due after all."""
    started = _now()
    claimed = _claim(store, id_, force, every)
    if claimed is None:
        return None
    feed, skipped = claimed
    if skipped:
        poll = FeedPoll(feed=feed, skipped=skipped)
        metrics.observe_poll(poll)
        return poll
    poll = FeedPoll(feed=feed)
    stopped = False

    def asked_to_stop() -> bool:
        nonlocal stopped
        stopped = stopped or stop()
        return stopped

    try:
        poll = _poll(store, settings, feed, fetcher, asked_to_stop)
        # Stopped half-way, it is due at once: the next poll fetches the entries this one left. A poll by hand
        # keeps the schedule, and ends a back-off.
        if stopped or (not every and feed.failures):
            due = None
        else:
            due = started + timedelta(seconds=every) if every else feed.next_poll
        poll.feed = poll.feed.model_copy(update={"last_success": _now(), "next_poll": due})
    except Exception as error:  # a feed's failure is that feed's: saved as its error, the other feeds polled
        failures = feed.failures + 1
        poll.feed = feed.model_copy(
            update={
                "status": FeedStatus.ERROR,
                "error": _reason(error, f"feed {feed.url}"),
                "failures": failures,
                "next_poll": _now() + min(BACKOFF * 2 ** (failures - 1), BACKOFF_MAX),
            }
        )
    finally:
        poll.feed = poll.feed.model_copy(update={"last_poll": _now(), "polling_until": None, "polling_by": None})
        with store.writing():
            if _get(store, feed.id):  # removed while it was polled: not brought back
                _save(store, poll.feed)
    metrics.observe_poll(poll)
    return poll


def _poll(store: ArticleStore, settings: Settings, feed: Feed, fetcher: Fetcher, stop: Callable[[], bool]) -> FeedPoll:
    fetched = fetcher.feed(feed.url, etag=feed.etag, last_modified=feed.last_modified)
    validators = {"etag": fetched.etag or feed.etag, "last_modified": fetched.last_modified or feed.last_modified}
    if fetched.not_modified:
        unchanged = {"status": FeedStatus.NOT_MODIFIED, "error": None, "failures": 0, "next_poll": None}
        return FeedPoll(feed=feed.model_copy(update={**unchanged, **validators}))
    parsed = parse_feed(fetched.content, fetched.url)
    title = (parsed.feed.get("title") or "").strip()
    name = feed.name if feed.name != source_from_url(feed.url) or not title else title[:80]
    seen = set(feed.seen)
    entries = [entry for entry in parsed.entries if _entry_key(entry) not in seen][: settings.feed_max_entries]
    loaded: list[Article | LoadFailure] = []  # fetched, not yet written
    kept: list[str] = []  # entries never to fetch again: ingested, or with a link that can never be fetched
    report = IngestReport()
    summary_only = 0
    today = _now().date()
    started, writing, last_write = time.monotonic(), 0.0, 0.0  # seconds spent writing: in all, the last write
    for position, entry in enumerate(entries):
        if stop():
            break
        try:
            link = check_url(entry.get("link") or "")
        except FetchError as error:
            metrics.refused(error)
            loaded.append(LoadFailure(location=_entry_location(entry), reason=f"refused link: {error}"))
            kept.append(_entry_key(entry))
            continue
        item = _entry_article(entry, link, fetcher, settings, today, source=title or None)
        loaded.append(item)
        if isinstance(item, Article):
            kept.append(_entry_key(entry))
            summary_only += item.summary_only
        write_now = last_write <= CHEAP_WRITE_S or writing <= WRITES_SHARE * (time.monotonic() - started)
        if loaded and position + 1 < len(entries) and write_now:
            began = time.monotonic()
            report = _joined(report, ingest_articles(loaded, store, settings))
            last_write = time.monotonic() - began
            writing += last_write
            loaded = []
    if loaded:
        report = _joined(report, ingest_articles(loaded, store, settings))
    written = {item.article_id for item in report.items if item.status in ("added", "updated")}
    update: dict[str, Any] = {
        "name": name,
        "status": FeedStatus.OK,
        "error": None,
        "failures": 0,
        "next_poll": None,
        "articles": feed.articles + len(written),
        "seen": (feed.seen + kept)[-SEEN_KEPT:],
        **validators,
    }
    return FeedPoll(feed=feed.model_copy(update=update), report=report, summary_only=summary_only)


def parse_feed(content: bytes, url: str) -> Any:
    """RSS 2.0, RSS 1.0 or Atom, parsed by feedparser from the bytes alone (it fetches nothing). A feed declaring
    XML entities is refused: expanding them ("billion laughs") is how a small feed fills memory."""
    import feedparser  # imported here: only polling needs it

    if any(declaration.search(content) for declaration in ENTITY_DECLARATIONS):
        raise metrics.refused(FetchError(f"{url} declares XML entities; refused (they are never expanded)", "entities"))
    parsed = feedparser.parse(content, response_headers={"content-location": url})
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "not RSS or Atom"
        raise metrics.refused(
            FetchError(f"{url} is not a readable feed: {str(reason).splitlines()[0][:200]}", "unreadable")
        )
    return parsed


def _joined(first: IngestReport, second: IngestReport) -> IngestReport:
    """Two ingests' reports as one."""
    return IngestReport(items=first.items + second.items, seconds=first.seconds + second.seconds)


def _entry_article(
    entry: Any, link: str, fetcher: Fetcher, settings: Settings, today: date, source: str | None
) -> Article | LoadFailure:
    """An entry's page (at its checked `link`) as an article; its summary when the page cannot be had; else why
    not. Whatever goes wrong stays this entry's."""
    feed_date = _entry_date(entry)
    try:
        fetched = fetcher.page(link, robots=True)
        return article_from_page(fetched.content, fetched.url, settings, fetched=today, feed_date=feed_date)
    except Exception as error:  # the page failed or was refused: the feed's own summary may still be kept
        reason = _reason(error, f"entry {link}")
        summary = _summary_text(entry)
        if not summary:
            return LoadFailure(location=link, reason=reason)
        try:
            return article_from_summary(
                summary, link, entry.get("title", ""), settings, fetched=today, published=feed_date, source=source
            )
        except ArticleError as summary_error:
            return LoadFailure(location=link, reason=f"{reason}; {summary_error}")


def _entry_location(entry: Any) -> str:
    """How an entry is named in a report: its link or id, one line, inert."""
    return " ".join(str(entry.get("link") or entry.get("id") or "entry").split())[:200]


def _reason(error: Exception, what: str) -> str:
    """One line for what failed (a feed, an entry): a QAError's own; an unexpected one by its class, logged on one
    line with the traceback at DEBUG only."""
    if isinstance(error, QAError):
        return str(error)
    log.warning("%s failed unexpectedly: %s", what, type(error).__name__)
    log.debug("traceback", exc_info=error)
    return f"unexpected {type(error).__name__} (logged)"


def _summary_text(entry: Any) -> str:
    from lxml import html

    parts = [content.get("value", "") for content in entry.get("content", [])] or [entry.get("summary", "")]
    text = "\n\n".join(part for part in parts if part.strip())
    if not text.strip():
        return ""
    return html.fromstring(f"<div>{text}</div>").text_content().strip()


def _entry_date(entry: Any) -> date | None:
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    try:
        return date(*parsed[:3]) if parsed else None
    except (TypeError, ValueError):
        return None


def _entry_key(entry: Any) -> str:
    """An entry as seen: its id (else link) and update time, so an entry the feed updates is fetched again."""
    # dict.get: feedparser's own get maps a missing 'updated' to 'published', with a warning each time.
    changed = dict.get(entry, "updated") or dict.get(entry, "published") or ""
    return f"{entry.get('id') or entry.get('link', '')}|{changed}"


def _due(feed: Feed, now: datetime) -> bool:
    return feed.next_poll is None or feed.next_poll <= now


def _claim(store: ArticleStore, id_: str, force: bool, every: float | None) -> tuple[Feed, str | None] | None:
    """The feed, claimed for this poller; or why it is left alone (another poller has it, or it is backing off);
    None when, on a schedule, it is not due (another poller has just polled it)."""
    now = _now()
    with store.writing():
        feed = _get(store, id_)
        if feed is None:
            raise NotFoundError(f"no followed feed has the id {id_!r}")
        if claimed_by_live_poller(feed, now):
            return feed, f"{feed.polling_by or 'another poller'} is polling it, until {feed.polling_until:%H:%M} UTC"
        if every is not None and not _due(feed, now):
            return None
        if feed.failures and not _due(feed, now) and not force:
            return feed, f"backing off after {feed.failures} failed polls, until {feed.next_poll:%H:%M} UTC"
        claim = {"polling_until": now + CLAIM, "polling_by": f"{socket.gethostname()}:{os.getpid()}"}
        feed = feed.model_copy(update=claim)
        _save(store, feed)
    if store.connection.embedded:  # the file lock kept every other process out
        return feed, None
    time.sleep(CLAIM_SETTLE_S)
    with store.writing():
        held = _get(store, id_)
    if held is None:
        raise NotFoundError(f"no followed feed has the id {id_!r}")
    if (held.polling_by, held.polling_until) != (feed.polling_by, feed.polling_until):
        return held, f"{held.polling_by or 'another poller'} claimed it first"
    return feed, None


def claimed_by_live_poller(feed: Feed, now: datetime | None = None) -> bool:
    """Whether a poller holds the feed now: its claim has not lapsed, and its process, if on this host, is alive (a
    poller killed half-way leaves a claim no one holds)."""
    if not feed.polling_until or feed.polling_until <= (now or _now()):
        return False
    host, _, pid = (feed.polling_by or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return True  # another machine's poller: only the claim's lapse tells
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _get(store: ArticleStore, id_: str) -> Feed | None:
    document = store.side_documents(FEEDS).get(id_.strip())
    return Feed.model_validate_json(document) if document else None


def _save(store: ArticleStore, feed: Feed) -> None:
    store.save_side_document(FEEDS, feed.id, feed.model_dump_json())


def _now() -> datetime:
    return datetime.now(UTC)
