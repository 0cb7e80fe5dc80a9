"""How articles and chunks are written into Chroma (a document and its metadata) and read back. Named apart from
the JSON records that ingest reads (qa/articles.py): those are input, these are what the index holds."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from qa.models import Article, ArticleRef, Chunk
from qa.stories import BAND_KEYS, band_keys


def chunk_from_chroma(text: str, meta: dict[str, Any]) -> Chunk:
    """A Chunk from its Chroma document and metadata."""
    shared = read_shared_metadata(meta)
    story = shared.pop("story")
    return Chunk(
        article=ArticleRef(id=str(meta["article_id"]), **shared),
        ordinal=int(meta["ordinal"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        story=story,
    )


def article_from_chroma(article_id: str, text: str, meta: dict[str, Any]) -> Article:
    """An Article from its Chroma id, document and metadata."""
    fetched, ingested = meta.get("fetched"), meta.get("ingested")
    return Article(
        id=article_id,
        text=text,
        author=_opt(meta, "author"),
        fetched=date.fromisoformat(str(fetched)) if fetched else None,
        ingested=datetime.fromisoformat(str(ingested)) if ingested else None,
        summary_only=bool(meta.get("summary_only")),
        **read_shared_metadata(meta),
    )


def chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    """A chunk's Chroma metadata: its place in the article and its provenance."""
    return {
        "article_id": chunk.article.id,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
        **shared_metadata(chunk.article, chunk.story),
    }


def article_metadata(article: Article) -> dict[str, Any]:
    """An article record's Chroma metadata: its content hash, author, provenance and its text's LSH band keys
    (how a reprint of it is found: qa.stories)."""
    return {
        "content_hash": article.content_hash,
        "author": article.author,
        "fetched": article.fetched.isoformat() if article.fetched else None,
        "ingested": article.ingested.isoformat() if article.ingested else None,
        "summary_only": article.summary_only or None,
        **dict(zip(BAND_KEYS, band_keys(article.text), strict=True)),
        **shared_metadata(article.ref, article.story),
    }


def shared_metadata(ref: ArticleRef, story: str | None) -> dict[str, Any]:
    """Provenance stored on articles and chunks alike.

    Absent values are None, which Chroma's upsert takes as "delete this key": a key left out would instead keep
    the value of the version being replaced.
    """
    return {
        "title": ref.title,
        "source": ref.source,
        "source_key": ref.source.lower() if ref.source else None,
        "url": ref.url,
        "path": ref.path,
        "published": ref.published.isoformat() if ref.published else None,
        "published_day": day_number(ref.published) if ref.published else None,
        "story": story,
    }


def read_shared_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of shared_metadata."""
    return {
        "title": str(meta["title"]),
        "source": _opt(meta, "source"),
        "url": _opt(meta, "url"),
        "path": _opt(meta, "path"),
        "published": _opt_date(meta),
        "story": _opt(meta, "story"),
    }


def day_number(day: date) -> int:
    """20230105 for 2023-01-05: an integer Chroma can compare with $gte / $lte."""
    return day.year * 10000 + day.month * 100 + day.day


def day_of(number: int) -> date | None:
    """The inverse of day_number; None for 0 (undated)."""
    return date(number // 10000, number // 100 % 100, number % 100) if number else None


def _opt(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return str(value) if value is not None else None


def _opt_date(meta: dict[str, Any]) -> date | None:
    value = meta.get("published")
    return date.fromisoformat(str(value)) if value else None
