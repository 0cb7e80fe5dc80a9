"""A question as one object from the shell to the retriever: its text, the date it is asked as of, the filters on
articles, who answers.

Validated once, here: the CLI, the chat and the API build a Query; the engine, the HTTP client, the chain and the
retriever take it (the retriever and the lexical index the Filters its search() gives); feedback records its
filters.
"""

from __future__ import annotations

from datetime import date

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from qa.answerers import AnswererName
from qa.controls import strip_controls
from qa.errors import InvalidQuestionError
from qa.models import AnswerMode, AskedPeriod, TimeWindow, Turn
from qa.timewords import asked_period, search_window

MAX_QUESTION_CHARS = 4000
MAX_HISTORY_TURNS = 100
MAX_ENTRIES = 20
EARLIEST_AS_OF = date(1900, 1, 1)


class Filters(BaseModel):
    """Which articles may answer: a publication-date window and a publisher."""

    model_config = ConfigDict(frozen=True, validate_by_name=True, validate_by_alias=True, serialize_by_alias=True)

    since: date | None = Field(
        default=None, description="Only articles published on or after this date (and undated ones)."
    )
    until: date | None = Field(
        default=None, description="Only articles published on or before this date (and undated ones)."
    )
    source: str | None = Field(
        default=None, max_length=200, description="Only articles from this publisher (case-insensitive)."
    )

    @field_validator("source")
    @classmethod
    def _blank_source_is_none(cls, source: str | None) -> str | None:
        # "" and "   " name no publisher: no filter, rather than a filter that nothing passes.
        return source.strip() or None if source is not None else None

    @model_validator(mode="after")
    def _window_in_order(self) -> Filters:
        if self.since and self.until and self.since > self.until:
            raise ValueError(f"since ({self.since}) is after until ({self.until})")
        return self

    @property
    def filters(self) -> Filters:
        """The filters alone, of a model that extends them (a Query, a chat completion request)."""
        return Filters(since=self.since, until=self.until, source=self.source)

    @property
    def narrows(self) -> bool:
        """Whether any filter is set."""
        return self.since is not None or self.until is not None or self.source is not None


NO_FILTERS = Filters()
"""No date window, any publisher."""


class Query(Filters):
    """A question with the filters that narrow which articles may answer it, and who writes the answer."""

    question: str = Field(
        min_length=1,
        json_schema_extra={"maxLength": MAX_QUESTION_CHARS},
        description="The question: 1 to 4,000 characters once control characters and surrounding space are gone.",
    )
    k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve; the configured k if unset.")
    history: list[Turn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns, oldest first: a follow-up is made standalone from them before retrieval.",
    )
    answerer: AnswererName | None = Field(
        default=None,
        alias="engine",  # users choose it as `engine` in JSON and --engine on the command line
        description="extractive, llm (the server's QA_LLM_* endpoint) or local; QA_ENGINE if unset.",
    )
    as_of: date = Field(
        default_factory=date.today,
        description="The day the question is asked on (today if unset): nothing published after it is searched, "
        "and its time words ('last week') are read against it. Not after today, not before 1900.",
    )
    time_words: bool = Field(
        default=True,
        description="Whether the question's time words set the date window; an explicit since or until wins.",
    )
    mode: AnswerMode = Field(
        default="auto",
        description="auto: a question about how a story developed ('what happened with X since Monday', 'the "
        "latest on X', 'what changed') gets a timeline, any other the best sentences; factoid or timeline: that "
        "answer whatever the words.",
    )
    entries: int = Field(default=8, ge=1, le=MAX_ENTRIES, description="The most entries a timeline lists (1 to 20).")

    @field_validator("as_of")
    @classmethod
    def _as_of_in_range(cls, as_of: date) -> date:
        if as_of > date.today():
            raise ValueError(f"{as_of} is in the future: a question is asked as of today or an earlier day")
        if as_of < EARLIEST_AS_OF:
            raise ValueError(f"{as_of} is before 1900")
        return as_of

    def search(self, question: str | None = None) -> tuple[Filters, TimeWindow | None]:
        """The filters retrieval applies to the question (this one's, or its standalone form) and the window its
        time words set: explicit dates win over the words, and nothing published after as_of passes."""
        if self.since or self.until:
            until = min(self.until or self.as_of, self.as_of)
            return Filters(since=self.since, until=until, source=self.source), None
        window = search_window(question or self.question, self.as_of) if self.time_words else None
        if window is None:
            return Filters(until=self.as_of, source=self.source), None
        return Filters(since=window.since, until=window.until, source=self.source), window

    def period(self, window: TimeWindow | None) -> AskedPeriod:
        """The period the question is about: the one its time words name (`window`, from search), else the last day
        searched, the as-of day or an earlier end the user set (a question asked of a window is asked as of its
        end)."""
        if window is None and self.until:
            return asked_period(None, min(self.until, self.as_of))
        return asked_period(window, self.as_of)

    @model_validator(mode="after")
    def _since_by_as_of(self) -> Query:
        if self.since and self.since > self.as_of:
            raise ValueError(f"since ({self.since}) is after as_of ({self.as_of})")
        return self

    @field_validator("question")
    @classmethod
    def _question_text(cls, question: str) -> str:
        # One rule for every shell: control characters go, then surrounding space.
        stripped = strip_controls(question).strip()
        if not stripped:
            raise ValueError("the question is empty")
        if len(stripped) > MAX_QUESTION_CHARS:
            raise ValueError(f"the question is too long ({len(stripped):,} characters > {MAX_QUESTION_CHARS:,})")
        return stripped


def parse_query(**fields: object) -> Query:
    """The Query a shell's fields make; InvalidQuestionError with one line saying what is wrong otherwise."""
    try:
        return Query.model_validate(fields)
    except ValidationError as error:
        problem = error.errors()[0]
        message = str(problem["msg"]).removeprefix("Value error, ")
        if problem["loc"] == ("question",) and problem["type"] == "string_too_short":
            message = "the question is empty"  # "" as "   " is: the shells' words, not the schema's
        where = ".".join(str(part) for part in problem["loc"] if part != "question")
        if problem["type"].startswith("date_"):
            message = f"{problem['input']!r} is not a date (YYYY-MM-DD)"
        raise InvalidQuestionError(f"{where}: {message}" if where else message) from None
