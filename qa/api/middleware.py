"""What every request passes through: its log line and metrics, body limits counted while reading, a time limit,
security headers, and the rate limit feedback uses."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import traceback
import uuid
from collections import deque
from datetime import UTC, datetime
from typing import Any

from fastapi import HTTPException

from qa import metrics
from qa.api.errors import error_response
from qa.config import Settings
from qa.controls import strip_controls

log = logging.getLogger("qa.api")
request_log = logging.getLogger("qa.requests")

# A feedback body is one answer with its quotes: far smaller than a question's history may be.
FEEDBACK_BODY_BYTES = 256 * 1024


class InFlight:
    """How many requests are being answered now: the background feed poller waits between entries while any are."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def __bool__(self) -> bool:
        return self.count > 0

    def add(self, change: int) -> None:
        """Count a request in (+1) or out (-1)."""
        with self._lock:
            self.count += change


class RequestLog:
    """One log line per request (time, method, route, status, ms, answerer, refused, bytes; the question only with
    QA_LOG_QUESTIONS) and its metrics; outside the other middleware (CORS aside), so a 413, 504 or 500 is logged
    like any answer.

    The route is the path's template ("/v1/articles/{article_id:article_id}"), never the path itself: an article id
    or a made-up path would name a new time series per request, and may be private.
    """

    def __init__(self, app: Any, settings: Settings, in_flight: InFlight, served_as: dict[int, str]) -> None:
        self.app, self.in_flight, self.served_as = app, in_flight, served_as
        self.json, self.questions = settings.log_format == "json", settings.log_questions

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Pass the request on, counting its status and bytes; log and count it when its response has ended."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started, at = time.perf_counter(), datetime.now(UTC)
        response = {"status": 500, "bytes": 0}
        answer: dict[str, Any] = {}
        noted = metrics.REQUEST_ANSWER.set(answer)

        async def counted_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                response["status"] = message["status"]
            elif message["type"] == "http.response.body":
                response["bytes"] += len(message.get("body", b""))
            await send(message)

        self.in_flight.add(1)
        try:
            await self.app(scope, receive, counted_send)
        finally:
            self.in_flight.add(-1)
            metrics.REQUEST_ANSWER.reset(noted)
            seconds = time.perf_counter() - started
            matched = scope.get("route")
            route = self.served_as.get(id(matched)) or getattr(matched, "path", None) or "unmatched"
            metrics.REQUESTS.labels(scope["method"], route, str(response["status"])).inc()
            metrics.REQUEST_SECONDS.labels(route).observe(seconds)
            request_log.info(self.line(at, scope["method"], route, response, seconds, answer))

    def line(
        self, at: datetime, method: str, route: str, response: dict[str, int], seconds: float, answer: dict[str, Any]
    ) -> str:
        """The log line of one request, text or JSON."""
        fields: dict[str, Any] = {
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "method": method,
            "route": route,
            "status": response["status"],
            "ms": round(seconds * 1000, 1),
            "answerer": answer.get("answerer"),
            "refused": answer.get("refused"),
            "bytes": response["bytes"],
        }
        if self.questions and "question" in answer:
            fields["question"] = strip_controls(answer["question"])
        if self.json:
            return json.dumps(fields, ensure_ascii=False)
        text = f"{fields['time']} {method} {route} {fields['status']} {fields['ms']:g} ms"
        if fields["answerer"]:
            text += f" answerer={fields['answerer']} refused={str(fields['refused']).lower()}"
        text += f" bytes={fields['bytes']}"
        return text + (
            f" question={json.dumps(fields['question'], ensure_ascii=False)}" if "question" in fields else ""
        )


class SecurityHeaders:
    """Responses are data, never a page: browsers must not sniff article text into HTML, nor frame it.

    Plain ASGI: an http middleware would read the body in a task group of its own, turning the body limit's
    413 into an exception group.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Add the headers to the response's start."""
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


class Unexpected:
    """Anything a route or middleware did not expect: a 500 naming an id, and one log line with the error's class,
    where it happened and that id; the traceback only at DEBUG, since it can quote article text or request input.

    Plain ASGI, inside the security headers: Starlette's own handler of last resort logs the whole traceback
    again after any handler of ours has answered.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Run the request; answer 500 (if nothing was sent yet) to whatever it raises."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = False

        async def tracked_send(message: dict[str, Any]) -> None:
            nonlocal started
            started |= message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked_send)
        except Exception as error:
            error_id = uuid.uuid4().hex[:12]
            frame = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{frame.filename.rsplit('/', 1)[-1]}:{frame.lineno} in {frame.name}"
            path = strip_controls(scope["path"])
            log.warning(
                "error %s: unexpected %s at %s (%s %s)", error_id, type(error).__name__, where, scope["method"], path
            )
            log.debug("error %s: traceback", error_id, exc_info=error)
            if not started:  # a stream already under way can only be cut off
                await error_response(500, f"internal error {error_id} (logged on the server)")(scope, receive, send)


class RateLimit:
    """At most `per_minute` calls from one client address in any 60 seconds; more are answered 429."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self.calls: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def check(self, client: str) -> None:
        """Count a call from `client`; raise HTTPException 429 (with Retry-After) past the limit."""
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


class TimeLimit:
    """Answer 504 when a request has not begun its response within QA_API_TIMEOUT.

    Plain ASGI rather than an http middleware, which would hold the 504 back until the work ended. A worker
    thread cannot be cancelled: it finishes unobserved and what it sends is dropped. Uploads are exempt: the
    upload size limit bounds them, and a large one legitimately embeds for minutes.
    """

    def __init__(self, app: Any, seconds: float) -> None:
        self.app, self.seconds = app, seconds

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Run the request; answer 504 if it has not begun its response in time."""
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
        await error_response(504, message)(scope, receive, send)


class BodyLimit:
    """Answer 413 to a body over its route's limit, counted while it is read, however it is framed.

    A Content-Length over the limit is refused before reading; a chunked (or lying) body is cut off at the
    limit: the bytes past it are never read. Uploads may be QA_MAX_UPLOAD_MB (plus multipart framing), feedback
    FEEDBACK_BODY_BYTES, every other body QA_MAX_REQUEST_KB.
    """

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.upload = int(settings.max.upload_mb * 1024 * 1024) + 64 * 1024
        self.request = int(settings.max.request_kb * 1024)

    def limit(self, scope: dict[str, Any]) -> tuple[int, str]:
        """The route's body limit in bytes, and the setting that names it."""
        if scope["path"] == "/v1/articles":
            return self.upload, "QA_MAX_UPLOAD_MB"
        if scope["path"] == "/v1/feedback":
            return min(FEEDBACK_BODY_BYTES, self.request), "the feedback limit"
        return self.request, "QA_MAX_REQUEST_KB"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Refuse a declared length over the limit; cut off a body that grows past it while read."""
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit, setting = self.limit(scope)
        refusal = f"request body too large (> {limit:,} bytes, {setting})"
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > limit:
            return await error_response(413, refusal)(scope, receive, send)
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
