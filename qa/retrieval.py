"""The hybrid retriever: the dense ranking (Chroma) and the catalogue's BM25 ranking, fused (qa/fusion.py)."""

from __future__ import annotations

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.catalog import Catalog
from qa.fusion import diversify, fuse_rankings, prefer_period, prefer_recent
from qa.models import ArticleRef, AskedPeriod, Chunk
from qa.query import NO_FILTERS, Filters
from qa.store import ArticleStore, with_scores

# Each ranking contributes this many candidates (or k, if larger). A pool that does not grow with k keeps the
# top 5 a prefix of the top 10, so evaluation at depth 10 scores the very passages a k = 5 answer reads.
CANDIDATES = 20
# A filter passing at most this many chunks is searched among exactly those (Chroma's `ids=`); a broader one
# over-fetches this many times the expected need from the unfiltered index (docs/performance.md).
FEW_PASSING = 2000
OVERFETCH = 2.0


class HybridRetriever(BaseRetriever):
    """Hybrid retrieval over the store: `retrieve(question, k, filters)` -> chunks, fused from the dense and the
    BM25 rankings; and a LangChain retriever for outside users: invoke(question, k=, filters=) -> Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ArticleStore
    catalog: Catalog
    k: int = 5

    def retrieve(
        self, question: str, k: int | None = None, filters: Filters = NO_FILTERS, period: AskedPeriod | None = None
    ) -> list[Chunk]:
        """The k best passages for the question among those that pass the filters (the configured k if None), those
        of the past `period` it is about first."""
        k = k or self.k
        ranking = prefer_recent(self.pool(question, max(CANDIDATES, k), filters), filters)
        if period:
            ranking = prefer_period(ranking, period)
        return diversify(ranking)[:k]

    def pool(self, question: str, candidates: int, filters: Filters = NO_FILTERS) -> list[Chunk]:
        """The dense and lexical rankings fused, before any ordering by date: what the benchmarks re-rank."""
        dense = self.dense_ranked(question, candidates, filters)
        lexical = self.catalog.ranked(question, candidates, filters)
        # One read of the stored chunks for both rankings.
        return with_scores(self.store, fuse_rankings([dense, lexical]))

    def leads(self, filters: Filters, limit: int) -> list[Chunk]:
        """The first passages of the articles that pass the filters, newest first, at most `limit`: a period's news
        when a question names no topic."""
        return self.store.get_chunks(self.catalog.leads(filters, limit))

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: Filters = NO_FILTERS,
    ) -> list[Document]:
        return [chunk_to_document(chunk) for chunk in self.retrieve(query, k, filters)]

    def dense_search(self, question: str, k: int, filters: Filters = NO_FILTERS) -> list[Chunk]:
        """The k chunks nearest the question among those that pass the filters, with cosine similarity as score."""
        return with_scores(self.store, self.dense_ranked(question, k, filters))

    def dense_ranked(self, question: str, k: int, filters: Filters = NO_FILTERS) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k chunks nearest the question among those that pass the filters.

        Chroma's own `where` filter made a query ~50x slower, so filters are applied here, with the ids and dates
        the lexical index holds: a filter that passes few chunks searches among exactly those ids; a broad one
        takes the unfiltered nearest neighbours, enough of them that k are expected to pass, and keeps those that
        do; when too few pass, it searches among the passing ids. Exact in every case (tests/test_retrieval.py).
        """
        vector = self.store.embeddings.embed_query(question)
        if not filters.narrows or self.catalog.passes_all(filters):
            found = self.store.nearest(vector, k)
        else:
            passing, live = self.catalog.count_passing(filters)
            found = []
            if passing > FEW_PASSING:
                wanted = min(live, max(k, int(k * live / passing * OVERFETCH)))
                found = self.catalog.keep_passing(self.store.nearest(vector, wanted), filters)[:k]
            if passing and len(found) < min(k, passing):
                found = self.store.nearest(vector, min(k, passing), among=self.catalog.passing(filters))
        return found


def chunk_to_document(chunk: Chunk) -> Document:
    """A chunk as a LangChain Document: its text, and every other field as flat metadata (article_id, title, ...)."""
    article = {"article_id": chunk.article.id, **chunk.article.model_dump(exclude={"id"})}
    return Document(
        page_content=chunk.text, metadata={**article, **chunk.model_dump(exclude={"text", "article"})}, id=chunk.id
    )


def chunk_from_document(document: Document) -> Chunk:
    """The chunk a retrieved Document came from."""
    meta = dict(document.metadata)
    article = ArticleRef(
        id=meta.pop("article_id"), **{name: meta.pop(name) for name in ArticleRef.model_fields if name in meta}
    )
    return Chunk(article=article, text=document.page_content, **meta)
