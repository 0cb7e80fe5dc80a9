"""The Runnable chain: Query -> retrieve -> answer -> verify citations -> Answer, streamed as AnswerEvents."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date

from langchain_core.runnables import Runnable, RunnableLambda
from pydantic import BaseModel, ConfigDict, Field

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
from qa.answer.phrases import EMPTY_WINDOW, NEWEST_IS_OLD, OLD_AFTER_DAYS, STORY_UPDATED, STORY_VERSIONS_DIFFER
from qa.answerers import AnswererName
from qa.conversation import resolve_follow_up, rewrite_with_llm
from qa.models import Answer, AnswerEvent, Article, Chunk, Citation, StoryMember, TimeWindow
from qa.query import Query
from qa.retrieval import HybridRetriever
from qa.timewords import day_text, window_text


class Retrieved(BaseModel):
    """What retrieval hands the answer step: the passages for the question as it was searched for."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    question: str = Field(description="The question as asked.")
    standalone: str = Field(description="The question as searched for (a follow-up made standalone).")
    passages: list[Chunk] = Field(description="The retrieved passages, best first.")
    as_of: date = Field(description="The day the question is asked as of.")
    window: TimeWindow | None = Field(description="The dates the question's words asked for, if any.")
    about_now: bool = Field(description="Whether it asks about now: no dates given, no time words but 'latest'.")
    answerer: AnswererName = Field(description="Who writes the answer.")
    llm: LLMAnswerer | None = Field(description="The LLM answerer, for an LLM engine.")
    notices: list[str] = Field(description="What the reader should know so far.")
    timings: dict[str, float] = Field(description="Seconds per stage so far.")
    started: float = Field(description="perf_counter() when the question's clock started.")


def final_answer(events: Iterable[AnswerEvent]) -> Answer:
    """The answer a stream of events ends with (the chain always ends with one)."""
    *_, last = events
    if last.answer is None:
        raise RuntimeError("the answer stream ended without an answer")
    return last.answer


def build_chain(
    retriever: HybridRetriever,
    extractive: ExtractiveAnswerer,
    llm_answerer: Callable[[AnswererName], LLMAnswerer],
    get_article: Callable[[str], Article | None],
    story_members: Callable[[Sequence[str]], list[StoryMember]],
    engine_label: Callable[[AnswererName], str],
    default_answerer: AnswererName,
) -> Runnable[Query, AnswerEvent]:
    """Compose follow-up rewriting and retrieval, then answering and citation checks; each step is timed.

    Streaming the chain yields AnswerEvents; an LLM that fails, times out or supports none of its claims gives
    way to the extractive answer with a notice saying so.
    """

    def retrieve(query: Query) -> Retrieved:
        question, answerer = query.question, query.engine or default_answerer
        # Made (and for the local engine, started) before the clock: a one-off cost, not the question's.
        llm = llm_answerer(answerer) if answerer != "extractive" else None
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
                notices.append(f"{engine_label(answerer)} could not rewrite the follow-up ({_reason(error)})")
                standalone = resolve_follow_up(question, query.history)
        filters, window = query.search(standalone)
        passages = retriever.retrieve(standalone, query.k, filters)
        if not passages and (filters.since or (filters.until and filters.until < query.as_of)):
            notices.append(EMPTY_WINDOW.format(window=window_text(filters.since, filters.until)))
        timings = {"retrieve": time.perf_counter() - started}
        return Retrieved(
            question=question,
            standalone=standalone,
            passages=passages,
            as_of=query.as_of,
            window=window,
            about_now=not (query.since or query.until) and (window is None or window.latest),
            answerer=answerer,
            llm=llm,
            notices=notices,
            timings=timings,
            started=started,
        )

    def stories(citations: list[Citation], passages: list[Chunk]) -> tuple[list[Citation], list[str]]:
        return _with_stories(citations, passages, story_members, get_article)

    def extractive_answer(state: Retrieved, notices: list[str]) -> Answer:
        selection = extractive.select(state.standalone, state.passages)
        text, citations = keep_cited_sentences(*_verified(cite(selection.evidence)))
        short = selection.short_answer
        # Shown as "short answer [1]": only while citation [1] still quotes the sentence it came from.
        quoted = short and citations and _quotes(citations[0], short.evidence)
        short_text = inert_markers(short.text) if short and quoted else None
        if short and short_text and (day := _written_out(citations[0], short.evidence, short.text)):
            short_text = day
        confidence, confident = selection.confidence, selection.confident
        return _answer(state, stories, "extractive", text, citations, short_text, notices, confidence, confident)

    def _verified(cited: tuple[str, list[Citation]]) -> tuple[str, list[Citation]]:
        return cited[0], verify_citations(cited[1], get_article)

    def _second_opinion(state: Retrieved, label: str, text: str, citations: list[Citation]) -> str | None:
        selection = extractive.select(state.standalone, state.passages)
        short = selection.short_answer
        if short is None:
            return None
        title = short.evidence.chunk.title
        return second_opinion(label, text, citations, short.text, title, selection.confidence)

    def answer(state: Retrieved) -> Iterator[AnswerEvent]:
        notices = list(state.notices)
        llm = state.llm
        if llm is None or not state.passages:
            yield AnswerEvent(answer=extractive_answer(state, notices))
            return
        label = engine_label(state.answerer)
        generated = ""
        try:
            for token in llm.stream(state.standalone, state.passages):
                generated += token
                yield AnswerEvent(delta=token)
        except Exception as error:  # down, slow, erroring or refusing the protocol: never a crash
            notices.append(f"{label} failed ({_reason(error)}); this is the extractive answer.")
            yield AnswerEvent(answer=extractive_answer(state, notices))
            return
        generated_at = time.perf_counter()
        grounded = llm.ground(state.standalone, generated, split_claims(generated), state.passages)
        text, citations = keep_cited_sentences(*_verified((grounded.answer, grounded.citations)))
        state.timings["verify"] = time.perf_counter() - generated_at
        if citations or grounded.refused:
            if citations and (note := _second_opinion(state, label, text, citations)):
                notices.append(note)
            if grounded.dropped:
                count = len(grounded.dropped)
                notices.append(
                    f"{count} sentence{'s' if count > 1 else ''} of {label}'s answer left out: not supported by "
                    "the passages it cited."
                )
            yield AnswerEvent(answer=_answer(state, stories, state.answerer, text, citations, None, notices))
            return
        notices.append(f"{label} wrote no claim that its passages support; this is the extractive answer.")
        yield AnswerEvent(answer=extractive_answer(state, notices))

    return RunnableLambda(retrieve).with_config(run_name="retrieve") | RunnableLambda(answer).with_config(
        run_name="answer"
    )


def _with_stories(
    citations: list[Citation],
    passages: list[Chunk],
    story_members: Callable[[Sequence[str]], list[StoryMember]],
    get_article: Callable[[str], Article | None],
) -> tuple[list[Citation], list[str]]:
    """Each citation with the other outlets whose own text carries its quote, and the notices its story calls for:
    that it updates a version its own outlet ran before, or that other outlets' versions differ from the quote
    (an altered copy never speaks for the outlet it copied, nor that outlet for it)."""
    story_of = {passage.article_id: passage.story for passage in passages if passage.story}
    wanted = sorted({story_of[c.article_id] for c in citations if c.article_id in story_of})
    members: dict[str, list[StoryMember]] = {}
    for member in story_members(wanted) if wanted else []:
        members.setdefault(member.story, []).append(member)
    texts: dict[str, str] = {}
    cited, notices = [], []
    for citation in citations:
        others = [
            m for m in members.get(story_of.get(citation.article_id, ""), []) if m.article_id != citation.article_id
        ]
        for member in others:
            if member.article_id not in texts:
                article = get_article(member.article_id)
                texts[member.article_id] = " ".join(article.text.split()) if article else ""
        quote = " ".join(citation.quote.split())
        elsewhere = [m for m in others if m.source and m.source != citation.source]
        carrying = [m for m in elsewhere if quote in texts[m.article_id]]
        differing = [m for m in elsewhere if quote not in texts[m.article_id]]
        cited.append(citation.model_copy(update={"also_in": list(dict.fromkeys(m.source for m in carrying))}))
        if differing:
            outlets = ", ".join(dict.fromkeys(str(m.source) for m in differing))
            notices.append(STORY_VERSIONS_DIFFER.format(n=citation.n, outlets=outlets))
        earlier = [
            m.published
            for m in others
            if m.source == citation.source and m.published and citation.published and m.published < citation.published
        ]
        if earlier and citation.source:
            notices.append(STORY_UPDATED.format(n=citation.n, source=citation.source, first=day_text(min(earlier))))
    return cited, list(dict.fromkeys(notices))


def _answer(
    state: Retrieved,
    stories: Callable[[list[Citation], list[Chunk]], tuple[list[Citation], list[str]]],
    engine: AnswererName,
    text: str,
    citations: list[Citation],
    short_answer: str | None,
    notices: list[str],
    confidence: float | None = None,
    confident: bool = False,
) -> Answer:
    citations, updated = stories(citations, state.passages)
    notices = [*notices, *updated]
    finished = time.perf_counter()
    timings = {stage: seconds * 1000 for stage, seconds in state.timings.items()}
    timings["answer"] = (finished - state.started) * 1000 - timings["retrieve"]
    timings["total"] = (finished - state.started) * 1000
    if citations and state.about_now:
        notices = [*notices, *_newest_is_old(citations, state.as_of)]
    common = {
        "question": state.question,
        "as_of": state.as_of,
        "time_window": state.window,
        "standalone_question": state.standalone if state.standalone != state.question else None,
        "engine": engine,
        "notices": notices,
        "timings_ms": {stage: round(ms, 1) for stage, ms in timings.items()},
        "confidence": confidence,
        "confident": confident,
    }
    if not citations:
        return Answer(answer=CANNOT_ANSWER, refused=True, **common)
    return Answer(answer=text, short_answer=short_answer, refused=False, citations=citations, **common)


def _newest_is_old(citations: list[Citation], as_of: date) -> list[str]:
    """A question about now answered from old news says how old (nothing to say of undated articles)."""
    dated = [c.published for c in citations if c.published]
    if not dated or (as_of - max(dated)).days <= OLD_AFTER_DAYS:
        return []
    newest = max(dated)
    before = "today" if as_of == date.today() else day_text(as_of)
    return [NEWEST_IS_OLD.format(published=day_text(newest), days=(as_of - newest).days, as_of=before)]


def _reason(error: Exception) -> str:
    """One line saying what went wrong, without a traceback."""
    message = " ".join(str(error).split())[:200]
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
        citation.article_id == evidence.chunk.article_id
        and citation.start <= evidence.start
        and evidence.end <= citation.end
    )
