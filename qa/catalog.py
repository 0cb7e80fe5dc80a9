"""The catalogue: one in-memory table of every stored chunk, what search needs of it without Chroma: its terms (BM25
postings), its date and publisher (the columns both rankings filter with) and its article's story. Kept in step with
the store; saved to QA_DATA_DIR/lexical/ and reloaded, so a process starts without re-reading the index."""

from __future__ import annotations

import json
import math
import os
import threading
import weakref
from collections.abc import Sequence
from datetime import date
from itertools import islice
from pathlib import Path

import bm25s
import numpy as np
import Stemmer

from qa.chroma_codec import day_number, day_of
from qa.chunking import embedding_text
from qa.models import Chunk, StoryMember
from qa.query import NO_FILTERS, Filters
from qa.store import ArticleStore, with_scores

# BM25 parameters (the usual defaults, as bm25s had them).
BM25_K1, BM25_B = 1.5, 0.75
# Chunks read and tokenised at a time when the catalogue is built.
PAGE = 5000
# The catalogue is saved (QA_DATA_DIR/lexical/) after a refresh that added this many chunks: a process then
# starts from the file instead of tokenising every chunk again (200k chunks: 39 s of start-up without it).
SNAPSHOT_AFTER = 5000
SNAPSHOT_VERSION = 2  # 2: each article's story, outlet and day


class Catalog:
    """BM25 over every stored chunk, and the catalogue of each chunk's date and publisher that both rankings filter
    with; kept in step with the store.

    Sparse and vectorised: per term, the rows of the chunks holding it and how often (numpy arrays), so a query
    touches only the postings of its own terms. When any process writes, the index re-reads only the articles
    that changed: those the store's journal names for the write sessions since (ArticleStore.changes_since), or,
    where it cannot tell, those whose content hash and story differ from the ones held, every article compared.
    A chunk of a changed or removed article is marked dead, new chunks are appended. Dead rows count nowhere (N,
    document frequencies, average length), so scores equal those of an index rebuilt from the live chunks
    (tests/test_retrieval.py), and the dead are dropped once they outnumber the living.
    """

    _articles: dict[str, str]
    _article_rows: dict[str, list[int]]
    _ids: list[str]
    _vocabulary: dict[str, int]
    # Per term: rows holding it (int32) and how often (uint8), in one or two parts: the postings as loaded or last
    # saved (views into one contiguous array), then those added since. Adding never copies the first part, so a
    # common term's postings are not held twice until the next save makes them one again.
    _postings: dict[int, list[tuple[np.ndarray, np.ndarray]]]
    _alive: np.ndarray
    _lengths: np.ndarray
    _days: np.ndarray
    _sources: np.ndarray
    _source_codes: dict[str, int]
    _row_of: dict[str, int] | None  # id -> row, built when first needed after a refresh
    _leads: np.ndarray | None  # which rows are an article's first chunk, built likewise
    _norms: np.ndarray | None  # each row's BM25 length normalisation, made when first needed after a refresh
    _live: int  # live rows when _norms was made
    _article_info: dict[str, tuple[str, str | None, int]]  # article -> (story, source, day number or 0)
    _members: dict[str, list[str]]  # story -> its articles

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
        self._row_of = None
        self._leads = None
        self._norms = None
        self._live = 0
        self._article_info, self._members = {}, {}
        self._unread: set[str] = set()  # stored articles whose chunks were not found: read again at the next write

    def search(self, question: str, k: int, filters: Filters = NO_FILTERS) -> list[Chunk]:
        """The k best chunks by BM25 among those that pass the filters, with the BM25 score."""
        return with_scores(self._store, self.ranked(question, k, filters))

    def ranked(self, question: str, k: int, filters: Filters = NO_FILTERS) -> list[tuple[str, float]]:
        """Ids and BM25 scores of the k best chunks among those that pass the filters, best first."""
        with self._lock:
            self._refresh()
            tokens = self._tokenize([question])[0]
            live, norms, all_alive = self._scoring()
            if not live:
                return []
            scores = np.zeros(len(self._ids), dtype=np.float32)
            for token in tokens:
                parts = self._postings.get(self._vocabulary.get(token, -1), [])  # none: never seen, or only removed
                if not all_alive:
                    parts = [
                        (rows[holding], counts[holding]) for rows, counts in parts for holding in [self._alive[rows]]
                    ]
                holding_term = sum(len(rows) for rows, _ in parts)
                idf = math.log(1 + (live - holding_term + 0.5) / (holding_term + 0.5))  # a Python float: float32 math
                for rows, counts in parts:
                    frequency = counts.astype(np.float32)
                    scores[rows] += idf * frequency * (BM25_K1 + 1) / (frequency + norms[rows])
            if filters != NO_FILTERS:  # dead rows scored nothing above
                scores[~self.mask(filters)] = 0.0
            return [(self._ids[row], float(scores[row])) for row in _top(scores, k)]

    def _scoring(self) -> tuple[int, np.ndarray, bool]:
        """Live chunks, each row's BM25 length normalisation, and whether no row is dead: the same for every
        question until the next write, so made once per refresh (a million chunks: ~10 ms a question less)."""
        if self._norms is None:
            live = int(self._alive.sum())
            average_length = float(self._lengths[self._alive].mean()) if live else 1.0
            self._norms = BM25_K1 * (1 - BM25_B + BM25_B * self._lengths / average_length)
            self._live = live
        return self._live, self._norms, self._live == len(self._alive)

    def mask(self, filters: Filters) -> np.ndarray:
        """Which rows are live chunks that pass the date window and publisher (case-insensitive). An undated
        article passes every date window: it cannot be placed in time, and is never silently dropped (its
        citations say "undated")."""
        mask = self._alive.copy()
        if filters.since:
            mask &= (self._days >= day_number(filters.since)) | (self._days == 0)
        if filters.until:
            mask &= self._days <= day_number(filters.until)
        if filters.source:
            mask &= self._sources == self._source_codes.get(filters.source.lower(), -1)
        return mask

    def passes_all(self, filters: Filters) -> bool:
        """Whether the filters keep every live chunk: only an end date on or after the newest article's (a
        question asked as of today), which the search may then ignore."""
        if filters.since or filters.source:
            return False
        if not filters.until:
            return True
        with self._lock:
            self._refresh()
            return not len(self._days) or int(self._days.max()) <= day_number(filters.until)

    def passing(self, filters: Filters) -> list[str]:
        """Ids of the live chunks that pass the filters."""
        with self._lock:
            self._refresh()
            return [self._ids[row] for row in np.flatnonzero(self.mask(filters))]

    def count_passing(self, filters: Filters) -> tuple[int, int]:
        """How many live chunks pass the filters, and how many live chunks there are in all."""
        with self._lock:
            self._refresh()
            return int(self.mask(filters).sum()), int(self._alive.sum())

    def keep_passing(self, hits: list[tuple[str, float]], filters: Filters) -> list[tuple[str, float]]:
        """The (id, score) hits whose chunks pass the filters, in their order; a chunk not in the catalogue
        does not pass. (Listing the passing ids instead cost ~50 ms a question at 200k chunks.)"""
        with self._lock:
            self._refresh()
            if self._row_of is None:
                self._row_of = {id_: row for row, id_ in enumerate(self._ids)}
            mask, row_of = self.mask(filters), self._row_of
            return [hit for hit in hits if (row := row_of.get(hit[0])) is not None and mask[row]]

    def leads(self, filters: Filters, limit: int) -> list[str]:
        """Ids of the first chunks of the articles that pass the filters, newest first, at most `limit`: what a
        question about a period's news with no topic reads."""
        with self._lock:
            self._refresh()
            if self._leads is None:
                self._leads = np.fromiter((id_.endswith(":0") for id_ in self._ids), dtype=bool, count=len(self._ids))
            rows = np.flatnonzero(self.mask(filters) & self._leads)
            newest = rows[np.argsort(-self._days[rows], kind="stable")][:limit]
            return [self._ids[row] for row in newest]

    def story_members(self, stories: Sequence[str]) -> list[StoryMember]:
        """The stored articles of these stories (qa.stories), oldest first; from memory, as Chroma's `where` on the
        articles took 24 ms p50 and 210 ms p95 a question on 2023q1."""
        with self._lock:
            self._refresh()
            members = [
                StoryMember(article_id=id_, story=story, source=source, published=day_of(day))
                for story in dict.fromkeys(stories)
                for id_ in self._members.get(story, [])
                for _, source, day in [self._article_info[id_]]
            ]
        return sorted(members, key=lambda member: (member.published or date.max, member.article_id))

    def holdings(self) -> tuple[list[str], date | None, date | None]:
        """The publishers of the stored articles, sorted, and their first and last publication day: what the index's
        stats need, from memory (reading every article from Chroma for them took 10 s at a million chunks)."""
        with self._lock:
            self._refresh()
            info = list(self._article_info.values())
        days = [day for _, _, day in info if day]
        sources = sorted({source for _, source, _ in info if source})
        return sources, (day_of(min(days)) if days else None), (day_of(max(days)) if days else None)

    def refresh(self) -> None:
        """Catch up with writes by any process: re-read the articles whose content hash or story changed."""
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
            # Saved at this very revision: no process wrote since, so there is nothing to compare (reading every
            # article's hash from Chroma took 10 s of a 13 s start at a million chunks).
            self._revision = self._load(self._snapshot) if self._snapshot else None
            if self._revision == revision:
                return
        rows_before = len(self._ids)
        if not self._articles:
            stored = self._store.article_versions()
            chunks = (chunk for chunk in self._store.iter_chunks() if chunk.article.id in stored)
            while page := list(islice(chunks, PAGE)):  # pages: tokenised text of every chunk at once won't fit
                self._add(page)
            self._articles = {id_: stored[id_] for id_ in self._article_rows}
        else:
            # The journal names the articles written since (2.0 s a write less at 200k chunks than comparing all).
            changed = self._store.changes_since(self._revision) if self._revision else None
            if changed is not None:  # and those whose chunks were not found last time (a server's late read)
                changed |= self._unread
            self._catch_up(self._store.article_versions(changed), changed)
        if (~self._alive).sum() > self._alive.sum():
            self._compact()
        self._revision = revision
        self._row_of = self._leads = self._norms = None
        if self._snapshot and len(self._ids) - rows_before >= SNAPSHOT_AFTER:
            self._save(self._snapshot)

    def _catch_up(self, stored: dict[str, str], among: set[str] | None) -> None:
        """Re-read the articles whose stored version (`stored`: of every article, or of the ones `among` those
        that may have changed) differs from the one held: drop their rows, add their chunks."""
        held = self._articles if among is None else [id_ for id_ in among if id_ in self._articles]
        for article_id in [id_ for id_ in held if stored.get(id_) != self._articles[id_]]:
            self._alive[self._article_rows.pop(article_id)] = False
            del self._articles[article_id]
            self._forget_story(article_id)
        changed = [id_ for id_ in stored if id_ not in self._articles]
        for i in range(0, len(changed), 200):
            self._add(self._store.chunks_of(changed[i : i + 200]))
        self._articles.update({id_: stored[id_] for id_ in changed if id_ in self._article_rows})
        self._unread = {id_ for id_ in changed if id_ not in self._article_rows}

    def _save(self, path: Path) -> None:
        """Write the index beside `path`, then rename: a reader never sees half a file."""
        terms = np.array(sorted(self._postings), dtype=np.int64)
        postings = [_joined(self._postings[int(term)]) for term in terms]
        offsets = np.cumsum([0] + [len(rows) for rows, _ in postings])
        rows = np.concatenate([rows for rows, _ in postings] + [np.zeros(0, dtype=np.int32)])
        counts = np.concatenate([counts for _, counts in postings] + [np.zeros(0, dtype=np.uint8)])
        del postings
        # From now on, views into these: the arrays loaded or saved before are freed.
        self._postings = _views(terms, offsets, rows, counts)
        state = {
            "layout": self._layout,
            "version": SNAPSHOT_VERSION,
            "revision": self._revision,
            "articles": self._articles,
            "article_rows": self._article_rows,
            "ids": self._ids,
            "vocabulary": self._vocabulary,
            "source_codes": self._source_codes,
            "article_info": self._article_info,
        }
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
        with partial.open("wb") as file:
            np.savez(
                file,
                state=np.frombuffer(json.dumps(state).encode(), dtype=np.uint8),
                terms=terms,
                offsets=offsets,
                rows=rows,
                counts=counts,
                alive=self._alive,
                lengths=self._lengths,
                days=self._days,
                sources=self._sources,
            )
        os.replace(partial, path)

    def _load(self, path: Path) -> str | None:
        """Start from a readable snapshot of this layout; return the store's revision it was saved at (None when
        nothing was loaded), from which refresh() catches up."""
        try:
            with np.load(path) as saved:
                state = json.loads(saved["state"].tobytes())
                if state["layout"] != self._layout or state["version"] != SNAPSHOT_VERSION:
                    return None
                self._postings = _views(saved["terms"], saved["offsets"], saved["rows"], _frequencies(saved["counts"]))
                self._alive, self._lengths = saved["alive"], saved["lengths"]
                self._days, self._sources = saved["days"], saved["sources"]
        except (OSError, ValueError, KeyError):  # missing or damaged: built from the store instead
            self._reset()
            return None
        self._articles, self._article_rows, self._ids = state["articles"], state["article_rows"], state["ids"]
        self._vocabulary, self._source_codes = state["vocabulary"], state["source_codes"]
        self._article_info = {id_: (story, source, day) for id_, (story, source, day) in state["article_info"].items()}
        for id_, (story, _, _) in self._article_info.items():
            self._members.setdefault(story, []).append(id_)
        return state.get("revision")

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
            terms[starts], np.split(owners, starts[1:]), np.split(_frequencies(counts), starts[1:]), strict=True
        ):
            parts = self._postings.setdefault(int(term), [])
            if len(parts) == 2:  # what was added since the last save grows; the first part is never copied
                added_rows, added_counts = parts.pop()
                term_rows, term_counts = (
                    np.concatenate([added_rows, term_rows]),
                    np.concatenate([added_counts, term_counts]),
                )
            parts.append((term_rows, term_counts))
        self._ids.extend(chunk.id for chunk in chunks)
        for row, chunk in zip(rows, chunks, strict=True):
            self._article_rows.setdefault(chunk.article.id, []).append(int(row))
            if chunk.article.id not in self._article_info:
                story = chunk.story or chunk.article.id
                day = day_number(chunk.article.published) if chunk.article.published else 0
                self._article_info[chunk.article.id] = (story, chunk.article.source, day)
                self._members.setdefault(story, []).append(chunk.article.id)
        self._alive = np.r_[self._alive, np.ones(len(chunks), dtype=bool)]
        self._lengths = np.r_[self._lengths, np.array([len(terms) for terms in documents], dtype=np.float32)]
        self._days = np.r_[
            self._days, [day_number(c.article.published) if c.article.published else 0 for c in chunks]
        ].astype(np.int64)
        codes = [
            self._source_codes.setdefault((c.article.source or "").lower(), len(self._source_codes)) for c in chunks
        ]
        self._sources = np.r_[self._sources, np.array(codes, dtype=np.int32)]

    def _forget_story(self, article_id: str) -> None:
        story, _, _ = self._article_info.pop(article_id, (None, None, 0))
        if story is not None:
            self._members[story].remove(article_id)
            if not self._members[story]:
                del self._members[story]

    def _compact(self) -> None:
        """Drop dead rows: renumber the living and filter every posting (no re-tokenising)."""
        keep = np.flatnonzero(self._alive)
        renumber = np.full(len(self._ids), -1, dtype=np.int32)
        renumber[keep] = np.arange(len(keep))
        for term in list(self._postings):
            rows, counts = _joined(self._postings[term])
            holding = self._alive[rows]
            if holding.any():
                self._postings[term] = [(renumber[rows[holding]], counts[holding])]
            else:
                del self._postings[term]
        self._ids = [self._ids[row] for row in keep]
        self._article_rows = {id_: [int(renumber[row]) for row in rows] for id_, rows in self._article_rows.items()}
        self._lengths, self._days, self._sources = self._lengths[keep], self._days[keep], self._sources[keep]
        self._alive = np.ones(len(keep), dtype=bool)

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        return bm25s.tokenize(texts, stopwords="en", stemmer=self._stemmer, return_ids=False, show_progress=False)


_CATALOGS: weakref.WeakKeyDictionary[ArticleStore, Catalog] = weakref.WeakKeyDictionary()
_CATALOGS_LOCK = threading.Lock()


def catalog_of(store: ArticleStore) -> Catalog:
    """The store's one catalogue in this process (what the retriever searches, what an ingest refreshes), saved as
    <QA_DATA_DIR>/lexical/<collection>.npz."""
    with _CATALOGS_LOCK:
        if store not in _CATALOGS:
            _CATALOGS[store] = Catalog(store, snapshot_path(store))
        return _CATALOGS[store]


def snapshot_path(store: ArticleStore) -> Path:
    """Where the catalogue of a store's collections is saved."""
    return store.settings.data_dir / "lexical" / f"{store.prefix}.npz"


def adopt_snapshot(staging: ArticleStore, store: ArticleStore) -> None:
    """After `qa reindex` swapped the staging collections in: the catalogue saved for them is now the store's (the
    same chunks collection under its new name), so no process tokenises the rebuilt index again."""
    if snapshot_path(staging).exists():
        os.replace(snapshot_path(staging), snapshot_path(store))
    else:  # too small to have been saved; the old one describes collections that are gone
        snapshot_path(store).unlink(missing_ok=True)


def _joined(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """A term's postings as one (rows, counts)."""
    if len(parts) == 1:
        return parts[0]
    return np.concatenate([rows for rows, _ in parts]), np.concatenate([counts for _, counts in parts])


def _views(
    terms: np.ndarray, offsets: np.ndarray, rows: np.ndarray, counts: np.ndarray
) -> dict[int, list[tuple[np.ndarray, np.ndarray]]]:
    """Each term's postings as one part: views into the contiguous arrays a snapshot holds."""
    return {
        int(term): [(rows[offsets[i] : offsets[i + 1]], counts[offsets[i] : offsets[i + 1]])]
        for i, term in enumerate(terms)
    }


def _frequencies(counts: np.ndarray) -> np.ndarray:
    """How often each term occurs in a chunk, as stored: one byte each (no word recurs 255 times in a chunk), where
    float32 took 276 MB more at a million chunks; snapshots saved before hold float32."""
    return np.minimum(counts, 255).astype(np.uint8)


def _top(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k highest positive scores, best first: partitioned among the rows that scored only (a
    question's terms reach a share of a million chunks: 12 ms a question less than partitioning them all)."""
    scored = np.flatnonzero(scores > 0)
    if len(scored) > k:
        scored = scored[np.argpartition(scores[scored], len(scored) - k)[len(scored) - k :]]
    return scored[np.argsort(-scores[scored], kind="stable")]
