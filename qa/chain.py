"""The answer pipeline as named steps composed into one Runnable: search (Query -> Retrieved), an answer step
(Retrieved -> Draft: extractive, or an LLM's with its claims checked), finish (Draft -> Answer), streamed as
AnswerEvents."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, Field

from qa.answer import (
    CANNOT_ANSWER,
    Evidence,
    ExtractiveAnswerer,
    LLMAnswerer,
    cite,
    inert_markers,
    keep_cited_sentences,
    second_opinion,
    split_claims,
    verify_citations,
)
from qa.answer.citations import quote_citation
from qa.answer.phrases import (
    EMPTY_WINDOW,
    LLM_FAILED,
    LLM_SENTENCES_DROPPED,
    LLM_UNSUPPORTED,
    NEWEST_IS_OLD,
    NO_ARTICLES_ON_THIS,
    OLD_AFTER_DAYS,
    REWRITE_FAILED,
    other_periods,
    timeline_text,
)
from qa.answer.timeline import (
    MAX_LEADS,
    TIMELINE_PASSAGES,
    TOPICLESS_DAYS,
    Entry,
    articles_per_day,
    asks_timeline,
    lines_of,
    pick_entries,
    topic_of,
)
from qa.answerers import AnswererName
from qa.conversation import resolve_follow_up, rewrite_with_llm
from qa.dates import day_text, window_text
from qa.errors import one_line
from qa.models import (
    Answer,
    AnswerEvent,
    Article,
    AskedPeriod,
    Chunk,
    Citation,
    StoryMember,
    Timeline,
    TimelineEntry,
    TimeWindow,
)
from qa.query import Filters, Query
from qa.retrieval import HybridRetriever
from qa.stories import with_stories


@dataclass(frozen=True)
class AnswerParts:
    """What the answer steps work with, by name: the retriever, the answerers, and the index's lookups."""

    retriever: HybridRetriever
    extractive: ExtractiveAnswerer
    llm_answerer: Callable[[AnswererName], LLMAnswerer]  # made once per answerer (the local one starts a server)
    get_article: Callable[[str], Article | None]
    story_members: Callable[[Sequence[str]], list[StoryMember]]
    answerer_label: Callable[[AnswererName], str]
    default_answerer: AnswererName


class Retrieved(BaseModel):
    """What the search step hands an answer step: the passages for the question as it was searched for."""

    question: str = Field(description="The question as asked.")
    standalone: str = Field(description="The question as searched for (a follow-up made standalone).")
    passages: list[Chunk] = Field(description="The retrieved passages, best first.")
    as_of: date = Field(description="The day the question is asked as of.")
    window: TimeWindow | None = Field(description="The dates the question's words asked for, if any.")
    period: AskedPeriod = Field(description="The period the question is about: its words', else the as-of day.")
    about_now: bool = Field(description="Whether it asks about now: no dates given, no time words but 'latest'.")
    answerer: AnswererName = Field(description="Who writes the answer.")
    filters: Filters = Field(description="The filters the passages were searched with: the period's dates.")
    topic: str | None = Field(
        default=None,
        description="For a question answered as a timeline, what its story is about ('' for the period's most "
        "covered stories); None for any other.",
    )
    entries: int = Field(description="The most entries a timeline lists.")
    notices: list[str] = Field(description="What the reader should know so far.")
    timings: dict[str, float] = Field(description="Seconds per stage so far.")
    started: float = Field(description="perf_counter() when the question's clock started.")


class Draft(BaseModel):
    """An answer step's result, before the finish: its text and verified citations, and what else it found."""

    retrieved: Retrieved = Field(description="What it was written from.")
    answerer: AnswererName = Field(description="Who wrote it (the extractive answerer when an LLM gave way).")
    text: str = Field(description="The answer, with [n] markers.")
    citations: list[Citation] = Field(description="The citations its markers number, each verified.")
    short_answer: str | None = Field(default=None, description="The answer in a few words, if any.")
    confidence: float | None = Field(default=None, description="The extractive answerer's confidence, if it wrote it.")
    confident: bool = Field(default=False, description="Whether that confidence reaches the shown threshold.")
    notices: list[str] = Field(description="What the reader should know, the search's notices included.")
    timeline: Timeline | None = Field(default=None, description="A timeline answer's entries (outlets not yet all).")
    refusal: str = Field(default=CANNOT_ANSWER, description="What the answer says when nothing is cited.")


# An answer step streams what it writes (AnswerEvent deltas) and ends with its Draft.
AnswerStep = Callable[[AnswerParts, Retrieved], Iterator[AnswerEvent | Draft]]


def final_answer(events: Iterable[AnswerEvent]) -> Answer:
    """The answer a stream of events ends with (the chain always ends with one)."""
    *_, last = events
    if last.answer is None:
        raise RuntimeError("the answer stream ended without an answer")
    return last.answer


def build_chain(parts: AnswerParts) -> Runnable[Query, AnswerEvent]:
    """The answer pipeline as one Runnable: search, then the answer step the question's answerer chooses (ANSWER_STEPS),
    then finish; each step timed. Streaming it yields AnswerEvents, the finished Answer last."""

    def answer(retrieved: Retrieved) -> Iterator[AnswerEvent]:
        step = timeline_step if retrieved.topic is not None else ANSWER_STEPS[retrieved.answerer]
        for item in step(parts, retrieved):
            yield AnswerEvent(answer=finish(parts, item)) if isinstance(item, Draft) else item

    def searched(query: Query) -> Retrieved:
        return search(parts, query)

    return RunnableLambda(searched).with_config(run_name="search") | RunnableLambda(answer).with_config(
        run_name="answer"
    )


def search(parts: AnswerParts, query: Query) -> Retrieved:
    """The question made standalone (a follow-up, with its history), its dates and filters read, its passages
    retrieved."""
    question, answerer = query.question, query.answerer or parts.default_answerer
    # Made (and for the local engine, started) before the clock: a one-off cost, not the question's.
    llm = parts.llm_answerer(answerer) if answerer != "extractive" else None
    started = time.perf_counter()
    notices: list[str] = []
    standalone = question
    if query.history:
        try:
            standalone = (
                rewrite_with_llm(llm.chat_model, question, query.history)
                if llm
                else resolve_follow_up(question, query.history)
            )
        except Exception as error:  # the LLM is outside our control: any failure falls back
            notices.append(REWRITE_FAILED.format(label=parts.answerer_label(answerer), reason=_reason(error)))
            standalone = resolve_follow_up(question, query.history)
    filters, window = query.search(standalone)
    period = query.period(window)
    topic = None
    if query.mode == "timeline" or (query.mode == "auto" and asks_timeline(standalone)):
        topic = topic_of(standalone, query.as_of)
        filters, passages = _story_passages(parts, query, topic, filters, period)
    else:
        passages = parts.retriever.retrieve(standalone, query.k, filters, period)
        if not passages and (filters.since or (filters.until and filters.until < query.as_of)):
            notices.append(EMPTY_WINDOW.format(window=window_text(filters.since, filters.until)))
    return Retrieved(
        question=question,
        standalone=standalone,
        passages=passages,
        as_of=query.as_of,
        window=window,
        period=period,
        about_now=not (query.since or query.until) and (window is None or window.latest),
        answerer=answerer,
        filters=filters,
        topic=topic,
        entries=query.entries,
        notices=notices,
        timings={"retrieve": time.perf_counter() - started},
        started=started,
    )


def _story_passages(
    parts: AnswerParts, query: Query, topic: str, filters: Filters, period: AskedPeriod
) -> tuple[Filters, list[Chunk]]:
    """What a timeline reads, and the filters that found it: at least TIMELINE_PASSAGES passages on the topic, or
    for no topic the first passages of the period's articles (the week up to the last day searched, for a
    question that names no period)."""
    if topic:
        return filters, parts.retriever.retrieve(topic, max(query.k or 0, TIMELINE_PASSAGES), filters, period)
    if filters.since is None:
        filters = filters.model_copy(
            update={"since": (filters.until or query.as_of) - timedelta(days=TOPICLESS_DAYS - 1)}
        )
    return filters, parts.retriever.leads(filters, MAX_LEADS)


def answer_extractive(parts: AnswerParts, retrieved: Retrieved, notices: list[str] | None = None) -> Draft:
    """The best sentences of the passages, the short answer among them, and the confidence (the learned reader)."""
    selection = parts.extractive.select(retrieved.standalone, retrieved.passages, retrieved.period)
    if selection.elsewhere:
        notices = [
            *(retrieved.notices if notices is None else notices),
            other_periods(selection.elsewhere, retrieved.period.period),
        ]
    cited_text, cited = cite(selection.evidence)
    text, citations = keep_cited_sentences(cited_text, verify_citations(cited, parts.get_article))
    short = selection.short_answer
    # Shown as "short answer [1]": only while citation [1] still quotes the sentence it came from.
    quoted = short and citations and _quotes(citations[0], short.evidence)
    short_text = inert_markers(short.text) if short and quoted else None
    if short and short_text and (day := _written_out(citations[0], short.evidence, short.text)):
        short_text = day
    if short and short_text and short.other_form:  # "FEMA (Federal Emergency Management Agency)"
        short_text = f"{short_text} ({inert_markers(short.other_form)})"
    return Draft(
        retrieved=retrieved,
        answerer="extractive",
        text=text,
        citations=citations,
        short_answer=short_text,
        confidence=selection.confidence,
        confident=selection.confident,
        notices=list(retrieved.notices) if notices is None else notices,
    )


def extractive_step(parts: AnswerParts, retrieved: Retrieved) -> Iterator[AnswerEvent | Draft]:
    """The extractive answerer's step: one Draft, nothing streamed before it."""
    yield answer_extractive(parts, retrieved)


def answer_generated(parts: AnswerParts, retrieved: Retrieved) -> Iterator[AnswerEvent | Draft]:
    """An LLM's answer, streamed token by token, then each claim checked against the passages it cites; the
    extractive answer (with a notice saying why) when the LLM fails, times out or supports none of its claims."""
    notices = list(retrieved.notices)
    if not retrieved.passages:
        yield answer_extractive(parts, retrieved, notices)
        return
    written = yield from _written_by_llm(parts, retrieved, retrieved.passages, notices)
    if written is None:
        yield answer_extractive(parts, retrieved, notices)
        return
    text, citations = written
    yield Draft(retrieved=retrieved, answerer=retrieved.answerer, text=text, citations=citations, notices=notices)


def _written_by_llm(
    parts: AnswerParts, retrieved: Retrieved, passages: Sequence[Chunk], notices: list[str]
) -> Generator[AnswerEvent, None, tuple[str, list[Citation]] | None]:
    """The LLM's answer from the passages, streamed, each claim checked: its text and verified citations, or None
    when it failed or supported no claim (`notices` then say which, and what else the reader should know)."""
    llm, label = parts.llm_answerer(retrieved.answerer), parts.answerer_label(retrieved.answerer)
    generated = ""
    try:
        for token in llm.stream(retrieved.standalone, passages):
            generated += token
            yield AnswerEvent(delta=token)
    except Exception as error:  # down, slow, erroring or refusing the protocol: never a crash
        notices.append(LLM_FAILED.format(label=label, reason=_reason(error)))
        return None
    generated_at = time.perf_counter()
    grounded = llm.ground(retrieved.standalone, generated, split_claims(generated), passages)
    verified = verify_citations(grounded.citations, parts.get_article)
    text, citations = keep_cited_sentences(grounded.answer, verified)
    retrieved.timings["verify"] = time.perf_counter() - generated_at
    if not citations and not grounded.refused:
        notices.append(LLM_UNSUPPORTED.format(label=label))
        return None
    if citations and retrieved.topic is None and (note := _second_opinion(parts, retrieved, label, text, citations)):
        notices.append(note)
    if grounded.dropped:
        count = len(grounded.dropped)
        notices.append(LLM_SENTENCES_DROPPED.format(count=count, s="s" if count > 1 else "", label=label))
    return text, citations


def timeline_step(parts: AnswerParts, retrieved: Retrieved) -> Iterator[AnswerEvent | Draft]:
    """A timeline: the dated entries of the story the question asks about (qa/answer/timeline.py), each quote
    verified; "No articles from … on this" when the period has none. An LLM answerer writes a short summary of
    the entries' passages above them, its every claim checked as in any LLM answer; when it fails, the entries
    stand alone with a notice saying why."""
    draft = answer_timeline(parts, retrieved)
    if retrieved.answerer == "extractive" or not draft.citations:
        yield draft
        return
    quoted = [(c.article.id, c.start) for c in draft.citations]
    passages = [p for p in retrieved.passages if any(a == p.article.id and p.start <= at < p.end for a, at in quoted)]
    written = yield from _written_by_llm(parts, retrieved, passages, draft.notices)
    if written is None:
        yield draft
        return
    text, summary = written
    # The summary's citations follow the entries': its [1] becomes [n + 1] for a timeline of n citations.
    offset = max(c.n for c in draft.citations)
    text = _NUMBERED.sub(lambda marker: f"[{int(marker.group(1)) + offset}]", text)
    summary = [c.model_copy(update={"n": c.n + offset}) for c in summary]
    timeline = draft.timeline.model_copy(update={"summary": text}) if draft.timeline else None
    yield draft.model_copy(
        update={"answerer": retrieved.answerer, "timeline": timeline, "citations": [*draft.citations, *summary]}
    )


_NUMBERED = re.compile(r"\[(\d+)\]")


def answer_timeline(parts: AnswerParts, retrieved: Retrieved) -> Draft:
    """The timeline's entries with their citations numbered in date order (an update's earlier report just before
    it), each quote verified against its stored article: an entry whose quote is not is left out."""
    since, until = retrieved.filters.since, retrieved.filters.until or retrieved.as_of
    topic = retrieved.topic or ""
    lines = lines_of(retrieved.passages, topic, since, until)
    picked = pick_entries(lines, retrieved.entries, since, until)
    numbers: dict[tuple[str, int, int], int] = {}
    citations: list[Citation] = []

    def number(entry: Entry | None, evidence: Evidence) -> int:
        """The citation number of the quote, numbered on first use; an entry's own quote carries its score."""
        key = (evidence.chunk.id, evidence.start, evidence.end)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            score = entry.line.score if entry else 0.0
            citations.append(quote_citation(numbers[key], evidence.chunk, evidence.start, evidence.end, score))
        return numbers[key]

    numbered = []
    for entry in picked:
        earlier = number(None, entry.other.evidence) if entry.other and entry.kind == "update" else None
        own = number(entry, entry.line.evidence)
        other = number(None, entry.other.evidence) if entry.other and entry.kind == "differs" else earlier
        numbered.append((entry, own, other))
    verified = {c.n: c for c in verify_citations(citations, parts.get_article)}
    entries = [
        TimelineEntry(
            day=entry.line.day,
            text=inert_markers(entry.line.evidence.text),
            citation=own,
            outlets=entry.outlets,
            kind=entry.kind if other in verified else "event",
            earlier=other if other in verified else None,
            earlier_day=entry.other.day if entry.other and other in verified else None,
            change=entry.change if other in verified else None,
        )
        for entry, own, other in numbered
        if own in verified
    ]
    used = {n for entry in entries for n in (entry.citation, entry.earlier) if n}
    timeline = Timeline(
        since=since,
        until=until,
        topic=topic,
        entries=entries,
        articles_per_day=articles_per_day(lines, since, until),
    )
    return Draft(
        retrieved=retrieved,
        answerer="extractive",
        text="",  # the timeline is written at the finish, when the outlets of each story are known
        citations=[c for n, c in sorted(verified.items()) if n in used],
        notices=list(retrieved.notices),
        timeline=timeline,
        refusal=NO_ARTICLES_ON_THIS.format(window=window_text(since, until)),
    )


# Which step writes the answer, by the answerer the question asks for: a new way to answer is a step and a line here.
ANSWER_STEPS: dict[AnswererName, AnswerStep] = {
    "extractive": extractive_step,
    "llm": answer_generated,
    "local": answer_generated,
}


def finish(parts: AnswerParts, draft: Draft) -> Answer:
    """The Answer: each citation with its story's other outlets and notices, the age of the newest source for a
    question about now, and the timings; a draft with no citation is a refusal."""
    retrieved = draft.retrieved
    citations, story_notices = with_stories(draft.citations, retrieved.passages, parts.story_members, parts.get_article)
    notices = [*draft.notices, *story_notices]
    finished = time.perf_counter()
    timings = {stage: seconds * 1000 for stage, seconds in retrieved.timings.items()}
    timings["answer"] = (finished - retrieved.started) * 1000 - timings["retrieve"]
    timings["total"] = (finished - retrieved.started) * 1000
    if citations and retrieved.about_now:
        notices = [*notices, *_newest_is_old(citations, retrieved.as_of)]
    common = {
        "question": retrieved.question,
        "as_of": retrieved.as_of,
        "time_window": retrieved.window,
        "standalone_question": retrieved.standalone if retrieved.standalone != retrieved.question else None,
        "answerer": draft.answerer,
        "notices": notices,
        "timings_ms": {stage: round(ms, 1) for stage, ms in timings.items()},
        "confidence": draft.confidence,
        "confident": draft.confident,
    }
    if not citations:
        return Answer(answer=draft.refusal, refused=True, **common)
    if draft.timeline is not None:
        timeline = _with_outlets(draft.timeline, citations)
        return Answer(answer=timeline_text(timeline), refused=False, citations=citations, timeline=timeline, **common)
    return Answer(answer=draft.text, short_answer=draft.short_answer, refused=False, citations=citations, **common)


def _with_outlets(timeline: Timeline, citations: list[Citation]) -> Timeline:
    """Each entry's outlets with those that carried its story (its citation's "also in")."""
    by_number = {citation.n: citation for citation in citations}
    entries = [
        entry.model_copy(update={"outlets": list(dict.fromkeys([*entry.outlets, *by_number[entry.citation].also_in]))})
        for entry in timeline.entries
    ]
    return timeline.model_copy(update={"entries": entries})


def _second_opinion(
    parts: AnswerParts, retrieved: Retrieved, label: str, text: str, citations: list[Citation]
) -> str | None:
    selection = parts.extractive.select(retrieved.standalone, retrieved.passages)
    short = selection.short_answer
    if short is None:
        return None
    return second_opinion(label, text, citations, short.text, short.evidence.chunk.article.title, selection.confidence)


def _newest_is_old(citations: list[Citation], as_of: date) -> list[str]:
    """A question about now answered from old news says how old (nothing to say of undated articles)."""
    dated = [c.article.published for c in citations if c.article.published]
    if not dated or (as_of - max(dated)).days <= OLD_AFTER_DAYS:
        return []
    newest = max(dated)
    before = "today" if as_of == date.today() else day_text(as_of)
    return [NEWEST_IS_OLD.format(published=day_text(newest), days=(as_of - newest).days, as_of=before)]


def _reason(error: Exception) -> str:
    """One line saying what went wrong, without a traceback."""
    message = one_line(error)
    return f"{type(error).__name__}: {message}" if message else type(error).__name__


def _written_out(citation: Citation, evidence: Evidence, phrase: str) -> str | None:
    """The date a short answer means when it is words relative to its article's day ("on Tuesday" → "Tuesday 19
    Oct 2021"); the quote keeps the article's words."""
    at = evidence.text.find(phrase)
    if at < 0:
        return None
    start, end = evidence.start + at, evidence.start + at + len(phrase)
    return next((found.day for found in citation.dates if found.start <= start and end <= found.end), None)


def _quotes(citation: Citation, evidence: Evidence) -> bool:
    return (
        citation.article.id == evidence.chunk.article.id
        and citation.start <= evidence.start
        and evidence.end <= citation.end
    )
