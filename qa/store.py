"""Chroma, embedded or server, behind one small interface: articles with their text, and their chunks."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any
from urllib.parse import urlparse

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_chroma import Chroma
from pydantic import BaseModel, Field

from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.errors import StoreError
from qa.models import Article, Chunk

SCHEMA_VERSION = 1
# Chroma accepts at most 5,461 records per call.
WRITE_BATCH = 5000


class StoreStats(BaseModel):
    """What the index holds."""

    articles: int = Field(description="Number of stored articles.")
    chunks: int = Field(description="Number of stored chunks.")
    sources: list[str] = Field(description="Distinct publishers, sorted.")
    first_published: date | None = Field(description="Earliest publication date among dated articles.")
    last_published: date | None = Field(description="Latest publication date among dated articles.")


class ArticleSummary(BaseModel):
    """A stored article without its text."""

    id: str
    title: str
    source: str | None
    url: str | None
    path: str | None
    published: date | None
    chunks: int
    content_hash: str


def where_filter(
    since: date | None = None, until: date | None = None, source: str | None = None
) -> dict[str, Any] | None:
    """Chroma `where` clause for a publication-date window and a publisher (case-insensitive)."""
    clauses: list[dict[str, Any]] = []
    if since:
        clauses.append({"published_day": {"$gte": day_number(since)}})
    if until:
        clauses.append({"published_day": {"$lte": day_number(until)}})
    if source:
        clauses.append({"source_key": source.strip().lower()})
    if not clauses:
        return None
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


class ArticleStore:
    """Two Chroma collections: `<prefix>-chunks` (embedded chunks) and `<prefix>-articles` (full texts)."""

    def __init__(self, settings: Settings, embeddings: MiniLMEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.client = _open_client(settings)
        self._identity = {
            "embedding_model": embeddings.model_name,
            "dimension": embeddings.dimension,
            "schema_version": SCHEMA_VERSION,
        }
        names = (f"{settings.collection}-chunks", f"{settings.collection}-articles")
        try:
            self._chunks = self.client.get_or_create_collection(
                names[0],
                metadata={**self._identity, "revision": _new_revision()},
                configuration={"hnsw": {"space": "cosine"}},
            )
            self._articles = self.client.get_or_create_collection(
                names[1], metadata=self._identity, configuration={"hnsw": {"space": "cosine"}}
            )
        except Exception as error:  # chromadb raises many types for an unreachable server or a broken directory
            raise StoreError(f"cannot open the Chroma index ({_where(settings)}): {error}") from None
        self._check_identity(self._chunks.metadata or {}, names[0])
        self.vectorstore = Chroma(client=self.client, collection_name=names[0], embedding_function=embeddings)

    def revision(self) -> str:
        """Token that changes whenever any process writes, so caches built from the chunks know to refresh."""
        metadata = self.client.get_collection(self._chunks.name).metadata or {}
        return str(metadata.get("revision", ""))

    def stored_hashes(self, article_ids: Sequence[str]) -> dict[str, str]:
        """Content hash of each given article that is stored."""
        if not article_ids:
            return {}
        found = self._articles.get(ids=list(article_ids), include=["metadatas"])
        return {
            id_: str(meta["content_hash"]) for id_, meta in zip(found["ids"], found["metadatas"] or [], strict=True)
        }

    def get_article(self, article_id: str) -> Article | None:
        """The stored article with its full text, or None."""
        found = self._articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not found["ids"]:
            return None
        meta = found["metadatas"][0]
        return Article(
            id=article_id,
            text=found["documents"][0],
            author=_opt(meta, "author"),
            **_read_shared_metadata(meta),
        )

    def article_ids_for_path(self, path: str) -> list[str]:
        """Ids of the articles read from the file at `path` (absolute)."""
        return self._articles.get(where={"path": path}, include=[])["ids"]

    def write_article(self, article: Article, chunks: Sequence[Chunk], vectors: Sequence[Sequence[float]]) -> None:
        """Store an article's chunks, drop chunks left over from an older version, then the article record.

        The article record is written last: it is the mark that the article is complete.
        """
        for i in range(0, len(chunks), WRITE_BATCH):
            batch = chunks[i : i + WRITE_BATCH]
            self._chunks.upsert(
                ids=[chunk.id for chunk in batch],
                embeddings=[list(vector) for vector in vectors[i : i + WRITE_BATCH]],
                documents=[chunk.text for chunk in batch],
                metadatas=[_chunk_metadata(chunk) for chunk in batch],
            )
        self._chunks.delete(where={"$and": [{"article_id": article.id}, {"ordinal": {"$gte": len(chunks)}}]})
        self._articles.upsert(
            ids=[article.id],
            embeddings=[_mean_vector(vectors, self.embeddings.dimension)],
            documents=[article.text],
            metadatas=[{**_article_metadata(article), "chunks": len(chunks)}],
        )
        self._bump_revision()

    def remove_article(self, article_id: str) -> int:
        """Delete an article and all its chunks; return how many chunks were removed."""
        removed = len(self._chunks.get(where={"article_id": article_id}, include=[])["ids"])
        self._chunks.delete(where={"article_id": article_id})
        self._articles.delete(ids=[article_id])
        self._bump_revision()
        return removed

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every stored chunk, page by page (for the lexical index)."""
        offset = 0
        while True:
            page = self._chunks.get(include=["documents", "metadatas"], limit=WRITE_BATCH, offset=offset)
            for text, meta in zip(page["documents"] or [], page["metadatas"] or [], strict=True):
                yield chunk_from_record(text, meta)
            if len(page["ids"]) < WRITE_BATCH:
                return
            offset += WRITE_BATCH

    def dense_search(self, question: str, k: int, where: dict[str, Any] | None) -> list[Chunk]:
        """The k chunks nearest to the question, with cosine similarity as score."""
        found = self.vectorstore.similarity_search_with_score(question, k=k, filter=where)
        return [
            chunk_from_record(doc.page_content, doc.metadata).model_copy(update={"score": 1.0 - distance})
            for doc, distance in found
        ]

    def list_articles(self) -> list[ArticleSummary]:
        """Every stored article without its text, newest first."""
        found = self._articles.get(include=["metadatas"])
        summaries = [
            ArticleSummary(
                id=id_,
                chunks=int(meta["chunks"]),
                **_read_shared_metadata(meta),
                content_hash=str(meta["content_hash"]),
            )
            for id_, meta in zip(found["ids"], found["metadatas"] or [], strict=True)
        ]
        return sorted(summaries, key=lambda a: (a.published or date.min, a.title), reverse=True)

    def stats(self) -> StoreStats:
        """Counts, publishers and date range of the index."""
        articles = self.list_articles()
        dates = [a.published for a in articles if a.published]
        return StoreStats(
            articles=len(articles),
            chunks=self._chunks.count(),
            sources=sorted({a.source for a in articles if a.source}),
            first_published=min(dates, default=None),
            last_published=max(dates, default=None),
        )

    def _bump_revision(self) -> None:
        self._chunks.modify(metadata={**self._identity, "revision": _new_revision()})

    def _check_identity(self, metadata: dict[str, Any], name: str) -> None:
        stored = {key: metadata.get(key) for key in self._identity}
        if stored != self._identity:
            raise StoreError(
                f"collection {name!r} was built with {stored['embedding_model']} ({stored['dimension']}-d, schema "
                f"{stored['schema_version']}) but this engine uses {self.embeddings.model_name} "
                f"({self.embeddings.dimension}-d, schema {SCHEMA_VERSION}): set another QA_COLLECTION and re-ingest"
            )


def chunk_from_record(text: str, meta: dict[str, Any]) -> Chunk:
    """Rebuild a Chunk from its Chroma document and metadata."""
    return Chunk(
        article_id=str(meta["article_id"]),
        ordinal=int(meta["ordinal"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        text=text,
        **_read_shared_metadata(meta),
    )


def _open_client(settings: Settings) -> Any:
    chroma_settings = ChromaSettings(anonymized_telemetry=False)
    try:
        if settings.chroma_url is None:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            return chromadb.PersistentClient(path=str(settings.data_dir / "chroma"), settings=chroma_settings)
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(f"QA_CHROMA_URL must look like http://127.0.0.1:8000, got {settings.chroma_url!r}")
        return chromadb.HttpClient(
            host=url.hostname,
            port=url.port or (443 if url.scheme == "https" else 8000),
            ssl=url.scheme == "https",
            settings=chroma_settings,
        )
    except StoreError:
        raise
    except Exception as error:
        raise StoreError(f"cannot open the Chroma index ({_where(settings)}): {error}") from None


def _where(settings: Settings) -> str:
    return f"server {settings.chroma_url}" if settings.chroma_url else f"directory {settings.data_dir}"


def _chunk_metadata(chunk: Chunk) -> dict[str, Any]:
    return {
        "article_id": chunk.article_id,
        "ordinal": chunk.ordinal,
        "start": chunk.start,
        "end": chunk.end,
        **_shared_metadata(chunk.title, chunk.source, chunk.url, chunk.path, chunk.published),
    }


def _article_metadata(article: Article) -> dict[str, Any]:
    meta = {
        "content_hash": article.content_hash,
        **_shared_metadata(article.title, article.source, article.url, article.path, article.published),
    }
    if article.author:
        meta["author"] = article.author
    return meta


def _shared_metadata(
    title: str, source: str | None, url: str | None, path: str | None, published: date | None
) -> dict[str, Any]:
    """Provenance stored on articles and chunks alike; absent values are left out (Chroma cannot store None)."""
    meta: dict[str, Any] = {"title": title}
    if source:
        meta["source"] = source
        meta["source_key"] = source.lower()
    if url:
        meta["url"] = url
    if path:
        meta["path"] = path
    if published:
        meta["published"] = published.isoformat()
        meta["published_day"] = day_number(published)
    return meta


def _read_shared_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """The inverse of _shared_metadata."""
    return {
        "title": str(meta["title"]),
        "source": _opt(meta, "source"),
        "url": _opt(meta, "url"),
        "path": _opt(meta, "path"),
        "published": _opt_date(meta),
    }


def day_number(day: date) -> int:
    """20230105 for 2023-01-05: an integer Chroma can compare with $gte / $lte."""
    return day.year * 10000 + day.month * 100 + day.day


def _mean_vector(vectors: Sequence[Sequence[float]], dimension: int) -> list[float]:
    if not vectors:
        return [0.0] * dimension
    sums = [sum(column) for column in zip(*vectors, strict=True)]
    norm = sum(value * value for value in sums) ** 0.5 or 1.0
    return [value / norm for value in sums]


def _opt(meta: dict[str, Any], key: str) -> str | None:
    value = meta.get(key)
    return str(value) if value is not None else None


def _opt_date(meta: dict[str, Any]) -> date | None:
    value = meta.get("published")
    return date.fromisoformat(str(value)) if value else None


def _new_revision() -> str:
    return uuid.uuid4().hex
