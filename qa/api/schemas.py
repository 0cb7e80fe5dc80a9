"""The HTTP API's own request and response bodies (a question's is qa.query.Query itself)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from qa.errors import FetchError
from qa.fetcher import check_url
from qa.models import AnswerMode, ArticleSummary
from qa.query import MAX_ENTRIES, Filters

# The 200 of a route that streams server-sent events.
EVENT_STREAM: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "Server-sent events (or JSON, for a plain chat)."}
}


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

    Extensions: k, as_of, time_words, mode, entries and the filters (since, until, source) of every Query."""

    model: str = Field(
        default="qa-extractive", description="qa-extractive, qa-llm or qa-local (see /v1/models); others: QA_ENGINE."
    )
    messages: list[ChatMessage] = Field(min_length=1, max_length=200)
    stream: bool = False
    k: int | None = Field(default=None, ge=1, le=50, description="Extension: passages to retrieve.")
    as_of: date | None = Field(
        default=None, description="Extension: the day the question is asked as of (today if unset)."
    )
    time_words: bool = Field(default=True, description="Extension: whether the question's time words set the dates.")
    mode: AnswerMode = Field(
        default="auto", description="Extension: auto, factoid or timeline (a story's dated entries; see Query.mode)."
    )
    entries: int = Field(default=8, ge=1, le=MAX_ENTRIES, description="Extension: the most entries a timeline lists.")


class RecordsRequest(BaseModel):
    """Articles as JSON records: title, text (or body), and optional url, date, source, author, id."""

    articles: list[dict[str, Any]] = Field(min_length=1, max_length=10_000)


def _fetchable(url: str) -> str:
    try:
        return check_url(url)
    except FetchError as error:  # a 422 like any other invalid field
        raise ValueError(str(error)) from None


# An http(s) URL the fetcher would try: a malformed one is refused as the request's mistake.
FetchableUrl = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(_fetchable)]


class PageRequest(BaseModel):
    """A web page to fetch and add (http or https; public addresses only unless QA_FETCH_PRIVATE)."""

    url: FetchableUrl = Field(description="The page's URL.")


class FeedRequest(BaseModel):
    """A feed to follow."""

    url: FetchableUrl = Field(description="The RSS or Atom feed's URL.")
    name: str | None = Field(default=None, max_length=200, description="What to call it; the feed's title if unset.")


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
