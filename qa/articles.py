"""Read files, records and web pages into Articles: txt, md, html, json and jsonl, with their metadata."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlparse, urlsplit, urlunsplit

from dateutil import parser as date_parser
from pydantic import BaseModel, Field

from qa.config import Settings
from qa.errors import ArticleError
from qa.models import Article

TEXT_SUFFIXES = {".txt", ".md", ".markdown"}
HTML_SUFFIXES = {".html", ".htm"}
RECORD_SUFFIXES = {".json", ".jsonl"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | HTML_SUFFIXES | RECORD_SUFFIXES
_SUPPORTED_LIST = ", ".join(sorted(SUPPORTED_SUFFIXES))
UNSUPPORTED_TYPE = f"unsupported file type (supported: {_SUPPORTED_LIST})"

MAX_TITLE_CHARS = 200
# Query parameters that track a click, not name a page: dropped from the URL an article is known by.
TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ocid|cmpid)$", re.IGNORECASE)
NESTED_TOO_DEEPLY = "JSON nested too deeply"
# "&#27;" and the other references to control characters: XML cannot hold them, and the extractor drops the whole
# page over one. They are removed before extraction (tab, newline and carriage return are kept).
CONTROL_REFERENCE = re.compile(
    rb"&#(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01]|127)|[xX]0*(?:[0-8bBcCeEfF]|1[0-9a-fA-F]|7[fF]));"
)
# A date a fetched page's text suggests (no metadata, no feed date) counts only within this many days before the
# fetch: a year or a date further off in the text is what the article talks about, not when it ran.
TEXT_DATE_DAYS = 30
# "This article was originally published by Radio Free Europe/Radio Liberty and is reprinted with permission."
PROVENANCE_LINE = re.compile(
    r"^(?:this )?(?:article|story|piece)?\s*(?:was |is )?(?:originally |first )?published (?:by|in|on|at) "
    r"(?P<source>.+?)(?:,? and (?:is )?(?:reprinted|republished|used)\b.*|\s+with permission.*)?\.?$",
    re.IGNORECASE,
)


class LoadFailure(BaseModel):
    """A file or record that was skipped, and why."""

    location: str = Field(description="The file, or file:line for a record.")
    reason: str = Field(description="One line saying why it was skipped.")


def discover_files(paths: Iterable[Path]) -> Iterator[Path | LoadFailure]:
    """Expand files and folders (recursively) into article files, reporting paths that yield none."""
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES and not p.is_dir())
            if not found:
                yield LoadFailure(location=str(path), reason=f"no article files found (supported: {_SUPPORTED_LIST})")
            for file in found:
                # A link to nothing, a socket or a pipe named like an article is one line, never a silent skip.
                yield file if file.is_file() else LoadFailure(location=str(file), reason=_not_a_file(file))
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_SUFFIXES:
                yield path
            else:
                yield LoadFailure(location=str(path), reason=UNSUPPORTED_TYPE)
        else:
            yield LoadFailure(location=str(path), reason="no such file or folder")


def read_articles(path: Path, settings: Settings) -> list[Article | LoadFailure]:
    """Read one file into its articles; anything unreadable comes back as a LoadFailure, never raised."""
    try:
        raw = _read_bytes(path, settings)
        suffix = path.suffix.lower()
        if suffix in HTML_SUFFIXES:
            return [_article_from_html(raw, path, settings)]
        text = _decode(raw)
        if suffix == ".jsonl":
            return list(articles_from_jsonl(text, path, settings, record_path=path))
        if suffix == ".json":
            return list(_articles_from_json(text, path, settings))
        return [_article_from_text(text, path, settings)]
    except ArticleError as error:
        return [LoadFailure(location=str(path), reason=str(error))]
    except OSError as error:  # vanished since it was listed, unreadable, a link that broke: this file alone
        return [LoadFailure(location=str(path), reason=_os_reason(error))]


def _not_a_file(path: Path) -> str:
    if path.is_symlink() and not path.exists():
        return f"broken link (to {os.readlink(path)})"
    return "not a regular file"


def _os_reason(error: OSError) -> str:
    if isinstance(error, FileNotFoundError):
        return "no longer there (removed while the ingest ran)"
    return f"could not be read: {error.strerror or type(error).__name__}"


def articles_from_records(
    records: Sequence[Any], settings: Settings, *, path: Path | None, label: str | None
) -> Iterator[Article | LoadFailure]:
    """Each record as an Article, or a LoadFailure at `label[index]` (at the path alone when `label` is None)."""
    for index, record in enumerate(records):
        try:
            yield article_from_record(record, path=path, index=index, settings=settings)
        except ArticleError as error:
            yield LoadFailure(location=f"{label}[{index}]" if label is not None else str(path), reason=str(error))


def article_from_record(record: Any, *, path: Path | None, index: int, settings: Settings) -> Article:
    """Build an Article from a JSON record with title, text or body, and optional url, date, source, author, id.

    `path` is the file the record was read from; a record given without one (the HTTP API, an export being
    imported) may name its own `path`.
    """
    if not isinstance(record, dict):
        raise ArticleError(f"expected a JSON object, got {type(record).__name__}")
    text = record.get("text") or record.get("body")
    if not isinstance(text, str) or not text.strip():
        raise ArticleError("missing 'text' or 'body'")
    text = _clean_text(text)
    _check_length(text, settings)
    url = _optional_str(record, "url")
    if record.get("id") not in (None, ""):
        article_id = str(record["id"])
    elif url:
        article_id = _hash_id(url)
    elif path:
        article_id = _hash_id(f"{path_key(path, settings)}#{index}")
    else:  # a record sent on its own (HTTP API): the same text is the same article
        article_id = _hash_id(f"text:{text}")
    published = next((record[key] for key in ("published", "date", "week") if record.get(key)), None)
    return Article(
        id=article_id,
        title=_clip_title(_optional_str(record, "title") or _first_line(text)),
        text=text,
        source=_optional_str(record, "source") or source_from_url(url),
        url=url,
        path=str(path.resolve()) if path else _optional_str(record, "path"),
        published=parse_date(published) if published is not None else None,
        author=_optional_str(record, "author"),
        fetched=parse_date(record["fetched"]) if record.get("fetched") else None,
        summary_only=record.get("summary_only") is True,
    )


def parse_date(value: Any) -> date:
    """Parse a date given as a date, an ISO string or a common written form; raise ArticleError otherwise."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return datetime.fromisoformat(value.strip()).date()
        except ValueError:
            pass
        try:
            return date_parser.parse(value, fuzzy=False).date()
        except (ValueError, OverflowError):
            pass
    raise ArticleError(f"invalid date {str(value)[:40]!r}")


def path_key(path: Path, settings: Settings) -> str:
    """What the ids of a file's articles derive from: its absolute path, or for an upload its name in the uploads
    folder, so that API replicas sharing one Chroma server give one uploaded file the same ids."""
    resolved = path.resolve()
    if resolved.parent == (settings.data_dir / "uploads").resolve():
        return f"uploads/{resolved.name}"
    return str(resolved)


def _read_bytes(path: Path, settings: Settings) -> bytes:
    size = path.stat().st_size
    limit = settings.max.file_mb * 1024 * 1024
    if size > limit:
        raise ArticleError(
            f"file too large ({size / 1024 / 1024:.1f} MB > {settings.max.file_mb:g} MB; raise QA_MAX_FILE_MB)"
        )
    raw = path.read_bytes()
    if not raw.strip():
        raise ArticleError("empty file")
    if b"\x00" in raw[:8192]:
        raise ArticleError("binary file, not text")
    return raw


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ArticleError(f"not UTF-8 text (invalid byte at offset {error.start})") from None


def _article_from_text(text: str, path: Path, settings: Settings) -> Article:
    text = _clean_text(text)
    if not text:
        raise ArticleError("empty file")
    _check_length(text, settings)
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    source = None
    for line in lines[:3] + lines[-3:]:
        if match := PROVENANCE_LINE.match(line):
            source = match["source"].strip()
            lines.remove(line)
            break
    title = lines[0].lstrip("#").strip() if lines else path.stem
    return Article(
        id=_hash_id(path_key(path, settings)),
        title=_clip_title(title),
        text=text,
        source=source,
        path=str(path.resolve()),
    )


def _article_from_html(raw: bytes, path: Path, settings: Settings) -> Article:
    document = _extract_html(raw)
    url = document.url or None
    return _article_from_document(document, _hash_id(url or path_key(path, settings)), url, settings, path=path)


def article_from_page(
    raw: bytes, url: str, settings: Settings, *, fetched: date, feed_date: date | None = None
) -> Article:
    """A fetched web page as an Article, its id from its canonical URL (the same page fetched again updates it).

    The page names its canonical URL (<link rel=canonical>, og:url); one on another host is ignored, so a page
    cannot overwrite another site's article. Its date: the one its metadata gives, else the feed's, else one its
    text suggests within TEXT_DATE_DAYS before the fetch; a date after the fetch day is no date.
    """
    document = _extract_html(raw)
    canonical = canonical_url(urljoin(url, document.url) if document.url else url)
    if source_from_url(canonical) != source_from_url(url):
        canonical = canonical_url(url)
    article = _article_from_document(document, _hash_id(canonical), canonical, settings, path=None)
    own = article.published if article.published and article.published <= fetched + timedelta(days=1) else None
    published = own or feed_date or _date_in_text(raw, fetched)
    return article.model_copy(update={"fetched": fetched, "published": published})


def article_from_summary(
    summary: str, url: str, title: str, settings: Settings, *, fetched: date, published: date | None, source: str | None
) -> Article:
    """A feed entry whose page could not be fetched, kept from the feed's own summary and marked so."""
    text = _clean_text(summary)
    if not text:
        raise ArticleError("no text in the feed's summary")
    _check_length(text, settings)
    canonical = canonical_url(url)
    return Article(
        id=_hash_id(canonical),
        title=_clip_title(title or _first_line(text)),
        text=text,
        source=source or source_from_url(canonical),
        url=canonical,
        published=published,
        fetched=fetched,
        summary_only=True,
    )


def canonical_url(url: str) -> str:
    """The URL an article is known by: no fragment, no tracking parameters (utm_*, fbclid, gclid), lower-case host."""
    parts = urlsplit(url.strip())
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not TRACKING.match(k)]
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", urlencode(query), ""))


def _extract_html(raw: bytes) -> Any:
    import trafilatura  # imported here: it is slow to import and only HTML needs it

    logging.getLogger("trafilatura").setLevel(logging.ERROR)
    document = trafilatura.bare_extraction(
        CONTROL_REFERENCE.sub(b"", raw),
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        # The date from the page's metadata (meta tags, JSON-LD, <time>, the URL) only, never guessed from its
        # text: "2010 units" is not a date (article_from_page guesses, bounded, when nothing else dates a page).
        date_extraction_params={"original_date": True, "extensive_search": False},
    )
    if document is None or isinstance(document, dict) or not (document.text or "").strip():
        raise ArticleError("no article text found in the HTML")
    return document


def _article_from_document(
    document: Any, article_id: str, url: str | None, settings: Settings, *, path: Path | None
) -> Article:
    text = _clean_text(document.text or "")
    _check_length(text, settings)
    return Article(
        id=article_id,
        title=_clip_title(document.title or _first_line(text)),
        text=text,
        source=document.sitename or source_from_url(url),
        url=url,
        path=str(path.resolve()) if path else None,
        published=_lenient_date(document.date),
        author=document.author or None,
    )


def _date_in_text(raw: bytes, fetched: date) -> date | None:
    """A date the page's text suggests, if it lies within TEXT_DATE_DAYS before the fetch day."""
    from htmldate import find_date  # trafilatura's own date finder

    logging.getLogger("htmldate").setLevel(logging.ERROR)
    earliest = fetched - timedelta(days=TEXT_DATE_DAYS)
    found = find_date(
        CONTROL_REFERENCE.sub(b"", raw),
        extensive_search=True,
        original_date=True,
        min_date=earliest.isoformat(),
        max_date=fetched.isoformat(),
    )
    day = _lenient_date(found)
    return day if day and earliest <= day <= fetched else None


def _articles_from_json(text: str, path: Path, settings: Settings) -> Iterator[Article | LoadFailure]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ArticleError(f"invalid JSON at line {error.lineno}: {error.msg}") from None
    except RecursionError:
        raise ArticleError(NESTED_TOO_DEEPLY) from None
    records = data if isinstance(data, list) else [data]
    if not records:
        raise ArticleError("no records in the JSON list")
    label = f"{path}" if isinstance(data, list) else None
    yield from articles_from_records(records, settings, path=path, label=label)


def articles_from_jsonl(
    text: str, location: Path, settings: Settings, *, record_path: Path | None
) -> Iterator[Article | LoadFailure]:
    """One article per non-empty line of `location`, or a LoadFailure at `location:line`.

    `record_path` is the path the articles get: the file itself, or None to keep each record's own (qa import).
    """
    found = False
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        found = True
        try:
            yield article_from_record(json.loads(line), path=record_path, index=number, settings=settings)
        except json.JSONDecodeError as error:
            yield LoadFailure(location=f"{location}:{number}", reason=f"invalid JSON: {error.msg}")
        except RecursionError:
            yield LoadFailure(location=f"{location}:{number}", reason=NESTED_TOO_DEEPLY)
        except ArticleError as error:
            yield LoadFailure(location=f"{location}:{number}", reason=str(error))
    if not found:
        raise ArticleError("no records in the JSONL file")


def _clean_text(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def _check_length(text: str, settings: Settings) -> None:
    if len(text) > settings.max.article_chars:
        raise ArticleError(f"article too long ({len(text):,} characters > {settings.max.article_chars:,})")


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.split("\n") if line.strip()), "")


def _clip_title(title: str) -> str:
    title = " ".join(title.split())
    if len(title) <= MAX_TITLE_CHARS:
        return title
    return title[:MAX_TITLE_CHARS].rsplit(" ", 1)[0] + "…"


def _optional_str(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    return str(value).strip() or None if value is not None else None


def source_from_url(url: str | None) -> str | None:
    """The publisher a URL names when nothing else does: its host without 'www.'."""
    host = urlparse(url).hostname if url else None
    return host.removeprefix("www.") if host else None


def _lenient_date(value: str | None) -> date | None:
    # A page's date is a best guess by the extractor: a bad one is dropped, not a reason to skip the article.
    try:
        return parse_date(value) if value else None
    except ArticleError:
        return None


def _hash_id(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()[:16]
