"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank fusion."""

from __future__ import annotations

import threading
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

import bm25s
import htmldate
import numpy as np
import Stemmer
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.ingest import embedding_text
from qa.models import Chunk
from qa.store import ArticleStore, day_number, where_filter

# The usual RRF constant (Cormack et al., 2009): damps the weight of the very first ranks.
RRF_K = 60
# Each ranking contributes this many candidates (or k, if larger). A pool that does not grow with k keeps the
# top 5 a prefix of the top 10, so evaluation at depth 10 scores the very passages a k = 5 answer reads.
CANDIDATES = 20
# Within a date window, an article whose own date is more than a month older than the window's end loses this
# share of its score per year of age. Feeds file old articles under the week they were found in: RealTime QA files
# 2015 stories under 2023 weeks, and its URLs date them. On that benchmark this moved recall@1 from 0.636 to 0.684
# and recall@5 from 0.884 to 0.898 (README, "Evaluation results"); 0.1-0.3 per year all measured within 0.01.
RECENCY_DECAY = 0.2
RECENCY_GRACE = timedelta(days=30)


class LexicalIndex:
    """BM25 over every stored chunk, rebuilt only when the store reports a write by any process."""

    def __init__(self, store: ArticleStore) -> None:
        self._store = store
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._chunks: list[Chunk] = []
        self._bm25: bm25s.BM25 | None = None
        self._days = np.zeros(0, dtype=np.int64)
        self._sources = np.zeros(0, dtype=object)

    def search(
        self, question: str, k: int, since: date | None = None, until: date | None = None, source: str | None = None
    ) -> list[Chunk]:
        """The k best chunks by BM25 among those that pass the filters, with the BM25 score."""
        with self._lock:
            self._refresh()
            if self._bm25 is None:
                return []
            tokens = self._tokenize([question], return_ids=False)[0]
            if not tokens:  # only stopwords or punctuation: nothing to match
                return []
            scores = self._bm25.get_scores(tokens)
            scores[~self._mask(since, until, source)] = 0.0
            best = np.argsort(-scores)[:k]
            return [self._chunks[i].model_copy(update={"score": float(scores[i])}) for i in best if scores[i] > 0]

    def _refresh(self) -> None:
        revision = self._store.revision()
        if revision == self._revision:
            return
        chunks = list(self._store.iter_chunks())
        bm25 = None
        if chunks:
            bm25 = bm25s.BM25()
            bm25.index(self._tokenize([embedding_text(chunk) for chunk in chunks]), show_progress=False)
        self._chunks, self._bm25, self._revision = chunks, bm25, revision
        self._days = np.array(
            [day_number(chunk.published) if chunk.published else 0 for chunk in chunks], dtype=np.int64
        )
        self._sources = np.array([(chunk.source or "").lower() for chunk in chunks], dtype=object)

    def _mask(self, since: date | None, until: date | None, source: str | None) -> np.ndarray:
        mask = np.ones(len(self._chunks), dtype=bool)
        if since:
            mask &= self._days >= day_number(since)
        if until:
            mask &= (self._days <= day_number(until)) & (self._days > 0)
        if source:
            mask &= self._sources == source.strip().lower()
        return mask

    def _tokenize(self, texts: list[str], return_ids: bool = True) -> Any:
        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, return_ids=return_ids, show_progress=False)


class HybridRetriever(BaseRetriever):
    """A LangChain retriever over the store: invoke(question, k=, since=, until=, source=) -> Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ArticleStore
    lexical: LexicalIndex
    k: int = 5

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        since: date | None = None,
        until: date | None = None,
        source: str | None = None,
    ) -> list[Document]:
        k = k or self.k
        candidates = max(CANDIDATES, k)
        dense = self.store.dense_search(query, candidates, where_filter(since, until, source))
        lexical = self.lexical.search(query, candidates, since, until, source)
        ranking = prefer_recent(fuse_rankings([dense, lexical]), until)
        return [chunk_to_document(chunk) for chunk in diversify(ranking)[:k]]


def fuse_rankings(rankings: list[list[Chunk]]) -> list[Chunk]:
    """Reciprocal rank fusion: each chunk scores the sum of 1 / (60 + rank) over the rankings it appears in."""
    fused: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking in rankings:
        for rank, chunk in enumerate(ranking, start=1):
            fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank)
            chunks.setdefault(chunk.id, chunk)
    order = sorted(fused, key=fused.__getitem__, reverse=True)
    return [chunks[id_].model_copy(update={"score": fused[id_]}) for id_ in order]


def prefer_recent(ranking: list[Chunk], until: date | None) -> list[Chunk]:
    """Re-rank with each chunk's score discounted by RECENCY_DECAY per year its article predates `until`.

    An article's own date is the one in its URL (htmldate), else its published date. Without an end date there
    is no "now" to be recent to, and the ranking is returned as it is.
    """
    if until is None:
        return ranking
    weighted = []
    for chunk in ranking:
        own_date = date_in_url(chunk.url) or chunk.published
        years = max(0, (until - own_date - RECENCY_GRACE).days) / 365 if own_date else 0.0
        weighted.append(chunk.model_copy(update={"score": (chunk.score or 0.0) * (1 - RECENCY_DECAY) ** years}))
    return sorted(weighted, key=lambda chunk: chunk.score or 0.0, reverse=True)


@lru_cache(maxsize=65536)
def date_in_url(url: str | None) -> date | None:
    """The publication date written in a URL (".../2023/01/04/..."), if any."""
    if not url:
        return None
    found = htmldate.find_date("<html></html>", url=url, extensive_search=False)
    return date.fromisoformat(found) if found else None


def diversify(ranking: list[Chunk], per_article: int = 1) -> list[Chunk]:
    """At most `per_article` chunks of each article first, in rank order, then the other chunks in rank order.

    Several chunks of one article otherwise fill the top k. On RealTime QA (README, "Evaluation results") one
    chunk per article moved recall@5 from 0.830 to 0.874 and recall@10 from 0.874 to 0.956, at a cost of 0.02 in
    answers that contain the gold answer; two per article lands in between.
    """
    seen: dict[str, int] = {}
    first: list[Chunk] = []
    rest: list[Chunk] = []
    for chunk in ranking:
        seen[chunk.article_id] = seen.get(chunk.article_id, 0) + 1
        (first if seen[chunk.article_id] <= per_article else rest).append(chunk)
    return first + rest


def chunk_to_document(chunk: Chunk) -> Document:
    """A chunk as a LangChain Document: its text, and every other field as metadata."""
    return Document(page_content=chunk.text, metadata=chunk.model_dump(exclude={"text"}), id=chunk.id)


def chunk_from_document(document: Document) -> Chunk:
    """The chunk a retrieved Document came from."""
    return Chunk(text=document.page_content, **document.metadata)
