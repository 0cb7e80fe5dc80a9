"""The API's own routes: health, metrics, questions (ask, stream, feedback), articles and feeds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi import Query as QueryParameter
from fastapi.responses import PlainTextResponse, Response, StreamingResponse
from fastapi.sse import format_sse_event
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile as StarletteUploadFile

from qa.api.deps import EngineDep, EngineState, authorize_metrics, validated
from qa.api.openai import answer_pieces
from qa.api.schemas import (
    EVENT_STREAM,
    ArticlePage,
    ErrorBody,
    FeedRequest,
    PageRequest,
    RecordsRequest,
    RemovedArticle,
)
from qa.chain import final_answer
from qa.config import Settings
from qa.feedback import Feedback
from qa.metrics import observe_store
from qa.models import Answer, Article, Feed, FeedPoll, IngestReport, StoreStats
from qa.poller import FeedPoller
from qa.query import Query


class _ArticleIdConvertor(Convertor[str]):
    """An article id in a path: a record's own id may hold '/' and any other character, a newline included."""

    regex = r"(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("article_id", _ArticleIdConvertor())

health = APIRouter(tags=["health"])
metrics = APIRouter(tags=["health"])
questions = APIRouter(tags=["questions"])
articles = APIRouter(tags=["articles"])
feeds = APIRouter(tags=["feeds"])


@health.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@health.get("/readyz", responses={503: {"model": ErrorBody}})
def readyz(request: Request) -> dict[str, Any]:
    """The index and the models are loaded and warm: the first answer waits for nothing (what the index holds is
    for /v1/stats, behind the token)."""
    state: EngineState = request.app.state.engine_state
    state.require_warm().revision()  # the index answers
    return {"status": "ready"}


@metrics.get(
    "/metrics",
    dependencies=[Depends(authorize_metrics)],
    response_class=PlainTextResponse,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {"model": ErrorBody}},
)
def prometheus_metrics(request: Request) -> Response:
    """Prometheus metrics: requests, answers, ingests, feed polls, fetch refusals, the index's size. Behind
    QA_API_TOKEN (or QA_API_METRICS_TOKEN) when one is set."""
    engine = request.app.state.engine_state.engine
    if engine is not None:
        articles, chunks = engine.store.counts()
        observe_store(articles, chunks, engine.feeds())
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


@questions.post("/ask")
def ask(query: Query, engine: EngineDep) -> Answer:
    """Answer one question: the same JSON as `qa ask --json`."""
    return final_answer(engine.stream(query))


@questions.post("/ask/stream", response_model=None, responses=EVENT_STREAM)
def ask_stream(query: Query, engine: EngineDep, request: Request) -> StreamingResponse:
    """Server-sent events: `delta` events carry the answer text as it comes (an LLM's tokens, unverified; or
    the extractive short answer, then each sentence), then one `answer` event the verified Answer with its
    citations, which replaces the deltas."""
    # Checked before the stream starts, so that an answerer not set up is a plain 4xx.
    name = query.answerer or request.app.state.settings.answerer
    if name != "extractive":
        engine.llm_answerer(name)

    def events() -> Iterator[bytes]:
        streamed = False
        for event in engine.stream(query):
            if event.delta:
                streamed = True
                yield format_sse_event(event="delta", data_str=json.dumps({"text": event.delta}))
            if event.answer is not None:
                for piece in [] if streamed else answer_pieces(event.answer):
                    yield format_sse_event(event="delta", data_str=json.dumps({"text": piece}))
                yield format_sse_event(event="answer", data_str=event.answer.model_dump_json())

    return StreamingResponse(events(), media_type="text/event-stream")


@questions.post("/feedback", status_code=204, responses={429: {"model": ErrorBody}})
def feedback(body: Feedback, engine: EngineDep, request: Request) -> Response:
    """Append a thumbs up or down on an answer to <QA_DATA_DIR>/feedback.jsonl: at most FEEDBACK_BODY_BYTES,
    QA_FEEDBACK_PER_MINUTE per client, and only on an answer whose every quote is in a stored article."""
    request.app.state.feedback_rate.check(request.client.host if request.client else "-")
    engine.record_feedback(body)
    return Response(status_code=204)


@articles.get("/articles")
def list_articles(
    engine: EngineDep,
    offset: Annotated[int, QueryParameter(ge=0)] = 0,
    limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
) -> ArticlePage:
    """Stored articles, newest first, a page at a time."""
    stored = engine.articles()
    return ArticlePage(total=len(stored), offset=offset, limit=limit, articles=stored[offset : offset + limit])


@articles.get("/articles/{article_id:article_id}", responses={404: {"model": ErrorBody}})
def get_article(article_id: str, engine: EngineDep) -> Article:
    """One stored article with its full text (every citation's offsets refer to it)."""
    return engine.get_article(article_id)


@articles.post(
    "/articles",
    responses={413: {"model": ErrorBody}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {"oneOf": [RecordsRequest.model_json_schema(), PageRequest.model_json_schema()]}
                },
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            },
        }
    },
)
async def add_articles(request: Request, engine: EngineDep) -> IngestReport:
    """Add or update articles: JSON `{"articles": [records]}` (title, text, and optional url, date, source,
    author, id), JSON `{"url": page}` (a web page, fetched and extracted), or one multipart `file` (txt, md,
    html, json, jsonl; at most QA_MAX_UPLOAD_MB). Unchanged articles are skipped; unreadable ones are reported,
    and replace nothing."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        name, data = await _uploaded_file(request, request.app.state.settings)
        return await run_in_threadpool(engine.ingest_upload, name, data)
    body = await request.body()
    if _names_a_page(body):
        page = validated(PageRequest, body)
        return await run_in_threadpool(engine.ingest_urls, [page.url])
    records = validated(RecordsRequest, body)
    return await run_in_threadpool(engine.ingest_records, records.articles)


@articles.delete("/articles/{article_id:article_id}", responses={404: {"model": ErrorBody}})
def remove_article(article_id: str, engine: EngineDep) -> RemovedArticle:
    """Remove one article and its chunks."""
    engine.get_article(article_id)  # 404 for an unknown id, never a path
    _, chunks = engine.remove(article_id)
    return RemovedArticle(id=article_id, chunks=chunks)


@articles.get("/stats")
def stats(engine: EngineDep) -> StoreStats:
    """What the index holds."""
    return engine.stats()


@feeds.get("/feeds", response_model_exclude={"__all__": {"seen"}})
def list_feeds(engine: EngineDep, request: Request) -> list[Feed]:
    """The followed feeds, with each one's last and next poll, status and error. A feed never polled is next
    polled at the background poller's next look (none when QA_FEED_EVERY is 0)."""
    poller: FeedPoller | None = request.app.state.poller
    followed = engine.feeds()
    if poller and poller.next_tick:
        followed = [
            feed if feed.next_poll else feed.model_copy(update={"next_poll": poller.next_tick}) for feed in followed
        ]
    return followed


@feeds.post("/feeds", status_code=201, response_model_exclude={"seen"})
def add_feed(body: FeedRequest, engine: EngineDep, request: Request) -> Feed:
    """Follow a feed: the background poller fetches it now (else the next poll does); adding it again renames it."""
    feed = engine.add_feed(body.url, body.name)
    if request.app.state.poller:
        request.app.state.poller.wake()
    return feed


@feeds.delete("/feeds/{feed_id}", responses={404: {"model": ErrorBody}}, response_model_exclude={"seen"})
def remove_feed(feed_id: str, engine: EngineDep) -> Feed:
    """Stop following a feed; the articles it brought stay."""
    return engine.remove_feed(feed_id)


@feeds.post("/feeds/poll", response_model_exclude={"__all__": {"feed": {"seen"}}})
def poll_feeds(engine: EngineDep, force: bool = False) -> list[FeedPoll]:
    """Poll every followed feed now (with `force`, those backing off after errors too)."""
    return engine.poll_feeds(force=force)


def _names_a_page(body: bytes) -> bool:
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return False
    return isinstance(parsed, dict) and "url" in parsed and "articles" not in parsed


async def _uploaded_file(request: Request, settings: Settings) -> tuple[str, bytes]:
    limit = int(settings.max.upload_mb * 1024 * 1024)
    form = await request.form(max_files=1)
    file = form.get("file")
    if not isinstance(file, StarletteUploadFile):
        raise HTTPException(422, "file: a multipart field named 'file' is required")
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"file too large (> {settings.max.upload_mb:g} MB)")
    return file.filename or "upload", data
