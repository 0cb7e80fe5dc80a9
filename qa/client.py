"""The engine over HTTP: the same calls as qa.engine.Engine, answered by a `qa serve` elsewhere (QA_API_URL).

The chat uses it when it is deployed apart from the engine; errors come back as one-line QAErrors.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import quote

import httpx

from qa.answerers import ANSWERERS, AnswererName
from qa.config import Settings
from qa.errors import NotFoundError, QAError
from qa.feedback import Feedback
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

PAGE = 500


class ApiClient:
    """Ask, ingest, remove and inspect through the HTTP API at `settings.api.url`."""

    def __init__(self, settings: Settings) -> None:
        if not settings.api.url:
            raise QAError("QA_API_URL is not set")
        self.settings = settings
        token = settings.api.token.get_secret_value() if settings.api.token else None
        self._http = httpx.Client(
            base_url=settings.api.url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}"} if token else {},
            timeout=httpx.Timeout(120, connect=5),
        )

    def ask(self, query: Query) -> Answer:
        """Answer one question (POST /v1/ask)."""
        return Answer.model_validate(self._call("POST", "/v1/ask", json=_ask_body(query)))

    def stream(self, query: Query) -> Iterator[AnswerEvent]:
        """Answer one question as events (POST /v1/ask/stream): text as it comes, then the verified answer."""
        body = _ask_body(query)
        try:
            with self._http.stream("POST", "/v1/ask/stream", json=body) as response:
                if not response.is_success:
                    response.read()
                    self._raise_for(response)
                event = ""
                for line in response.iter_lines():
                    if line.startswith("event:"):
                        event = line.removeprefix("event:").strip()
                    elif line.startswith("data:") and event == "delta":
                        yield AnswerEvent(delta=json.loads(line.removeprefix("data:"))["text"])
                    elif line.startswith("data:") and event == "answer":
                        yield AnswerEvent(answer=Answer.model_validate_json(line.removeprefix("data:")))
        except httpx.HTTPError as error:
            raise QAError(f"cannot reach the API at {self.settings.api.url}: {error}") from None

    def ingest_upload(self, name: str, data: bytes, on_progress: ProgressCallback | None = None) -> IngestReport:
        """Ingest one uploaded file (POST /v1/articles, multipart); progress is reported once, at the end."""
        report = IngestReport.model_validate(self._call("POST", "/v1/articles", files={"file": (name, data)}))
        if on_progress:
            on_progress(report.chunks, report.chunks)
        return report

    def ingest_urls(self, urls: Iterable[str]) -> IngestReport:
        """Fetch and ingest web pages, one POST /v1/articles {"url"} each; the server fetches them."""
        report = IngestReport()
        for url in urls:
            page = IngestReport.model_validate(self._call("POST", "/v1/articles", json={"url": url}))
            report.items += page.items
            report.seconds += page.seconds
        return report

    def feeds(self) -> list[Feed]:
        """The followed feeds (GET /v1/feeds)."""
        return [Feed.model_validate(feed) for feed in self._call("GET", "/v1/feeds")]

    def add_feed(self, url: str, name: str | None = None) -> Feed:
        """Follow a feed (POST /v1/feeds)."""
        return Feed.model_validate(self._call("POST", "/v1/feeds", json={"url": url, "name": name}))

    def remove_feed(self, id_or_url: str) -> Feed:
        """Stop following a feed, by id (DELETE /v1/feeds/{id})."""
        return Feed.model_validate(self._call("DELETE", f"/v1/feeds/{quote(id_or_url, safe='')}"))

    def poll_feeds(self) -> list[FeedPoll]:
        """Poll every followed feed now (POST /v1/feeds/poll)."""
        return [FeedPoll.model_validate(poll) for poll in self._call("POST", "/v1/feeds/poll")]

    def remove(self, id_or_path: str) -> tuple[list[str], int]:
        """Remove one article by id (DELETE /v1/articles/{id}; a path means nothing to the server)."""
        removed = self._call("DELETE", f"/v1/articles/{quote(id_or_path, safe='')}")
        return [removed["id"]], int(removed["chunks"])

    def get_article(self, article_id: str) -> Article:
        """The stored article with this id (GET /v1/articles/{id})."""
        return Article.model_validate(self._call("GET", f"/v1/articles/{quote(article_id, safe='')}"))

    def record_feedback(self, feedback: Feedback) -> None:
        """Send a thumbs up or down (POST /v1/feedback)."""
        self._call("POST", "/v1/feedback", json=feedback.model_dump(mode="json"))

    def stats(self) -> StoreStats:
        """What the index holds (GET /v1/stats)."""
        return StoreStats.model_validate(self._call("GET", "/v1/stats"))

    def articles(self) -> list[ArticleSummary]:
        """Every stored article, newest first (GET /v1/articles, page by page)."""
        found: list[ArticleSummary] = []
        while True:
            page = self._call("GET", "/v1/articles", params={"offset": len(found), "limit": PAGE})
            found += [ArticleSummary.model_validate(article) for article in page["articles"]]
            if not page["articles"] or len(found) >= page["total"]:
                return found

    def answerers(self) -> list[AnswererName]:
        """The answerers the server can run (GET /v1/models)."""
        listed = {model["id"] for model in self._call("GET", "/v1/models")["data"]}
        return [spec.name for spec in ANSWERERS.values() if spec.model_id in listed]

    def revision(self) -> str:
        """Another process may write at any time, and the API does not say when: always a new token."""
        return uuid.uuid4().hex

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as error:
            raise QAError(f"cannot reach the API at {self.settings.api.url}: {error}") from None
        if response.status_code == 204:
            return None
        if not response.is_success:
            self._raise_for(response)
        try:
            return response.json()
        except ValueError:
            return {}

    @staticmethod
    def _raise_for(response: httpx.Response) -> None:
        try:
            body = response.json()
        except ValueError:
            body = {}
        message = (body.get("error") or {}).get("message") if isinstance(body, dict) else None
        error_type = NotFoundError if response.status_code == 404 else QAError
        raise error_type(f"the API answered {response.status_code}: {message or 'no details'}")


def _ask_body(query: Query) -> dict[str, Any]:
    """The query as the API's JSON: what is unset is left for the server to choose."""
    return query.model_dump(mode="json", exclude_defaults=True)
