"""The data every stage and every shell passes on: Article -> Chunk -> Citation -> Answer, the answer's events, a
conversation's turns, ingest reports and what the index holds. Pydantic alone: a client of the HTTP API imports
these without the engine's machinery."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date, datetime
from enum import StrEnum
from functools import cached_property
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    SerializerFunctionWrapHandler,
    computed_field,
    model_serializer,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from qa.answerers import AnswererName


class ArticleRef(BaseModel):
    """Which article a passage or a quote is from, with what a reader needs to name and open it: its provenance,
    carried once wherever a piece of the article goes."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Id of the article.")
    title: str = Field(description="Title of the article.")
    source: str | None = Field(default=None, description="Publisher of the article.")
    url: str | None = Field(default=None, description="Url of the article.")
    path: str | None = Field(default=None, description="File the article was read from.")
    published: date | None = Field(default=None, description="Publication date of the article.")


class Article(BaseModel):
    """One news article, as read from a file or record."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(description="Stable id: the record's id, else a hash of its url, else of its path.")
    title: str = Field(description="Headline, or the first line of the text when there is none.")
    text: str = Field(description="Full article text; every offset in the system refers to it.")
    source: str | None = Field(default=None, description="Publisher, e.g. 'CNN' or 'Radio Free Europe/Radio Liberty'.")
    url: str | None = Field(default=None, description="Where the article was published.")
    path: str | None = Field(default=None, description="File it was read from (absolute), if any.")
    published: date | None = Field(default=None, description="Publication date, if known.")
    author: str | None = Field(default=None, description="Byline, if known.")
    fetched: date | None = Field(
        default=None, description="Day the page was fetched from the web (a URL or a feed), if it was."
    )
    summary_only: bool = Field(
        default=False, description="Only a feed's summary of the article: its page could not be fetched."
    )
    story: str | None = Field(
        default=None,
        description="Id of the story it belongs to: the first article carrying the same text (reprints, syndicated "
        "and lightly edited copies; qa.stories), its own id when none does; set at ingest.",
    )
    ingested: datetime | None = Field(
        default=None,
        description="When the index first stored it (UTC), kept across updates; set at ingest. Undated articles "
        "meet their stories in this order.",
    )

    @computed_field(description="sha256 of everything stored about the article; a change means re-ingest.")  # type: ignore[prop-decorator]
    @cached_property
    def content_hash(self) -> str:
        """Hash of title, text and metadata."""
        # Not the fetch day: fetching an unchanged page again changes nothing stored. A summary's mark only where
        # set, so the hashes of everything stored before it existed hold.
        fields: tuple[object, ...] = (self.title, self.text, self.source, self.url, self.published, self.author)
        fields += ("summary only",) if self.summary_only else ()
        return hashlib.sha256("\x1f".join(str(field or "") for field in fields).encode()).hexdigest()

    @property
    def ref(self) -> ArticleRef:
        """The article's provenance, for its chunks and quotes."""
        return ArticleRef(
            id=self.id, title=self.title, source=self.source, url=self.url, path=self.path, published=self.published
        )


class Chunk(BaseModel):
    """A span of an article's text, the unit that is embedded, indexed and retrieved."""

    model_config = ConfigDict(frozen=True)

    article: ArticleRef = Field(description="The article the chunk belongs to.")
    ordinal: int = Field(ge=0, description="Position of the chunk within its article, from 0.")
    start: int = Field(ge=0, description="Offset of the chunk's first character in the article text.")
    end: int = Field(ge=0, description="Offset just past the chunk's last character: text == article.text[start:end].")
    text: str = Field(description="The chunk's text, exactly article.text[start:end].")
    story: str | None = Field(default=None, description="Story of the article (see Article.story).")
    score: float | None = Field(default=None, description="Retrieval score, set by the retriever (higher is better).")

    @property
    def id(self) -> str:
        """Deterministic id, so re-ingesting an article overwrites its chunks instead of adding copies."""
        return f"{self.article.id}:{self.ordinal}"


PeriodUnit = Literal["day", "week", "month", "quarter", "year", "range"]


class Period(BaseModel):
    """A stretch of days that words name ("in March 2024": 1 to 31 Mar 2024), resolved against a day."""

    model_config = ConfigDict(frozen=True)

    since: date | None = Field(description="Its first day; None when the words leave it open ('before 2020').")
    until: date | None = Field(description="Its last day; None when the words leave it open ('after 2019').")
    unit: PeriodUnit = Field(description="How the words name it: a day, week, month, quarter, year, or a range.")
    text: str = Field(description="The words, e.g. 'in March 2024'.")


class TimeWindow(BaseModel):
    """What a question's own words ask about ("this week", "in March 2024"), resolved against the date it was
    asked as of: the period the words name and, apart from it, the publication dates searched for it."""

    model_config = ConfigDict(frozen=True)

    since: date | None = Field(default=None, description="First day searched; None for no lower bound.")
    until: date = Field(description="Last day searched, never after the as-of date.")
    from_text: str = Field(description="The question's words that set the window, e.g. 'this week'.")
    latest: bool = Field(
        default=False, description="The words asked for the newest news ('the latest', 'currently'): no lower bound."
    )
    period: Period = Field(
        description="The period the words name, as they name it (1 to 31 Mar 2024 for 'in March 2024'), which the "
        "dates searched may run past: news of a time keeps coming after it."
    )


class AskedPeriod(BaseModel):
    """The period a question is about, as retrieval orders the passages and the reading compares each sentence's
    periods with it."""

    model_config = ConfigDict(frozen=True)

    period: Period = Field(description="The period its words name; for a question with none, the as-of day (now).")
    named: bool = Field(description="Whether its words name the period.")
    past: bool = Field(
        description="Whether the period ended long enough before the as-of day that its news is in: a question about "
        "then ('from 2004 to 2005', 'last year' in March), answered from sentences of then, not from the news of now."
    )


class QuoteDate(BaseModel):
    """A date a quote writes relative to its article's own day ("on Tuesday", "last year"), written out."""

    text: str = Field(description="The quote's words, e.g. 'on Tuesday'.")
    start: int = Field(ge=0, description="Offset of the words in the article text.")
    end: int = Field(ge=0, description="Offset just past the words.")
    day: str = Field(description="What they mean, written out: 'Tuesday 19 Oct 2021', 'October 2021', '2020'.")
    since: date = Field(description="The first day they mean.")
    until: date = Field(description="The last day they mean.")


class Citation(BaseModel):
    """A numbered reference from an answer to an exact quote of an article."""

    n: int = Field(ge=1, description="The number shown as [n] in the answer.")
    article: ArticleRef = Field(
        description="The quoted article. In JSON its fields stand in the citation itself, the id as article_id."
    )
    quote: str = Field(description="The quoted text, exactly article.text[start:end].")
    start: int = Field(ge=0, description="Offset of the quote's first character in the article text.")
    end: int = Field(ge=0, description="Offset just past the quote's last character.")
    score: float = Field(description="How strongly the quote supports the answer (the answerer's score).")
    also_in: list[str] = Field(
        default_factory=list,
        description="Other outlets that carried the same story (reprints and syndicated copies), by name.",
    )
    dates: list[QuoteDate] = Field(
        default_factory=list,
        description="The quote's relative dates resolved against its article's own date (its URL's, else "
        "published); empty when that is unknown.",
    )

    # The citation's JSON (API, `qa ask --json`, eval reports) keeps the article's fields flat, as before they
    # were carried in one ArticleRef: article_id, title, source, url, path, published.
    @model_validator(mode="before")
    @classmethod
    def _nest_article(cls, data: Any) -> Any:
        if isinstance(data, dict) and "article" not in data:
            data = dict(data)
            data["article"] = {name: data.pop(_wire(name)) for name in ArticleRef.model_fields if _wire(name) in data}
        return data

    @model_serializer(mode="wrap")
    def _flatten_article(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        nested: dict[str, Any] = handler(self)
        flat: dict[str, Any] = {}
        for key, value in nested.items():
            if key == "article":
                flat.update((_wire(name), field) for name, field in value.items())
            else:
                flat[key] = value
        return flat

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        # The other fields' schema, the same in both modes (the serializer alone would say "an object"), without
        # this hook again and without ArticleRef (it would stand in the document's schemas, unused).
        validated = core_schema["schema"]
        fields = {name: field for name, field in validated["schema"]["fields"].items() if name != "article"}
        others = {key: value for key, value in core_schema.items() if key not in ("serialization", "metadata")}
        others["schema"] = {**validated, "schema": {**validated["schema"], "fields": fields}}
        schema = handler.resolve_ref_schema(handler(others))
        article = ArticleRef.model_json_schema()
        properties, required = {}, []
        for name in cls.model_fields:
            if name != "article":
                properties[name] = schema["properties"][name]
                required += [name] if name in schema.get("required", []) else []
                continue
            for field, spec in article["properties"].items():
                properties[_wire(field)] = {**spec, "title": _wire(field).replace("_", " ").title()}
            required += [_wire(field) for field in article.get("required", [])]
        return {**schema, "properties": properties, "required": required}


def _wire(name: str) -> str:
    """An ArticleRef field's name in a citation's JSON."""
    return "article_id" if name == "id" else name


AnswerMode = Literal["auto", "factoid", "timeline"]
"""How a question is answered: as its words ask (auto), with the best sentences and a short answer (factoid), or
as dated entries of how its story developed (timeline)."""
EntryKind = Literal["event", "update", "differs"]


class TimelineEntry(BaseModel):
    """One dated step of a story: a sentence quoted by citation [n], and what it changes."""

    day: date = Field(
        description="The day it happened: the sentence's own date when it writes one, else its article's."
    )
    text: str = Field(description="The sentence, exactly as citation [citation] quotes it (its '[3]'s written '(3)').")
    citation: int = Field(ge=1, description="The n of the citation that quotes it.")
    outlets: list[str] = Field(
        default_factory=list, description="The outlets that ran it: its own, reprints, same-day reports of it."
    )
    kind: EntryKind = Field(
        default="event",
        description="event; update (a later value of a fact an earlier report gave: `earlier` quotes it); or "
        "differs (outlets gave different values the same day: `earlier` quotes the other).",
    )
    earlier: int | None = Field(
        default=None, description="For an update or a difference: the n of the citation quoting the other report."
    )
    earlier_day: date | None = Field(
        default=None,
        description="The day of the other report (before the entry's for an update, the same for a difference).",
    )
    change: str | None = Field(default=None, description="What changed or differs, e.g. '12 → 15'.")


class DayCount(BaseModel):
    """How many articles of a timeline's story were published on a day."""

    day: date
    articles: int = Field(ge=0)


class Timeline(BaseModel):
    """A story's development over the period asked: dated entries in date order, and its articles per day."""

    since: date | None = Field(description="First day of the period the entries are from; None for no bound.")
    until: date = Field(description="Last day of that period.")
    topic: str = Field(description="What the timeline is about ('' for the period's most covered stories).")
    summary: str | None = Field(
        default=None,
        description="With an LLM answerer, its short answer from the entries' passages, with [n] markers, each claim "
        "checked; None otherwise.",
    )
    entries: list[TimelineEntry] = Field(description="The dated entries, oldest first.")
    articles_per_day: list[DayCount] = Field(
        default_factory=list, description="Articles of the story read, per day of publication (for a chart)."
    )


class Answer(BaseModel):
    """The reply to one question: short text whose every sentence cites a quote, or a refusal."""

    model_config = ConfigDict(validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    question: str = Field(description="The question as asked.")
    answer: str = Field(description="Answer text with [n] markers, or the refusal phrase.")
    short_answer: str | None = Field(
        default=None,
        description="The answer in a few words (a name, number or date), exactly as it stands in citation [1]'s "
        "quote, or, when those words date something relative to the article's day ('on Tuesday'), that date "
        "written out; for a question that asks for several things, the list the quote gives ('Canada and "
        "Mexico'); a name the passages also give in another form is followed by it in brackets ('FEMA (Federal "
        "Emergency Management Agency)'); None when no phrase stands out or the answer is a refusal.",
    )
    refused: bool = Field(description="True when the articles did not support an answer.")
    citations: list[Citation] = Field(default_factory=list, description="Citations referenced by [n] markers.")
    answerer: AnswererName = Field(
        default="extractive",
        alias="engine",  # its name in JSON, as users choose it
        description="Who wrote this answer: extractive, llm or local.",
    )
    standalone_question: str | None = Field(
        default=None, description="The follow-up as it was searched for, when the conversation changed it."
    )
    notices: list[str] = Field(
        default_factory=list,
        description="What the reader should know: an LLM that failed (this is then the extractive answer), or "
        "sentences left out because their passages did not support them.",
    )
    timings_ms: dict[str, float] = Field(
        default_factory=dict, description="Milliseconds spent per stage: retrieve, answer, total."
    )
    as_of: date | None = Field(default=None, description="The day the question was asked as of.")
    time_window: TimeWindow | None = Field(
        default=None,
        description="The dates the question's own words asked for ('this week'), as searched; None when it had "
        "none or an explicit since/until set the dates.",
    )
    confidence: float | None = Field(
        default=None,
        ge=0,
        le=1,
        description="Probability that the answer is right (its short answer when it has one), calibrated on "
        "held-out news quizzes; a refusal's is how sure the best answer was. None for an LLM's answer.",
    )
    confident: bool = Field(
        default=False,
        description="Whether the short answer is confident enough to state plainly (shown bold): its confidence "
        "reaches the answer scorer's shown threshold, chosen for a stated precision. Shells show it as it says.",
    )
    timeline: Timeline | None = Field(
        default=None,
        description="For a question about how a story developed: its dated entries (the answer text lists them). "
        "None for any other answer.",
    )


class AnswerEvent(BaseModel):
    """One step of a streamed answer: text as an LLM writes it, then the verified answer, always last."""

    delta: str | None = Field(default=None, description="Generated text, unverified: the final answer replaces it.")
    answer: Answer | None = Field(default=None, description="The verified answer; set on the last event only.")


class Turn(BaseModel):
    """One message of a conversation."""

    role: Literal["user", "assistant"] = Field(description="Who wrote it.")
    content: str = Field(max_length=16_000, description="What was written (at most four questions long).")


class StoryMember(BaseModel):
    """One stored article of a story, as the catalogue knows it: enough to name its outlet and date."""

    model_config = ConfigDict(frozen=True)

    article_id: str
    story: str
    source: str | None
    published: date | None


class StoreStats(BaseModel):
    """What the index holds."""

    articles: int = Field(description="Number of stored articles.")
    chunks: int = Field(description="Number of stored chunks.")
    sources: list[str] = Field(description="Distinct publishers, sorted.")
    first_published: date | None = Field(description="Earliest publication date among dated articles.")
    last_published: date | None = Field(description="Latest publication date among dated articles.")
    embedding_backends: list[str] = Field(
        default_factory=list, description="The embedding backends whose vectors the index holds (all interchangeable)."
    )


class ArticleSummary(BaseModel):
    """A stored article without its text."""

    id: str
    title: str
    source: str | None
    url: str | None
    path: str | None
    published: date | None
    chunks: int
    content_hash: str
    story: str | None = None


ProgressCallback = Callable[[int, int], None]
"""Called with (chunks just embedded, total chunks to embed)."""


class IngestStatus(StrEnum):
    """What happened to one article or file."""

    ADDED = "added"
    UPDATED = "updated"
    SKIPPED = "skipped"
    FAILED = "failed"


class IngestItem(BaseModel):
    """The result for one article, or for a file or record that could not be read."""

    location: str = Field(description="File path, or file:line for a record.")
    status: IngestStatus
    article_id: str | None = Field(default=None, description="Id of the article, when one was read.")
    title: str | None = Field(default=None, description="Title of the article, when one was read.")
    reason: str | None = Field(default=None, description="Why it was skipped or failed.")
    chunks: int = Field(default=0, description="Chunks written for it.")


class IngestReport(BaseModel):
    """Summary of one ingest run."""

    items: list[IngestItem] = Field(default_factory=list)
    seconds: float = 0.0

    def count(self, status: IngestStatus) -> int:
        """How many items ended with `status`."""
        return sum(item.status == status for item in self.items)

    @property
    def chunks(self) -> int:
        """Chunks written in this run."""
        return sum(item.chunks for item in self.items)

    @property
    def failed(self) -> list[IngestItem]:
        """Items that could not be ingested."""
        return [item for item in self.items if item.status == IngestStatus.FAILED]

    def summary(self) -> str:
        """One line: added / updated / skipped / failed, chunks, seconds."""
        return (
            f"{self.count(IngestStatus.ADDED)} added, {self.count(IngestStatus.UPDATED)} updated, "
            f"{self.count(IngestStatus.SKIPPED)} skipped, {self.count(IngestStatus.FAILED)} failed; "
            f"{self.chunks} chunks in {self.seconds:.1f} s"
        )


class FeedStatus(StrEnum):
    """How a feed's last poll went."""

    NEW = "new"
    OK = "ok"
    NOT_MODIFIED = "not modified"
    ERROR = "error"


class Feed(BaseModel):
    """A followed RSS or Atom feed and how its polls have gone; stored in the index beside the articles, so every
    process and replica that opens the index follows the same feeds."""

    id: str = Field(description="Stable id: a hash of the feed's URL.")
    url: str = Field(description="The feed's URL.")
    name: str = Field(description="What the user called it, or the feed's own title, or its host.")
    added: datetime = Field(description="When it was added (UTC).")
    last_poll: datetime | None = Field(default=None, description="When it was last polled (UTC).")
    last_success: datetime | None = Field(
        default=None, description="When it was last polled without error (UTC), by any poller."
    )
    status: FeedStatus = Field(default=FeedStatus.NEW, description="How the last poll went.")
    error: str | None = Field(default=None, description="The last poll's error, in one line.")
    failures: int = Field(default=0, ge=0, description="Polls failed in a row; each doubles the wait before the next.")
    next_poll: datetime | None = Field(
        default=None,
        description="When it is next due (UTC): a scheduled poller's interval after its last poll, or later after "
        "errors (back-off); none when only polled by hand.",
    )
    articles: int = Field(default=0, ge=0, description="Articles added or updated from it so far.")
    etag: str | None = Field(default=None, description="The feed's ETag, sent back to ask for a changed feed only.")
    last_modified: str | None = Field(default=None, description="The feed's Last-Modified, sent back likewise.")
    seen: list[str] = Field(
        default_factory=list, description="Entries already ingested (id and update time), newest last."
    )
    polling_until: datetime | None = Field(
        default=None, description="A poller has claimed the feed until then: a second poller leaves it alone."
    )
    polling_by: str | None = Field(
        default=None,
        description="The poller holding the claim, as host:pid; a claim whose process is gone on this host lapses.",
    )


class FeedPoll(BaseModel):
    """One feed's poll: the feed afterwards and what its entries became."""

    feed: Feed
    report: IngestReport = Field(default_factory=IngestReport, description="The entries ingested, skipped or failed.")
    skipped: str | None = Field(default=None, description="Why the feed was not polled this time, if it was not.")
    summary_only: int = Field(default=0, description="Entries kept from the feed's summary (their page failed).")

    def line(self) -> str:
        """One line for a terminal."""
        if self.skipped:
            return f"{self.feed.name}: not polled ({self.skipped})"
        if self.feed.status == FeedStatus.ERROR:
            return f"{self.feed.name}: error: {self.feed.error}"
        if self.feed.status == FeedStatus.NOT_MODIFIED:
            return f"{self.feed.name}: not modified"
        summary = f", {self.summary_only} from the feed's summary only" if self.summary_only else ""
        return f"{self.feed.name}: {self.report.summary()}{summary}"
