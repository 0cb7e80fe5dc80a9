"""Keeping the index whole: check and repair it, export and import its articles, rebuild it from their text,
group its articles into stories again; `Maintenance` is the one door the shells use for all of them.

The stored article texts are the record; chunks, vectors and the lexical index are derived from them. So a
damaged index, a changed embedding model or a new schema never costs an article: each can be rebuilt.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from datetime import UTC, datetime
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from qa.articles import LoadFailure, articles_from_jsonl
from qa.catalog import adopt_snapshot
from qa.chunking import chunk_article
from qa.config import Settings
from qa.embeddings import MiniLMEmbeddings
from qa.errors import QAError
from qa.ingest import ingest_articles
from qa.models import Article, Chunk, IngestReport, ProgressCallback
from qa.reindex import drop_staging, staging_collections, staging_prefix, swap_in
from qa.store import SCHEMA_VERSION, ArticleStore
from qa.stories import StoryCount, regroup_stories

EXPORT_FORMAT = "qa-export/1"
ARTICLES_FILE = "articles.jsonl"
SETTINGS_FILE = "settings.json"


class ProblemKind(StrEnum):
    """What can be wrong with a stored article."""

    ORPHAN_CHUNKS = "orphan_chunks"
    INCOMPLETE_ARTICLE = "incomplete_article"
    INTERRUPTED_REINDEX = "interrupted_reindex"


REPAIRS = {
    ProblemKind.ORPHAN_CHUNKS: "delete the chunks (the article was never completely written; ingest it again)",
    ProblemKind.INCOMPLETE_ARTICLE: "re-split and re-embed the article from its stored text",
    ProblemKind.INTERRUPTED_REINDEX: "delete the half-built index (the index in use is whole)",
}


class StoreProblem(BaseModel):
    """One thing `qa check` found wrong."""

    kind: ProblemKind
    article_id: str | None = Field(default=None, description="The article concerned, if any.")
    detail: str = Field(description="What is wrong, in one line.")
    repair: str = Field(description="What `qa check --repair` does about it.")


class CheckReport(BaseModel):
    """The result of checking the index: every article complete or absent, or a list of what is not."""

    articles: int = Field(description="Article records found.")
    chunks: int = Field(description="Chunks found.")
    problems: list[StoreProblem] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.problems


def check_store(store: ArticleStore) -> CheckReport:
    """Compare every article's stored chunks with the chunks its stored text splits into.

    Each article must have exactly those chunks (same ids, text, offsets and provenance) and no chunk may lack
    an article record. Other writers wait meanwhile (embedded mode), so a live ingest is never half-seen.
    """
    with store.exclusive():
        words, overlap = store.chunking
        articles = {article.id: article for article in store.iter_articles()}
        stored: dict[str, dict[int, Chunk]] = defaultdict(dict)
        total = 0
        for chunk in store.iter_chunks():
            stored[chunk.article.id][chunk.ordinal] = chunk
            total += 1
        staging = staging_collections(store.connection, store.prefix)
    problems = [
        StoreProblem(
            kind=ProblemKind.ORPHAN_CHUNKS,
            article_id=article_id,
            detail=f"{len(chunks)} chunk(s) with no article record",
            repair=REPAIRS[ProblemKind.ORPHAN_CHUNKS],
        )
        for article_id, chunks in stored.items()
        if article_id not in articles
    ]
    for article in articles.values():
        expected = chunk_article(article, chunk_words=words, overlap_words=overlap)
        difference = _difference(expected, stored.get(article.id, {}))
        if difference:
            problems.append(
                StoreProblem(
                    kind=ProblemKind.INCOMPLETE_ARTICLE,
                    article_id=article.id,
                    detail=difference,
                    repair=REPAIRS[ProblemKind.INCOMPLETE_ARTICLE],
                )
            )
    if staging:
        problems.append(
            StoreProblem(
                kind=ProblemKind.INTERRUPTED_REINDEX,
                detail=f"collections {', '.join(staging)} were left by a reindex that did not finish",
                repair=REPAIRS[ProblemKind.INTERRUPTED_REINDEX],
            )
        )
    return CheckReport(articles=len(articles), chunks=total, problems=problems)


def repair_store(store: ArticleStore, settings: Settings) -> tuple[CheckReport, CheckReport]:
    """Fix what `check_store` finds; return the reports before and after."""
    with store.writing():
        before = check_store(store)
        for problem in before.problems:
            if problem.kind == ProblemKind.ORPHAN_CHUNKS and problem.article_id:
                store.remove_article(problem.article_id)
        incomplete = [p.article_id for p in before.problems if p.kind == ProblemKind.INCOMPLETE_ARTICLE]
        rewrite = [article for article in map(store.get_article, filter(None, incomplete)) if article]
        if rewrite:
            ingest_articles(rewrite, store, settings, rewrite=True)
        if any(p.kind == ProblemKind.INTERRUPTED_REINDEX for p in before.problems):
            drop_staging(store.connection, store.prefix)
        after = check_store(store)
    return before, after


def _difference(expected: list[Chunk], stored: dict[int, Chunk]) -> str | None:
    """What differs between the chunks an article's text splits into and those stored, or None."""
    missing = [chunk.ordinal for chunk in expected if chunk.ordinal not in stored]
    extra = sorted(set(stored) - {chunk.ordinal for chunk in expected})
    # The file an article was read from is provenance, not content: two processes ingesting one article from two
    # files at once (on a Chroma server, which takes no lock) may leave either path on either chunk.
    changed = [
        chunk.ordinal
        for chunk in expected
        if chunk.ordinal in stored and _with_path(stored[chunk.ordinal], chunk.article.path) != chunk
    ]
    parts = [
        f"{label} chunk(s) {_ordinals(ordinals)}"
        for label, ordinals in (("missing", missing), ("extra", extra), ("stale", changed))
        if ordinals
    ]
    return f"{len(stored)} of {len(expected)} chunks stored; " + ", ".join(parts) if parts else None


def _with_path(chunk: Chunk, path: str | None) -> Chunk:
    return chunk.model_copy(update={"article": chunk.article.model_copy(update={"path": path})})


def _ordinals(ordinals: list[int]) -> str:
    shown = ", ".join(map(str, ordinals[:5]))
    return shown + (f" and {len(ordinals) - 5} more" if len(ordinals) > 5 else "")


def export_store(store: ArticleStore, folder: Path) -> int:
    """Write every article (text and metadata) to folder/articles.jsonl and the index settings to settings.json.

    Each file is written beside itself and renamed into place, so an interrupted export leaves no half file.
    Returns the number of articles written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    count = 0
    partial = folder / (ARTICLES_FILE + ".partial")
    with store.exclusive(), partial.open("w", encoding="utf-8") as out:
        words, overlap = store.chunking
        for article in store.iter_articles():
            out.write(json.dumps(article_record(article), ensure_ascii=False) + "\n")
            count += 1
        out.flush()
        os.fsync(out.fileno())
    os.replace(partial, folder / ARTICLES_FILE)
    manifest = {
        "format": EXPORT_FORMAT,
        "exported": datetime.now(UTC).isoformat(timespec="seconds"),
        "articles": count,
        "collection": store.prefix,
        "schema_version": SCHEMA_VERSION,
        "embedding_model": store.embeddings.model_name,
        "chunk_words": words,
        "chunk_overlap_words": overlap,
    }
    partial = folder / (SETTINGS_FILE + ".partial")
    partial.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, folder / SETTINGS_FILE)
    return count


def article_record(article: Article) -> dict[str, Any]:
    """An article as an export record: everything stored about it, in the form the JSON loaders read."""
    return article.model_dump(mode="json", exclude={"content_hash"}, exclude_none=True)


def read_export(folder: Path, settings: Settings) -> tuple[dict[str, Any], list[Article | LoadFailure]]:
    """The settings and the articles of an export folder; a record that cannot be read is a LoadFailure."""
    try:
        manifest = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
        text = (folder / ARTICLES_FILE).read_text(encoding="utf-8")
    except (OSError, ValueError) as error:
        raise QAError(f"{folder} is not a qa export ({SETTINGS_FILE} and {ARTICLES_FILE}): {error}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != EXPORT_FORMAT:
        raise QAError(f"{folder / SETTINGS_FILE} is not a {EXPORT_FORMAT} manifest")
    if not text.strip():  # an export of an empty index
        return manifest, []
    return manifest, list(articles_from_jsonl(text, folder / ARTICLES_FILE, settings, record_path=None))


def import_store(
    folder: Path, store: ArticleStore, settings: Settings, on_progress: ProgressCallback | None = None
) -> tuple[dict[str, Any], IngestReport]:
    """Ingest an export's articles, embedded afresh with this installation's model and chunk settings."""
    manifest, loaded = read_export(folder, settings)
    report = ingest_articles(loaded, store, settings, on_progress)
    return manifest, report


def reindex(
    settings: Settings, embeddings: MiniLMEmbeddings, on_progress: ProgressCallback | None = None
) -> IngestReport:
    """Rebuild the whole index from the stored article texts with the current model, schema and chunk settings.

    The new index is built beside the old one and swapped in at the end; a reindex killed before the swap
    leaves the old index in use, and one killed during it is finished by the next open.
    """
    current = ArticleStore(settings, embeddings, check_identity=False)
    with current.exclusive():
        drop_staging(current.connection, current.prefix)
        articles = list(current.iter_articles())
        staging = ArticleStore(settings, embeddings, prefix=staging_prefix(settings.collection))
        report = ingest_articles(articles, staging, settings, on_progress)
        swap_in(current.connection, current.prefix)
        adopt_snapshot(staging, current)
    return report


class Maintenance:
    """The maintenance commands over one index (qa check, stories, export, import, reindex): the store alone, opened
    on first use, without the engine's retriever, lexical index and answer models."""

    def __init__(self, settings: Settings, embeddings: MiniLMEmbeddings) -> None:
        self.settings = settings
        self.embeddings = embeddings

    @cached_property
    def store(self) -> ArticleStore:
        """The index, opened on first use (a reindex opens it its own way: its model may differ)."""
        return ArticleStore(self.settings, self.embeddings)

    def check(self, repair: bool = False) -> tuple[CheckReport, CheckReport]:
        """The index checked (and with `repair`, repaired): the reports before and after."""
        if repair:
            return repair_store(self.store, self.settings)
        report = check_store(self.store)
        return report, report

    def regroup_stories(self) -> StoryCount:
        """Every stored article grouped into stories again, holding the index meanwhile."""
        with self.store.writing():
            return regroup_stories(self.store)

    def export(self, folder: Path) -> int:
        """Every article and the index settings written to `folder`; how many articles."""
        return export_store(self.store, folder)

    def import_export(
        self, folder: Path, on_progress: ProgressCallback | None = None
    ) -> tuple[dict[str, Any], IngestReport]:
        """An export's articles ingested afresh; its settings and the report."""
        return import_store(folder, self.store, self.settings, on_progress)

    def reindex(self, on_progress: ProgressCallback | None = None) -> IngestReport:
        """The index rebuilt from the stored article texts."""
        return reindex(self.settings, self.embeddings, on_progress)
