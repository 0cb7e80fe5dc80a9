"""Chroma, embedded or server, behind one small interface: articles with their text, and their chunks."""

from __future__ import annotations

import json
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from qa.chroma_codec import (
    article_from_chroma,
    article_metadata,
    chunk_from_chroma,
    chunk_metadata,
    read_shared_metadata,
)
from qa.config import Settings
from qa.connection import Connection, collection_names, index_location, journal_name, new_revision
from qa.embeddings import MiniLMEmbeddings, ReferenceMiniLM
from qa.errors import StoreError
from qa.models import Article, ArticleSummary, Chunk
from qa.reindex import finish_swap, swap_pending
from qa.stories import BAND_KEYS, band_keys

if TYPE_CHECKING:
    from chromadb.api.models.Collection import Collection as ChromaCollection

SCHEMA_VERSION = 1
# Chroma accepts at most 5,461 records per call.
WRITE_BATCH = 5000
# A search that Chroma returns short is completed exactly when at most this many records could match (nearest_in).
EXACT_AT_MOST = 2000
# The chunks collection's record of the embedding backends that wrote into it (comma-separated).
BACKENDS_KEY = "embedding_backends"
# Write sessions the journal keeps (the oldest dropped beyond twice as many), and the most a catalogue follows
# before it compares every article instead.
JOURNAL_KEEP = 500
JOURNAL_HOPS = 200


@dataclass(frozen=True)
class ArticleVersion:
    """An article ready to store: its chunks, and the unit vector of each chunk's embedding text (one row each)."""

    article: Article
    chunks: list[Chunk]
    vectors: np.ndarray


@dataclass(frozen=True)
class StoredVersion:
    """What the index holds of an article's version: its content hash, and when the article was first stored (None
    for one stored before that was recorded)."""

    content_hash: str
    ingested: datetime | None


class ArticleStore:
    """The index's articles and their chunks, in two Chroma collections: `<prefix>-chunks` (embedded chunks) and
    `<prefix>-articles` (full texts). It also offers the write lock and small side collections to the modules that
    own what is kept there (feeds: qa/feeds.py); reindex staging is qa/reindex.py's.

    The articles collection is the record of what is stored: an article's record is written after its chunks,
    so an article without one was never completely written, and the chunks can always be rebuilt from its text.
    """

    def __init__(
        self,
        settings: Settings,
        embeddings: MiniLMEmbeddings,
        *,
        prefix: str | None = None,
        check_identity: bool = True,
    ) -> None:
        self.settings = settings
        self.embeddings = embeddings
        self.prefix = prefix or settings.collection
        self.connection = Connection.to(settings)  # the location's one client and its locks
        # The model, not the backend: every backend's vectors are held to the reference's (tests/test_embeddings.py),
        # so an index is written and searched by any of them; which ones wrote is recorded (BACKENDS_KEY).
        self._identity = {
            "embedding_model": model_of(embeddings.model_name),
            "dimension": embeddings.dimension,
            "schema_version": SCHEMA_VERSION,
        }
        self._names = collection_names(self.prefix)
        self._epoch = -1
        self._writing = False
        self._touched: set[str] = set()  # the articles the write session under way changes
        self._marks: tuple[str, str] | None = None  # its revision before, and the one it marked at its first write
        try:
            with self.connection.reading() as client:
                existing = {collection.name: collection for collection in client.list_collections()}
            # Opening writes only to create the collections or to finish a swap: other processes need not reopen.
            must_write = any(name not in existing for name in self._names) or (
                prefix is None and swap_pending(existing, settings.collection)
            )
            with self.connection.writing() if must_write else self.connection.reading():
                if must_write and prefix is None:
                    finish_swap(self.connection, settings.collection)  # a reindex killed while swapping in
                self._open_collections()
        except StoreError:
            raise
        except Exception as error:  # chromadb raises many types for an unreachable server or a broken directory
            raise StoreError(f"cannot open the Chroma index ({index_location(settings)}): {error}") from None
        if check_identity:
            self._check_identity(self._chunks.metadata or {}, self._names[0])

    @property
    def chunking(self) -> tuple[int, int]:
        """(words per chunk, overlap words) this index splits articles with; the settings' for an index from before."""
        metadata = self._chunks.metadata or {}
        return (
            int(metadata.get("chunk_words", self.settings.chunk_words)),
            int(metadata.get("chunk_overlap_words", self.settings.chunk_overlap_words)),
        )

    def check_chunking(self) -> None:
        """Refuse to write chunks split differently from the ones stored: `qa reindex` re-splits everything."""
        if self.chunking != (self.settings.chunk_words, self.settings.chunk_overlap_words):
            words, overlap = self.chunking
            raise StoreError(
                f"this index splits articles into {words}-word chunks with {overlap} words of overlap, but "
                f"QA_CHUNK_WORDS / QA_CHUNK_OVERLAP_WORDS ask for {self.settings.chunk_words} / "
                f"{self.settings.chunk_overlap_words}: run `qa reindex` to re-split every article, or unset them"
            )

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Keep other writers out while reading a consistent whole (qa check, export); reentrant."""
        with self.connection.writing():
            self._open_collections()
            yield

    @contextmanager
    def ingesting(self) -> Iterator[None]:
        """One ingest or removal at a time in this process, while questions run alongside; reentrant."""
        with self.connection.ingest_lock:
            yield

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the index for a series of writes (see Connection); reentrant. A session that writes articles or
        chunks changes the revision before its first such write and after its last, and its entry in the journal
        says which articles it changed (`changes_since`); one that writes only side documents (a feed) changes
        nothing a cache is built from, and the revision stays."""
        with self.exclusive():
            outermost = not self._writing
            if outermost:
                self._touched, self._marks = set(), None
            self._writing = True
            try:
                yield
            finally:
                if outermost:
                    self._writing = False
                    if self._marks:
                        self._end_session(*self._marks)

    def _touch(self, article_ids: Collection[str]) -> None:
        """Record, before writing them, the articles this write session changes (their chunks or record)."""
        if self._marks is None:  # before the first write: a writer killed half-way still shows it wrote
            before = self.revision()
            self._marks = (before, self._bump_revision())
        self._touched.update(article_ids)

    def _end_session(self, before: str, started: str) -> None:
        ended = new_revision()
        # On a Chroma server no lock keeps other replicas out: if one wrote meanwhile, this session's entry would
        # hide its changes, so none is written and catalogues compare every article.
        if self.revision() == started:
            with self._reading() as client:
                journal = client.get_or_create_collection(journal_name(self.prefix))
                journal.upsert(
                    ids=[ended],
                    documents=[json.dumps(sorted(self._touched))],
                    metadatas=[{"after": before, "also_after": started, "at": time.time()}],
                    embeddings=[[1.0]],
                )
                if journal.count() > 2 * JOURNAL_KEEP:
                    entries = journal.get(include=["metadatas"])
                    by_age = sorted(zip(entries["metadatas"], entries["ids"], strict=True), key=lambda e: e[0]["at"])
                    journal.delete(ids=[id_ for _, id_ in by_age[:-JOURNAL_KEEP]])
        self._bump_revision(ended)

    def changes_since(self, revision: str) -> set[str] | None:
        """The articles that write sessions changed since the index was at `revision`, from the journal; None
        when the journal cannot tell (a writer killed half-way, an entry dropped, an index from before it)."""
        changed: set[str] = set()
        with self._reading() as client:
            current = self.revision()
            if journal_name(self.prefix) not in {collection.name for collection in client.list_collections()}:
                return None if revision != current else changed
            journal = client.get_collection(journal_name(self.prefix))
            for _ in range(JOURNAL_HOPS):
                if revision == current:
                    return changed
                found = journal.get(where={"$or": [{"after": revision}, {"also_after": revision}]})
                if len(found["ids"]) != 1:
                    return None
                changed.update(json.loads(found["documents"][0]))
                revision = found["ids"][0]
        return None

    def revision(self) -> str:
        """Token that changes whenever any process writes articles or chunks, so caches built from them know to
        refresh."""
        with self._reading() as client:
            return str((client.get_collection(self._names[0]).metadata or {}).get("revision", ""))

    def layout(self) -> str:
        """Token of the chunks collection in use and how it splits articles: changed by `qa reindex`."""
        with self._reading():
            return f"{self._chunks.id}:{self.chunking[0]}:{self.chunking[1]}"

    def stored_versions(self, article_ids: Sequence[str]) -> dict[str, StoredVersion]:
        """What is stored of each given article that is: its content hash, and when it was first stored."""
        if not article_ids:
            return {}
        with self._reading():
            found = self._articles.get(ids=list(article_ids), include=["metadatas"])
        return {
            id_: StoredVersion(
                content_hash=str(meta["content_hash"]),
                ingested=datetime.fromisoformat(str(meta["ingested"])) if meta.get("ingested") else None,
            )
            for id_, meta in zip(found["ids"], found["metadatas"] or [], strict=True)
        }

    def stored_hashes(self, article_ids: Sequence[str]) -> dict[str, str]:
        """Content hash of each given article that is stored."""
        return {id_: version.content_hash for id_, version in self.stored_versions(article_ids).items()}

    def get_article(self, article_id: str) -> Article | None:
        """The stored article with its full text, or None."""
        with self._reading():
            found = self._articles.get(ids=[article_id], include=["metadatas", "documents"])
        if not found["ids"]:
            return None
        return article_from_chroma(article_id, found["documents"][0], found["metadatas"][0])

    def iter_articles(self) -> Iterator[Article]:
        """Every stored article with its text, page by page."""
        for ids, documents, metadatas in self._pages("articles", ["documents", "metadatas"], page=500):
            yield from map(article_from_chroma, ids, documents, metadatas)

    def article_ids_for_path(self, path: str) -> list[str]:
        """Ids of the articles read from the file at `path` (absolute)."""
        with self._reading():
            return self._articles.get(where={"path": path}, include=[])["ids"]

    def write_articles(self, written: Sequence[ArticleVersion], replacing: set[str]) -> None:
        """Store articles' chunks, drop chunks left over from older versions, then the article records.

        The records are written last: each is the mark that its article is complete. Chunks go to Chroma in calls
        of up to WRITE_BATCH, across articles; only articles in `replacing` (stored before) can have old chunks.
        """
        chunks = [chunk for version in written for chunk in version.chunks]
        vectors = np.concatenate([version.vectors for version in written])
        with self.writing():
            self._touch([version.article.id for version in written])
            for i in range(0, len(chunks), WRITE_BATCH):
                batch = chunks[i : i + WRITE_BATCH]
                self._chunks.upsert(
                    ids=[chunk.id for chunk in batch],
                    embeddings=vectors[i : i + WRITE_BATCH],
                    documents=[chunk.text for chunk in batch],
                    metadatas=[chunk_metadata(chunk) for chunk in batch],
                )
            for version in written:
                if version.article.id in replacing:
                    self._chunks.delete(
                        where={"$and": [{"article_id": version.article.id}, {"ordinal": {"$gte": len(version.chunks)}}]}
                    )
            self._articles.upsert(
                ids=[version.article.id for version in written],
                embeddings=[_mean_vector(version.vectors) for version in written],
                documents=[version.article.text for version in written],
                metadatas=[{**article_metadata(version.article), "chunks": len(version.chunks)} for version in written],
            )

    def stored_vectors(self, article_ids: Sequence[str]) -> dict[tuple[str, str], np.ndarray]:
        """The vectors of these articles' stored chunks by (title, text): what new versions can reuse unembedded."""
        if not article_ids:
            return {}
        with self._reading():
            found = self._chunks.get(
                where={"article_id": {"$in": list(article_ids)}}, include=["documents", "metadatas", "embeddings"]
            )
        return {
            (str(meta["title"]), text): np.asarray(vector, dtype=np.float32)
            for text, meta, vector in zip(found["documents"], found["metadatas"], found["embeddings"], strict=True)
        }

    def remove_article(self, article_id: str) -> int:
        """Delete an article and all its chunks; return how many chunks were removed."""
        with self.ingesting(), self.writing():
            self._touch([article_id])
            removed = len(self._chunks.get(where={"article_id": article_id}, include=[])["ids"])
            self._articles.delete(ids=[article_id])
            self._chunks.delete(where={"article_id": article_id})
        return removed

    def band_matches(self, keys: Sequence[str]) -> list[Article]:
        """The stored articles whose text shares any of these LSH band keys (qa.stories: story candidates)."""
        where = {"$or": [{name: key} for name, key in zip(BAND_KEYS, keys, strict=True)]}
        with self._reading():
            found = self._articles.get(where=where, include=["documents", "metadatas"])
        return list(map(article_from_chroma, found["ids"], found["documents"], found["metadatas"]))

    def set_stories(self, stories: dict[str, str]) -> None:
        """Move articles into other stories (qa stories, regrouping an index): their records and their chunks."""
        with self.writing():
            ids = list(stories)
            self._touch(ids)
            for i in range(0, len(ids), 500):
                page = ids[i : i + 500]
                found = self._articles.get(ids=page, include=["metadatas", "documents"])
                self._articles.update(
                    ids=found["ids"],
                    metadatas=[
                        {"story": stories[id_], **dict(zip(BAND_KEYS, band_keys(text), strict=True))}
                        for id_, text in zip(found["ids"], found["documents"], strict=True)
                    ],
                )
                chunk_ids = [
                    f"{id_}:{ordinal}"
                    for id_, meta in zip(found["ids"], found["metadatas"], strict=True)
                    for ordinal in range(int(meta["chunks"]))
                ]
                for j in range(0, len(chunk_ids), WRITE_BATCH):
                    batch = chunk_ids[j : j + WRITE_BATCH]
                    owners = [chunk_id.rsplit(":", 1)[0] for chunk_id in batch]
                    self._chunks.update(ids=batch, metadatas=[{"story": stories[owner]} for owner in owners])

    def side_documents(self, name: str) -> dict[str, str]:
        """Every document of the side collection `<prefix>-<name>`, by id: what another module keeps beside the
        articles (qa.feeds: the followed feeds), shared by every process and replica on the index."""
        with self._reading() as client:
            if self._side_name(name) not in {collection.name for collection in client.list_collections()}:
                return {}
            found = client.get_collection(self._side_name(name)).get(include=["documents"])
        return dict(zip(found["ids"], found["documents"] or [], strict=True))

    def save_side_document(self, name: str, id_: str, document: str) -> None:
        """Save one document of a side collection (hold `writing()` around a read-modify-write)."""
        with self.writing():
            collection = self.connection.client.get_or_create_collection(self._side_name(name))
            collection.upsert(ids=[id_], documents=[document], embeddings=[[1.0]])

    def delete_side_document(self, name: str, id_: str) -> None:
        """Delete one document of a side collection."""
        with self.writing():
            self.connection.client.get_or_create_collection(self._side_name(name)).delete(ids=[id_])

    def _side_name(self, name: str) -> str:
        # Made on the first save, so that indexes without one (and qa reindex's staging ones) get no collection.
        return f"{self.prefix}-{name}"

    def iter_chunks(self) -> Iterator[Chunk]:
        """Every stored chunk, page by page (for the lexical index and qa check)."""
        for _, documents, metadatas in self._pages("chunks", ["documents", "metadatas"], page=WRITE_BATCH):
            yield from map(chunk_from_chroma, documents, metadatas)

    def chunks_of(self, article_ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks of these articles."""
        with self._reading():
            found = self._chunks.get(
                where={"article_id": {"$in": list(article_ids)}}, include=["documents", "metadatas"]
            )
        return list(map(chunk_from_chroma, found["documents"], found["metadatas"]))

    def get_chunks(self, chunk_ids: Sequence[str]) -> list[Chunk]:
        """The stored chunks with these ids, in that order (ids not stored are left out)."""
        if not chunk_ids:
            return []
        with self._reading():
            found = self._chunks.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        chunks = {
            id_: chunk_from_chroma(text, meta)
            for id_, text, meta in zip(found["ids"], found["documents"], found["metadatas"], strict=True)
        }
        return [chunks[id_] for id_ in chunk_ids if id_ in chunks]

    def article_versions(self, article_ids: Collection[str] | None = None) -> dict[str, str]:
        """Each stored article's content hash and story, by id (every article's, or those of these ids that are
        stored): what the catalogue must re-read when it changes."""
        if article_ids is None:
            pages = self._pages("articles", ["metadatas"], page=WRITE_BATCH)
        else:
            pages = (self._some_articles(page) for page in _batches(sorted(article_ids), WRITE_BATCH))
        return {
            id_: f"{meta['content_hash']}:{meta.get('story') or ''}"
            for ids, _, metadatas in pages
            for id_, meta in zip(ids, metadatas, strict=True)
        }

    def _some_articles(self, article_ids: list[str]) -> tuple[list[str], list[Any], list[Any]]:
        with self._reading():
            found = self._articles.get(ids=article_ids, include=["metadatas"])
        return found["ids"], [None] * len(found["ids"]), found["metadatas"] or []

    def nearest(
        self, vector: Sequence[float], k: int, *, among: Sequence[str] | None = None
    ) -> list[tuple[str, float]]:
        """Ids and cosine similarities of the k chunks nearest to `vector`, optionally among given ids only."""
        with self._reading():
            return nearest_in(self._chunks, vector, k, among)

    def list_articles(self) -> list[ArticleSummary]:
        """Every stored article without its text, newest first."""
        summaries = [
            _summary(id_, meta)
            for ids, _, metadatas in self._pages("articles", ["metadatas"], page=WRITE_BATCH)
            for id_, meta in zip(ids, metadatas, strict=True)
        ]
        return sorted(summaries, key=lambda a: (a.published or date.min, a.title), reverse=True)

    def counts(self) -> tuple[int, int]:
        """How many articles and chunks are stored: milliseconds, where listing every article takes 10 s at a
        million chunks."""
        with self._reading():
            return self._articles.count(), self._chunks.count()

    def embedding_backends(self) -> list[str]:
        """The embedding backends whose vectors the index holds (all interchangeable)."""
        with self._reading():
            return backends_of(self._chunks.metadata or {})

    def _open_collections(self) -> None:
        """(Re)fetch the collections after this process opened or reopened its client."""
        if self._epoch == self.connection.epoch:
            return
        client = self.connection.client
        layout = {"chunk_words": self.settings.chunk_words, "chunk_overlap_words": self.settings.chunk_overlap_words}
        self._chunks = client.get_or_create_collection(
            self._names[0],
            metadata={**self._identity, **layout, "revision": new_revision(), BACKENDS_KEY: self.embeddings.backend},
            configuration={"hnsw": {"space": "cosine"}},
        )
        self._articles = client.get_or_create_collection(
            self._names[1], metadata=self._identity, configuration={"hnsw": {"space": "cosine"}}
        )
        self._epoch = self.connection.epoch

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        with self.connection.reading() as client:
            self._open_collections()
            yield client

    def _pages(
        self, kind: Literal["chunks", "articles"], include: list[str], page: int
    ) -> Iterator[tuple[list[str], list[Any], list[Any]]]:
        offset = 0
        while True:
            with self._reading():
                collection = self._chunks if kind == "chunks" else self._articles
                found = collection.get(include=include, limit=page, offset=offset)
            columns = [found.get(key) or [None] * len(found["ids"]) for key in ("documents", "metadatas")]
            yield found["ids"], columns[0], columns[1]
            if len(found["ids"]) < page:
                return
            offset += page

    def _bump_revision(self, revision: str | None = None) -> str:
        revision = revision or new_revision()
        metadata = self._chunks.metadata or {}
        backends = sorted({*backends_of(metadata), self.embeddings.backend})
        self._chunks.modify(metadata={**metadata, "revision": revision, BACKENDS_KEY: ",".join(backends)})
        return revision

    def _check_identity(self, metadata: dict[str, Any], name: str) -> None:
        stored = {key: metadata.get(key) for key in self._identity}
        stored["embedding_model"] = model_of(str(stored["embedding_model"]))
        if stored != self._identity:
            raise StoreError(
                f"collection {name!r} was built with {stored['embedding_model']} ({stored['dimension']}-d, schema "
                f"{stored['schema_version']}) but this version of qa uses {self._identity['embedding_model']} "
                f"({self.embeddings.dimension}-d, schema {SCHEMA_VERSION}): run `qa reindex` to rebuild it from the "
                "stored article texts (nothing is lost)"
            )


def model_of(name: str) -> str:
    """The model an embedding backend's name names, without the backend after its "@" (indexes made before the
    backends were interchangeable recorded "all-MiniLM-L6-v2@onnx-int8")."""
    return name.partition("@")[0]


def nearest_in(
    collection: ChromaCollection, vector: Sequence[float], k: int, among: Sequence[str] | None = None
) -> list[tuple[str, float]]:
    """Ids and cosine similarities of the k records of a Chroma collection nearest to `vector` (among these ids only).

    Chroma's vector index can lose a live record: `get` returns it, no query finds it, not even by its own vector
    (chroma-core/chroma#7758; seen here on a 1.5.9 server after nothing but inserts, where a question filtered to one
    article's dates then missed that article). So a search that returns fewer than k where at most EXACT_AT_MOST
    records could match is completed by comparing the vectors of those it did not return.
    """
    query = np.asarray(vector, dtype=np.float32)
    found = collection.query(
        query_embeddings=query[None, :],
        n_results=k,
        ids=list(among) if among is not None else None,
        include=["distances"],
    )
    distances = (found["distances"] or [[]])[0]
    hits = [(id_, 1.0 - float(distance)) for id_, distance in zip(found["ids"][0], distances, strict=True)]
    if len(hits) == k:
        return hits
    matching = len(among) if among is not None else collection.count()
    if len(hits) >= matching or matching > EXACT_AT_MOST:  # nothing missed, or too many to compare
        return hits
    returned = {id_ for id_, _ in hits}
    missed = [id_ for id_ in (collection.get(include=[])["ids"] if among is None else among) if id_ not in returned]
    if not missed:
        return hits
    stored = collection.get(ids=missed, include=["embeddings"])
    if not stored["ids"]:  # ids no longer stored
        return hits
    vectors = np.asarray(stored["embeddings"], dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1) * np.linalg.norm(query)
    similarities = vectors @ query / np.where(norms > 0, norms, 1.0)
    exact = [(id_, float(similarity)) for id_, similarity in zip(stored["ids"], similarities, strict=True)]
    return sorted(hits + exact, key=lambda hit: -hit[1])[:k]


def backends_of(metadata: dict[str, Any]) -> list[str]:
    """The embedding backends that wrote vectors into an index."""
    if recorded := metadata.get(BACKENDS_KEY):
        return str(recorded).split(",")
    # Before they were recorded, the model's name carried the one backend (none after it: the reference).
    name = metadata.get("embedding_model")
    return [str(name).partition("@")[2] or ReferenceMiniLM.backend] if name else []


def _summary(article_id: str, meta: dict[str, Any]) -> ArticleSummary:
    return ArticleSummary(
        id=article_id, chunks=int(meta["chunks"]), content_hash=str(meta["content_hash"]), **read_shared_metadata(meta)
    )


def _batches(items: list[str], size: int) -> Iterator[list[str]]:
    return (items[i : i + size] for i in range(0, len(items), size))


def _mean_vector(vectors: np.ndarray) -> np.ndarray:
    """The article's vector: the normalised mean of its chunks' (zero for an article without text)."""
    sums = vectors.sum(axis=0)
    return sums / (np.linalg.norm(sums) or 1.0)


def with_scores(store: ArticleStore, ranked: list[tuple[str, float]]) -> list[Chunk]:
    """The stored chunks of a ranking of (id, score), in its order, each with its score."""
    score = dict(ranked)
    return [chunk.model_copy(update={"score": score[chunk.id]}) for chunk in store.get_chunks(list(score))]
