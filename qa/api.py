"""The HTTP API: the engine behind FastAPI, an OpenAI-compatible chat endpoint, bearer-token auth, limits.

Run it with `qa serve`. The process keeps no state besides caches (the model, the BM25 index, which follows the
store's revision), so several replicas can share one Chroma server (`QA_CHROMA_URL`).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import math
import secrets
import threading
import time
import traceback
import uuid
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi import Query as QueryParameter
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.sse import format_sse_event
from pydantic import BaseModel, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.convertors import Convertor, register_url_convertor
from starlette.datastructures import UploadFile as StarletteUploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from qa.answer import answer_sentences, citation_heading
from qa.answerers import ANSWERERS, by_model_id
from qa.articles import NESTED_TOO_DEEPLY
from qa.chain import final_answer
from qa.config import Settings, get_settings
from qa.controls import strip_controls
from qa.conversation import MAX_TURNS
from qa.engine import Engine
from qa.errors import (
    ArticleError,
    ConfigError,
    InvalidFeedbackError,
    InvalidQuestionError,
    NotFoundError,
    QAError,
)
from qa.feedback import Feedback
from qa.models import Answer, Article, ArticleSummary, Citation, IngestReport, StoreStats
from qa.query import Filters, Query

log = logging.getLogger("qa.api")
_Body = TypeVar("_Body", bound=BaseModel)
# A feedback body is one answer with its quotes: far smaller than a question's history may be.
FEEDBACK_BODY_BYTES = 256 * 1024

_EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events (or JSON, for a plain chat)."}
}


# ---- request and response bodies ----


class ChatMessage(BaseModel):
    """An OpenAI chat message (content as text, or as a list of text parts)."""

    role: Literal["system", "user", "assistant", "tool", "developer"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """The message's text, joining text parts."""
        if isinstance(self.content, list):
            return " ".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(Filters):
    """The fields of an OpenAI chat completion request that this service uses; others are accepted and ignored.

    Extensions: k, and the filters (since, until, source) of every Query."""

    model: str = Field(
        default="qa-extractive", description="qa-extractive, qa-llm or qa-local (see /v1/models); others: QA_ENGINE."
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    k: int | None = Field(default=None, ge=1, le=50, description="Extension: passages to retrieve.")


class RecordsRequest(BaseModel):
    """Articles as JSON records: title, text (or body), and optional url, date, source, author, id."""

    articles: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


class ArticlePage(BaseModel):
    """One page of stored articles, newest first."""

    total: int
    offset: int
    limit: int
    articles: list[ArticleSummary]


class RemovedArticle(BaseModel):
    """What a delete removed."""

    id: str
    chunks: int


class ErrorBody(BaseModel):
    """Every error: `{"error": {"type", "message"}}`, as OpenAI clients expect."""

    error: dict[str, str]


class _ArticleIdConvertor(Convertor[str]):
    """An article id in a path: a record's own id may hold '/' and any other character, a newline included."""

    regex = r"(?s:.+)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("article_id", _ArticleIdConvertor())


# ---- dependencies ----

_bearer = HTTPBearer(auto_error=False, description="QA_API_TOKEN, when the server has one.")


def _authorize(request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]) -> None:
    expected = request.app.state.settings.api_token
    if expected is None:
        return
    given = credentials.credentials if credentials else ""
    if not secrets.compare_digest(given.encode(), expected.get_secret_value().encode()):
        message = "missing or wrong bearer token (send Authorization: Bearer <QA_API_TOKEN>)"
        raise HTTPException(401, message, {"WWW-Authenticate": "Bearer"})


def _ready_engine(request: Request) -> Engine:
    state: _EngineState = request.app.state.engine_state
    return state.require()


EngineDep = Annotated[Engine, Depends(_ready_engine)]


# ---- the application ----


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> FastAPI:
    """The API over `engine`, or over an engine built from `settings` in the background at startup."""
    settings = get_settings(settings)
    state = _EngineState(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if state.engine is None:
            threading.Thread(target=state.load, args=(settings,), daemon=True, name="qa-engine-load").start()
        yield

    app = FastAPI(
        title="qa",
        summary="Question answering over news articles, with quoted citations.",
        version="0.1.0",
        lifespan=lifespan,
        responses={422: {"model": ErrorBody}},
    )
    _add_error_handlers(app)
    app.state.settings, app.state.engine_state = settings, state  # read by _authorize and _ready_engine
    ingest_lock = threading.Lock()  # one ingest at a time per process; questions run alongside

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], responses={503: {"model": ErrorBody}})
    def readyz() -> dict[str, Any]:
        """The model and the index are loaded (what the index holds is for /v1/stats, behind the token)."""
        state.require().stats()
        return {"status": "ready"}

    v1 = APIRouter(prefix="/v1", dependencies=[Depends(_authorize)], responses={401: {"model": ErrorBody}})

    @v1.post("/ask", tags=["questions"])
    def ask(query: Query, engine: EngineDep) -> Answer:
        """Answer one question: the same JSON as `qa ask --json`."""
        return final_answer(engine.stream(query))

    @v1.post("/ask/stream", tags=["questions"], response_model=None, responses=_EVENT_STREAM)
    def ask_stream(query: Query, engine: EngineDep) -> StreamingResponse:
        """Server-sent events: `delta` events carry the answer text as it comes (an LLM's tokens, unverified; or
        the extractive short answer, then each sentence), then one `answer` event the verified Answer with its
        citations, which replaces the deltas."""
        # Checked before the stream starts, so that an engine not set up is a plain 4xx.
        name = query.engine or settings.engine
        if name != "extractive":
            engine.llm_answerer(name)

        def events() -> Iterator[bytes]:
            streamed = False
            for event in engine.stream(query):
                if event.delta:
                    streamed = True
                    yield format_sse_event(event="delta", data_str=json.dumps({"text": event.delta}))
                if event.answer is not None:
                    for piece in [] if streamed else _answer_pieces(event.answer):
                        yield format_sse_event(event="delta", data_str=json.dumps({"text": piece}))
                    yield format_sse_event(event="answer", data_str=event.answer.model_dump_json())

        return StreamingResponse(events(), media_type="text/event-stream")

    @v1.get("/models", tags=["openai"])
    def models() -> dict[str, Any]:
        """OpenAI-compatible model list: the engines this server can run."""
        return {
            "object": "list",
            "data": [
                {"id": spec.model_id, "object": "model", "created": 0, "owned_by": "qa"}
                for spec in ANSWERERS.values()
                if spec.is_set_up(settings)
            ],
        }

    @v1.post("/chat/completions", tags=["openai"], response_model=None, responses=_EVENT_STREAM)
    def chat_completions(request: ChatCompletionRequest, engine: EngineDep) -> dict[str, Any] | StreamingResponse:
        """OpenAI-compatible chat: the last user message is the question. The reply's text carries [n] markers
        and a sources list; `citations` and `short_answer` carry the structured citations."""
        last_user = max(
            (i for i, m in enumerate(request.messages) if m.role == "user" and m.text().strip()), default=-1
        )
        if last_user < 0:
            raise HTTPException(422, "messages: no user message with text")
        history = [
            {"role": m.role, "content": m.text()}
            for m in request.messages[:last_user]
            if m.role in ("user", "assistant") and m.text().strip()
        ]
        fields = {
            **request.filters.model_dump(),
            "k": request.k,
            "question": request.messages[last_user].text(),
            "history": history[-MAX_TURNS:],
            "engine": by_model_id(request.model),
        }
        # Clients show streamed text as final, so they get the verified answer only, never unchecked tokens.
        answer = final_answer(engine.stream(_validated(Query, fields)))
        completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())
        extras = {"citations": jsonable_encoder(answer.citations), "short_answer": answer.short_answer}
        if not request.stream:
            message = {"role": "assistant", "content": chat_text(answer)}
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": request.model,
                "choices": [{"index": 0, "message": message, "finish_reason": "stop", "logprobs": None}],
                **extras,
            }

        def chunk(delta: dict[str, Any], finish: str | None = None, **more: Any) -> bytes:
            choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
            body = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                    "model": request.model, "choices": [choice], **more}  # fmt: skip
            return format_sse_event(data_str=json.dumps(body))

        def events() -> Iterator[bytes]:
            yield chunk({"role": "assistant", "content": ""})
            for i, piece in enumerate(_answer_pieces(answer)):
                yield chunk({"content": piece if i == 0 else " " + piece})
            if answer.citations:
                yield chunk({"content": _sources_text(answer.citations)})
            yield chunk({}, "stop", **extras)
            yield format_sse_event(data_str="[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream")

    @v1.get("/articles", tags=["articles"])
    def list_articles(
        engine: EngineDep,
        offset: Annotated[int, QueryParameter(ge=0)] = 0,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 50,
    ) -> ArticlePage:
        """Stored articles, newest first, a page at a time."""
        articles = engine.articles()
        return ArticlePage(total=len(articles), offset=offset, limit=limit, articles=articles[offset : offset + limit])

    @v1.get("/articles/{article_id:article_id}", tags=["articles"], responses={404: {"model": ErrorBody}})
    def get_article(article_id: str, engine: EngineDep) -> Article:
        """One stored article with its full text (every citation's offsets refer to it)."""
        return engine.get_article(article_id)

    @v1.post(
        "/articles",
        tags=["articles"],
        responses={413: {"model": ErrorBody}},
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": RecordsRequest.model_json_schema()},
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
        author, id), or one multipart `file` (txt, md, html, json, jsonl; at most QA_MAX_UPLOAD_MB).
        Unchanged articles are skipped; unreadable ones are reported, and replace nothing."""
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            name, data = await _uploaded_file(request, settings)
            return await run_in_threadpool(_locked, ingest_lock, engine.ingest_upload, name, data)
        records = _validated(RecordsRequest, await request.body())
        return await run_in_threadpool(_locked, ingest_lock, engine.ingest_records, records.articles)

    @v1.delete("/articles/{article_id:article_id}", tags=["articles"], responses={404: {"model": ErrorBody}})
    def remove_article(article_id: str, engine: EngineDep) -> RemovedArticle:
        """Remove one article and its chunks."""
        engine.get_article(article_id)  # 404 for an unknown id, never a path
        with ingest_lock:
            _, chunks = engine.remove(article_id)
        return RemovedArticle(id=article_id, chunks=chunks)

    @v1.get("/stats", tags=["articles"])
    def stats(engine: EngineDep) -> StoreStats:
        """What the index holds."""
        return engine.stats()

    feedback_rate = _RateLimit(settings.feedback_per_minute)

    @v1.post("/feedback", tags=["questions"], status_code=204, responses={429: {"model": ErrorBody}})
    def feedback(body: Feedback, engine: EngineDep, request: Request) -> Response:
        """Append a thumbs up or down on an answer to <QA_DATA_DIR>/feedback.jsonl: at most FEEDBACK_BODY_BYTES,
        QA_FEEDBACK_PER_MINUTE per client, and only on an answer whose every quote is in a stored article."""
        feedback_rate.check(request.client.host if request.client else "-")
        engine.record_feedback(body)
        return Response(status_code=204)

    app.include_router(v1)
    # The last added runs first: headers on every response, the 504 and 413 included.
    app.add_middleware(_BodyLimit, settings=settings)
    app.add_middleware(_TimeLimit, seconds=settings.api_timeout)
    app.add_middleware(_SecurityHeaders)
    if settings.api_cors_origins:  # closed unless origins are named: no browser page may call the API otherwise
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.api_cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app


def chat_text(answer: Answer) -> str:
    """The answer as one chat message: short answer, sentences with [n], then the numbered sources."""
    text = " ".join(_answer_pieces(answer))
    return text + _sources_text(answer.citations) if answer.citations else text


def check_exposure(host: str, settings: Settings) -> None:
    """Refuse to listen beyond this machine without a token: raise QAError for a non-loopback host."""
    if settings.api_token is not None or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise QAError(f"refusing to listen on {host} without a token: set QA_API_TOKEN, or use --host 127.0.0.1")


class _EngineState:
    """The engine once loaded, or why it could not be."""

    def __init__(self, engine: Engine | None) -> None:
        self.engine = engine
        self.error: str | None = None

    def load(self, settings: Settings) -> None:
        try:
            self.engine = Engine(settings)
            self.engine.stats()
        except Exception as error:  # reported by /readyz and every /v1 call, and logged
            log.exception("the engine could not start")
            self.error = str(error) if isinstance(error, QAError) else f"{type(error).__name__}: {error}"

    def require(self) -> Engine:
        if self.engine is not None:
            return self.engine
        if self.error:
            raise HTTPException(503, f"the engine could not start: {self.error}")
        raise HTTPException(503, "starting: loading the model and the index")


def _validated(model: type[_Body], data: bytes | dict[str, Any]) -> _Body:
    """`data` (JSON bytes or a dict) as `model`; invalid data is the same 422 as a route's own body."""
    try:
        return model.model_validate_json(data) if isinstance(data, bytes) else model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(error.errors()) from None


async def _uploaded_file(request: Request, settings: Settings) -> tuple[str, bytes]:
    limit = int(settings.max_upload_mb * 1024 * 1024)
    form = await request.form(max_files=1)
    file = form.get("file")
    if not isinstance(file, StarletteUploadFile):
        raise HTTPException(422, "file: a multipart field named 'file' is required")
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"file too large (> {settings.max_upload_mb:g} MB)")
    return file.filename or "upload", data


def _locked(lock: threading.Lock, function: Callable[..., IngestReport], *args: Any) -> IngestReport:
    with lock:
        return function(*args)


def _answer_pieces(answer: Answer) -> Iterator[str]:
    if answer.short_answer:
        yield f"{answer.short_answer} [1]."
    yield from answer_sentences(answer.answer)


def _sources_text(citations: list[Citation]) -> str:
    lines = ["", "", "Sources:"]
    for citation in citations:
        lines.append(citation_heading(citation) + (f" <{citation.url}>" if citation.url else ""))
        lines.append(f"    “{citation.quote}”")
    return "\n".join(lines)


_STATUS = {
    InvalidQuestionError: 422,
    InvalidFeedbackError: 422,
    ArticleError: 422,
    NotFoundError: 404,
    ConfigError: 400,
}
_KINDS = {
    401: "authentication_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    503: "unavailable",
}


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    kind = _KINDS.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return JSONResponse({"error": {"type": kind, "message": message}}, status_code=status, headers=headers)


def _add_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problem = error.errors()[0]
        message = str(problem.get("msg", "invalid"))
        if message.startswith("Value error, "):  # our own validators' words say what they are about, as in the CLI
            return _error(422, message.removeprefix("Value error, "))
        where = ".".join(str(part) for part in problem.get("loc", ()) if part != "body") or "body"
        return _error(422, f"{where}: {message}")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 400 and isinstance(error.__cause__, RecursionError):
            # FastAPI's JSON parsing lets a body nested too deeply through as a 400: it is malformed JSON, a 422.
            return _error(422, f"body: {NESTED_TOO_DEEPLY}")
        return _error(error.status_code, str(error.detail), getattr(error, "headers", None))

    @app.exception_handler(QAError)
    async def qa_error(_: Request, error: QAError) -> JSONResponse:
        # What is left (the store or the model failing) is the service's trouble, not the request's.
        return _error(next((code for kind, code in _STATUS.items() if isinstance(error, kind)), 503), str(error))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        # Exception messages can quote article text or request bodies: at the default level only where it
        # happened is logged; the whole traceback at DEBUG.
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno} in {frame.name}"
        path = strip_controls(request.url.path)
        log.error("unexpected %s at %s (%s %s)", type(error).__name__, where, request.method, path)
        log.debug("traceback", exc_info=error)
        return _error(500, "internal error (logged on the server)")


class _SecurityHeaders:
    """Responses are data, never a page: browsers must not sniff article text into HTML, nor frame it.

    Plain ASGI: an http middleware would read the body in a task group of its own, turning the body limit's
    413 into an exception group.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = [(b"x-content-type-options", b"nosniff")]
        if scope["path"].startswith("/v1"):
            headers.append((b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"))

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *headers]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _RateLimit:
    """At most `per_minute` calls from one client address in any 60 seconds; more are answered 429."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.calls: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def check(self, client: str) -> None:
        now = time.monotonic()
        with self.lock:
            if len(self.calls) > 10_000:  # forget clients with no call in the window: memory stays bounded
                self.calls = {key: times for key, times in self.calls.items() if now - times[-1] < 60}
            calls = self.calls.setdefault(client, deque())
            while calls and now - calls[0] >= 60:
                calls.popleft()
            if len(calls) >= self.per_minute:
                wait = max(1, math.ceil(60 - (now - calls[0])))
                message = f"too many requests: at most {self.per_minute} a minute (QA_FEEDBACK_PER_MINUTE)"
                raise HTTPException(429, message, {"Retry-After": str(wait)})
            calls.append(now)


class _TimeLimit:
    """Answer 504 when a request has not begun its response within QA_API_TIMEOUT.

    Plain ASGI rather than an http middleware, which would hold the 504 back until the work ended. A worker
    thread cannot be cancelled: it finishes unobserved and what it sends is dropped. Uploads are exempt: the
    upload size limit bounds them, and a large one legitimately embeds for minutes.
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (scope["method"] == "POST" and scope["path"] == "/v1/articles"):
            return await self.app(scope, receive, send)
        state = {"started": False, "abandoned": False}

        async def guarded_send(message: dict[str, Any]) -> None:
            state["started"] |= message["type"] == "http.response.start"
            if not state["abandoned"]:
                await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, guarded_send))
        done, _ = await asyncio.wait({task}, timeout=self.seconds)
        if done or state["started"]:
            return await task
        state["abandoned"] = True
        task.add_done_callback(lambda finished: finished.cancelled() or finished.exception())
        message = f"the request took longer than {self.seconds:g} s (QA_API_TIMEOUT)"
        await _error(504, message)(scope, receive, send)


class _BodyLimit:
    """Answer 413 to a body over its route's limit, counted while it is read, however it is framed.

    A Content-Length over the limit is refused before reading; a chunked (or lying) body is cut off at the
    limit: the bytes past it are never read. Uploads may be QA_MAX_UPLOAD_MB (plus multipart framing), feedback
    FEEDBACK_BODY_BYTES, every other body QA_MAX_REQUEST_KB.
    """

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.upload = int(settings.max_upload_mb * 1024 * 1024) + 64 * 1024
        self.request = int(settings.max_request_kb * 1024)

    def limit(self, scope: dict[str, Any]) -> tuple[int, str]:
        if scope["path"] == "/v1/articles":
            return self.upload, "QA_MAX_UPLOAD_MB"
        if scope["path"] == "/v1/feedback":
            return min(FEEDBACK_BODY_BYTES, self.request), "the feedback limit"
        return self.request, "QA_MAX_REQUEST_KB"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = self.limit(scope)
        refusal = f"request body too large (> {limit:,} bytes, {setting})"
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await _error(413, refusal)(scope, receive, send)
        received = 0

        async def counted_receive() -> dict[str, Any]:
            nonlocal received
            message: dict[str, Any] = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    # An HTTPException passes through FastAPI's body parsing and multipart reading as itself.
                    raise HTTPException(413, refusal)
            return message

        await self.app(scope, counted_receive, send)
