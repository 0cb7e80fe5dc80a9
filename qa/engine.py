"""The engine the shells use: one store, one model, one chain, built once from settings."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

from qa import feeds, metrics
from qa.answer import ExtractiveAnswerer, GroundingChecker, LLMAnswerer, verify_citations
from qa.answerers import ANSWERERS, AnswererName, set_up
from qa.articles import articles_from_records
from qa.backends import load_embeddings
from qa.catalog import catalog_of
from qa.chain import AnswerParts, build_chain, final_answer
from qa.config import Settings, get_settings
from qa.embeddings import MiniLMEmbeddings
from qa.errors import ConfigError, InvalidFeedbackError, NotFoundError
from qa.feedback import Feedback, record_feedback
from qa.ingest import ingest_articles, ingest_paths, ingest_upload, ingest_urls
from qa.models import (
    Answer,
    AnswerEvent,
    Article,
    ArticleSummary,
    Feed,
    FeedPoll,
    IngestReport,
    ProgressCallback,
    StoreStats,
)
from qa.query import Query
from qa.retrieval import HybridRetriever
from qa.store import ArticleStore


class QAService(Protocol):
    """What the shells call: Engine in process, or qa.client.ApiClient over HTTP."""

    settings: Settings

    def ask(self, query: Query) -> Answer:
        """Answer one question."""

    def stream(self, query: Query) -> Iterator[AnswerEvent]:
        """Answer one question as events: generated text as it arrives, then the verified answer."""

    def ingest_upload(self, name: str, data: bytes, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest one uploaded file."""

    def ingest_urls(self, urls: Iterable[str]) -> IngestReport:
        """Fetch web pages and ingest them (never reaching private addresses unless QA_FETCH_PRIVATE)."""

    def feeds(self) -> list[Feed]:
        """The followed feeds."""

    def add_feed(self, url: str, name: str | None = None) -> Feed:
        """Follow a feed."""

    def remove_feed(self, id_or_url: str) -> Feed:
        """Stop following a feed."""

    def poll_feeds(self) -> list[FeedPoll]:
        """Poll every followed feed once."""

    def remove(self, id_or_path: str) -> tuple[list[str], int]:
        """Remove articles; return (ids, chunks removed)."""

    def get_article(self, article_id: str) -> Article:
        """One stored article."""

    def record_feedback(self, feedback: Feedback) -> None:
        """Keep a verdict on an answer."""

    def stats(self) -> StoreStats:
        """What the index holds."""

    def articles(self) -> list[ArticleSummary]:
        """Stored articles, newest first."""

    def revision(self) -> str:
        """A token that changes when the index may have changed."""

    def answerers(self) -> list[AnswererName]:
        """The answerers that are set up."""


class Engine:
    """Ingest, ask, remove and inspect, over one index."""

    def __init__(
        self, settings: Settings | dict[str, Any] | None = None, embeddings: MiniLMEmbeddings | None = None
    ) -> None:
        self.settings = get_settings(settings)
        self.embeddings = embeddings or load_embeddings(self.settings)
        self.store = ArticleStore(self.settings, self.embeddings)
        self.retriever = HybridRetriever(
            store=self.store,
            catalog=catalog_of(self.store),
            k=self.settings.k,
        )
        self.answerer = ExtractiveAnswerer(self.embeddings, self.settings.answer_model, self.settings.refusal_threshold)
        self._llm_answerers: dict[AnswererName, LLMAnswerer] = {}
        self._llm_lock = threading.Lock()
        self.chain = build_chain(
            AnswerParts(
                retriever=self.retriever,
                extractive=self.answerer,
                llm_answerer=self.llm_answerer,
                get_article=self.store.get_article,
                story_members=self.retriever.catalog.story_members,
                answerer_label=lambda name: ANSWERERS[name].label(self.settings),
                default_answerer=self.settings.answerer,
            )
        )

    def warm_up(self) -> None:
        """Load now what the first answer would otherwise wait for: Chroma's dense index (read whole at the first
        search: most of a start at a million chunks), meanwhile the lexical index and the NER and scorer models."""
        with ThreadPoolExecutor(1, thread_name_prefix="qa-warm-up") as dense:
            # Chroma reads its index without the GIL: the other loads go on beside it.
            loaded = dense.submit(self.retriever.dense_ranked, "warm-up", 1)
            self.retriever.catalog.refresh()
            self.answerer.recognizer.entities(["Warm-up."])
            self.answerer.scorer.manifest  # noqa: B018  # loads and verifies it
            loaded.result()

    def ingest(self, paths: Iterable[Path], on_progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest files and folders; see qa.ingest."""
        return ingest_paths(paths, self.store, self.settings, on_progress)

    def ingest_records(self, records: Sequence[Any]) -> IngestReport:
        """Ingest articles given as JSON records (see qa.articles.article_from_record); bad ones are reported."""
        loaded = list(articles_from_records(records, self.settings, path=None, label="articles"))
        return ingest_articles(loaded, self.store, self.settings)

    def ingest_upload(self, name: str, data: bytes, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest one uploaded file by its name and bytes; see qa.ingest.ingest_upload."""
        return ingest_upload(name, data, self.store, self.settings, on_progress)

    def ingest_urls(
        self, urls: Iterable[str], on_progress: ProgressCallback | None = None, *, trusted: bool = False
    ) -> IngestReport:
        """Fetch web pages and ingest them; `trusted` for the machine's own user (see qa.ingest.ingest_urls)."""
        return ingest_urls(urls, self.store, self.settings, on_progress, trusted=trusted)

    def feeds(self) -> list[Feed]:
        """The followed feeds, by name."""
        return feeds.list_feeds(self.store)

    def add_feed(self, url: str, name: str | None = None) -> Feed:
        """Follow a feed; it is fetched at the next poll."""
        return feeds.add_feed(self.store, url, name)

    def remove_feed(self, id_or_url: str) -> Feed:
        """Stop following a feed; its articles stay."""
        return feeds.remove_feed(self.store, id_or_url)

    def poll_feeds(
        self,
        *,
        force: bool = False,
        every: float | None = None,
        stop: Callable[[], bool] = lambda: False,
        on_poll: Callable[[FeedPoll], None] | None = None,
    ) -> list[FeedPoll]:
        """Poll the followed feeds once, every one or (`every`) those due; see qa.feeds.poll_feeds."""
        return feeds.poll_feeds(self.store, self.settings, force=force, every=every, stop=stop, on_poll=on_poll)

    def ask(self, query: Query) -> Answer:
        """Answer one question from the stored articles."""
        return final_answer(self.stream(query))

    def stream(self, query: Query) -> Iterator[AnswerEvent]:
        """Answer one question as events: an LLM's text as it arrives, then the verified answer, always last."""
        for event in self.chain.stream(query):
            if event.answer is not None:
                metrics.observe_answer(event.answer)
            yield event

    def llm_answerer(self, name: AnswererName) -> LLMAnswerer:
        """An LLM answerer, made on first use (the local one starts its model server then)."""
        with self._llm_lock:
            if name not in self._llm_answerers:
                checker = GroundingChecker(self.embeddings)
                build = ANSWERERS[name].chat_model
                if build is None:
                    raise ConfigError(f"{name!r} is not an LLM answerer")
                self._llm_answerers[name] = LLMAnswerer(build(self.settings), checker)
            return self._llm_answerers[name]

    def remove(self, id_or_path: str) -> tuple[list[str], int]:
        """Remove the article with this id, or every article read from this file; return (ids, chunks removed)."""
        if self.store.stored_hashes([id_or_path]):
            ids = [id_or_path]
        else:
            ids = self.store.article_ids_for_path(str(Path(id_or_path).expanduser().resolve()))
        if not ids:
            raise NotFoundError(f"no stored article has the id or path {id_or_path!r} (see qa list)")
        return ids, sum(self.store.remove_article(article_id) for article_id in ids)

    def get_article(self, article_id: str) -> Article:
        """The stored article with this id."""
        article = self.store.get_article(article_id)
        if article is None:
            raise NotFoundError(f"no stored article has the id {article_id!r} (see qa list)")
        return article

    def record_feedback(self, feedback: Feedback) -> None:
        """Append feedback on an answer to <data_dir>/feedback.jsonl, if its every quote is in a stored article."""
        citations = feedback.answer.citations
        verified = {c.n for c in verify_citations(citations, self.store.get_article)}
        if wrong := [c.n for c in citations if c.n not in verified]:
            raise InvalidFeedbackError(f"answer: citation [{wrong[0]}] does not quote a stored article")
        record_feedback(self.feedback_path, feedback)

    @property
    def feedback_path(self) -> Path:
        """Where feedback lines are appended."""
        return self.settings.data_dir / "feedback.jsonl"

    def stats(self) -> StoreStats:
        """What the index holds: counts from Chroma, publishers and dates from the catalogue (in memory)."""
        articles, chunks = self.store.counts()
        sources, first, last = self.retriever.catalog.holdings()
        return StoreStats(
            articles=articles,
            chunks=chunks,
            sources=sources,
            first_published=first,
            last_published=last,
            embedding_backends=self.store.embedding_backends(),
        )

    def revision(self) -> str:
        """A token that changes whenever any process writes to the index."""
        return self.store.revision()

    def articles(self) -> list[ArticleSummary]:
        """Stored articles, newest first."""
        return self.store.list_articles()

    def answerers(self) -> list[AnswererName]:
        """The answerers that are set up: extractive always, llm when configured, local when installed."""
        return set_up(self.settings)
