"""Following feeds: the feeds followed (kept in the index), and polling them: the feed fetched only if it changed,
each new entry's page fetched and extracted (or kept from the feed's summary when the page fails), ingested; one
bad feed never stops the others, errors back off, and a feed claimed by one poller is left alone by another."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from qa.articles import LoadFailure, article_from_page, article_from_summary, canonical_url, source_from_url
from qa.config import Settings
from qa.errors import ArticleError, FetchError, NotFoundError, QAError
from qa.fetcher import Fetcher, check_url
from qa.ingest import ingest_articles
from qa.models import Article, Feed, FeedPoll, FeedStatus
from qa.store import ArticleStore

# A poller's claim on a feed lapses after this, so a poller killed half-way does not hold the feed for ever.
CLAIM = timedelta(minutes=15)
# After a failed poll the feed waits BACKOFF x 2^(failures - 1) before the next, at most BACKOFF_MAX.
BACKOFF = timedelta(minutes=15)
BACKOFF_MAX = timedelta(days=1)
# Entries remembered as ingested, per feed: more than any feed lists at once.
SEEN_KEPT = 5000
ENTITY_DECLARATION = re.compile(rb"<!ENTITY", re.IGNORECASE)
EVERY = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")


def feed_id(url: str) -> str:
    """A feed's id: a hash of its canonical URL, so one feed added twice is one feed."""
    return hashlib.sha256(canonical_url(url).encode()).hexdigest()[:16]


def list_feeds(store: ArticleStore) -> list[Feed]:
    """Every followed feed, by name."""
    feeds = [Feed.model_validate_json(document) for document in store.feed_documents().values()]
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
        store.delete_feed(feed.id)
    return feed


def poll_feeds(
    store: ArticleStore,
    settings: Settings,
    *,
    force: bool = False,
    stop: Callable[[], bool] = lambda: False,
    on_poll: Callable[[FeedPoll], None] | None = None,
) -> list[FeedPoll]:
    """Poll every followed feed once (those backing off after errors only when `force`); `stop` is asked between
    entries, and what was fetched by then is still ingested."""
    polls = []
    with Fetcher(settings) as fetcher:
        for feed in list_feeds(store):
            if stop():
                break
            poll = poll_feed(store, settings, feed.id, fetcher, force=force, stop=stop)
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
    stop: Callable[[], bool] = lambda: False,
) -> FeedPoll:
    """Poll one feed: claim it, fetch it if changed, ingest its new entries, and save how it went."""
    feed, skipped = _claim(store, id_, force)
    if skipped:
        return FeedPoll(feed=feed, skipped=skipped)
    poll = FeedPoll(feed=feed)
    try:
        poll = _poll(store, settings, feed, fetcher, stop)
    except QAError as error:
        failures = feed.failures + 1
        poll.feed = feed.model_copy(
            update={
                "status": FeedStatus.ERROR,
                "error": str(error),
                "failures": failures,
                "next_poll": _now() + min(BACKOFF * 2 ** (failures - 1), BACKOFF_MAX),
            }
        )
    finally:
        poll.feed = poll.feed.model_copy(update={"last_poll": _now(), "polling_until": None})
        with store.writing():
            if _get(store, feed.id):  # removed while it was polled: not brought back
                _save(store, poll.feed)
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
    loaded: list[Article | LoadFailure] = []
    keys: list[str] = []
    today = _now().date()
    for entry in entries:
        if stop():
            break
        keys.append(_entry_key(entry))
        loaded.append(_entry_article(entry, fetcher, settings, today, source=title or None))
    report = ingest_articles(loaded, store, settings)
    summary_only = sum(isinstance(item, Article) and item.summary_only for item in loaded)
    written = {item.article_id for item in report.items if item.status in ("added", "updated")}
    kept = [key for key, item in zip(keys, loaded, strict=True) if isinstance(item, Article)]
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

    if ENTITY_DECLARATION.search(content):
        raise FetchError(f"{url} declares XML entities; refused (they are never expanded)")
    parsed = feedparser.parse(content, response_headers={"content-location": url})
    if not parsed.entries and (parsed.get("bozo") or not parsed.get("version")):
        reason = parsed.get("bozo_exception") or "not RSS or Atom"
        raise FetchError(f"{url} is not a readable feed: {str(reason).splitlines()[0][:200]}")
    return parsed


def parse_every(text: str) -> float:
    """Seconds in '15m', '1h', '90s', '1d' (minutes when no unit is given); at least one second."""
    found = EVERY.match(text)
    if not found or float(found[1]) <= 0:
        raise QAError(f"invalid interval {text!r}: use e.g. 15m, 1h, 90s")
    return float(found[1]) * {"s": 1, "m": 60, "": 60, "h": 3600, "d": 86400}[found[2]]


def _entry_article(
    entry: Any, fetcher: Fetcher, settings: Settings, today: date, source: str | None
) -> Article | LoadFailure:
    """An entry's page as an article; its summary when the page cannot be had; else why not."""
    link = entry.get("link") or ""
    feed_date = _entry_date(entry)
    try:
        fetched = fetcher.page(link, robots=True)
        return article_from_page(fetched.content, fetched.url, settings, fetched=today, feed_date=feed_date)
    except (FetchError, ArticleError) as error:
        summary = _summary_text(entry)
        if not summary or not link:
            return LoadFailure(location=link or entry.get("id", "entry"), reason=str(error))
        try:
            return article_from_summary(
                summary, link, entry.get("title", ""), settings, fetched=today, published=feed_date, source=source
            )
        except ArticleError as summary_error:
            return LoadFailure(location=link, reason=f"{error}; {summary_error}")


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


def _claim(store: ArticleStore, id_: str, force: bool) -> tuple[Feed, str | None]:
    """The feed, claimed for this poller; or why it is left alone (another poller has it, or it is backing off)."""
    now = _now()
    with store.writing():
        feed = _get(store, id_)
        if feed is None:
            raise NotFoundError(f"no followed feed has the id {id_!r}")
        if feed.polling_until and feed.polling_until > now:
            return feed, "another poller is polling it"
        if feed.next_poll and feed.next_poll > now and not force:
            return feed, f"backing off after {feed.failures} failed polls, until {feed.next_poll:%H:%M} UTC"
        feed = feed.model_copy(update={"polling_until": now + CLAIM})
        _save(store, feed)
    return feed, None


def _get(store: ArticleStore, id_: str) -> Feed | None:
    document = store.feed_documents().get(id_.strip())
    return Feed.model_validate_json(document) if document else None


def _save(store: ArticleStore, feed: Feed) -> None:
    store.save_feed(feed.id, feed.model_dump_json())


def _now() -> datetime:
    return datetime.now(UTC)


def sleep_until(deadline: float, stop: Callable[[], bool]) -> None:
    """Sleep until the monotonic `deadline`, waking early when `stop` says so."""
    while not stop() and time.monotonic() < deadline:
        time.sleep(min(0.5, max(0.0, deadline - time.monotonic())))
