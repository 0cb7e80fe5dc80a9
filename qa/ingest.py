"""Load -> chunk -> embed -> store: idempotent (unchanged articles are skipped), with progress."""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from qa import metrics
from qa.articles import (
    SUPPORTED_SUFFIXES,
    UNSUPPORTED_TYPE,
    LoadFailure,
    article_from_page,
    discover_files,
    read_articles,
)
from qa.catalog import catalog_of
from qa.chunking import chunk_article, embedding_text
from qa.config import Settings
from qa.controls import strip_controls
from qa.embeddings import DIMENSION, MiniLMEmbeddings
from qa.errors import ArticleError, FetchError
from qa.models import Article, Chunk, IngestItem, IngestReport, IngestStatus, ProgressCallback
from qa.store import ArticleStore, ArticleVersion, StoredVersion
from qa.stories import StoryFinder, meeting_order

# Articles embedded and written together: many chunks per Chroma call, yet small enough that
# an interrupted ingest loses little work.
ARTICLES_PER_WRITE = 32
# An ingest of this many chunks or more embeds in worker processes (MiniLMEmbeddings.worker_processes): starting
# them takes ~1 s, embedding this many ~12 s.
PROCESSES_FROM_CHUNKS = 1000


def ingest_paths(
    paths: Iterable[Path],
    store: ArticleStore,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    *,
    donors: Sequence[ArticleStore] = (),
) -> IngestReport:
    """Ingest files and folders (recursively); unreadable ones are reported, never fatal."""
    loaded: list[Article | LoadFailure] = []
    for found in discover_files(paths):
        loaded.extend(read_articles(found, settings) if isinstance(found, Path) else [found])
    return ingest_articles(loaded, store, settings, on_progress, donors=donors)


def ingest_upload(
    name: str, data: bytes, store: ArticleStore, settings: Settings, on_progress: ProgressCallback | None = None
) -> IngestReport:
    """Ingest one uploaded file, kept as <data_dir>/uploads/<hash of its name><suffix>.

    The name only picks the format and labels the results: it is never used as a path. Uploading the same
    name again updates its articles. A file with no readable article replaces nothing.
    """
    display = upload_display_name(name)
    suffix = os.path.splitext(display)[1].lower()
    limit = settings.max.upload_mb * 1024 * 1024
    if suffix not in SUPPORTED_SUFFIXES:
        return IngestReport(items=[IngestItem(location=display, status=IngestStatus.FAILED, reason=UNSUPPORTED_TYPE)])
    if len(data) > limit:
        reason = f"file too large ({len(data) / 1024 / 1024:.1f} MB > {settings.max.upload_mb:g} MB)"
        return IngestReport(items=[IngestItem(location=display, status=IngestStatus.FAILED, reason=reason)])
    folder = settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(display.encode()).hexdigest()[:32]
    final, partial = folder / f"{digest}{suffix}", folder / f"{digest}.part{suffix}"
    partial.write_bytes(data)
    checked = read_articles(partial, settings)
    if not any(isinstance(item, Article) for item in checked):
        partial.unlink()
        report = ingest_articles(checked, store, settings)
        return _relabel(report, partial, display)
    os.replace(partial, final)
    return _relabel(ingest_paths([final], store, settings, on_progress), final, display)


def ingest_urls(
    urls: Iterable[str],
    store: ArticleStore,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    *,
    trusted: bool = False,
) -> IngestReport:
    """Fetch web pages and ingest them; a page refused or failing is reported, never fatal (see qa.fetcher).
    `trusted`: the URLs come from the machine's own user (the CLI), who may reach their own network."""
    from qa.fetcher import Fetcher  # imported here: only web pages need the HTTP client

    loaded: list[Article | LoadFailure] = []
    today = datetime.now(UTC).date()
    with Fetcher(settings, trusted=trusted) as fetcher:
        for url in urls:
            try:
                fetched = fetcher.page(url, robots=False)
                loaded.append(article_from_page(fetched.content, fetched.url, settings, fetched=today))
            except (FetchError, ArticleError) as error:
                loaded.append(LoadFailure(location=url, reason=str(error)))
    return ingest_articles(loaded, store, settings, on_progress)


def upload_display_name(name: str) -> str:
    """The last part of an uploaded file's name, without control characters, at most 120 characters."""
    base = strip_controls(name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return base[-120:] or "upload"


def ingest_articles(
    loaded: Sequence[Article | LoadFailure],
    store: ArticleStore,
    settings: Settings,
    on_progress: ProgressCallback | None = None,
    *,
    rewrite: bool = False,
    donors: Sequence[ArticleStore] = (),
) -> IngestReport:
    """Store new and changed articles, replacing the old chunks of changed ones; skip unchanged ones.

    With `rewrite`, stored articles are written again even when unchanged (qa check --repair). Chunks that
    `donors` (other stores of the same model, schema and chunking) hold for the same articles keep their
    vectors instead of being embedded again: how a corpus of several benchmarks reuses their indexes.
    """
    with store.ingesting():
        started = time.perf_counter()
        store.check_chunking()
        report = IngestReport()
        articles: dict[str, Article] = {}
        for item in loaded:
            if isinstance(item, LoadFailure):
                report.items.append(IngestItem(location=item.location, status=IngestStatus.FAILED, reason=item.reason))
            elif item.id in articles:
                report.items.append(
                    _item(item, IngestStatus.SKIPPED, reason="same id as an earlier article in this run")
                )
            else:
                articles[item.id] = item

        stored: dict[str, StoredVersion] = {}
        ids = list(articles)
        for i in range(0, len(ids), 500):
            stored.update(store.stored_versions(ids[i : i + 500]))
        pending: list[tuple[Article, list[Chunk]]] = []
        stories = StoryFinder(store.band_matches)
        # An update keeps the time its article was first stored; this run's new articles share one, and meet their
        # stories by date, then by id (qa.stories.meeting_order).
        now = datetime.now(UTC)
        # Oldest first, so that a story's first article is, as far as this run can tell, the one that ran first.
        for article in sorted(articles.values(), key=meeting_order):
            held = stored.get(article.id)
            if held and held.content_hash == article.content_hash and not rewrite:
                report.items.append(_item(article, IngestStatus.SKIPPED, reason="unchanged"))
            else:
                ingested = (held and held.ingested) or article.ingested or now
                article = stories.assign(article.model_copy(update={"ingested": ingested}))
                chunks = chunk_article(
                    article, chunk_words=settings.chunk_words, overlap_words=settings.chunk_overlap_words
                )
                pending.append((article, chunks))

        total = sum(len(chunks) for _, chunks in pending)
        replacing = {article.id for article, _ in pending if article.id in stored}

        groups = [pending[i : i + ARTICLES_PER_WRITE] for i in range(0, len(pending), ARTICLES_PER_WRITE)]
        # A donor opens only with this model and schema (ArticleStore checks); its chunking must match as well.
        same_layout = [donor for donor in donors if donor.chunking == store.chunking] if pending else []

        def embedding(group: list[tuple[Article, list[Chunk]]]) -> Future[list[ArticleVersion]]:
            # Stored vectors are read here, on the calling thread: it may hold the index for writing (qa check
            # --repair).
            reused = store.stored_vectors([article.id for article, _ in group if article.id in replacing])
            for donor in same_layout:
                reused = {**donor.stored_vectors([article.id for article, _ in group]), **reused}
            return embedder.submit(_embed, group, reused, store.embeddings)

        # The next group is embedded on a second thread while this one is written; the store is used by this thread
        # only. Chroma holds the GIL while it writes: a large ingest embeds in processes, or the writes stall it.
        processes = store.embeddings.worker_processes() if total >= PROCESSES_FROM_CHUNKS else nullcontext()
        with processes, ThreadPoolExecutor(1, thread_name_prefix="qa-embed") as embedder:
            upcoming = embedding(groups[0]) if groups else None
            for i in range(len(groups)):
                assert upcoming is not None
                versions = upcoming.result()
                upcoming = embedding(groups[i + 1]) if i + 1 < len(groups) else None
                store.write_articles(versions, replacing)
                for version in versions:
                    status = IngestStatus.UPDATED if version.article.id in replacing else IngestStatus.ADDED
                    report.items.append(_item(version.article, status, chunks=len(version.chunks)))
                if on_progress:
                    on_progress(sum(len(version.chunks) for version in versions), total)
        # The one place the catalogue follows a write in this process: it is saved if it grew much, so the next process
        # to open the index loads it instead of tokenising every chunk (38 s at 200k chunks).
        catalog_of(store).refresh()
        report.seconds = time.perf_counter() - started
        metrics.observe_ingest(report)
        return report


def _embed(
    group: list[tuple[Article, list[Chunk]]], vectors: dict[tuple[str, str], np.ndarray], embeddings: MiniLMEmbeddings
) -> list[ArticleVersion]:
    """The articles with their chunks' vectors; a chunk an older version had (same title and text) is reused."""
    new = {
        (c.article.title, c.text): embedding_text(c)
        for _, chunks in group
        for c in chunks
        if (c.article.title, c.text) not in vectors
    }
    vectors = {**vectors, **dict(zip(new, embeddings.encode(list(new.values())), strict=True))}
    return [
        ArticleVersion(
            article,
            chunks,
            np.array([vectors[c.article.title, c.text] for c in chunks], dtype=np.float32).reshape(
                len(chunks), DIMENSION
            ),
        )
        for article, chunks in group
    ]


def _relabel(report: IngestReport, path: Path, display: str) -> IngestReport:
    for item in report.items:
        item.location = item.location.replace(str(path.resolve()), display).replace(str(path), display)
    return report


def _item(article: Article, status: IngestStatus, *, reason: str | None = None, chunks: int = 0) -> IngestItem:
    return IngestItem(
        location=article.path or article.url or article.id,
        status=status,
        article_id=article.id,
        title=article.title,
        reason=reason,
        chunks=chunks,
    )
