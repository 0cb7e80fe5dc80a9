"""Hybrid retrieval: dense (Chroma) and lexical (BM25) rankings fused by reciprocal rank fusion."""

from __future__ import annotations

import json
import os
import threading
from datetime import date, timedelta
from functools import lru_cache
from itertools import islice
from pathlib import Path

import bm25s
import htmldate
import numpy as np
import Stemmer
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from qa.chunking import embedding_text
from qa.config import Settings
from qa.models import Chunk
from qa.query import Filters
from qa.records import day_number
from qa.store import ArticleStore

# The usual RRF constant (Cormack et al., 2009): damps the weight of the very first ranks.
NO_FILTERS = Filters()
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
# BM25 parameters (the usual defaults, as bm25s had them).
BM25_K1, BM25_B = 1.5, 0.75
# A filter passing at most this many chunks is searched among exactly those (Chroma's `ids=`); a broader one
# over-fetches this many times the expected need from the unfiltered index (README, "Performance").
FEW_PASSING = 2000
OVERFETCH = 2.0
# Chunks read and tokenised at a time when the lexical index is built.
PAGE = 5000
# The lexical index is saved (QA_DATA_DIR/lexical/) after a refresh that added this many chunks: a process then
# starts from the file instead of tokenising every chunk again (200k chunks: 39 s of start-up without it).
SNAPSHOT_AFTER = 5000
SNAPSHOT_VERSION = 1


class LexicalIndex:
    """BM25 over every stored chunk, and each chunk's date and publisher for filters; kept in step with the store.

    Sparse and vectorised: per term, the rows of the chunks holding it and how often (numpy arrays), so a query
    touches only the postings of its own terms. When any process writes, the index compares every article's
    content hash with the ones it holds and re-reads only the articles that changed: a chunk of a changed or
    removed article is marked dead, new chunks are appended. Dead rows count nowhere (N, document frequencies,
    average length), so scores equal those of an index rebuilt from the live chunks (tests/test_retrieval.py),
    and the dead are dropped once they outnumber the living.
    """

    _articles: dict[str, str]
    _article_rows: dict[str, list[int]]
    _ids: list[str]
    _vocabulary: dict[str, int]
    _postings: dict[int, tuple[np.ndarray, np.ndarray]]  # per term: rows holding it (int32), how often (float32)
    _alive: np.ndarray
    _lengths: np.ndarray
    _days: np.ndarray
    _sources: np.ndarray
    _source_codes: dict[str, int]

    def __init__(self, store: ArticleStore, snapshot: Path | None = None) -> None:
        """`snapshot`: a file to start from and save to (a cache: what it holds is checked against the store)."""
        self._store = store
        self._snapshot = snapshot
        self._stemmer = Stemmer.Stemmer("english")
        self._lock = threading.Lock()
        self._revision: str | None = None
        self._layout: str | None = None
        self._reset()

    def _reset(self) -> None:
        self._articles, self._article_rows, self._ids, self._vocabulary, self._postings = {}, {}, [], {}, {}
        self._alive = np.zeros(0, dtype=bool)
        self._lengths = np.zeros(0, dtype=np.float32)
        self._days = np.zeros(0, dtype=np.int64)
        self._sources = np.zeros(0, dtype=np.int32)
        self._source_codes = {}

    def search(self, question: str, k: int, filters: Filters = NO_FILTERS) -> list[Chunk]:
        """The k best chunks by BM25 among those that pass the filters, with the BM25 score."""
        return with_scores(self._store, self.ranked(question, k, filters))

    def ranked(self, question: str, k: int, filters: Filters = NO_FILTERS) -> list[tuple[str, float]]:
        """Ids and BM25 scores of the k best chunks among those that pass the filters, best first."""
        with self._lock:
            self._refresh()
            tokens = self._tokenize([question])[0]
            scores = np.zeros(len(self._ids), dtype=np.float32)
            live = int(self._alive.sum())
            if not live:
                return []
            average_length = float(self._lengths[self._alive].mean())
            for token in tokens:
                term = self._vocabulary.get(token, -1)
                if term not in self._postings:  # never seen, or only in removed chunks
                    continue
                rows, counts = self._postings[term]
                holding = self._alive[rows]
                rows, counts = rows[holding], counts[holding]
                idf = np.log(1 + (live - len(rows) + 0.5) / (len(rows) + 0.5))
                norm = BM25_K1 * (1 - BM25_B + BM25_B * self._lengths[rows] / average_length)
                scores[rows] += idf * counts * (BM25_K1 + 1) / (counts + norm)
            scores[~self.mask(filters)] = 0.0
            return [(self._ids[row], float(scores[row])) for row in _top(scores, k) if scores[row] > 0]

    def mask(self, filters: Filters) -> np.ndarray:
        """Which rows are live chunks that pass the date window and publisher (case-insensitive)."""
        mask = self._alive.copy()
        if filters.since:
            mask &= self._days >= day_number(filters.since)
        if filters.until:
            mask &= (self._days <= day_number(filters.until)) & (self._days > 0)
        if filters.source:
            mask &= self._sources == self._source_codes.get(filters.source.strip().lower(), -1)
        return mask

    def passing(self, filters: Filters) -> tuple[list[str], int]:
        """Ids of the live chunks that pass the filters, and how many live chunks there are in all."""
        with self._lock:
            self._refresh()
            rows = np.flatnonzero(self.mask(filters))
            return [self._ids[row] for row in rows], int(self._alive.sum())

    def refresh(self) -> None:
        """Catch up with writes by any process: re-read the articles whose content hash changed."""
        with self._lock:
            self._refresh()

    def _refresh(self) -> None:
        revision = self._store.revision()
        if revision == self._revision:
            return
        layout = self._store.layout()
        if layout != self._layout:  # another collection (qa reindex) or other chunk settings: start over
            self._reset()
            self._layout = layout
            if self._snapshot:
                self._load(self._snapshot)
        stored = self._store.article_hashes()
        rows_before = len(self._ids)
        if not self._articles:
            chunks = (chunk for chunk in self._store.iter_chunks() if chunk.article_id in stored)
            while page := list(islice(chunks, PAGE)):  # pages: tokenised text of every chunk at once won't fit
                self._add(page)
        else:
            for article_id in [id_ for id_, held in self._articles.items() if stored.get(id_) != held]:
                self._alive[self._article_rows.pop(article_id)] = False
                del self._articles[article_id]
            changed = [id_ for id_ in stored if id_ not in self._articles]
            for i in range(0, len(changed), 200):
                self._add(self._store.chunks_of(changed[i : i + 200]))
        self._articles = {id_: stored[id_] for id_ in self._article_rows}
        if (~self._alive).sum() > self._alive.sum():
            self._compact()
        self._revision = revision
        if self._snapshot and len(self._ids) - rows_before >= SNAPSHOT_AFTER:
            self._save(self._snapshot)

    def _save(self, path: Path) -> None:
        """Write the index beside `path`, then rename: a reader never sees half a file."""
        terms = np.array(sorted(self._postings), dtype=np.int64)
        postings = [self._postings[int(term)] for term in terms]
        state = {
            "layout": self._layout,
            "version": SNAPSHOT_VERSION,
            "articles": self._articles,
            "article_rows": self._article_rows,
            "ids": self._ids,
            "vocabulary": self._vocabulary,
            "source_codes": self._source_codes,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        with partial.open("wb") as file:
            np.savez(
                file,
                state=np.frombuffer(json.dumps(state).encode(), dtype=np.uint8),
                terms=terms,
                offsets=np.cumsum([0] + [len(rows) for rows, _ in postings]),
                rows=np.concatenate([rows for rows, _ in postings] + [np.zeros(0, dtype=np.int32)]),
                counts=np.concatenate([counts for _, counts in postings] + [np.zeros(0, dtype=np.float32)]),
                alive=self._alive,
                lengths=self._lengths,
                days=self._days,
                sources=self._sources,
            )
        os.replace(partial, path)

    def _load(self, path: Path) -> None:
        """Start from a readable snapshot of this layout; refresh() then checks it article by article."""
        try:
            with np.load(path) as saved:
                state = json.loads(saved["state"].tobytes())
                if state["layout"] != self._layout or state["version"] != SNAPSHOT_VERSION:
                    return
                offsets, rows, counts = saved["offsets"], saved["rows"], saved["counts"]
                self._postings = {
                    int(term): (rows[offsets[i] : offsets[i + 1]], counts[offsets[i] : offsets[i + 1]])
                    for i, term in enumerate(saved["terms"])
                }
                self._alive, self._lengths = saved["alive"], saved["lengths"]
                self._days, self._sources = saved["days"], saved["sources"]
        except (OSError, ValueError, KeyError):  # missing or damaged: built from the store instead
            return
        self._articles, self._article_rows, self._ids = state["articles"], state["article_rows"], state["ids"]
        self._vocabulary, self._source_codes = state["vocabulary"], state["source_codes"]

    def _add(self, chunks: list[Chunk]) -> None:
        if not chunks:
            return
        first = len(self._ids)
        rows = np.arange(first, first + len(chunks), dtype=np.int32)
        documents = [
            np.array([self._vocabulary.setdefault(token, len(self._vocabulary)) for token in tokens], dtype=np.int64)
            for tokens in self._tokenize([embedding_text(chunk) for chunk in chunks])
        ]
        per_document = [np.unique(terms, return_counts=True) for terms in documents]
        terms = np.concatenate([unique for unique, _ in per_document] + [np.zeros(0, dtype=np.int64)])
        counts = np.concatenate([count for _, count in per_document] + [np.zeros(0, dtype=np.int64)])
        owners = np.repeat(rows, [len(unique) for unique, _ in per_document])
        order = np.argsort(terms, kind="stable")
        terms, counts, owners = terms[order], counts[order], owners[order]
        starts = np.flatnonzero(np.r_[True, terms[1:] != terms[:-1]]) if len(terms) else np.zeros(0, dtype=np.int64)
        for term, term_rows, term_counts in zip(
            terms[starts], np.split(owners, starts[1:]), np.split(counts.astype(np.float32), starts[1:]), strict=True
        ):
            held = self._postings.get(int(term))
            if held is not None:
                term_rows, term_counts = np.concatenate([held[0], term_rows]), np.concatenate([held[1], term_counts])
            self._postings[int(term)] = (term_rows, term_counts)
        self._ids.extend(chunk.id for chunk in chunks)
        for row, chunk in zip(rows, chunks, strict=True):
            self._article_rows.setdefault(chunk.article_id, []).append(int(row))
        self._alive = np.r_[self._alive, np.ones(len(chunks), dtype=bool)]
        self._lengths = np.r_[self._lengths, np.array([len(terms) for terms in documents], dtype=np.float32)]
        self._days = np.r_[self._days, [day_number(c.published) if c.published else 0 for c in chunks]].astype(np.int64)
        codes = [self._source_codes.setdefault((c.source or "").lower(), len(self._source_codes)) for c in chunks]
        self._sources = np.r_[self._sources, np.array(codes, dtype=np.int32)]

    def _compact(self) -> None:
        """Drop dead rows: renumber the living and filter every posting (no re-tokenising)."""
        keep = np.flatnonzero(self._alive)
        renumber = np.full(len(self._ids), -1, dtype=np.int32)
        renumber[keep] = np.arange(len(keep))
        for term in list(self._postings):
            rows, counts = self._postings[term]
            holding = self._alive[rows]
            if holding.any():
                self._postings[term] = (renumber[rows[holding]], counts[holding])
            else:
                del self._postings[term]
        self._ids = [self._ids[row] for row in keep]
        self._article_rows = {id_: [int(renumber[row]) for row in rows] for id_, rows in self._article_rows.items()}
        self._lengths, self._days, self._sources = self._lengths[keep], self._days[keep], self._sources[keep]
        self._alive = np.ones(len(keep), dtype=bool)

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)


def lexical_index(store: ArticleStore, settings: Settings) -> LexicalIndex:
    """The store's lexical index, saved as <QA_DATA_DIR>/lexical/<collection>.npz."""
    return LexicalIndex(store, settings.data_dir / "lexical" / f"{settings.collection}.npz")


class HybridRetriever(BaseRetriever):
    """Hybrid retrieval over the store: `retrieve(question, k, filters)` -> chunks, fused from the dense and the
    BM25 rankings; and a LangChain retriever for outside users: invoke(question, k=, filters=) -> Documents."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    store: ArticleStore
    lexical: LexicalIndex
    k: int = 5

    def retrieve(self, question: str, k: int | None = None, filters: Filters = NO_FILTERS) -> list[Chunk]:
        """The k best passages for the question among those that pass the filters (the configured k if None)."""
        k = k or self.k
        candidates = max(CANDIDATES, k)
        dense = self.dense_ranked(question, candidates, filters)
        lexical = self.lexical.ranked(question, candidates, filters)
        # One read of the stored chunks for both rankings.
        ranking = prefer_recent(with_scores(self.store, fuse_rankings([dense, lexical])), filters.until)
        return diversify(ranking)[:k]

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
        if not filters.narrows:
            found = self.store.nearest(vector, k)
        else:
            passing, live = self.lexical.passing(filters)
            found = []
            if len(passing) > FEW_PASSING:
                wanted = min(live, max(k, int(k * live / len(passing) * OVERFETCH)))
                allowed = set(passing)
                found = [hit for hit in self.store.nearest(vector, wanted) if hit[0] in allowed][:k]
            if passing and len(found) < min(k, len(passing)):
                found = self.store.nearest(vector, min(k, len(passing)), among=passing)
        return found


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest scores, best first (argpartition: no full sort of every chunk)."""
    if len(scores) <= k:
        return np.argsort(-scores, kind="stable")
    best = np.argpartition(-scores, k)[:k]
    return best[np.argsort(-scores[best], kind="stable")]


def fuse_rankings(rankings: list[list[tuple[str, float]]]) -> list[tuple[str, float]]:
    """Reciprocal rank fusion of (id, score) rankings: each id scores the sum of 1 / (60 + rank) over the rankings
    it appears in; best first."""
    fused: dict[str, float] = {}
    for ranking in rankings:
        for rank, (id_, _) in enumerate(ranking, start=1):
            fused[id_] = fused.get(id_, 0.0) + 1.0 / (RRF_K + rank)
    return sorted(fused.items(), key=lambda item: item[1], reverse=True)


def with_scores(store: ArticleStore, ranked: list[tuple[str, float]]) -> list[Chunk]:
    """The stored chunks of a ranking of (id, score), in its order, each with its score."""
    score = dict(ranked)
    return [chunk.model_copy(update={"score": score[chunk.id]}) for chunk in store.get_chunks(list(score))]


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
